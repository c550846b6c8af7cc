//! The cross-scale study: the paper's qualitative findings on a 10⁵-agent synthetic panel,
//! the scaling-bias theorem, the output folder's contract and bad panels.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use aumann::array::{Array3, Values};
use aumann::kernels::closed_form::Analytic;
use aumann::panel::Panel;
use aumann::panel::synth::{PanelConfig, generate};
use aumann::study::{self, Protocol, StudyConfig, StudyResults};

const NONLINEAR: [Analytic; 3] = [Analytic::Mult, Analytic::Variance, Analytic::Gini];

/// The 10⁵-agent default panel and the study on it (sizes 100 and 10 000, ten draws each),
/// computed once for every test here.
fn study_100k() -> &'static (Panel, StudyResults) {
    static CELL: OnceLock<(Panel, StudyResults)> = OnceLock::new();
    CELL.get_or_init(|| {
        let panel = generate(&PanelConfig {
            agents: 100_000,
            ..PanelConfig::default()
        });
        let config = StudyConfig {
            sizes: vec![100, 10_000],
            ..StudyConfig::default()
        };
        let results = study::run(&panel, &config, |_| {}).unwrap();
        (panel, results)
    })
}

fn cell(
    r: &StudyResults,
    topic: usize,
    indicator: Analytic,
    protocol: Protocol,
    size: usize,
) -> &study::Cell {
    r.cells
        .iter()
        .find(|c| {
            c.topic == topic && c.indicator == indicator && c.protocol == protocol && c.size == size
        })
        .unwrap_or_else(|| panic!("no cell {topic} {indicator:?} {protocol:?} {size}"))
}

#[test]
fn biased_small_panels_inflate_the_top_tier() {
    let (panel, r) = study_100k();
    for (k, topic) in panel.manifest.topics.iter().enumerate() {
        for ind in NONLINEAR {
            let full = cell(r, k, ind, Protocol::Full, 100_000)
                .share(0, 0)
                .unwrap();
            let biased = cell(r, k, ind, Protocol::BiasVisibility, 100)
                .share(0, 0)
                .unwrap();
            println!(
                "{topic:>12} {:>8}: top share full {:.3}, bias-visibility s=100 {:.3} ± {:.3}",
                ind.name(),
                full.mean,
                biased.mean,
                biased.std
            );
            assert!(
                biased.mean > full.mean,
                "{topic} {ind:?}: biased {biased:?} vs full {full:?}"
            );
            // Δ_top's bootstrap interval excludes 0.
            let [lo, _] = biased.shifted(full.mean).ci.unwrap();
            assert!(lo > 0.0, "{topic} {ind:?}: Δ_top interval from {lo}");
        }
    }
}

/// The random control: Δ_top's bootstrap interval, widened by an allowance for the ratio
/// estimator's bias (shares are ratios of sums over S: 0.02 at s = 100, 0.005 at s = 10⁴),
/// contains 0 at s = 100 and s = 10⁴ for linear, variance and Gini. The allowance also covers
/// multiplicity and the percentile bootstrap's undercoverage on ten draws (nearer 90 % than
/// 95 %): of these 30 intervals, four leave out 0, by at most 0.0008. `mult` is allowed a larger bias: its shares divide each feature by the
/// panel's own mean (`φ_i ∝ Σ_k x_ik / x̄_k`), and with 3–7 % of agents active a random panel
/// of 100 holds a handful of active agents, so `x̄_activity` is a ratio estimator on a few
/// values (and draws with no activity at all are dropped); its Δ_top is held to |Δ_top| ≤ 0.12
/// at s = 100 and ≤ 0.03 at s = 10⁴ (measured: down to −0.09 and −0.015).
#[test]
fn random_small_panels_show_no_flip() {
    let (panel, r) = study_100k();
    for (k, topic) in panel.manifest.topics.iter().enumerate() {
        for ind in Analytic::ALL {
            let full = cell(r, k, ind, Protocol::Full, 100_000)
                .share(0, 0)
                .unwrap()
                .mean;
            for (s, bias, mult_bound) in [(100, 0.02, 0.12), (10_000, 0.005, 0.03)] {
                let d = cell(r, k, ind, Protocol::Random, s)
                    .share(0, 0)
                    .unwrap()
                    .shifted(full);
                let [lo, hi] = d.ci.unwrap();
                println!(
                    "{topic:>12} {:>8} s={s:>5}: Δ_top {:+.4} [{lo:+.4}, {hi:+.4}]",
                    ind.name(),
                    d.mean
                );
                if ind == Analytic::Mult {
                    assert!(
                        d.mean.abs() <= mult_bound,
                        "{topic} mult s={s}: Δ_top {d:?}"
                    );
                } else {
                    assert!(
                        lo - bias <= 0.0 && 0.0 <= hi + bias,
                        "{topic} {ind:?} s={s}: Δ_top {d:?}"
                    );
                }
            }
        }
    }
}

