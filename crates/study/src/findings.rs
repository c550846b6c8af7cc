//! The study's findings, each decided by a test on its numbers: the rows of `findings.csv`,
//! from which `report.md` writes its conclusions (SPEC §12).
//!
//! `m` is the margin ([`StudyConfig::margin`](super::StudyConfig::margin)); `[lo, hi]` the
//! 95 % bootstrap interval of a mean over the draws of every topic, a draw's Δ_top being its
//! top-tier share minus its topic's full-panel share:
//!
//! ```text
//! flip <protocol>     per indicator and size. holds: [lo, hi] lies outside [−m, m];
//!                     does not hold: inside it (any shift is shown smaller than m);
//!                     undecided: it overlaps a bound
//! re-attribution <p>  the same test on Δ_top less its composition part (the full panel's own
//!                     attributions within the small panel): what the indicator itself does
//!                     on a small population
//! random control      per indicator and size, an equivalence test. holds: [lo, hi] inside
//!                     [−m, m]; does not hold: outside it; undecided: it overlaps a bound
//! residual dichotomy  holds: every residual of the linear indicator ≤ 1e-6 and every other
//!                     indicator's mean residual of bias-visibility at s₀ > 1e-3; does not
//!                     hold otherwise
//! dose-response       per indicator at s₀: how much Δ_top rises across the protocols' doses
//!                     (top-tier agents drawn): the least-squares slope of their mean Δ_top on
//!                     their mean dose times the doses' range, its interval from resampled
//!                     draws. holds: lo > m; does not hold: hi ≤ m; undecided otherwise
//! ```
//!
//! A protocol whose pool holds top-tier agents alone (`bias-followers` with the default
//! fractions: the top tier by followers itself) draws only top-tier agents at sizes within the
//! pool: its rows there are calibration, holding by construction, not findings.
//! `bias-followers` is left out of dose-response.

use rand::{RngExt, SeedableRng};

use super::{BOOTSTRAP, Protocol, Stat, StudyIndicator, StudyResults};

/// What a test concluded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The numbers show it.
    Holds,
    /// The numbers show the opposite.
    DoesNotHold,
    /// The numbers cannot tell.
    Undecided,
    /// True whatever the data: a calibration row.
    ByConstruction,
}

impl Verdict {
    /// Every verdict.
    pub const ALL: [Verdict; 4] = [
        Verdict::Holds,
        Verdict::DoesNotHold,
        Verdict::Undecided,
        Verdict::ByConstruction,
    ];

    /// As `findings.csv` and the report write it.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::DoesNotHold => "does not hold",
            Verdict::Undecided => "undecided",
            Verdict::ByConstruction => "holds by construction",
        }
    }
}

/// Which finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// A protocol's small panels shift the top tier's share.
    Flip(Protocol),
    /// Beyond who is in them: the indicator re-attributes on the small panels.
    Reattribution(Protocol),
    /// Random small panels do not.
    RandomControl,
    /// Linear attributions rescale exactly to a small panel; nonlinear ones do not.
    ResidualDichotomy,
    /// The more top-tier agents a protocol draws, the larger its flip.
    DoseResponse,
}

impl Claim {
    /// Its name in `findings.csv`.
    pub fn name(self) -> String {
        match self {
            Claim::Flip(p) => format!("flip {}", p.name()),
            Claim::Reattribution(p) => format!("re-attribution {}", p.name()),
            Claim::RandomControl => "random control".into(),
            Claim::ResidualDichotomy => "residual dichotomy".into(),
            Claim::DoseResponse => "dose-response".into(),
        }
    }
}

/// One row of `findings.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// The finding.
    pub claim: Claim,
    /// The indicator it is about, if one.
    pub indicator: Option<StudyIndicator>,
    /// The panel size it is about, if one.
    pub size: Option<usize>,
    /// The statistic the test reads ([`Finding::unit`]); `None` where nothing was measured.
    pub statistic: Option<f64>,
    /// Its 95 % interval, where it has one.
    pub interval: Option<[f64; 2]>,
    /// The statistic's unit: `pp` or `residual`.
    pub unit: &'static str,
    /// The test, in words.
    pub test: String,
    /// Its verdict.
    pub verdict: Verdict,
    /// Why that verdict, in words.
    pub reason: String,
}

