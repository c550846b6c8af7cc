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
    let rows = synthetic_table(&options, &mut |_, _| {}).unwrap();
    for r in &rows {
        let a = &r.mean;
        match (r.method, r.kind) {
            // Constant and linear integrands: the midpoint rule is exact up to rounding.
            (Method::AsPath, Kind::Additive | Kind::Quadratic) => {
                assert!(a.mae < 1e-12 && a.cosine > 1.0 - 1e-12, "{r:?}")
            }
            // Softplus: O(1/m²) quadrature error at m = 32.
            (Method::AsPath, Kind::Softplus) => assert!(a.mae < 1e-4, "{r:?}"),
            // Additive games: marginal contributions are each agent's own term, whatever the
            // coalition (sampled Banzhaf still carries the other agents' sampling noise).
            (
                Method::Loo | Method::ShapleySampled | Method::ShapleyExact | Method::BanzhafExact,
                Kind::Additive,
            ) => {
                assert!(a.mae < 1e-12, "{r:?}")
            }
            // Quadratic games have pairwise interactions only: Shapley = Banzhaf = AS.
            (Method::ShapleyExact | Method::BanzhafExact, Kind::Quadratic) => {
                assert!(a.mae < 1e-12, "{r:?}")
            }
            (Method::ShapleySampled | Method::ShapleyExact, _) => {
                assert!(a.efficiency_error < 1e-9, "{r:?}")
            }
            _ => {}
        }
        assert!(a.cosine.is_finite() && a.seconds >= 0.0);
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
    let rows = scaling_table(&options, &mut |_, _| {}).unwrap();
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