/// Random panels recover the population: at s = 10⁴ every mean tier share lies within four
/// standard errors of the mean (std / √draws over the draws) of its full-panel value, plus
/// 0.005 for the ratio estimator's O(1/s) bias (shares are ratios of sums over S) and for the
/// draws' own standard deviation being an estimate from ten draws.
#[test]
fn random_small_panels_recover_the_full_panel() {
    let (panel, r) = study_100k();
    for (k, topic) in panel.manifest.topics.iter().enumerate() {
        for ind in Analytic::ALL {
            let c = cell(r, k, ind, Protocol::Random, 10_000);
            assert_eq!(c.runs.len(), 10);
            for tier in 0..3 {
                let full = cell(r, k, ind, Protocol::Full, 100_000)
                    .share(0, tier)
                    .unwrap()
                    .mean;
                let s = c.share(0, tier).unwrap();
                let tol = 4.0 * s.std / (c.runs.len() as f64).sqrt() + 0.005;
                assert!(
                    (s.mean - full).abs() <= tol,
                    "{topic} {ind:?} tier {tier}: random {:.4} ± {:.4} vs full {full:.4} (tol {tol:.4})",
                    s.mean,
                    s.std
                );
            }
        }
    }
}

#[test]
fn tier_shares_sum_to_one_in_every_row() {
    let (_, r) = study_100k();
    for c in &r.cells {
        for run in &c.runs {
            for (a, shares) in run.shares.iter().enumerate() {
                let sum: f64 = shares.iter().sum();
                assert!((sum - 1.0).abs() < 1e-9, "{c:?} anchor {a}: {sum}");
            }
        }
    }
    for d in &r.days {
        if let Some(s) = d.shares {
            assert!((s.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        }
    }
}

/// Theorem: for a linear V with a zero baseline the small panel's shares are one rescaling of
/// the full panel's (r = 0); for a nonlinear V some small panel leaves a residual.
#[test]
fn scaling_bias_residuals_follow_the_theorem() {
    let (_, r) = study_100k();
    let small = |ind: Analytic| {
        r.cells
            .iter()
            .filter(move |c| c.indicator == ind && c.protocol != Protocol::Full)
    };
    let worst_linear = small(Analytic::Linear)
        .flat_map(|c| c.runs.iter().map(|r| r.residual))
        .fold(0.0, f64::max);
    println!("linear: largest residual {worst_linear:.2e}");
    assert!(worst_linear <= 1e-6, "{worst_linear}");
    for ind in NONLINEAR {
        let best = small(ind)
            .flat_map(|c| c.runs.iter().map(|r| r.residual))
            .fold(0.0, f64::max);
        println!("{}: largest residual {best:.3}", ind.name());
        assert!(best > 0.01, "{ind:?}: {best}");
        // On every topic, the biased s = 100 panels leave a residual.
        for k in 0..5 {
            let res = cell(r, k, ind, Protocol::BiasVisibility, 100)
                .stat(|r| r.residual)
                .unwrap();
            assert!(res.mean > 1e-3, "{ind:?} topic {k}: {res:?}");
        }
    }
}

#[test]
fn event_topics_peak_on_their_event_day() {
    let (panel, r) = study_100k();
    for (topic, day) in [("masters", 5), ("wrestlemania", 11)] {
        let k = panel
            .manifest
            .topics
            .iter()
            .position(|t| t == topic)
            .unwrap();
        for ind in Analytic::ALL {
            let peak = r
                .days
                .iter()
                .find(|d| d.topic == k && d.indicator == ind && d.peak)
                .unwrap();
            assert_eq!(peak.day, day, "{topic} {ind:?}");
        }
    }
}

#[test]
fn panel_round_trip_and_determinism() {
    let config = PanelConfig {
        agents: 3_000,
        days: 4,
        seed: 3,
        ..PanelConfig::default()
    };
    let panel = generate(&config);
    let dir = tempfile::tempdir().unwrap();
    panel.save(dir.path()).unwrap();
    let back = Panel::load(dir.path()).unwrap();
    assert_eq!(back.manifest, panel.manifest);
    assert_eq!(back.followers, panel.followers);
    assert_eq!(back.posts_7d, panel.posts_7d);
    assert_eq!(back.topics, panel.topics);
    // The same study twice gives the same numbers.
    let config = StudyConfig {
        sizes: vec![50, 500],
        seeds: 3,
        ..StudyConfig::default()
    };
    let a = study::run(&back, &config, |_| {}).unwrap();
    let b = study::run(&panel, &config, |_| {}).unwrap();
    for (x, y) in a.cells.iter().zip(&b.cells) {
        assert_eq!(x.runs, y.runs);
    }
}

fn aumann(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_aumann"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Rows of a CSV as maps from column to field, after checking the header.
fn csv(path: &Path, columns: &[&str]) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert!(
        header.len() >= columns.len() && header[..columns.len()] == *columns,
        "{}: header {header:?}",
        path.display()
    );
    let rows: Vec<HashMap<String, String>> = (reader.records())
        .map(|record| {
            // The reader refuses a record whose width is not the header's.
            let record = record.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            header
                .iter()
                .cloned()
                .zip(record.iter().map(String::from))
                .collect()
        })
        .collect();
    assert!(!rows.is_empty(), "{} has no rows", path.display());
    rows
}

fn number(row: &HashMap<String, String>, col: &str) -> f64 {
    row[col]
        .parse()
        .unwrap_or_else(|_| panic!("{col} = '{}' in {row:?}", row[col]))
}

/// `command` (`study` or `study sweep`) on generated 20 000-agent panels, sizes 100 and
/// 1 000, `seeds` draws each, with `extra` flags, into `out`; it must succeed.
fn small_study(command: &[&str], out: &Path, seeds: &str, extra: &[&str]) {
    let out = out.to_str().unwrap();
    let common = [
        "--out", out, "--agents", "20000", "--sizes", "100,1000", "--seeds", seeds, "--quiet",
    ];
    let (code, err) = aumann(&[command, &common[..], extra].concat());
    assert_eq!(code, 0, "{err}");
}

#[test]
fn study_command_writes_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    small_study(&["study"], &out, "3", &[]);
    let shares = csv(
        &out.join("shares.csv"),
        &[
            "topic",
            "indicator",
            "protocol",
            "size",
            "draws",
            "kept",
            "top_mean",
            "top_std",
            "top_ci_lo",
            "top_ci_hi",
            "mid_mean",
            "mid_std",
            "mid_ci_lo",
            "mid_ci_hi",
            "tail_mean",
            "tail_std",
            "tail_ci_lo",
            "tail_ci_hi",
        ],
    );
    // 5 topics × 4 indicators × (full + 5 protocols × 2 sizes).
    assert_eq!(shares.len(), 5 * 4 * 11);
    for row in &shares {
        let seeds = number(row, "kept");
        if row["protocol"] == "full" {
            assert_eq!(row["size"], "20000");
            assert_eq!(seeds, 1.0);
        }
        if seeds > 0.0 {
            let sum: f64 = ["top_mean", "mid_mean", "tail_mean"]
                .iter()
                .map(|c| number(row, c))
                .sum();
            assert!((sum - 1.0).abs() < 1e-6, "{row:?}");
        }
    }
    let residuals = csv(
        &out.join("residuals.csv"),
        &[
            "topic",
            "indicator",
            "protocol",
            "size",
            "draws",
            "kept",
            "c_star_mean",
            "residual_mean",
            "residual_std",
            "spearman_mean",
        ],
    );
    for row in residuals.iter().filter(|r| r["indicator"] == "linear") {
        assert!(number(row, "residual_mean") <= 1e-6, "{row:?}");
    }
    csv(
        &out.join("anchors.csv"),
        &[
            "topic",
            "indicator",
            "protocol",
            "size",
            "anchor",
            "draws",
            "kept",
        ],
    );
    csv(
        &out.join("jaccard.csv"),
        &[
            "topic",
            "indicator",
            "protocol",
            "size",
            "k",
            "draws",
            "kept",
            "jaccard_mean",
        ],
    );
    let daily = csv(
        &out.join("daily.csv"),
        &[
            "topic",
            "indicator",
            "day",
            "label",
            "total",
            "top",
            "mid",
            "tail",
            "peak",
            "reason",
        ],
    );
    assert_eq!(daily.len(), 5 * 4 * 14);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    let topics = manifest["panel"]["manifest"]["topics"].as_array().unwrap();
    assert_eq!(topics.len(), 5);
    for t in topics {
        let t = t.as_str().unwrap();
        let heat = csv(
            &out.join(format!("heatmap_{t}.csv")),
            &["bin", "top_percent_from", "top_percent_to"],
        );
        assert_eq!(heat.len(), 100);
        let png = std::fs::read(out.join(format!("heatmap_{t}.png"))).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert!(info.width >= 800 && info.height >= 600);
    }
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("## 1. The flip"));
    assert!(
        !out.join("per_agent").exists(),
        "per-agent arrays only when asked for"
    );
    // A folder that is not a study output is never replaced.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "mine").unwrap();
    let (code, err) = aumann(&["study", "--out", other.to_str().unwrap(), "--agents", "500"]);
    assert_eq!(code, 2);
    assert!(err.contains("not an earlier output"), "{err}");
    assert!(other.join("notes.txt").exists());
}

