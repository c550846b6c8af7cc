//! Faithfulness on the simulated societies: agreement of the path integral with sampled
//! Shapley, deletion curves against a random ranking, infeasibility, the command's files and
//! its refusals.

use aumann::backend::Backend;
use aumann::faithfulness::{self, FaithMethod, FaithOptions, Faithfulness, Ranked};
use aumann::scenario::{Loaded, Overrides, SCENARIOS, Scenario};

use crate::common::aumann;

fn loaded(s: Box<dyn Scenario>) -> Loaded {
    let simulation = s.simulate().unwrap();
    Loaded::new(s, simulation).unwrap()
}

fn default_scenario(name: &str, overrides: &Overrides) -> Loaded {
    let entry = SCENARIOS.iter().find(|e| e.name == name).unwrap();
    loaded((entry.with)(overrides).unwrap())
}

fn run(l: &Loaded, options: &FaithOptions) -> Faithfulness {
    let device = Backend::Flex.device().unwrap();
    faithfulness::run(l, options, &device, &mut |_, _| {}).unwrap()
}

/// On `econ` (n = 100) and a 300-agent `social`, the path integral ranks agents as sampled
/// Shapley does (K = 1000 permutations, three seeds): τ_b ≥ 0.8 over all agents and at least
/// 8 of the top 10 shared, as the paper reports.
#[test]
fn as_path_agrees_with_sampled_shapley_on_econ_and_social() {
    let social = Overrides {
        agents: Some(300),
        ..Overrides::default()
    };
    for l in [
        default_scenario("econ", &Overrides::default()),
        default_scenario("social", &social),
    ] {
        let options = FaithOptions {
            methods: vec![FaithMethod::ShapleySampled, FaithMethod::AsPath],
            ..FaithOptions::default()
        };
        let f = run(&l, &options);
        let summaries = f.summaries();
        let as_path = summaries
            .iter()
            .find(|s| s.method == FaithMethod::AsPath)
            .unwrap();
        let [top10, all, overlap] = as_path.agreement.unwrap();
        eprintln!(
            "{} t* = {}: τ_b top 10 {top10:.3}, all {all:.3}, top-10 overlap {overlap:.2}",
            f.scenario, f.step
        );
        assert!(all >= 0.8, "{}: τ_b over all agents {all}", f.scenario);
        assert!(overlap >= 0.8, "{}: top-10 overlap {overlap}", f.scenario);
    }
}

/// On every scenario at its default size, deleting the agents the path integral ranks first
/// removes more risk than deleting random ones, by more than the random ranking's spread.
#[test]
fn as_path_deletes_more_risk_than_random_rankings() {
    for entry in SCENARIOS {
        let l = loaded((entry.with)(&Overrides::default()).unwrap());
        let options = FaithOptions {
            methods: vec![FaithMethod::AsPath, FaithMethod::Random],
            seeds: 5,
            ..FaithOptions::default()
        };
        let f = run(&l, &options);
        let summaries = f.summaries();
        let auc = |m| {
            summaries
                .iter()
                .find(|s| s.method == m)
                .unwrap()
                .auc
                .unwrap()
        };
        let ((path, _), (random, spread)) = (auc(FaithMethod::AsPath), auc(FaithMethod::Random));
        eprintln!(
            "{}: deletion AUC as-path {:.3e}, random {:.3e} ± {:.3e} (relative {:.3} vs {:.3})",
            f.scenario,
            path,
            random,
            spread,
            path / f.change[0],
            random / f.change[0]
        );
        assert!(
            path - random > spread,
            "{}: as-path {path}, random {random} ± {spread}",
            f.scenario
        );
    }
}

/// Deleting by |φ| is what it says: its k-th drop is V(x) minus V with the k agents of largest
/// |φ| at their baseline action, evaluated here from the features themselves.
#[test]
fn deletion_by_magnitude_removes_the_largest_attributions_first() {
    let l = default_scenario("econ", &Overrides::default());
    let options = FaithOptions {
        methods: vec![FaithMethod::AsPath],
        k_max: 40,
        ..FaithOptions::default()
    };
    let f = run(&l, &options);
    let Ranked::Done(curves) = &f.outcomes[0].result else {
        panic!("as-path ran")
    };
    let phi = &curves.phi;
    let mut by_size: Vec<usize> = (0..phi.len()).collect();
    by_size.sort_by(|&a, &b| phi[b].abs().total_cmp(&phi[a].abs()).then(a.cmp(&b)));
    let sim = &l.simulation;
    let x = sim.features.select_steps(&[f.step]);
    let b = sim.baseline.select_steps(&[f.step]);
    let [_, n, d] = x.shape();
    let device = Backend::Flex.device().unwrap();
    let indicator = l.scenario.indicator(sim, f.which, f.step).unwrap();
    let precision = options.path.precision;
    let value = |z: Vec<f64>| {
        let z = aumann::array::Array3::from_f64([1, n, d], z);
        aumann::run::evaluate(indicator.as_ref(), &z, precision, &device, 1 << 20).unwrap()[0]
    };
    // Some of the agents deleted first by |φ| lower the risk: the two rankings differ.
    assert!(
        by_size[..options.k_max].iter().any(|&i| phi[i] < 0.0),
        "{phi:?}"
    );
    let (xs, bs) = (x.step_f64(0), b.step_f64(0));
    let full = value(xs.clone());
    for k in 1..=options.k_max {
        let mut z = xs.clone();
        for &i in &by_size[..k] {
            z[i * d..(i + 1) * d].copy_from_slice(&bs[i * d..(i + 1) * d]);
        }
        let want = full - value(z);
        let got = curves.deletion_by_magnitude[k - 1];
        assert!(
            (got - want).abs() <= 1e-9 * (1.0 + want.abs()),
            "k = {k}: {got:e} against {want:e}"
        );
    }
}