/// The findings of one study, in a fixed order: flips by protocol, indicator and size, the
/// random control, the residual dichotomy, dose-response.
pub fn findings(r: &StudyResults) -> Vec<Finding> {
    let sizes = small_sizes(r);
    let m = r.config.margin;
    let mut out = Vec::new();
    for &p in r.config.protocols.iter().filter(|&&p| p != Protocol::Full) {
        for ind in &r.config.indicators {
            for &s in &sizes {
                let delta = pooled_delta(r, ind, p, s);
                if p == Protocol::Random {
                    out.push(null_test(delta, m, ind, s));
                } else if only_top_tier(r, p, s) {
                    out.push(calibration(delta, ind, s, p));
                } else {
                    out.push(shift_test(Claim::Flip(p), delta, m, ind, s));
                    let part = pooled_reattribution(r, ind, p, s);
                    out.push(shift_test(Claim::Reattribution(p), part, m, ind, s));
                }
            }
        }
    }
    if let Some(&s0) = sizes.first() {
        out.push(residual_dichotomy(r, s0));
        out.extend(r.config.indicators.iter().map(|i| dose_response(r, i, s0)));
    }
    out
}

/// The small-panel sizes run, ascending.
fn small_sizes(r: &StudyResults) -> Vec<usize> {
    let mut sizes: Vec<usize> = (r.cells.iter())
        .filter(|c| c.protocol != Protocol::Full)
        .map(|c| c.size)
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    sizes
}

/// The mean Δ_top (pp) over every topic's draws, with its interval.
fn pooled_delta(r: &StudyResults, ind: &StudyIndicator, p: Protocol, s: usize) -> Option<Stat> {
    let deltas: Vec<f64> = draws_of(r, ind, p, s)
        .concat()
        .iter()
        .map(|d| d.1)
        .collect();
    Stat::of(&deltas)
}

/// The mean re-attribution (pp) over every topic's draws, with its interval: each draw's
/// top-tier share less the full panel's own share within it.
fn pooled_reattribution(
    r: &StudyResults,
    ind: &StudyIndicator,
    p: Protocol,
    s: usize,
) -> Option<Stat> {
    let parts: Vec<f64> = (0..r.topics())
        .filter_map(|k| r.cell(k, ind, p, Some(s)))
        .flat_map(|c| c.runs.iter())
        .filter_map(|m| Some(100.0 * m.reattribution()?))
        .collect();
    Stat::of(&parts)
}

/// Where an interval lies against `[−m, m]` (pp): outside it, inside it, or across a bound.
fn against_margin(delta: Option<Stat>, m: f64) -> Result<(Stat, bool), String> {
    let Some(d) = delta else {
        return Err("no kept draw".into());
    };
    let Some([lo, hi]) = d.ci else {
        return Err("one kept draw: no interval".into());
    };
    if lo > m || hi < -m {
        Ok((d, true))
    } else if lo >= -m && hi <= m {
        Ok((d, false))
    } else {
        Err(format!(
            "the interval [{lo:+.2}, {hi:+.2}] pp overlaps the ±{m:.2} pp margin"
        ))
    }
}

/// A finding about one indicator and size, its statistic Δ_top in pp.
fn delta_row(
    claim: Claim,
    delta: Option<Stat>,
    ind: &StudyIndicator,
    s: usize,
    test: String,
) -> Finding {
    Finding {
        claim,
        indicator: Some(ind.clone()),
        size: Some(s),
        statistic: delta.map(|d| d.mean),
        interval: delta.and_then(|d| d.ci),
        unit: "pp",
        test,
        verdict: Verdict::Undecided,
        reason: String::new(),
    }
}

/// Whether every panel of `s` agents that `p` draws is top tier on every topic: its pools
/// hold top-tier agents alone and at least `s` of them.
fn only_top_tier(r: &StudyResults, p: Protocol, s: usize) -> bool {
    let mut pools = r.pools.iter().flatten().filter(|x| x.0 == p).peekable();
    pools.peek().is_some() && pools.all(|&(_, size, top)| top == size && s <= size)
}