/// A small saved panel to break in the ways a real one can be broken.
fn saved_panel(dir: &Path) -> Panel {
    let panel = generate(&PanelConfig {
        agents: 500,
        days: 3,
        ..PanelConfig::default()
    });
    panel.save(dir).unwrap();
    panel
}

fn load_error(dir: &Path) -> String {
    Panel::load(dir).unwrap_err().to_string()
}

#[test]
fn bad_panels_are_refused_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let panel = saved_panel(dir);

    // A missing array.
    let topic = dir.join("topics").join("masters.npy");
    std::fs::rename(&topic, dir.join("away.npy")).unwrap();
    let e = load_error(dir);
    assert!(e.contains("masters.npy"), "{e}");
    std::fs::rename(dir.join("away.npy"), &topic).unwrap();

    // Mismatched lengths.
    let followers = dir.join("followers.npy");
    aumann::npy::write_i64(&followers, &[499], &vec![1; 499]).unwrap();
    let e = load_error(dir);
    assert!(e.contains("followers.npy") && e.contains("[500]"), "{e}");

    // Negative counts.
    let mut counts: Vec<i64> = panel.followers.iter().map(|&f| f as i64).collect();
    counts[17] = -4;
    aumann::npy::write_i64(&followers, &[500], &counts).unwrap();
    let e = load_error(dir);
    assert!(e.contains("followers.npy") && e.contains("agent 17"), "{e}");
    counts[17] = 4;
    aumann::npy::write_i64(&followers, &[500], &counts).unwrap();

    // NaN in a topic's features: the file, day, agent and coordinate.
    let Values::F32(mut v) = panel.topics[0].values().clone() else {
        unreachable!()
    };
    let (t, i, k) = (2, 33, 1);
    v[(t * 500 + i) * 3 + k] = f32::NAN;
    let path = dir.join("topics").join("mythos.npy");
    let bad = Array3::from_f32([3, 500, 3], v);
    crate::common::write_raw_npy(&path, &bad.shape(), bad.values());
    let e = load_error(dir);
    assert!(
        e.contains("mythos.npy") && e.contains("step 2") && e.contains("agent 33"),
        "{e}"
    );
    aumann::npy::write(&path, &panel.topics[0].shape(), panel.topics[0].values()).unwrap();
    Panel::load(dir).unwrap();

    // A topic array of the wrong shape, and a broken manifest.
    aumann::npy::write(&path, &[3, 500, 2], &Values::F32(vec![0.0; 3000])).unwrap();
    let e = load_error(dir);
    assert!(e.contains("mythos.npy") && e.contains("[3, 500, 3]"), "{e}");
    std::fs::write(dir.join("manifest.json"), "{").unwrap();
    let e = load_error(dir);
    assert!(e.contains("manifest.json"), "{e}");

    // The command line says the same, with exit status 2 and no output folder.
    let out = tmp.path().join("never");
    let (code, err) = aumann(&[
        "study",
        "--panel",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("manifest.json"), "{err}");
    assert!(!out.exists());
}

