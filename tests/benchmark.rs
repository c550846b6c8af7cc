//! The ground-truth benchmark and the scaling table: the path integral recovers the exact
//! values, the coalition methods behave as their theory says, cells beyond the budget are
//! extrapolated and marked.

use aumann::benchmark::synthetic::Kind;
use aumann::benchmark::{
    self, ScalingOptions, Status, SyntheticOptions, scaling_table, synthetic_table,
};
use aumann::compare::Method;

#[test]
fn ground_truth_benchmark_recovers_the_exact_values() {
    let options = SyntheticOptions {
        sizes: vec![10, 200],
        seeds: 2,
        samples: 64,
        ..SyntheticOptions::default()
    };
    let rows = synthetic_table(&options, &mut |_| {}).unwrap();
    // Every feasible method on every function and size, once.
    let expected: usize = options
        .sizes
        .iter()
        .map(|&n| benchmark::synthetic_methods(n).len() * Kind::ALL.len())
        .sum();
    assert_eq!(rows.len(), expected);
    for r in &rows {
        let a = &r.mean;
        let exact = |a: &benchmark::Accuracy| a.mae < 1e-12 && a.cosine > 1.0 - 1e-12;
        let efficient = a.efficiency_error < 1e-9;
        let ok = match (r.method, r.kind) {
            // Constant and linear integrands: the midpoint rule is exact up to rounding.
            (Method::AsPath, Kind::Additive | Kind::Quadratic) => exact(a),
            // Softplus: O(1/m²) quadrature error at m = 32.
            (Method::AsPath, Kind::Softplus) => a.mae < 1e-4 && a.cosine > 1.0 - 1e-6,
            // Additive games: marginal contributions are each agent's own term, whatever the
            // coalition.
            (Method::Loo | Method::ShapleySampled, Kind::Additive) => exact(a),
            (Method::ShapleyExact | Method::BanzhafExact, Kind::Additive) => exact(a),
            // Quadratic games have pairwise interactions only: Shapley = Banzhaf = AS.
            (Method::ShapleyExact | Method::BanzhafExact, Kind::Quadratic) => a.mae < 1e-12,
            // Leave-one-out ignores interactions: not efficient, still aligned.
            (Method::Loo, Kind::Quadratic | Kind::Softplus) => {
                a.efficiency_error > 1e-3 && a.cosine > 0.9
            }
            // Sampled Shapley is efficient by construction, near AS within sampling error.
            (Method::ShapleySampled, Kind::Quadratic | Kind::Softplus) => {
                efficient && a.mae > 0.0 && a.cosine > 0.99
            }
            // Exact Shapley of a nonlinear game is efficient and close to, not equal to, AS.
            (Method::ShapleyExact, Kind::Softplus) => {
                efficient && a.mae > 1e-6 && a.mae < 1e-2 && a.cosine > 0.999
            }
            // Banzhaf is not efficient where agents interact, exact or sampled; sampled
            // Banzhaf also carries the other agents' sampling noise even on additive games.
            (Method::BanzhafExact, Kind::Softplus) => a.efficiency_error > 1e-3 && a.cosine > 0.999,
            (Method::BanzhafSampled, _) => a.efficiency_error > 1e-3 && a.cosine > 0.3,
            (other, _) => panic!("{other:?} is not a method of the ground-truth benchmark"),
        };
        assert!(ok, "{r:?}");
        assert!(a.seconds > 0.0 && a.seconds.is_finite(), "{r:?}");
        assert!((-1.0..=1.0).contains(&a.kendall_top10), "{r:?}");
    }
    let csv = benchmark::synthetic_csv(&rows);
    assert!(csv.starts_with(
        "function,n,method,seeds,mae,cosine,efficiency_error,kendall_top10,seconds\n"
    ));
    assert!(benchmark::synthetic_markdown(&rows).contains("**softplus**, n = 200"));
}

#[test]
fn scaling_table_measures_within_budget_and_extrapolates_beyond() {
    let options = ScalingOptions {
        sizes: vec![10, 200, 2000],
        methods: vec![
            Method::AsExact,
            Method::ShapleySampledPlain,
            Method::ShapleyExact,
        ],
        budget: 0.02,
        ..ScalingOptions::default()
    };
    let rows = scaling_table(&options, &mut |_| {}).unwrap();
    let cell = |n, m| rows.iter().find(|r| r.n == n && r.method == m).unwrap();
    assert_eq!(cell(10, Method::ShapleyExact).status, Status::Measured);
    assert_eq!(cell(200, Method::ShapleyExact).status, Status::Infeasible);
    assert_eq!(cell(2000, Method::AsExact).status, Status::Measured);
    // The plain estimator is O(K n²): 2000 agents with K = 100 is far over 20 ms.
    let plain = cell(2000, Method::ShapleySampledPlain);
    assert_eq!(plain.status, Status::Extrapolated);
    assert!(plain.seconds.unwrap() > 0.02);
    let md = benchmark::scaling_markdown(&rows);
    assert!(md.contains("infeasible") && md.contains('~'), "{md}");
}
