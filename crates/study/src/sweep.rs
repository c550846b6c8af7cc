//! What the synthetic panel builds into the study, measured: the study rerun on panels from a
//! grid of generator settings ([`Coupling`]) and feature views ([`FeatureView`]), down to a
//! null generator in which engagement is independent of followers and a view in which reach
//! says nothing about the tier, and for each setting the verdict of every finding
//! ([`super::findings`]) at the smallest size `s₀`.
//!
//! Each setting is run on several generated panels (one per panel seed); their studies are
//! pooled ([`StudyResults::pooled`]), so a finding's interval covers the variation between
//! panels as well as between draws.

use super::findings::{self, Finding};
use super::view::FeatureView;
use super::{StudyConfig, StudyResults};
use crate::error::Result;
use aumann_panel::synth::{Coupling, PanelConfig, generate};

/// One generator setting of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    /// Its name in `sweep.csv` (`default`, `null`, …).
    pub name: String,
    /// The generator's couplings.
    pub coupling: Coupling,
    /// What the study attributes.
    pub features: FeatureView,
}

/// The default grid: the generator as documented, the null generator, reach made
/// uninformative of the tier (on both), standardised features, each coupling off in turn, two
/// follower spreads and two event strengths.
pub fn default_grid() -> Vec<Setting> {
    let d = Coupling::DEFAULT;
    let set = |name: &str, coupling| Setting {
        name: name.into(),
        coupling,
        features: FeatureView::AsStored,
    };
    let view = |name: &str, coupling, features| Setting {
        features,
        ..set(name, coupling)
    };
    vec![
        set("default", d),
        set("null", Coupling::NULL),
        view("reach-free", d, FeatureView::ReachFree),
        view("null-reach-free", Coupling::NULL, FeatureView::ReachFree),
        view("standardised", d, FeatureView::Standardised),
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

/// One row of `sweep.csv`: a finding of the study pooled over a setting's panels.
#[derive(Clone, Debug, PartialEq)]
pub struct SettingFinding {
    /// The generator setting.
    pub setting: String,
    /// The finding.
    pub finding: Finding,
}

/// Run the study of `config` on panels of `agents` agents from every setting, one panel per
/// seed of `panel_seeds`, and read the findings of each setting's pooled studies;
/// `progress(studies done, studies)`.
///
/// # Errors
/// As [`super::run`].
pub fn run(
    agents: usize,
    panel_seeds: &[u64],
    config: &StudyConfig,
    grid: &[Setting],
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<SettingFinding>> {
    let (mut out, mut done) = (Vec::new(), 0);
    let total = grid.len() * panel_seeds.len();
    for setting in grid {
        let mut studies = Vec::with_capacity(panel_seeds.len());
        for &seed in panel_seeds {
            let panel_config = PanelConfig {
                agents,
                seed,
                coupling: setting.coupling,
                ..PanelConfig::default()
            };
            panel_config.check()?;
            let panel = generate(&panel_config);
            let config = StudyConfig {
                features: setting.features,
                ..config.clone()
            };
            studies.push(super::run(&panel, &config, |_| {})?);
            done += 1;
            progress(done, total);
        }
        let Some(pooled) = StudyResults::pooled(studies) else {
            continue;
        };
        out.extend(
            smallest(&findings::findings(&pooled)).map(|finding| SettingFinding {
                setting: setting.name.clone(),
                finding,
            }),
        );
    }
    Ok(out)
}

/// The findings at the smallest size run (and those of no size).
fn smallest(findings: &[Finding]) -> impl Iterator<Item = Finding> + '_ {
    let s0 = findings.iter().filter_map(|f| f.size).min();
    (findings.iter())
        .filter(move |f| f.size.is_none() || f.size == s0)
        .cloned()
}

/// `sweep.csv`: `setting`, then the columns of `findings.csv`.
pub fn csv(findings: &[SettingFinding]) -> String {
    let header = std::iter::once("setting").chain(findings::COLUMNS);
    let mut t = aumann_report::csv_table::CsvTable::new(header);
    for f in findings {
        t.row(std::iter::once(f.setting.clone()).chain(findings::fields(&f.finding)));
    }
    t.finish()
}

/// A finding's row name in `sweep.md`: the finding and its indicator.
fn row_name(f: &Finding) -> String {
    match f.indicator {
        Some(i) => format!("{} ({})", f.claim.name(), i.name()),
        None => f.claim.name(),
    }
}

/// `sweep.md`: one row per finding and indicator, one column per setting: the verdict and the
/// statistic.
pub fn markdown(findings: &[SettingFinding], grid: &[Setting], panel_seeds: &[u64]) -> String {
    let mut names: Vec<String> = Vec::new();
    for f in findings {
        let name = row_name(&f.finding);
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let columns: Vec<(&str, aumann_report::markdown::Align)> = std::iter::once("finding")
        .chain(grid.iter().map(|s| s.name.as_str()))
        .map(|c| (c, aumann_report::markdown::Align::Left))
        .collect();
    let mut t = aumann_report::markdown::Table::new(&columns);
    for name in &names {
        let mut row = vec![name.clone()];
        for s in grid {
            let f =
                (findings.iter()).find(|f| f.setting == s.name && row_name(&f.finding) == *name);
            row.push(f.map_or("–".into(), |f| cell(&f.finding)));
        }
        t.row(row);
    }
    let seeds: Vec<String> = panel_seeds.iter().map(u64::to_string).collect();
    let survival: String = names.iter().map(|n| survival(findings, grid, n)).collect();
    format!(
        "# What the synthetic generator builds in\n\nEach column is the study on panels from \
         one generator setting (panel seeds {}, pooled: intervals cover the panels and the \
         draws); each cell is the finding's verdict and its statistic (`sweep.csv` has the \
         intervals, the tests and the reasons). `null`: engagement independent of followers; \
         `reach-free`: reach permuted across agents, so it says nothing about the tier; \
         `standardised`: every feature at unit variance.\n\n{t}\n\n## Which findings \
         survive which settings\n\n{survival}",
        seeds.join(", ")
    )
}

/// `- name: holds in a, b; does not hold in c`: the settings of each verdict of one finding.
fn survival(findings: &[SettingFinding], grid: &[Setting], name: &str) -> String {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for s in grid {
        let f = (findings.iter()).find(|f| f.setting == s.name && row_name(&f.finding) == name);
        let Some(f) = f else { continue };
        let label = f.finding.verdict.label();
        match groups.iter_mut().find(|g| g.0 == label) {
            Some(g) => g.1.push(&s.name),
            None => groups.push((label, vec![&s.name])),
        }
    }
    let parts: Vec<String> = (groups.iter())
        .map(|(label, settings)| match settings.len() == grid.len() {
            true => format!("{label} in every setting"),
            false => format!("{label} in {}", settings.join(", ")),
        })
        .collect();
    format!("- {name}: {}\n", parts.join("; "))
}

/// `holds (+12.3)`: a verdict and its statistic.
fn cell(f: &Finding) -> String {
    let value = f.statistic.map_or("–".into(), |v| match f.unit {
        "residual" => format!("{v:.1e}"),
        _ => format!("{v:+.2}"),
    });
    format!("{} ({value})", f.verdict.label())
}