#[test]
fn study_of_a_saved_panel_with_per_agent_output() {
    let dir = tempfile::tempdir().unwrap();
    let panel = dir.path().join("panel");
    let out = dir.path().join("study");
    let (code, err) = aumann(&[
        "panel",
        "synth",
        "--agents",
        "3000",
        "--days",
        "5",
        "--out",
        panel.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, err) = aumann(&[
        "study",
        "--panel",
        panel.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--sizes",
        "100",
        "--seeds",
        "2",
        "--indicators",
        "linear,gini",
        "--protocols",
        "random",
        "--per-agent",
        "--quiet",
    ]);
    assert_eq!(code, 0, "{err}");
    let shares = csv(&out.join("shares.csv"), &["topic", "indicator", "protocol"]);
    assert_eq!(shares.len(), 5 * 2 * 2);
    let phi = aumann::npy::read(&out.join("per_agent").join("masters_gini.npy")).unwrap();
    assert_eq!(phi.shape, vec![3000]);
    // Re-running into the same folder replaces the earlier output.
    let (code, err) = aumann(&[
        "study",
        "--panel",
        panel.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--sizes",
        "100",
        "--seeds",
        "2",
        "--quiet",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.join("per_agent").exists());
}

/// Every output file of a study, as text, checked for `NaN` and infinities as fields: an
/// undefined value is an empty field with a reason.
fn assert_no_nan(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !["csv", "json", "md"].contains(&ext) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (i, line) in text.lines().enumerate() {
            for field in line.split([',', '|', ' ', ':', '[', ']']) {
                let f = field.trim().trim_matches('"').to_ascii_lowercase();
                assert!(
                    !["nan", "inf", "-inf", "+inf", "infinity"].contains(&f.as_str()),
                    "{}:{}: {line}",
                    path.display(),
                    i + 1
                );
            }
        }
    }
}

/// Intervals and kept counts in every table; no NaN anywhere, even on a panel with a topic
/// nobody posts about.
#[test]
fn study_outputs_have_intervals_and_no_nan() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    small_study(&["study"], &out, "6", &[]);
    assert_no_nan(&out);
    let shares = csv(
        &out.join("shares.csv"),
        &["topic", "indicator", "protocol", "size", "draws", "kept"],
    );
    for row in shares.iter().filter(|r| r["protocol"] != "full") {
        let kept = number(row, "kept");
        assert!(kept <= number(row, "draws"));
        if kept >= 2.0 {
            let (lo, mean, hi) = (
                number(row, "top_ci_lo"),
                number(row, "top_mean"),
                number(row, "top_ci_hi"),
            );
            assert!(lo <= mean && mean <= hi, "{row:?}");
            let (dlo, d, dhi) = (
                number(row, "delta_top_ci_lo"),
                number(row, "delta_top"),
                number(row, "delta_top_ci_hi"),
            );
            assert!(dlo <= d && d <= dhi, "{row:?}");
        } else {
            assert!(!row["reason"].is_empty(), "{row:?}");
        }
    }
    assert_decomposition(&out.join("shares.csv"));
    csv(
        &out.join("positive_mass.csv"),
        &[
            "topic",
            "indicator",
            "protocol",
            "size",
            "draws",
            "kept",
            "top_mean",
        ],
    );
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("kept") && report.contains("95 %"),
        "{report}"
    );
}