/// The re-simulated deletion curve is what it says: its k-th drop is the mean over replicates
/// of the static risk H steps after t* with nobody held minus with the top k agents by signed φ
/// held, from re-simulations made here through the scenario's own interface.
#[test]
fn the_resimulated_curve_holds_the_top_agents_in_a_new_run() {
    let l = default_scenario(
        "social",
        &Overrides {
            agents: Some(200),
            ..Overrides::default()
        },
    );
    let options = FaithOptions {
        methods: vec![FaithMethod::AsPath],
        k_max: 5,
        replicates: 3,
        ..FaithOptions::default()
    };
    let f = run(&l, &options);
    let Ranked::Done(curves) = &f.outcomes[0].result else {
        panic!("as-path ran")
    };
    let (s, n) = (l.scenario.as_ref(), l.simulation.features.agents());
    let last = f.step + s.horizon();
    let value = |held: &[usize], r: u64| {
        let hold = aumann::scenario::Held::new(n, f.step, held, r).unwrap();
        let sim = s.resimulate(0, last, &hold).unwrap().unwrap();
        let rows = [last];
        aumann::scenario::risk_of_rows(s, &sim, aumann::scenario::Horizon::Static, &rows).unwrap()
            [0]
    };
    let order = faithfulness::ranking(&curves.phi);
    let free: Vec<f64> = (0..3).map(|r| value(&[], r)).collect();
    let risk = free.iter().sum::<f64>() / 3.0;
    assert!((f.resimulated_risk.unwrap() - risk).abs() <= 1e-12 * risk.abs());
    assert_eq!(curves.resimulated.len(), options.k_max);
    for k in 1..=options.k_max {
        let want = (0..3)
            .map(|r| free[r as usize] - value(&order[..k], r))
            .sum::<f64>()
            / 3.0;
        let got = curves.resimulated[k - 1];
        assert!(
            (got - want).abs() <= 1e-12 * (1.0 + want.abs()),
            "k = {k}: {got} against {want}"
        );
    }
    // Holding the agents the path integral ranks first removes future risk.
    assert!(
        curves.resimulated[options.k_max - 1] > 0.0,
        "{:?}",
        curves.resimulated
    );
    let none = FaithOptions {
        replicates: 0,
        ..options
    };
    let f = run(&l, &none);
    assert!(f.resimulated_risk.is_none());
}

/// A sampled Shapley run beyond its budget is reported with its extrapolated time, not run.
#[test]
fn sampled_shapley_beyond_the_budget_is_infeasible() {
    let l = default_scenario("cascade", &Overrides::default());
    let options = FaithOptions {
        methods: vec![FaithMethod::ShapleySampled, FaithMethod::Loo],
        budget_seconds: 1.0,
        ..FaithOptions::default()
    };
    let f = run(&l, &options);
    let needed = match &f.outcomes[0].result {
        Ranked::Infeasible(s) => *s,
        Ranked::Done(_) => panic!("sampled Shapley ran on 10 000 agents in one second"),
    };
    assert!(needed > 1.0, "{needed}");
    // Without a reference, no agreement is reported.
    assert!(f.summaries()[1].agreement.is_none());
    let csv = f.summary_csv();
    // Its infeasible_seconds holds the extrapolated time; it has no deletion AUC by |φ| nor
    // re-simulated.
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with(&format!("{needed:.6e},,,,"))
    );
}

#[test]
fn the_target_step_is_the_latest_peak_after_the_midpoint() {
    assert_eq!(faithfulness::target_step(&[9.0, 1.0, 2.0, 3.0]), 3);
    assert_eq!(faithfulness::target_step(&[9.0, 1.0, 5.0, 5.0, 2.0]), 3);
    assert_eq!(faithfulness::target_step(&[1.0]), 0);
}

fn at_column(header: &[&str], name: &str) -> usize {
    header.iter().position(|h| *h == name).unwrap()
}

