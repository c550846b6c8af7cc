//! The cross-scale study: attribute on the full panel and on small panels drawn by biased and
//! random protocols, and measure how far apart the two answers are.
//!
//! For every topic and indicator `V` (zero baseline, days independent; the four analytic
//! indicators by their exact closed forms, any other registry indicator or formula by the path
//! integral: [`indicator`]):
//!
//! 1. **Full panel.** `φ_{t,i}^{(n)}` for every day and agent; agent totals
//!    `φ_i^{(n)} = Σ_t φ_{t,i}^{(n)}`, shares `f_i`; tier shares overall and per day (the peak
//!    day is the day with the largest `Σ_i φ_{t,i} = V(x_t) − V(0)`); a follower-percentile ×
//!    day heatmap of attribution mass `Σ_{i∈bin} φ_{t,i}`.
//! 2. **Small panels.** For each [`Protocol`] and size `s < n`, `seeds` independent draws
//!    `S`; on each, `φ^{(S)}` recomputed with `V^{(|S|)}` and scored against the full panel
//!    ([`metrics`]: tier shares under every anchor, the scaling-bias residual, Spearman,
//!    top-k Jaccard). A cell reports the mean and standard deviation (`n − 1` in the
//!    denominator) over its draws.
//!
//! Tiers rank agents by followers (and, as alternative anchors, by 7-day posts and 7-day
//! replies received where the panel has them); see [`tiers`]. Draws are seeded from
//! `(seed, topic, protocol, size, repetition)` ([`aumann_engine::seed::mix`]), so every number is
//! reproducible and independent of the thread count.
//!
//! Where the macro change is zero, shares do not exist: `mult` on a day when a small panel has
//! no activity at all contributes `φ = 0` that day (the continuous limit of its closed form),
//! and a draw whose total change is zero is left out of its cell (the seed count shows it).
#![warn(missing_docs)]

pub mod calibration;
pub mod error;
pub mod figures;
pub mod findings;
pub mod indicator;
pub mod metrics;
pub mod report;
pub mod sampling;
pub mod sweep;
pub mod tiers;
pub mod view;

use std::time::Instant;

use aumann_kernels::closed_form::Analytic;
use rayon::prelude::*;

use aumann_engine::array::{Array3, Values};
use aumann_engine::attribution::agent_totals;
pub use aumann_engine::progress::Progress;
use aumann_panel::Panel;
pub use error::{Error, Result};
use indicator::Attributor;
pub use indicator::StudyIndicator;
pub use metrics::RunMetrics;

/// Features per agent of a panel: reach, activity, resonance.
const D: usize = aumann_panel::FEATURES.len();
pub use sampling::{Pool, Protocol};

/// Parameters of a study.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyConfig {
    /// Tier fractions `(top, mid)`; the tail is the rest.
    pub tiers: (f64, f64),
    /// The bias-visibility pool's share of the panel.
    pub visibility_pool: f64,
    /// Small-panel sizes (those `≥ n` are the full panel and skipped).
    pub sizes: Vec<usize>,
    /// Draws per cell.
    pub seeds: usize,
    /// Seed of the draws.
    pub seed: u64,
    /// Indicators, each labelled differently ([`StudyIndicator::check_distinct`]).
    pub indicators: Vec<StudyIndicator>,
    /// Sampling protocols (the full panel is always run).
    pub protocols: Vec<Protocol>,
    /// The heatmaps' indicator (attributed for them alone where it is not studied).
    pub heatmap_indicator: StudyIndicator,
    /// Percentile bins of the heatmaps.
    pub heatmap_bins: usize,
    /// `k` of the top-k recovery.
    pub top_k: Vec<usize>,
    /// Keep per-agent full-panel attributions (for the per-agent output files).
    pub per_agent: bool,
    /// What is attributed: the features as stored or a view of them ([`view`]).
    pub features: view::FeatureView,
    /// The margin `m` of the findings' tests, a share (0.02: 2 pp): a flip must lie beyond
    /// it, the random control within it ([`findings`]).
    pub margin: f64,
}