/// The report's findings are `findings.csv`'s: every row of its findings table has the
/// verdict of the CSV's row for the same finding, indicator and size; and where the numbers
/// cannot show a flip (a margin of 90 pp), the report's heading says it does not hold.
#[test]
fn findings_decide_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let study = |name: &str, margin: &str| {
        let out = dir.path().join(name);
        small_study(&["study"], &out, "4", &["--margin", margin]);
        out
    };
    for (out, flip) in [
        (study("usual", "0.02"), None),
        (study("wide", "0.9"), Some("does not hold")),
    ] {
        let rows = csv(
            &out.join("findings.csv"),
            &[
                "finding",
                "protocol",
                "indicator",
                "size",
                "statistic",
                "ci_lo",
                "ci_hi",
                "unit",
                "test",
                "verdict",
                "reason",
            ],
        );
        let report = std::fs::read_to_string(out.join("report.md")).unwrap();
        assert!(report.contains("No generator sweep was given"), "{report}");
        let mut matched = 0;
        for line in report.lines().filter(|l| l.starts_with("| ")) {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
            // The report writes an absent indicator or size as –, the CSV as an empty field.
            let field = |c: &str| {
                if c == "–" {
                    String::new()
                } else {
                    c.to_string()
                }
            };
            let Some(row) = rows.iter().find(|r| {
                cells.len() == 6
                    && r["finding"] == cells[0]
                    && r["indicator"] == field(cells[1])
                    && r["size"] == field(cells[2])
            }) else {
                continue;
            };
            assert_eq!(row["verdict"], cells[4], "{line} against {row:?}");
            matched += 1;
        }
        let at_s0 = rows
            .iter()
            .filter(|r| ["100", ""].contains(&r["size"].as_str()))
            .count();
        assert_eq!(matched, at_s0, "every finding at s = 100 is in the report");
        for r in &rows {
            assert!(
                [
                    "holds",
                    "does not hold",
                    "undecided",
                    "holds by construction"
                ]
                .contains(&r["verdict"].as_str()),
                "{r:?}"
            );
            if r["verdict"] == "undecided" {
                assert!(!r["reason"].is_empty(), "{r:?}");
            }
        }
        // bias-followers draws from the top 1 % by followers, the top tier itself: calibration
        // within its pool of 200, a finding past it.
        for r in rows
            .iter()
            .filter(|r| r["finding"] == "flip bias-followers")
        {
            let within = r["size"] == "100";
            assert_eq!(r["verdict"] == "holds by construction", within, "{r:?}");
        }
        // What the panel is: synthetic, with the generator's couplings.
        let kind = "The panel is synthetic (couplings: follower σ 2.3, participation 1, posting 1";
        assert!(report.contains(kind), "{report}");
        let heading = report.lines().find(|l| l.starts_with("## 1.")).unwrap();
        if let Some(flip) = flip {
            assert!(
                heading.ends_with(&format!("{flip} for linear, mult, variance, gini")),
                "{heading}"
            );
            let biased: Vec<_> = (rows.iter())
                .filter(|r| r["finding"] == "flip bias-visibility")
                .collect();
            assert!(!biased.is_empty());
            assert!(
                biased.iter().all(|r| r["verdict"] == "does not hold"),
                "{biased:?}"
            );
        } else {
            // The usual margin: the visibility-biased flip of the nonlinear indicators holds.
            assert!(heading.contains("holds for"), "{heading}");
        }
    }
}

/// Δ_top = composition + re-attribution in every small-panel row of `shares.csv` (SPEC §12),
/// to 1e-12, each part inside its interval; and for the linear indicator the re-attribution is
/// zero (its within-panel shares are the full panel's renormalised: the scaling-bias theorem),
/// so its whole flip is composition.
fn assert_decomposition(shares: &Path) {
    let rows = csv(shares, &["topic", "indicator", "protocol", "size"]);
    let mut checked = 0;
    for row in rows
        .iter()
        .filter(|r| r["protocol"] != "full" && !r["composition"].is_empty())
    {
        let [delta, composition, reattribution] =
            ["delta_top", "composition", "reattribution"].map(|c| number(row, c));
        let gap = (composition + reattribution - delta).abs();
        assert!(
            gap <= 1e-12,
            "parts add up to Δ_top within {gap:e}: {row:?}"
        );
        for part in ["composition", "reattribution"] {
            let lo = &row[&format!("{part}_ci_lo")];
            if !lo.is_empty() {
                let hi = number(row, &format!("{part}_ci_hi"));
                let mean = number(row, part);
                assert!(
                    number(row, &format!("{part}_ci_lo")) <= mean && mean <= hi,
                    "{row:?}"
                );
            }
        }
        if row["indicator"] == "linear" {
            assert!(
                reattribution.abs() <= 1e-12,
                "linear re-attributes: {row:?}"
            );
        }
        checked += 1;
    }
    assert!(checked > 0, "no decomposed row in {}", shares.display());
}

