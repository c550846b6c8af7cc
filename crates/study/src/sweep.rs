//! What the synthetic panel builds into the study, measured: the study rerun on panels from a
//! grid of generator settings ([`Coupling`]), down to a null generator in which engagement is
//! independent of followers, and for each setting which findings survive.
//!
//! Findings, all at the smallest size `s₀` and over every topic:
//!
//! ```text
//! flip <protocol>      value: mean Δ_top (pp) over topics and the nonlinear indicators;
//!                      holds: every topic × nonlinear indicator has Δ_top's interval above 0
//! re-attribution <p>   value: mean re-attribution (pp), Δ_top less its composition part;
//!                      holds: every topic × nonlinear indicator has its interval above 0
//! random control       value: largest |Δ_top| (pp) of the random protocol;
//!                      holds: every interval, widened by 2 pp, contains 0 (linear, variance, gini)
//! residual dichotomy   value: largest linear residual; holds: linear r ≤ 1e-6 everywhere and
//!                      every nonlinear mean r > 1e-3 at bias-visibility s₀
//! dose-response order  value: share of topic × indicator rows whose Δ_top never rises along
//!                      the protocols ordered by top-tier agents drawn; holds: all of them
//! ```

use aumann_kernels::closed_form::Analytic;

use super::{Protocol, Stat, StudyConfig, StudyResults};
use crate::error::Result;
use aumann_panel::synth::{Coupling, PanelConfig, generate};

/// One generator setting of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    /// Its name in `sweep.csv` (`default`, `null`, …).
    pub name: String,
    /// The generator's couplings.
    pub coupling: Coupling,
}

/// The default grid: the generator as documented, the null generator, each coupling off in
/// turn, two follower spreads and two event strengths.
pub fn default_grid() -> Vec<Setting> {
    let d = Coupling::DEFAULT;
    let set = |name: &str, coupling| Setting {
        name: name.into(),
        coupling,
    };
    vec![
        set("default", d),
        set("null", Coupling::NULL),
        set(
            "participation-0",
            Coupling {
                participation: 0.0,
                ..d
            },
        ),
        set("posting-0", Coupling { posting: 0.0, ..d }),
        set("replies-0", Coupling { replies: 0.0, ..d }),
        set("crowd-0", Coupling { crowd: 0.0, ..d }),
        set(
            "followers-sigma-1.5",
            Coupling {
                follower_sigma: 1.5,
                ..d
            },
        ),
        set(
            "followers-sigma-3",
            Coupling {
                follower_sigma: 3.0,
                ..d
            },
        ),
        set(
            "events-0.5",
            Coupling {
                event_strength: 0.5,
                ..d
            },
        ),
        set(
            "events-2",
            Coupling {
                event_strength: 2.0,
                ..d
            },
        ),
    ]
}

/// One row of `sweep.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// The generator setting.
    pub setting: String,
    /// The finding.
    pub finding: String,
    /// Its size (`None` where nothing could be measured).
    pub value: Option<f64>,
    /// Whether it survives.
    pub holds: bool,
    /// What the value is.
    pub detail: String,
}

