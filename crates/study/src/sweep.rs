//! What the synthetic panel builds into the study, measured: the study rerun on panels from a
//! grid of generator settings ([`Coupling`]) and feature views ([`FeatureView`]), down to a
//! null generator in which engagement is independent of followers and a view in which reach
//! says nothing about the tier, and for each setting the verdict of every finding
//! ([`super::findings`]) at the smallest size `s₀`.
//!
//! Each setting is run on several generated panels (one per panel seed); their studies are
//! pooled ([`StudyResults::pooled`]), so a finding's interval covers the variation between
//! panels as well as between draws.

use super::findings::{self, Finding, Verdict};
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
pub fn row_name(f: &Finding) -> String {
    match &f.indicator {
        Some(i) => format!("{} ({})", f.claim.name(), i.label()),
        None => f.claim.name(),
    }
}

/// `sweep.md`: one row per finding and indicator, one column per setting: the verdict and the
/// statistic.
pub fn markdown(findings: &[SettingFinding], grid: &[Setting], panel_seeds: &[u64]) -> String {
    let survival = Survival::of(findings);
    let columns: Vec<(&str, aumann_report::markdown::Align)> = std::iter::once("finding")
        .chain(grid.iter().map(|s| s.name.as_str()))
        .map(|c| (c, aumann_report::markdown::Align::Left))
        .collect();
    let mut t = aumann_report::markdown::Table::new(&columns);
    for name in survival.findings() {
        let mut row = vec![name.clone()];
        for s in grid {
            let f =
                (findings.iter()).find(|f| f.setting == s.name && row_name(&f.finding) == *name);
            row.push(f.map_or("–".into(), |f| cell(&f.finding)));
        }
        t.row(row);
    }
    let seeds: Vec<String> = panel_seeds.iter().map(u64::to_string).collect();
    format!(
        "# What the synthetic generator builds in\n\nEach column is the study on panels from \
         one generator setting (panel seeds {}, pooled: intervals cover the panels and the \
         draws); each cell is the finding's verdict and its statistic (`sweep.csv` has the \
         intervals, the tests and the reasons). `null`: engagement independent of followers; \
         `reach-free`: reach permuted across agents, so it says nothing about the tier; \
         `standardised`: every feature at unit variance.\n\n{t}\n\n## Which findings \
         survive which settings\n\n{}",
        seeds.join(", "),
        survival.lines(None)
    )
}

/// A sweep's verdicts: which finding holds in which generator setting, as `sweep.csv` gives
/// them, for a report to say which of its findings survive.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Survival {
    /// The settings, in order.
    settings: Vec<String>,
    /// `(setting, finding, verdict)`: the finding as `name (indicator)`.
    verdicts: Vec<[String; 3]>,
}

impl Survival {
    /// The verdicts of `findings`.
    pub fn of(findings: &[SettingFinding]) -> Self {
        let mut this = Self::default();
        for f in findings {
            let label = f.finding.verdict.label().to_string();
            this.push([f.setting.clone(), row_name(&f.finding), label]);
        }
        this
    }

    fn push(&mut self, verdict: [String; 3]) {
        if !self.settings.contains(&verdict[0]) {
            self.settings.push(verdict[0].clone());
        }
        self.verdicts.push(verdict);
    }

    /// The verdicts of a `sweep.csv` (as [`csv`] writes it), checked: its header, every
    /// verdict one the findings give, at most [`MAX_SWEEP_ROWS`] rows.
    ///
    /// # Errors
    /// [`aumann_engine::Error::Io`] if it cannot be read, [`aumann_engine::Error::Input`]
    /// naming the line of anything else.
    pub fn read(path: &std::path::Path) -> Result<Self> {
        let bad = |reason: String| aumann_engine::Error::Input {
            path: path.to_path_buf(),
            reason,
        };
        let file = std::fs::File::open(path).map_err(|source| aumann_engine::Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(file);
        let want: Vec<&str> = std::iter::once("setting")
            .chain(findings::COLUMNS)
            .collect();
        let header = reader
            .headers()
            .map_err(|e| bad(format!("not a sweep.csv ({e})")))?;
        if header.iter().collect::<Vec<_>>() != want {
            let reason = format!("not a sweep.csv: its header is not {}", want.join(","));
            return Err(bad(reason).into());
        }
        let at = |name: &str| want.iter().position(|c| *c == name).unwrap_or(0);
        let (finding, indicator, verdict) = (at("finding"), at("indicator"), at("verdict"));
        let mut this = Self::default();
        for (line, row) in reader.records().enumerate() {
            let line = line + 2;
            let row = row.map_err(|e| bad(format!("line {line}: {e}")))?;
            if line > MAX_SWEEP_ROWS + 1 {
                return Err(bad(format!("more than {MAX_SWEEP_ROWS} rows")).into());
            }
            let label = &row[verdict];
            if !Verdict::ALL.iter().any(|v| v.label() == label) {
                return Err(bad(format!("line {line}: no verdict is called {label:?}")).into());
            }
            let name = match &row[indicator] {
                "" => row[finding].to_string(),
                i => format!("{} ({i})", &row[finding]),
            };
            this.push([row[0].to_string(), name, label.to_string()]);
        }
        Ok(this)
    }

    /// The findings, in order, each once.
    pub fn findings(&self) -> Vec<&String> {
        let mut names: Vec<&String> = Vec::new();
        for v in &self.verdicts {
            if !names.contains(&&v[1]) {
                names.push(&v[1]);
            }
        }
        names
    }

    /// One line per finding (of `only`, if given, in the sweep's order): `- name: holds in a,
    /// b; does not hold in c`.
    pub fn lines(&self, only: Option<&[String]>) -> String {
        let names = self.findings().into_iter();
        (names.filter(|n| only.is_none_or(|o| o.contains(n))))
            .map(|n| format!("- {n}: {}\n", self.settings_of(n)))
            .collect()
    }

    /// `holds in a, b; does not hold in c` for one finding.
    fn settings_of(&self, name: &str) -> String {
        let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
        for v in self.verdicts.iter().filter(|v| v[1] == name) {
            match groups.iter_mut().find(|g| g.0 == v[2]) {
                Some(g) => g.1.push(&v[0]),
                None => groups.push((&v[2], vec![&v[0]])),
            }
        }
        let parts: Vec<String> = (groups.iter())
            .map(
                |(label, settings)| match settings.len() == self.settings.len() {
                    true => format!("{label} in every setting"),
                    false => format!("{label} in {}", settings.join(", ")),
                },
            )
            .collect();
        parts.join("; ")
    }
}

/// The most rows a `sweep.csv` may have: far more than any grid of settings gives.
pub const MAX_SWEEP_ROWS: usize = 1_000_000;

/// `holds (+12.3)`: a verdict and its statistic.
fn cell(f: &Finding) -> String {
    let value = f.statistic.map_or("–".into(), |v| match f.unit {
        "residual" => format!("{v:.1e}"),
        _ => format!("{v:+.2}"),
    });
    format!("{} ({value})", f.verdict.label())
}