#[test]
fn the_command_writes_its_tables_report_and_picture() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sim = [
        "simulate", "social", "--agents", "60", "--steps", "8", "--out", "sc",
    ];
    assert_eq!(aumann(d, &[&sim[..], &["--quiet"]].concat(), &[]).code, 0);
    let args = [
        "faithfulness",
        "--scenario",
        "sc",
        "--methods",
        "as-path,shapley-sampled,loo,random",
        "--samples",
        "40",
        "--seeds",
        "2",
        "--out",
        "f",
        "--quiet",
    ];
    let run = aumann(d, &args, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let csv = std::fs::read_to_string(d.join("f/faithfulness.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    for column in [
        "scenario",
        "indicator",
        "step",
        "method",
        "auc",
        "auc_relative",
        "kendall_top10",
        "kendall_all",
        "top10_overlap",
        "seconds",
        "auc_resimulated",
        "auc_resimulated_relative",
    ] {
        assert!(header.contains(&column), "{column} missing from {header:?}");
    }
    // The folder's society is simulated again from its parameters for every ranking.
    for row in csv.lines().skip(1) {
        let cell = row
            .split(',')
            .nth(at_column(&header, "auc_resimulated"))
            .unwrap();
        assert!(cell.parse::<f64>().is_ok_and(f64::is_finite), "{row}");
    }
    // Four methods for each of the two indicators (static and rollout by default).
    assert_eq!(csv.lines().count(), 1 + 2 * 4, "{csv}");
    let indicators: Vec<&str> = (csv.lines().skip(1))
        .map(|l| l.split(',').nth(at_column(&header, "indicator")).unwrap())
        .collect();
    assert_eq!(
        indicators.iter().filter(|&&i| i == "rollout").count(),
        4,
        "{csv}"
    );
    let shapley = csv.lines().find(|l| l.contains("shapley-sampled")).unwrap();
    let cells: Vec<&str> = shapley.split(',').collect();
    let at = |name| header.iter().position(|h| *h == name).unwrap();
    assert_eq!(
        cells[at("kendall_all")],
        "",
        "the reference's own agreement is empty"
    );
    let overlap: f64 = csv
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(at("top10_overlap"))
        .unwrap()
        .parse()
        .unwrap();
    assert!((0.0..=1.0).contains(&overlap), "a fraction: {overlap}");
    let deletion = std::fs::read_to_string(d.join("f/deletion.csv")).unwrap();
    // as-path and loo once, sampled Shapley and random twice; k = 1..10; both indicators.
    assert_eq!(deletion.lines().count(), 1 + 2 * 6 * 10);
    assert!(deletion.starts_with(aumann::faithfulness::report::DELETION_HEADER));
    // Robustness: 5 random orders and 4 temperatures (social has no aggregate to vary).
    let robustness = std::fs::read_to_string(d.join("f/robustness.csv")).unwrap();
    let rows: Vec<Vec<&str>> = robustness
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 9, "{robustness}");
    for row in &rows {
        let (tau, overlap): (f64, f64) = (row[4].parse().unwrap(), row[5].parse().unwrap());
        assert!(
            (-1.0..=1.0).contains(&tau) && (0.0..=1.0).contains(&overlap),
            "{row:?}"
        );
    }
    for name in ["deletion_social.png", "deletion_social_rollout.png"] {
        let png = std::fs::read(d.join("f").join(name)).unwrap();
        assert_eq!(&png[1..4], b"PNG", "{name}");
    }
    let report = std::fs::read_to_string(d.join("f/report.md")).unwrap();
    assert!(report.contains("| social |"), "{report}");
    // The report says, per indicator, whether the path integral agrees with sampled Shapley.
    for which in ["static", "rollout"] {
        let line = (report.lines())
            .find(|l| l.starts_with(&format!("- social ({which} risk): the path integral ")))
            .unwrap_or_else(|| panic!("no agreement line for {which} in {report}"));
        let path = (csv.lines())
            .map(|l| l.split(',').collect::<Vec<_>>())
            .find(|c| c[at_column(&header, "indicator")] == which && c[3] == "as-path")
            .unwrap();
        let number = |name| path[at_column(&header, name)].parse::<f64>().unwrap();
        let agrees = number("kendall_all") >= 0.8 && number("top10_overlap") >= 0.8;
        let verdict = if agrees {
            "agrees with"
        } else {
            "does not agree with"
        };
        assert!(
            line.contains(&format!("the path integral {verdict} sampled")),
            "{line}"
        );
    }
}

#[test]
fn bad_faithfulness_input_is_refused_in_one_line_leaving_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sim = [
        "simulate", "social", "--agents", "30", "--steps", "4", "--out", "sc",
    ];
    assert_eq!(aumann(d, &[&sim[..], &["--quiet"]].concat(), &[]).code, 0);
    let base = ["faithfulness", "--scenario", "sc", "--out", "f", "--quiet"];
    for (extra, needle) in [
        (&["--methods", "as-path,gradcam"][..], "gradcam"),
        (&["--step", "4"][..], "step"),
        (&["--k-max", "31"][..], "31"),
        (&["--methods", "shapley-exact"][..], "n = 30"),
        (&["--run", "1"][..], "run"),
    ] {
        let run = aumann(d, &[&base[..], extra].concat(), &[]);
        assert_eq!(run.code, 2, "{extra:?} succeeded");
        let msg = run.stderr.trim();
        assert_eq!(msg.lines().count(), 1, "{extra:?}: not one line:\n{msg}");
        assert!(msg.contains(needle), "{extra:?}: {msg:?} lacks {needle:?}");
        assert!(!d.join("f").exists(), "{extra:?} left output");
    }
}