impl Default for StudyConfig {
    fn default() -> Self {
        Self {
            tiers: (0.01, 0.09),
            visibility_pool: 0.01,
            sizes: vec![100, 300, 1_000, 3_000, 10_000, 100_000],
            seeds: 10,
            seed: 1,
            indicators: Analytic::ALL.map(StudyIndicator::analytic).to_vec(),
            protocols: Protocol::SAMPLING.to_vec(),
            heatmap_indicator: StudyIndicator::analytic(Analytic::Mult),
            heatmap_bins: 100,
            top_k: vec![10, 100],
            per_agent: false,
            margin: 0.02,
            features: view::FeatureView::AsStored,
        }
    }
}

/// Mean, standard deviation and bootstrap interval over a cell's draws.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stat {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (0 for one draw).
    pub std: f64,
    /// 95 % percentile-bootstrap interval of the mean ([`BOOTSTRAP`] resamples of the draws);
    /// `None` for fewer than two draws.
    pub ci: Option<[f64; 2]>,
}

/// Bootstrap resamples behind every interval.
pub const BOOTSTRAP: usize = 2000;

impl Stat {
    /// Mean, sample standard deviation and bootstrap interval of `v` (`None` if empty).
    pub fn of(v: &[f64]) -> Option<Stat> {
        if v.is_empty() {
            return None;
        }
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let std = if v.len() > 1 {
            (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
        } else {
            0.0
        };
        Some(Stat {
            mean,
            std,
            ci: bootstrap_interval(v),
        })
    }

    /// The statistic of `v − c` for every value.
    pub fn shifted(self, c: f64) -> Stat {
        Stat {
            mean: self.mean - c,
            std: self.std,
            ci: self.ci.map(|[lo, hi]| [lo - c, hi - c]),
        }
    }
}

/// The 2.5 % and 97.5 % quantiles of the means of [`BOOTSTRAP`] resamples (with replacement)
/// of `v`, from a fixed random stream: the same values give the same interval.
fn bootstrap_interval(v: &[f64]) -> Option<[f64; 2]> {
    use rand::{RngExt, SeedableRng};
    if v.len() < 2 {
        return None;
    }
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(aumann_engine::seed::mix(&[
        0xB007,
        v.len() as u64,
    ]));
    let mut means: Vec<f64> = (0..BOOTSTRAP)
        .map(|_| {
            (0..v.len())
                .map(|_| v[rng.random_range(0..v.len())])
                .sum::<f64>()
                / v.len() as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let at = |q: f64| means[((q * (BOOTSTRAP - 1) as f64).round() as usize).min(BOOTSTRAP - 1)];
    Some([at(0.025), at(0.975)])
}

/// One topic × indicator × protocol × size: its draws' scores.
#[derive(Clone, Debug)]
pub struct Cell {
    /// Topic index.
    pub topic: usize,
    /// Indicator.
    pub indicator: StudyIndicator,
    /// Protocol.
    pub protocol: Protocol,
    /// Panel size `s` (`n` for the full panel).
    pub size: usize,
    /// Draws asked for.
    pub draws: usize,
    /// The draws whose shares are defined.
    pub runs: Vec<RunMetrics>,
}

impl Cell {
    /// A statistic over the cell's runs.
    pub fn stat(&self, f: impl Fn(&RunMetrics) -> f64) -> Option<Stat> {
        Stat::of(&self.runs.iter().map(f).collect::<Vec<_>>())
    }

    /// Tier share `tier` under anchor `anchor`.
    pub fn share(&self, anchor: usize, tier: usize) -> Option<Stat> {
        self.stat(|r| r.shares[anchor][tier])
    }

    /// A statistic over the runs where `f` is defined.
    pub fn stat_defined(&self, f: impl Fn(&RunMetrics) -> Option<f64>) -> Option<Stat> {
        Stat::of(&self.runs.iter().filter_map(f).collect::<Vec<_>>())
    }

    /// Top-k Jaccard for the `j`-th `k`, over the runs where it is defined.
    pub fn jaccard(&self, j: usize) -> Option<Stat> {
        Stat::of(
            &self
                .runs
                .iter()
                .filter_map(|r| r.jaccard[j])
                .collect::<Vec<_>>(),
        )
    }
}

/// Full-panel tier shares of one topic, indicator and day.
#[derive(Clone, Debug)]
pub struct Day {
    /// Topic index.
    pub topic: usize,
    /// Indicator.
    pub indicator: StudyIndicator,
    /// Day.
    pub day: usize,
    /// `Σ_i φ_{t,i} = V(x_t) − V(0)`.
    pub total: f64,
    /// Tier shares `[top, mid, tail]` (followers anchor); `None` where `total = 0`.
    pub shares: Option<[f64; 3]>,
    /// Whether this is the topic's peak day for the indicator.
    pub peak: bool,
}

/// Everything a study computed.
#[derive(Clone, Debug)]
pub struct StudyResults {
    /// The parameters.
    pub config: StudyConfig,
    /// Anchor names (`followers`, then `posts_7d`, `replies_7d` where the panel has them).
    pub anchors: Vec<&'static str>,
    /// Cells, full panel first within each topic and indicator.
    pub cells: Vec<Cell>,
    /// Per-day full-panel shares.
    pub days: Vec<Day>,
    /// Per topic, the heatmap: `bins × T` attribution mass, top bin first.
    pub heatmaps: Vec<Vec<Vec<f64>>>,
    /// Per topic × indicator (in `config.indicators` order), full-panel agent totals, if
    /// asked for.
    pub per_agent: Vec<Vec<f64>>,
    /// Per topic, the top-tier agents in each protocol's pool, `(protocol, pool size, top
    /// agents in it)`.
    pub pools: Vec<Vec<(Protocol, usize, usize)>>,
    /// Jaccard overlap of the top tiers of every pair of anchors: `(a, b, overlap)`.
    pub anchor_overlap: Vec<(&'static str, &'static str, f64)>,
    /// What in the input makes some result other than it would be on a well-formed panel:
    /// `(topic, what)` (topic `None` for the whole panel), in the report and `run.json`.
    pub degenerate: Vec<(Option<usize>, String)>,
    /// Seconds per phase.
    pub timings: Vec<(String, f64)>,
}

impl StudyResults {
    /// The cell of `topic`, `indicator` and `protocol` at `size` (`None`: any size, as for the
    /// full panel).
    pub fn cell(
        &self,
        topic: usize,
        indicator: &StudyIndicator,
        protocol: Protocol,
        size: Option<usize>,
    ) -> Option<&Cell> {
        self.cells.iter().find(|c| {
            c.topic == topic
                && c.indicator == *indicator
                && c.protocol == protocol
                && size.is_none_or(|s| c.size == s)
        })
    }

    /// The number of topics.
    pub fn topics(&self) -> usize {
        self.heatmaps.len()
    }

    /// Studies of several panels as one, each panel's topics after the previous ones': the
    /// findings then pool the draws of every panel, so their intervals cover the panels too.
    /// The first study's parameters, anchors and timings stand for all; `None` without studies.
    pub fn pooled(studies: Vec<StudyResults>) -> Option<StudyResults> {
        let mut studies = studies.into_iter();
        let mut all = studies.next()?;
        for study in studies {
            let offset = all.topics();
            let shift = |k: usize| k + offset;
            (all.cells).extend(study.cells.into_iter().map(|c| Cell {
                topic: shift(c.topic),
                ..c
            }));
            (all.days).extend(study.days.into_iter().map(|d| Day {
                topic: shift(d.topic),
                ..d
            }));
            all.heatmaps.extend(study.heatmaps);
            all.per_agent.extend(study.per_agent);
            all.pools.extend(study.pools);
            (all.degenerate).extend(study.degenerate.into_iter().map(|(k, w)| (k.map(shift), w)));
        }
        Some(all)
    }

    /// Δ_top of a small-panel cell under `anchor`: its top-tier share minus the full panel's
    /// (interval shifted with it); `None` for the full panel or where either share is undefined.
    pub fn delta_top(&self, c: &Cell, anchor: usize) -> Option<Stat> {
        if c.protocol == Protocol::Full {
            return None;
        }
        let full = self.cell(c.topic, &c.indicator, Protocol::Full, None)?;
        Some(c.share(anchor, 0)?.shifted(full.share(anchor, 0)?.mean))
    }
}

impl StudyResults {
    /// Δ_top of a small-panel cell split into composition, `s_comp − s_full`, and
    /// re-attribution, `s_S − s_comp` (first anchor; [`metrics`]), each over the cell's kept
    /// draws: their means add up to [`StudyResults::delta_top`]'s. `None` for the full panel,
    /// without kept draws, or where a draw's full-panel attributions sum to zero on its panel.
    pub fn decomposition(&self, c: &Cell) -> Option<[Stat; 2]> {
        if c.protocol == Protocol::Full {
            return None;
        }
        let full = self.cell(c.topic, &c.indicator, Protocol::Full, None)?;
        let s_full = full.share(0, 0)?.mean;
        let s_comp: Vec<f64> = c
            .runs
            .iter()
            .map(|r| r.composition)
            .collect::<Option<_>>()?;
        let composition: Vec<f64> = s_comp.iter().map(|s| s - s_full).collect();
        let reattribution: Vec<f64> = c
            .runs
            .iter()
            .filter_map(RunMetrics::reattribution)
            .collect();
        Some([Stat::of(&composition)?, Stat::of(&reattribution)?])
    }
}

impl StudyConfig {
    fn check(&self, panel: &Panel) -> aumann_engine::Result<()> {
        let bad = |name: &'static str, value: String, reason: &str| {
            Err(aumann_engine::Error::Parameter {
                name,
                value,
                reason: reason.into(),
            })
        };
        if !(0.0..1.0).contains(&self.margin) {
            let reason = "the findings' margin is a share of the attribution, from 0 to below 1";
            return bad("margin", self.margin.to_string(), reason);
        }
        let (top, mid) = self.tiers;
        if !(top > 0.0 && mid >= 0.0 && top + mid < 1.0) {
            let reason = "tier fractions must be positive and sum to less than 1";
            return bad("tiers", format!("({top}, {mid})"), reason);
        }
        if !(self.visibility_pool > 0.0 && self.visibility_pool <= 1.0) {
            let reason = "the visibility pool fraction must lie in (0, 1]";
            return bad("visibility_pool", self.visibility_pool.to_string(), reason);
        }
        if panel.agents() < 2 {
            let reason = "the study needs a panel of at least 2 agents";
            return bad("agents", panel.agents().to_string(), reason);
        }
        if panel.followers.iter().all(|&f| f == panel.followers[0]) {
            let reason = "every agent has the same follower count, so tiers by followers (the \
                          study's subject) do not exist";
            return bad("followers", panel.followers[0].to_string(), reason);
        }
        if let Some(s) = self.sizes.iter().find(|&&s| s < 2) {
            return bad("sizes", s.to_string(), "panel sizes must be at least 2");
        }
        if self.seeds == 0 {
            return bad("seeds", "0".into(), "at least one draw per cell is needed");
        }
        aumann_engine::limits::seeds(self.seeds)?;
        if self.indicators.is_empty() {
            return bad("indicators", "[]".into(), "no indicators to study");
        }
        StudyIndicator::check_distinct(&self.indicators)?;
        if self.heatmap_bins == 0 || self.heatmap_bins > panel.agents() {
            let reason = format!("between 1 and the {} agents", panel.agents());
            return bad("heatmap_bins", self.heatmap_bins.to_string(), &reason);
        }
        if let Some(k) = self.top_k.iter().find(|&&k| k == 0) {
            return bad("top_k", k.to_string(), "top-k needs k ≥ 1");
        }
        Ok(())
    }

    /// The sizes that are smaller than the panel, ascending, without repeats.
    pub fn small_sizes(&self, n: usize) -> Vec<usize> {
        let mut s: Vec<usize> = self.sizes.iter().copied().filter(|&s| s < n).collect();
        s.sort_unstable();
        s.dedup();
        s
    }
}

/// Run the study on `panel`, calling `progress` after every cell.
///
/// # Errors
/// [`Parameter`](aumann_engine::Error::Parameter) for parameters that cannot work on this panel.
pub fn run(
    panel: &Panel,
    config: &StudyConfig,
    mut progress: impl FnMut(Progress),
) -> Result<StudyResults> {
    config.check(panel)?;
    let attributors = Attributors::new(config)?;
    let clock = Instant::now();
    let tiers = Tiers::new(panel, config);
    let mut timings = vec![("tiers".to_string(), clock.elapsed().as_secs_f64())];
    let sizes = config.small_sizes(panel.agents());
    let total = panel.topics.len() * (1 + config.protocols.len() * sizes.len());
    let mut results = StudyResults {
        config: config.clone(),
        anchors: tiers.anchors.clone(),
        cells: Vec::new(),
        days: Vec::new(),
        heatmaps: Vec::new(),
        per_agent: Vec::new(),
        pools: Vec::new(),
        anchor_overlap: tiers.overlap(),
        degenerate: Vec::new(),
        timings: Vec::new(),
    };
    let (mut t_full, mut t_small, mut done) = (0.0, 0.0, 0);
    for k in 0..panel.topics.len() {
        let clock = Instant::now();
        let attributed = config.features.apply(&panel.topics[k], config.seed);
        let full = FullPanel {
            panel,
            config,
            attributors: &attributors,
            tiers: &tiers,
        };
        let full_shares = full.run(&attributed, k, &mut results)?;
        t_full += clock.elapsed().as_secs_f64();
        done += 1;
        progress(Progress { done, total });

        let clock = Instant::now();
        let small = SmallPanels {
            panel,
            config,
            attributors: &attributors.studied,
            tiers: &tiers,
            topic: k,
            attributed: &attributed,
            full_shares: &full_shares,
            sizes: &sizes,
        };
        let pools = small.run(&mut results.cells, &mut results.degenerate, &mut || {
            done += 1;
            progress(Progress { done, total });
        })?;
        results.pools.push(pools);
        t_small += clock.elapsed().as_secs_f64();
    }
    timings.push(("full panel".to_string(), t_full));
    timings.push(("small panels".to_string(), t_small));
    results.timings = timings;
    Ok(results)
}

/// Tier labels under every anchor, and the heatmap's follower-percentile bins.
struct Tiers {
    anchors: Vec<&'static str>,
    /// Per anchor, each agent's tier ([`tiers::TOP`], …); the first anchor is followers.
    labels: Vec<Vec<u8>>,
    bins: Vec<u16>,
}

impl Tiers {
    fn new(panel: &Panel, config: &StudyConfig) -> Self {
        let follower_order = tiers::rank_descending(&panel.followers);
        let (p_top, p_mid) = config.tiers;
        let mut anchors = vec!["followers"];
        let mut labels = vec![tiers::tiers(&follower_order, p_top, p_mid)];
        for (name, counts) in [
            ("posts_7d", &panel.posts_7d),
            ("replies_7d", &panel.replies_7d),
        ] {
            if let Some(c) = counts {
                anchors.push(name);
                labels.push(tiers::tiers(&tiers::rank_descending(c), p_top, p_mid));
            }
        }
        let bins = tiers::percentile_bins(&follower_order, config.heatmap_bins);
        Self {
            anchors,
            labels,
            bins,
        }
    }

    /// Jaccard overlap of the top tiers of every pair of anchors.
    fn overlap(&self) -> Vec<(&'static str, &'static str, f64)> {
        let top =
            |l: &[u8]| -> Vec<usize> { (0..l.len()).filter(|&i| l[i] == tiers::TOP).collect() };
        let mut out = Vec::new();
        for a in 0..self.anchors.len() {
            for b in a + 1..self.anchors.len() {
                let j = aumann_kernels::rank::jaccard(&top(&self.labels[a]), &top(&self.labels[b]));
                out.push((self.anchors[a], self.anchors[b], j));
            }
        }
        out
    }

    fn label_refs(&self) -> Vec<&[u8]> {
        self.labels.iter().map(Vec::as_slice).collect()
    }

    /// Add `φ_{t,i}` (`[T, n]`) to the heatmap (`bins × T`).
    fn add_to_heatmap(&self, heatmap: &mut [Vec<f64>], phi: &[f64]) {
        let (days, n) = (heatmap.first().map_or(0, Vec::len), self.bins.len());
        for t in 0..days {
            for (i, &b) in self.bins.iter().enumerate() {
                heatmap[b as usize][t] += phi[t * n + i];
            }
        }
    }
}

/// How the study attributes each indicator, built once for every topic and draw.
struct Attributors {
    /// One per indicator studied, in `config.indicators` order.
    studied: Vec<Attributor>,
    /// The heatmaps' indicator where it is not studied.
    heatmap_alone: Option<Attributor>,
}

impl Attributors {
    fn new(config: &StudyConfig) -> aumann_engine::Result<Self> {
        let studied = (config.indicators.iter())
            .map(|i| i.attributor(D))
            .collect::<aumann_engine::Result<_>>()?;
        let heatmap = &config.heatmap_indicator;
        let heatmap_alone = match config.indicators.contains(heatmap) {
            true => None,
            false => Some(heatmap.attributor(D)?),
        };
        Ok(Self {
            studied,
            heatmap_alone,
        })
    }
}

/// The full panel of every topic: what attributing it needs.
struct FullPanel<'a> {
    panel: &'a Panel,
    config: &'a StudyConfig,
    attributors: &'a Attributors,
    tiers: &'a Tiers,
}

impl FullPanel<'_> {
    /// Topic `k` (its features as attributed, `topic`): every indicator's cell, days and
    /// heatmap into `results`. Returns each indicator's full-panel shares (in
    /// `config.indicators` order).
    fn run(&self, topic: &Array3, k: usize, results: &mut StudyResults) -> Result<Vec<Vec<f64>>> {
        let (config, tiers, n) = (self.config, self.tiers, self.panel.agents());
        let mut heatmap = vec![vec![0.0; self.panel.days()]; config.heatmap_bins];
        let mut full_shares = Vec::with_capacity(config.indicators.len());
        for (indicator, attributor) in config.indicators.iter().zip(&self.attributors.studied) {
            let phi = attributor.phi(topic)?;
            let totals = agent_totals(&phi, n);
            let total = aumann_kernels::sum::pairwise(&totals);
            let shares: Vec<f64> = totals.iter().map(|p| p / total).collect();
            (results.days).extend(day_rows(&phi, &tiers.labels[0], k, indicator));
            if *indicator == config.heatmap_indicator {
                tiers.add_to_heatmap(&mut heatmap, &phi);
            }
            let runs = if total != 0.0 && total.is_finite() {
                vec![full_panel_metrics(&shares, tiers, config, n)]
            } else {
                Vec::new()
            };
            results.cells.push(Cell {
                topic: k,
                indicator: indicator.clone(),
                protocol: Protocol::Full,
                size: n,
                draws: 1,
                runs,
            });
            if config.per_agent {
                results.per_agent.push(totals);
            }
            full_shares.push(shares);
        }
        if let Some(attributor) = &self.attributors.heatmap_alone {
            tiers.add_to_heatmap(&mut heatmap, &attributor.phi(topic)?);
        }
        results.heatmaps.push(heatmap);
        Ok(full_shares)
    }
}