/// A flip whose every draw is top tier: calibration, true by construction.
fn calibration(delta: Option<Stat>, ind: &StudyIndicator, s: usize, p: Protocol) -> Finding {
    let test = "none: a calibration row".to_string();
    let reason = "every agent of the pool is top tier, so every agent drawn is";
    Finding {
        verdict: Verdict::ByConstruction,
        reason: reason.into(),
        ..delta_row(Claim::Flip(p), delta, ind, s, test)
    }
}

/// A flip or its re-attribution part: a shift beyond the margin.
fn shift_test(
    claim: Claim,
    delta: Option<Stat>,
    margin: f64,
    ind: &StudyIndicator,
    s: usize,
) -> Finding {
    let m = 100.0 * margin;
    let what = match claim {
        Claim::Reattribution(_) => "the re-attribution's",
        _ => "Δ_top's",
    };
    let test = format!("{what} interval outside ±{m:.2} pp");
    let row = delta_row(claim, delta, ind, s, test);
    let (verdict, reason) = match against_margin(delta, m) {
        Ok((d, true)) => (
            Verdict::Holds,
            format!("{:+.2} pp, beyond the margin", d.mean),
        ),
        Ok((_, false)) => (
            Verdict::DoesNotHold,
            "any shift is within the margin".into(),
        ),
        Err(reason) => (Verdict::Undecided, reason),
    };
    Finding {
        verdict,
        reason,
        ..row
    }
}

/// The random control: no shift beyond the margin (an equivalence test).
fn null_test(delta: Option<Stat>, margin: f64, ind: &StudyIndicator, s: usize) -> Finding {
    let m = 100.0 * margin;
    let test = format!("Δ_top's interval inside ±{m:.2} pp (equivalence)");
    let row = delta_row(Claim::RandomControl, delta, ind, s, test);
    let (verdict, reason) = match against_margin(delta, m) {
        Ok((_, false)) => (Verdict::Holds, "any shift is within the margin".into()),
        Ok((d, true)) => (Verdict::DoesNotHold, format!("Δ_top {:+.2} pp", d.mean)),
        Err(reason) => (Verdict::Undecided, reason),
    };
    Finding {
        verdict,
        reason,
        ..row
    }
}

/// Linear residuals vanish, nonlinear ones do not: the linear indicator is the control, every
/// other indicator studied counts as nonlinear.
fn residual_dichotomy(r: &StudyResults, s0: usize) -> Finding {
    let linear_worst = (r.cells.iter())
        .filter(|c| c.indicator.is_linear() && c.protocol != Protocol::Full)
        .flat_map(|c| c.runs.iter().map(|m| m.residual))
        .reduce(f64::max);
    let nonlinear_least = (0..r.topics())
        .flat_map(|k| {
            (r.config.indicators.iter())
                .filter(|i| !i.is_linear())
                .map(move |i| (k, i))
        })
        .filter_map(|(k, i)| {
            let cell = r.cell(k, i, Protocol::BiasVisibility, Some(s0))?;
            Some(cell.stat(|m| m.residual)?.mean)
        })
        .reduce(f64::min);
    let linear_ok = linear_worst.is_none_or(|w| w <= 1e-6);
    let nonlinear_ok = nonlinear_least.is_none_or(|l| l > 1e-3);
    let nonlinear_run = r.config.indicators.iter().any(|i| !i.is_linear());
    let (verdict, reason) = match (linear_worst, nonlinear_least) {
        (None, None) => (
            Verdict::Undecided,
            "no linear or nonlinear small panel".into(),
        ),
        (_, None) if nonlinear_run => (
            Verdict::Undecided,
            "no nonlinear bias-visibility panel at the smallest size".into(),
        ),
        _ if linear_ok && nonlinear_ok => (Verdict::Holds, "both bounds met".into()),
        _ => (
            Verdict::DoesNotHold,
            format!(
                "largest linear residual {}, smallest nonlinear {}",
                fmt_opt(linear_worst),
                fmt_opt(nonlinear_least)
            ),
        ),
    };
    Finding {
        claim: Claim::ResidualDichotomy,
        indicator: None,
        size: Some(s0),
        statistic: linear_worst,
        interval: None,
        unit: "residual",
        test: "largest linear residual ≤ 1e-6 and every nonlinear bias-visibility mean > 1e-3"
            .into(),
        verdict,
        reason,
    }
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.2e}"))
}