/// Run the study of `config` on a panel of `agents` agents (seed `panel_seed`) from every
/// setting; `progress(setting done, settings)`.
///
/// # Errors
/// As [`super::run`].
pub fn run(
    agents: usize,
    panel_seed: u64,
    config: &StudyConfig,
    grid: &[Setting],
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<Finding>> {
    let mut out = Vec::new();
    for (j, setting) in grid.iter().enumerate() {
        let panel_config = PanelConfig {
            agents,
            seed: panel_seed,
            coupling: setting.coupling,
            ..PanelConfig::default()
        };
        panel_config.check()?;
        let panel = generate(&panel_config);
        let results = super::run(&panel, config, |_| {})?;
        out.extend(findings(&setting.name, &results, panel.topics.len()));
        progress(j + 1, grid.len());
    }
    Ok(out)
}

const NONLINEAR: [Analytic; 3] = [Analytic::Mult, Analytic::Variance, Analytic::Gini];

/// The findings of one study.
pub fn findings(setting: &str, r: &StudyResults, topics: usize) -> Vec<Finding> {
    let s0 = r
        .cells
        .iter()
        .filter(|c| c.protocol != Protocol::Full)
        .map(|c| c.size)
        .min();
    let Some(s0) = s0 else {
        return Vec::new();
    };
    let find = |k, ind, p, s| r.cell(k, ind, p, s);
    // Δ_top of a cell against its full panel, with its interval.
    let delta = |k, ind, p| r.delta_top(find(k, ind, p, Some(s0))?, 0);
    // Δ_top less its composition part.
    let reattribution = |k, ind, p| Some(r.decomposition(find(k, ind, p, Some(s0))?)?[1]);
    let row = |finding: String, value: Option<f64>, holds: bool, detail: &str| Finding {
        setting: setting.into(),
        finding,
        value,
        holds,
        detail: detail.into(),
    };
    let indicators = &r.config.indicators;
    let nonlinear: Vec<Analytic> = NONLINEAR
        .into_iter()
        .filter(|i| indicators.contains(i))
        .collect();
    let mut out = Vec::new();
    for &p in r
        .config
        .protocols
        .iter()
        .filter(|&&p| p != Protocol::Random)
    {
        let cells: Vec<(usize, Analytic)> = (0..topics)
            .flat_map(|k| nonlinear.iter().map(move |&i| (k, i)))
            .collect();
        let positive = |stat: &dyn Fn(usize, Analytic, Protocol) -> Option<Stat>| {
            let ds: Vec<_> = cells.iter().map(|&(k, i)| stat(k, i, p)).collect();
            let values: Vec<f64> = ds.iter().flatten().map(|d| 100.0 * d.mean).collect();
            let holds = ds
                .iter()
                .all(|d| d.is_some_and(|d| d.ci.is_some_and(|[lo, _]| lo > 0.0)));
            let n = values.len() as f64;
            (
                (!values.is_empty()).then(|| values.iter().sum::<f64>() / n),
                holds,
            )
        };
        let (mean, holds) = positive(&delta);
        out.push(row(
            format!("flip {}", p.name()),
            mean,
            holds,
            "mean delta_top (pp) over topics and nonlinear indicators; holds when every interval lies above 0",
        ));
        let (mean, holds) = positive(&reattribution);
        out.push(row(
            format!("re-attribution {}", p.name()),
            mean,
            holds,
            "mean re-attribution (pp): delta_top less its composition part; holds when every interval lies above 0",
        ));
    }
    if r.config.protocols.contains(&Protocol::Random) {
        let ds: Vec<_> = (0..topics)
            .flat_map(|k| {
                indicators
                    .iter()
                    .filter(|&&i| i != Analytic::Mult)
                    .map(move |&i| (k, i))
            })
            .map(|(k, i)| delta(k, i, Protocol::Random))
            .collect();
        let worst = ds
            .iter()
            .flatten()
            .map(|d| 100.0 * d.mean.abs())
            .reduce(f64::max);
        let holds = ds.iter().all(|d| {
            d.is_some_and(|d| {
                d.ci.is_some_and(|[lo, hi]| lo - 0.02 <= 0.0 && 0.0 <= hi + 0.02)
            })
        });
        out.push(row(
            "random control".into(),
            worst,
            holds,
            "largest |delta_top| (pp) of random panels for linear and variance and gini; holds when every interval widened by 2 pp contains 0",
        ));
    }
    let linear_worst = (r.cells.iter())
        .filter(|c| c.indicator == Analytic::Linear && c.protocol != Protocol::Full)
        .flat_map(|c| c.runs.iter().map(|m| m.residual))
        .reduce(f64::max);
    let nonlinear_positive = (0..topics).all(|k| {
        nonlinear.iter().all(|&i| {
            find(k, i, Protocol::BiasVisibility, Some(s0))
                .and_then(|c| c.stat(|m| m.residual))
                .is_some_and(|s| s.mean > 1e-3)
        })
    });
    out.push(row(
        "residual dichotomy".into(),
        linear_worst,
        linear_worst.is_some_and(|w| w <= 1e-6) && nonlinear_positive,
        "largest linear residual; holds when it is at most 1e-6 and every nonlinear bias-visibility residual exceeds 1e-3",
    ));
    let mut rows = 0usize;
    let mut ordered = 0usize;
    for k in 0..topics {
        let dose = |p: Protocol| {
            find(k, indicators[0], p, Some(s0))?
                .stat(|m| m.top_agents as f64)
                .map(|s| s.mean)
        };
        let mut order: Vec<(Protocol, f64)> = (r.config.protocols.iter())
            .filter_map(|&p| Some((p, dose(p)?)))
            .collect();
        order.sort_by(|a, b| b.1.total_cmp(&a.1));
        for &ind in indicators {
            let along: Vec<f64> = order
                .iter()
                .filter_map(|&(p, _)| delta(k, ind, p))
                .map(|d| d.mean)
                .collect();
            rows += 1;
            ordered += usize::from(along.windows(2).all(|w| w[1] <= w[0] + 1e-12));
        }
    }
    out.push(row(
        "dose-response order".into(),
        (rows > 0).then(|| ordered as f64 / rows as f64),
        rows > 0 && ordered == rows,
        "share of topic x indicator rows whose delta_top never rises along the protocols ordered by top-tier agents drawn",
    ));
    out
}

/// `sweep.csv`: `setting,finding,value,holds,detail` (an empty value where nothing could be
/// measured; `detail` has no commas).
pub fn csv(findings: &[Finding]) -> String {
    let mut out = String::from("setting,finding,value,holds,detail\n");
    for f in findings {
        let value = f
            .value
            .filter(|v| v.is_finite())
            .map_or(String::new(), |v| format!("{v:.6}"));
        out += &format!(
            "{},{},{value},{},{}\n",
            f.setting,
            f.finding,
            if f.holds { "yes" } else { "no" },
            f.detail
        );
    }
    out
}

/// `sweep.md`: one row per finding, one column per setting (`yes`/`no` and the value).
pub fn markdown(findings: &[Finding], grid: &[Setting]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for f in findings {
        if !names.contains(&f.finding.as_str()) {
            names.push(&f.finding);
        }
    }
    let mut columns = vec!["finding"];
    columns.extend(grid.iter().map(|s| s.name.as_str()));
    let columns: Vec<(&str, aumann_report::markdown::Align)> = columns
        .iter()
        .map(|c| (*c, aumann_report::markdown::Align::Left))
        .collect();
    let mut t = aumann_report::markdown::Table::new(&columns);
    for name in &names {
        let mut row = vec![name.to_string()];
        for s in grid {
            let f = findings
                .iter()
                .find(|f| f.setting == s.name && f.finding == *name);
            row.push(match f {
                Some(f) => format!(
                    "{} ({})",
                    if f.holds { "yes" } else { "no" },
                    f.value
                        .map_or("–".into(), |v| if v != 0.0 && v.abs() < 1e-3 {
                            format!("{v:.1e}")
                        } else {
                            format!("{v:.3}")
                        })
                ),
                None => "–".into(),
            });
        }
        t.row(row);
    }
    let mut out = String::from(
        "# What the synthetic generator builds in\n\nEach column is the study on a panel from one \
         generator setting; each cell says whether the finding survives and its value \
         (`sweep.csv` says what each value is). `null`: engagement independent of followers.\n\n",
    );
    out += &format!("{t}\n");
    for f in findings.iter().filter(|f| f.setting == grid[0].name) {
        out += &format!("- {}: {}\n", f.finding, f.detail);
    }
    out
}