/// The full panel scored against itself: its tier shares, and perfect agreement.
fn full_panel_metrics(shares: &[f64], tiers: &Tiers, config: &StudyConfig, n: usize) -> RunMetrics {
    let all: Vec<u32> = (0..n as u32).collect();
    let by_anchor: Vec<[f64; 3]> = (tiers.labels.iter())
        .map(|l| metrics::tier_shares(shares, &all, l))
        .collect();
    RunMetrics {
        positive_shares: metrics::positive_shares(shares, &all, &tiers.labels[0]),
        top_agents: tiers.labels[0].iter().filter(|&&g| g == tiers::TOP).count(),
        // The full panel is its own composition: s_comp = s_full.
        composition: Some(by_anchor[0][0]),
        shares: by_anchor,
        c_star: 1.0,
        residual: 0.0,
        spearman: Some(1.0),
        jaccard: config
            .top_k
            .iter()
            .map(|&k| (k < n).then_some(1.0))
            .collect(),
        daily: Vec::new(),
    }
}

/// Per day: the total, the tier shares and whether it is the peak day.
fn day_rows(phi: &[f64], labels: &[u8], k: usize, indicator: &StudyIndicator) -> Vec<Day> {
    let n = labels.len();
    let per_day: Vec<(f64, [f64; 3])> = (0..phi.len() / n)
        .into_par_iter()
        .map(|t| {
            let mut parts: [Vec<f64>; 3] = Default::default();
            for (p, &g) in phi[t * n..(t + 1) * n].iter().zip(labels) {
                parts[g as usize].push(*p);
            }
            let by_tier = parts.map(|p| aumann_kernels::sum::pairwise(&p));
            (by_tier.iter().sum(), by_tier)
        })
        .collect();
    // No peak day where no day has a macro change (a topic nobody is active on, for mult).
    let peak = (0..per_day.len())
        .filter(|&t| per_day[t].0 != 0.0)
        .max_by(|&a, &b| per_day[a].0.total_cmp(&per_day[b].0).then(b.cmp(&a)));
    (per_day.into_iter().enumerate())
        .map(|(t, (day_total, by_tier))| Day {
            topic: k,
            indicator: indicator.clone(),
            day: t,
            total: day_total,
            shares: (day_total != 0.0).then(|| by_tier.map(|p| p / day_total)),
            peak: Some(t) == peak,
        })
        .collect()
}