/// The null generator keeps each term's mean but cuts engagement loose from followers: the
/// correlation of ln(1 + followers) with topic engagement is clearly positive by default and
/// near 0 under it.
#[test]
fn the_null_generator_decouples_engagement_from_followers() {
    use aumann::panel::synth::Coupling;
    let correlation = |coupling: Coupling| {
        let p = generate(&PanelConfig {
            agents: 50_000,
            coupling,
            ..PanelConfig::default()
        });
        let n = p.agents();
        let reach: Vec<f64> = p.followers.iter().map(|f| f.ln_1p()).collect();
        let engagement: Vec<f64> = (0..n)
            .map(|i| {
                (p.topics.iter())
                    .flat_map(|x| {
                        (0..p.days())
                            .map(move |t| x.get(t, i, 1).exp_m1() + x.get(t, i, 2).exp_m1())
                    })
                    .sum()
            })
            .collect();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let (mr, me) = (mean(&reach), mean(&engagement));
        let cov: f64 = reach
            .iter()
            .zip(&engagement)
            .map(|(a, b)| (a - mr) * (b - me))
            .sum();
        let var = |v: &[f64], m: f64| v.iter().map(|a| (a - m).powi(2)).sum::<f64>();
        (cov / (var(&reach, mr) * var(&engagement, me)).sqrt(), me)
    };
    let (coupled, mean_coupled) = correlation(Coupling::DEFAULT);
    let (null, mean_null) = correlation(Coupling::NULL);
    println!(
        "corr default {coupled:.3} (mean {mean_coupled:.2}), null {null:.3} (mean {mean_null:.2})"
    );
    assert!(coupled > 0.1, "{coupled}");
    assert!(null.abs() < 0.02, "{null}");
    // Same means, to within the draws' noise.
    assert!(
        (mean_null / mean_coupled - 1.0).abs() < 0.25,
        "{mean_null} vs {mean_coupled}"
    );
}

/// `aumann study sweep`: every setting × finding in sweep.csv, the null generator named
/// `null`, and no NaN in its outputs.
#[test]
fn study_sweep_reports_every_setting_and_finding() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sweep");
    small_study(&["study", "sweep"], &out, "4", &[]);
    let columns: Vec<&str> = std::iter::once("setting")
        .chain(aumann::study::findings::COLUMNS)
        .collect();
    let rows = csv(&out.join("sweep.csv"), &columns);
    let settings = aumann::study::sweep::default_grid();
    let names: Vec<&str> = settings.iter().map(|s| s.name.as_str()).collect();
    for name in [
        "default",
        "null",
        "reach-free",
        "null-reach-free",
        "standardised",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    // Every setting reads the same findings, at the smallest size (or none); bias-followers has
    // a re-attribution row only where its pool is not the top tier alone.
    let of = |setting: &str| -> Vec<(String, String)> {
        (rows.iter())
            .filter(|r| r["setting"] == setting && r["finding"] != "re-attribution bias-followers")
            .map(|r| (r["finding"].clone(), r["indicator"].clone()))
            .collect()
    };
    let default = of("default");
    assert!(!default.is_empty());
    for name in &names {
        assert_eq!(of(name), default, "{name}");
    }
    for r in &rows {
        assert!(["100", ""].contains(&r["size"].as_str()), "{r:?}");
        let verdicts = [
            "holds",
            "does not hold",
            "undecided",
            "holds by construction",
        ];
        assert!(verdicts.contains(&r["verdict"].as_str()), "{r:?}");
    }
    let has = |finding: &str| default.iter().any(|(f, _)| f == finding);
    for finding in [
        "flip bias-visibility",
        "re-attribution bias-visibility",
        "random control",
    ] {
        assert!(has(finding), "{finding}");
    }
    let residual = (rows.iter())
        .find(|r| r["setting"] == "default" && r["finding"] == "residual dichotomy")
        .unwrap();
    assert_eq!(residual["verdict"], "holds", "{residual:?}");
    let md = std::fs::read_to_string(out.join("sweep.md")).unwrap();
    assert!(md.contains("panel seeds 7, 8, 9"), "{md}");
    // Each finding's survival in words, matching its row of verdicts.
    let (_, survival) = md
        .split_once("## Which findings survive which settings")
        .unwrap();
    let line = (survival.lines())
        .find(|l| l.starts_with("- residual dichotomy: "))
        .unwrap();
    let verdicts: Vec<&str> = (rows.iter())
        .filter(|r| r["finding"] == "residual dichotomy")
        .map(|r| r["verdict"].as_str())
        .collect();
    if verdicts.iter().all(|&v| v == "holds") {
        assert_eq!(line, "- residual dichotomy: holds in every setting");
    } else {
        assert!(line.contains("holds in default"), "{line}");
    }
    assert_no_nan(&out);
    // A study given the sweep says which of its findings survive, in the sweep's own words.
    let study = dir.path().join("study");
    small_study(&["study"], &study, "4", &["--sweep", out.to_str().unwrap()]);
    let report = std::fs::read_to_string(study.join("report.md")).unwrap();
    let (_, section) = report
        .split_once("## Which findings survive the generator sweep")
        .unwrap_or_else(|| panic!("no survival section in {report}"));
    assert!(
        section.lines().any(|l| l == line),
        "{line} not in {section}"
    );
    let flips = section.lines().filter(|l| l.starts_with("- flip ")).count();
    assert!(flips > 0, "{section}");
    // A sweep.csv that is not one is refused, naming the file and the line; nothing is written.
    let bad = dir.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    let text = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    let broken = text.replacen(",holds,", ",mostly,", 1);
    std::fs::write(bad.join("sweep.csv"), broken).unwrap();
    let other = dir.path().join("other");
    let args = [
        "study",
        "--out",
        other.to_str().unwrap(),
        "--agents",
        "2000",
        "--sweep",
        bad.to_str().unwrap(),
        "--quiet",
    ];
    let (code, err) = aumann(&args);
    assert_ne!(code, 0);
    assert!(
        err.contains("sweep.csv") && err.contains("line ") && err.contains("mostly"),
        "{err}"
    );
    assert!(!other.exists());
}