/// The protocols' flips rise with the top-tier agents they draw, by more than the margin.
fn dose_response(r: &StudyResults, ind: &StudyIndicator, s0: usize) -> Finding {
    let protocols: Vec<Protocol> = (r.config.protocols.iter().copied())
        .filter(|&p| !matches!(p, Protocol::Full | Protocol::BiasFollowers))
        .collect();
    // Per protocol and topic: (top-tier agents drawn, Δ_top) of every draw.
    let draws: Vec<Vec<Vec<(f64, f64)>>> = (protocols.iter())
        .map(|&p| draws_of(r, ind, p, s0))
        .collect();
    let m = 100.0 * r.config.margin;
    let row = Finding {
        claim: Claim::DoseResponse,
        indicator: Some(ind.clone()),
        size: Some(s0),
        statistic: None,
        interval: None,
        unit: "pp",
        test: format!(
            "rise of Δ_top across the protocols' top-tier agents drawn (least-squares slope × \
             their range): interval above {m:.2} pp"
        ),
        verdict: Verdict::Undecided,
        reason: String::new(),
    };
    let Some(rise_of_means) = rise(&draws, |t| t.to_vec()) else {
        let reason = "fewer than two protocols with kept draws and different doses".into();
        return Finding { reason, ..row };
    };
    let interval = bootstrap_rise(&draws, ind, s0);
    let (verdict, reason) = match interval {
        Some([lo, _]) if lo > m => (Verdict::Holds, "the rise exceeds the margin".into()),
        Some([_, hi]) if hi <= m => (Verdict::DoesNotHold, "any rise is within the margin".into()),
        Some([lo, hi]) => (
            Verdict::Undecided,
            format!("the interval [{lo:+.2}, {hi:+.2}] pp overlaps the {m:.2} pp margin"),
        ),
        None => (Verdict::Undecided, "too few draws for an interval".into()),
    };
    Finding {
        statistic: Some(rise_of_means),
        interval,
        verdict,
        reason,
        ..row
    }
}

/// Per topic, `(top-tier agents drawn, Δ_top in pp)` of every kept draw of `p` at `s`.
fn draws_of(r: &StudyResults, ind: &StudyIndicator, p: Protocol, s: usize) -> Vec<Vec<(f64, f64)>> {
    (0..r.topics())
        .map(|k| {
            let full = r
                .cell(k, ind, Protocol::Full, None)
                .and_then(|c| c.share(0, 0));
            match (full, r.cell(k, ind, p, Some(s))) {
                (Some(full), Some(c)) => (c.runs.iter())
                    .map(|m| (m.top_agents as f64, 100.0 * (m.shares[0][0] - full.mean)))
                    .collect(),
                _ => Vec::new(),
            }
        })
        .collect()
}

/// How much Δ_top rises across the protocols' doses: the least-squares slope of their mean
/// Δ_top on their mean top-tier agents drawn, times the doses' range (pp). Each topic's draws
/// pass through `pick` (the identity, or a resample). `None` below two protocols with draws,
/// or where every protocol draws the same dose.
fn rise(
    draws: &[Vec<Vec<(f64, f64)>>],
    mut pick: impl FnMut(&[(f64, f64)]) -> Vec<(f64, f64)>,
) -> Option<f64> {
    let mut points = Vec::new();
    for protocol in draws {
        let picked: Vec<(f64, f64)> = protocol.iter().flat_map(|t| pick(t)).collect();
        if !picked.is_empty() {
            let n = picked.len() as f64;
            let mean = |f: fn(&(f64, f64)) -> f64| picked.iter().map(f).sum::<f64>() / n;
            points.push((mean(|d| d.0), mean(|d| d.1)));
        }
    }
    let n = points.len() as f64;
    let (dose, effect) = (
        points.iter().map(|p| p.0).sum::<f64>() / n,
        points.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let spread: f64 = points.iter().map(|p| (p.0 - dose).powi(2)).sum();
    if points.len() < 2 || spread <= 0.0 {
        return None;
    }
    let slope = points
        .iter()
        .map(|p| (p.0 - dose) * (p.1 - effect))
        .sum::<f64>()
        / spread;
    let (lo, hi) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.0), b.max(p.0))
        });
    Some(slope * (hi - lo))
}