/// The small panels of one topic: every protocol and size, `seeds` draws each.
struct SmallPanels<'a> {
    panel: &'a Panel,
    config: &'a StudyConfig,
    /// One per indicator, in `config.indicators` order.
    attributors: &'a [Attributor],
    tiers: &'a Tiers,
    topic: usize,
    /// The topic's features as attributed ([`StudyConfig::features`]).
    attributed: &'a Array3,
    full_shares: &'a [Vec<f64>],
    sizes: &'a [usize],
}

impl SmallPanels<'_> {
    /// Push one cell per protocol × size × indicator; `tick` after each protocol × size.
    /// Returns each protocol's pool size and top-tier agents in it; what is degenerate about
    /// the topic or a pool goes to `notes`.
    fn run(
        &self,
        cells: &mut Vec<Cell>,
        notes: &mut Vec<(Option<usize>, String)>,
        tick: &mut dyn FnMut(),
    ) -> Result<Vec<(Protocol, usize, usize)>> {
        let (panel, config, k) = (self.panel, self.config, self.topic);
        let Values::F32(x) = panel.topics[k].values() else {
            unreachable!("panels hold float32 features")
        };
        let engagement = engagement(x, panel.days(), panel.agents());
        if engagement.iter().all(|&e| e == 0.0) {
            notes.push((
                Some(k),
                "no agent posts, reposts or receives a reply on this topic: its attributions \
                 measure reach alone"
                    .into(),
            ));
        }
        let mut pools = Vec::new();
        for (p, &protocol) in config.protocols.iter().enumerate() {
            let ties = aumann_engine::seed::mix(&[config.seed, 0x71E5, k as u64, p as u64]);
            let pool = Pool::new(
                protocol,
                &panel.followers,
                &engagement,
                config.visibility_pool,
                ties,
            );
            notes.extend(pool.notes.iter().map(|n| (Some(k), n.clone())));
            let top = (pool.members.iter())
                .filter(|&&i| self.tiers.labels[0][i as usize] == tiers::TOP)
                .count();
            pools.push((protocol, pool.members.len(), top));
            let above: Vec<String> = (self.sizes.iter())
                .filter(|&&s| s > pool.members.len() && !pool.rest.is_empty())
                .map(usize::to_string)
                .collect();
            if !above.is_empty() && !pool.members.is_empty() {
                notes.push((
                    Some(k),
                    format!(
                        "{}: the pool has {} agents, so panels of s = {} take all of it and a uniform draw \
                         from the rest",
                        protocol.name(),
                        pool.members.len(),
                        above.join(", ")
                    ),
                ));
            }
            for &s in self.sizes {
                let runs: Vec<Vec<Option<RunMetrics>>> = if pool.members.is_empty() {
                    Vec::new()
                } else {
                    (0..config.seeds)
                        .into_par_iter()
                        .map(|r| self.draw(&pool, p, s, r))
                        .collect::<Result<_>>()?
                };
                for (j, indicator) in config.indicators.iter().enumerate() {
                    cells.push(Cell {
                        topic: k,
                        indicator: indicator.clone(),
                        protocol,
                        size: s,
                        draws: runs.len(),
                        runs: runs.iter().filter_map(|r| r[j].clone()).collect(),
                    });
                }
                tick();
            }
        }
        Ok(pools)
    }

    /// Draw `r` of protocol `p` at size `s`, shared by every indicator: its scores.
    fn draw(&self, pool: &Pool, p: usize, s: usize, r: usize) -> Result<Vec<Option<RunMetrics>>> {
        let (config, days, n) = (self.config, self.panel.days(), self.panel.agents());
        let Values::F32(x) = self.attributed.values() else {
            unreachable!("panels hold float32 features")
        };
        let seed = aumann_engine::seed::mix(&[
            config.seed,
            self.topic as u64,
            p as u64,
            s as u64,
            r as u64,
        ]);
        let subset = pool.draw(s, seed);
        let xs = Array3::from_f32([days, s, D], gather(x, days, n, &subset));
        let labels = self.tiers.label_refs();
        (self.attributors.iter().zip(self.full_shares))
            .map(|(attributor, shares)| {
                let phi = attributor.phi(&xs)?;
                let totals = agent_totals(&phi, s);
                let scored = metrics::score(&totals, &subset, shares, &labels, &config.top_k);
                Ok(scored.map(|m| RunMetrics {
                    daily: metrics::daily_shares(&phi, &subset, labels[0]),
                    ..m
                }))
            })
            .collect()
    }
}

/// Topic engagement per agent: posts, reposts and replies received over the window,
/// recovered from the `ln(1 + count)` features.
fn engagement(x: &[f32], days: usize, n: usize) -> Vec<f64> {
    (0..n)
        .into_par_iter()
        .map(|i| {
            (0..days)
                .map(|t| {
                    let o = (t * n + i) * D;
                    f64::from(x[o + 1]).exp_m1() + f64::from(x[o + 2]).exp_m1()
                })
                .sum::<f64>()
                .round()
        })
        .collect()
}

/// The rows of `subset`, `[T, s, D]`.
fn gather(x: &[f32], days: usize, n: usize, subset: &[u32]) -> Vec<f32> {
    let mut out = Vec::with_capacity(days * subset.len() * D);
    for t in 0..days {
        for &i in subset {
            let o = (t * n + i as usize) * D;
            out.extend_from_slice(&x[o..o + D]);
        }
    }
    out
}