/// Degenerate input is reported, not patched: a topic nobody is active on is named in the
/// report and run.json, its topic pools are empty and not drawn (with a reason), nothing is
/// NaN; a panel whose agents all have the same follower count is refused.
#[test]
fn degenerate_input_is_named_not_patched() {
    let dir = tempfile::tempdir().unwrap();
    let mut panel = generate(&PanelConfig {
        agents: 5_000,
        days: 4,
        ..PanelConfig::default()
    });
    // Topic 0: nobody posts, reposts or receives a reply.
    let [days, n, d] = panel.topics[0].shape();
    let mut x: Vec<f32> = (0..days * n * d)
        .map(|j| panel.topics[0].get(j / (n * d), j / d % n, j % d) as f32)
        .collect();
    for (j, v) in x.iter_mut().enumerate() {
        if j % d != 0 {
            *v = 0.0;
        }
    }
    panel.topics[0] = Array3::from_f32([days, n, d], x);
    let quiet = dir.path().join("quiet");
    panel.save(&quiet).unwrap();
    let out = dir.path().join("study");
    let (code, err) = aumann(&[
        "study",
        "--panel",
        quiet.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--sizes",
        "100",
        "--seeds",
        "3",
        "--quiet",
    ]);
    assert_eq!(code, 0, "{err}");
    let topic = &panel.manifest.topics[0];
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains(&format!(
            "- {topic}: no agent posts, reposts or receives a reply"
        )),
        "{report}"
    );
    assert!(
        report.contains(&format!("- {topic}: bias-topic-top: no agent is active")),
        "{report}"
    );
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert!(
        run["degenerate"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["topic"] == topic.as_str())
    );
    let shares = csv(
        &out.join("shares.csv"),
        &["topic", "indicator", "protocol", "size", "draws"],
    );
    let empty = shares
        .iter()
        .find(|r| r["topic"] == *topic && r["protocol"] == "bias-topic-top")
        .unwrap();
    assert_eq!(empty["draws"], "0");
    assert!(empty["reason"].contains("pool is empty"), "{empty:?}");
    assert_no_nan(&out);

    // Everyone with the same follower count: no tiers, refused.
    panel.followers = vec![5.0; n];
    let flat = dir.path().join("flat");
    panel.save(&flat).unwrap();
    let (code, err) = aumann(&[
        "study",
        "--panel",
        flat.to_str().unwrap(),
        "--out",
        dir.path().join("never").to_str().unwrap(),
        "--quiet",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("same follower count"), "{err}");
    assert!(!dir.path().join("never").exists());
}