/// The 95 % interval of the rise over [`BOOTSTRAP`] resamples of every topic's draws, from a
/// fixed random stream.
fn bootstrap_rise(
    draws: &[Vec<Vec<(f64, f64)>>],
    ind: &StudyIndicator,
    s0: usize,
) -> Option<[f64; 2]> {
    let seed = aumann_engine::seed::mix(&[0xD05E, ind.key(), s0 as u64]);
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut rises: Vec<f64> = (0..BOOTSTRAP)
        .filter_map(|_| {
            rise(draws, |t| {
                (0..t.len())
                    .map(|_| t[rng.random_range(0..t.len())])
                    .collect()
            })
        })
        .collect();
    if rises.len() < BOOTSTRAP / 2 {
        return None;
    }
    rises.sort_by(f64::total_cmp);
    let at = |q: f64| rises[((q * (rises.len() - 1) as f64).round() as usize).min(rises.len() - 1)];
    Some([at(0.025), at(0.975)])
}

/// The columns of `findings.csv`.
pub const COLUMNS: [&str; 11] = [
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
];

/// A finding's fields, in [`COLUMNS`] order: empty where it has no such part.
pub fn fields(f: &Finding) -> [String; 11] {
    let protocol = match f.claim {
        Claim::Flip(p) | Claim::Reattribution(p) => p.name(),
        Claim::RandomControl => Protocol::Random.name(),
        _ => "",
    };
    let number = |v: Option<f64>| {
        v.filter(|v| v.is_finite())
            .map_or(String::new(), |v| v.to_string())
    };
    let [lo, hi] = f.interval.map_or([None, None], |i| i.map(Some));
    [
        f.claim.name(),
        protocol.into(),
        (f.indicator.as_ref()).map_or(String::new(), |i| i.label().into()),
        f.size.map_or(String::new(), |s| s.to_string()),
        number(f.statistic),
        number(lo),
        number(hi),
        f.unit.into(),
        f.test.clone(),
        f.verdict.label().into(),
        f.reason.clone(),
    ]
}

/// `findings.csv`: [`COLUMNS`], one row per finding.
pub fn csv(findings: &[Finding]) -> String {
    let mut t = aumann_report::csv_table::CsvTable::new(COLUMNS);
    for f in findings {
        t.row(fields(f));
    }
    t.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rise_is_the_slope_times_the_dose_range() {
        // Three protocols of one topic each: doses 1, 2, 4 and Δ_top = 2 · dose + 1.
        let draws = vec![
            vec![vec![(1.0, 3.0), (1.0, 3.0)]],
            vec![vec![(2.0, 5.0)]],
            vec![vec![(4.0, 9.0)]],
        ];
        let rise_of = |d: &[Vec<Vec<(f64, f64)>>]| rise(d, |t| t.to_vec());
        assert!((rise_of(&draws).unwrap() - 6.0).abs() < 1e-12);
        // Δ_top falling with the dose rises negatively; one dose for all has no rise.
        let falling: Vec<_> = (draws.iter())
            .map(|p| vec![p[0].iter().map(|&(d, e)| (d, -e)).collect()])
            .collect();
        assert!((rise_of(&falling).unwrap() + 6.0).abs() < 1e-12);
        let flat = vec![vec![vec![(1.0, 3.0)]], vec![vec![(1.0, 5.0)]]];
        assert_eq!(rise_of(&flat), None);
    }
}