/// The default study (the 10⁶-agent synthetic panel, every default) and the default sweep
/// write no NaN or infinity in any file.
#[test]
fn default_study_and_sweep_write_no_nan() {
    let dir = tempfile::tempdir().unwrap();
    let study = dir.path().join("study");
    let (code, err) = aumann(&["study", "--out", study.to_str().unwrap(), "--quiet"]);
    assert_eq!(code, 0, "{err}");
    assert_no_nan(&study);
    let sweep = dir.path().join("sweep");
    let (code, err) = aumann(&[
        "study",
        "sweep",
        "--out",
        sweep.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_no_nan(&sweep);
}

/// The formula `psi: c, c^2; rho: m1 - m0^2` is the variance: the study attributes it by the
/// path integral, the registry's `variance` by its closed form.
const VARIANCE_FORMULA: &str = "psi: c, c^2; rho: m1 - m0^2";

/// `|a − b| ≤ tol · max_j |b_j|` for every pair: equal relative to the values' scale (an agent
/// whose attribution is near zero is compared at that scale, not at its own).
fn assert_close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let worst = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    assert!(
        scale > 0.0 && worst <= tol * scale,
        "{what}: largest difference {worst:e} at scale {scale:e}"
    );
}

/// A formula indicator is studied by the path integral beside a parameterised registry
/// indicator; written as the variance, every full-panel attribution and every cell's shares
/// (every draw, anchor and tier) and residuals are the closed-form variance's to 1e-8.
#[test]
fn a_formula_of_the_variance_studies_as_the_variance() {
    use aumann::indicators::formula::Definition;
    use aumann::study::StudyIndicator;
    let panel = generate(&PanelConfig {
        agents: 20_000,
        days: 5,
        ..PanelConfig::default()
    });
    let definition: Definition = VARIANCE_FORMULA.parse().unwrap();
    let formula = StudyIndicator::formula(definition).unwrap();
    let share: StudyIndicator = "share_above(threshold=1, tau=0.2)".parse().unwrap();
    let variance = StudyIndicator::analytic(Analytic::Variance);
    let config = StudyConfig {
        sizes: vec![100, 1_000],
        seeds: 3,
        indicators: vec![variance.clone(), share.clone(), formula.clone()],
        per_agent: true,
        ..StudyConfig::default()
    };
    let r = study::run(&panel, &config, |_| {}).unwrap();
    assert_eq!(formula.label(), "formula");
    assert_eq!(r.per_agent.len(), 5 * 3);
    for totals in r.per_agent.chunks(3) {
        assert_close(&totals[2], &totals[0], 1e-8, "per-agent totals");
    }
    let of = |ind: &StudyIndicator| -> Vec<&study::Cell> {
        r.cells.iter().filter(|c| c.indicator == *ind).collect()
    };
    let (exact, path) = (of(&variance), of(&formula));
    assert_eq!(exact.len(), 5 * 11);
    assert_eq!(path.len(), exact.len());
    let mut compared = 0;
    for (e, p) in exact.iter().zip(&path) {
        assert_eq!((e.topic, e.protocol, e.size), (p.topic, p.protocol, p.size));
        assert_eq!(e.runs.len(), p.runs.len(), "{e:?}");
        for (a, b) in e.runs.iter().zip(&p.runs) {
            let flat = |m: &study::RunMetrics| -> Vec<f64> {
                let shares = m.shares.iter().flatten().copied();
                shares.chain([m.residual, m.c_star]).collect()
            };
            let cell = format!("topic {} {} s = {}", e.topic, e.protocol.name(), e.size);
            assert_close(&flat(b), &flat(a), 1e-8, &cell);
            compared += 1;
        }
    }
    assert!(compared > 5 * 20, "{compared} draws compared");
    // The registry indicator with parameters has cells of its own, with defined shares.
    let shares = of(&share);
    assert_eq!(shares.len(), 5 * 11);
    assert!(
        shares
            .iter()
            .all(|c| c.protocol != Protocol::Full || c.runs.len() == 1)
    );
    assert_ne!(shares[0].share(0, 0), exact[0].share(0, 0));
}

/// `aumann study` with a registry indicator whose parameters hold a comma, and a formula:
/// each is a column value and a per-agent file named by its label, the formula's full-panel
/// attributions are the variance's to 1e-8, and run.json and the report say how each was
/// attributed.
#[test]
fn study_command_takes_parameters_and_formulas() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    let extra = [
        "--indicators",
        "variance,share_above(threshold=1, tau=0.2)",
        "--formula",
        VARIANCE_FORMULA,
        "--heatmap-indicator",
        "formula",
        "--per-agent",
    ];
    small_study(&["study"], &out, "3", &extra);
    let share = "share_above(threshold=1, tau=0.2)"
        .parse::<aumann::indicators::IndicatorSpec>()
        .unwrap()
        .to_string();
    let rows = csv(&out.join("shares.csv"), &["topic", "indicator", "protocol"]);
    assert_eq!(rows.len(), 5 * 3 * 11);
    for label in ["variance", share.as_str(), "formula"] {
        let of = rows.iter().filter(|r| r["indicator"] == label).count();
        assert_eq!(of, 5 * 11, "{label}");
    }
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    let parameters = &run["parameters"];
    assert_eq!(parameters["heatmap_indicator"], "formula");
    assert_eq!(parameters["formulas"]["formula"]["rho"], "m1 - m0^2");
    let how = parameters["attribution"].as_str().unwrap();
    assert!(
        how.contains("Gauss–Legendre") && how.contains("32 nodes"),
        "{how}"
    );
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("by the path integral"), "{report}");
    let npy = |name: String| -> Vec<f64> {
        let array = aumann::npy::read(&out.join("per_agent").join(name)).unwrap();
        match array.values {
            Values::F64(v) => v,
            Values::F32(_) => panic!("per-agent attributions are float64"),
        }
    };
    let topics = run["panel"]["manifest"]["topics"].as_array().unwrap();
    for topic in topics.iter().map(|t| t.as_str().unwrap()) {
        let exact = npy(format!("{topic}_variance.npy"));
        assert_eq!(exact.len(), 20_000);
        assert_close(&npy(format!("{topic}_formula.npy")), &exact, 1e-8, topic);
        assert_eq!(npy(format!("{topic}_{share}.npy")).len(), 20_000);
    }
    assert_no_nan(&out);
}

/// Indicators undefined at the zero baseline are refused naming themselves, the day and what
/// they need; two indicators with one label are refused; nothing is written.
#[test]
fn study_refuses_what_it_cannot_attribute() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never");
    let study = |extra: &[&str]| {
        let args = [
            "study",
            "--out",
            out.to_str().unwrap(),
            "--agents",
            "2000",
            "--quiet",
        ];
        aumann(&[&args[..], extra].concat())
    };
    let (code, err) = study(&["--indicators", "linear,gini_coefficient"]);
    assert_eq!(code, 2, "{err}");
    for part in [
        "gini_coefficient",
        "step 0",
        "positive mean",
        "zero baseline",
    ] {
        assert!(err.contains(part), "{part} in {err}");
    }
    assert!(!out.exists());
    let formula = ["--formula", VARIANCE_FORMULA];
    let (code, err) = study(&[&formula[..], &formula[..]].concat());
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("two indicators are labelled 'formula'"),
        "{err}"
    );
    let (code, err) = study(&["--formula", "features: a, b; psi: a; rho: m0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--formula") && err.contains("d = 3"), "{err}");
    assert!(!out.exists());
}
