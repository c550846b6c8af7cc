//! Sizes checked before they are allocated or looped over.
//!
//! ```text
//! bytes(shape, width) = Π shape · width        (checked: an overflow is an error, never a wrap)
//! fits(bytes)         ⇔ bytes ≤ the memory the machine has available now
//! ```
//!
//! Counts that cost time rather than memory (quadrature points, layers, rollout steps,
//! days) have documented maxima far above any meaningful use, so a mistyped value is an
//! error naming the value and the bound instead of an hour-long run or an abort.

use crate::error::{Error, Result};

/// Most quadrature points a path integral takes (the midpoint rule's error at 10⁴ points
/// is already below f64 rounding for smooth indicators).
pub const MAX_POINTS: usize = 1 << 20;

/// Most Gauss–Legendre nodes (computing them costs `O(m²)`).
pub const MAX_GAUSS_POINTS: usize = 1 << 14;

/// Most layers of a DeepSet's ψ and ρ.
pub const MAX_DEPTH: usize = 64;

/// Widest hidden layer of a DeepSet.
pub const MAX_HIDDEN: usize = 1 << 14;

/// Most smoothed steps of a scenario's rollout.
pub const MAX_HORIZON: usize = 10_000;

/// Most samples (permutations, coalitions) of a sampled Shapley or Banzhaf estimate: their
/// standard error is below 1/4000 of the spread long before.
pub const MAX_SAMPLES: usize = 1 << 24;

/// Most seeds (independent repetitions) of one comparison or benchmark.
pub const MAX_SEEDS: usize = 10_000;

/// Most days of a panel (a century).
pub const MAX_DAYS: usize = 36_525;

/// Most worker threads a run may ask for: four per core, and at least 256 (more only adds
/// stacks and switching; a mistyped count would hang starting them).
pub fn max_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    (4 * cores).max(256)
}

/// Check a worker-thread count: at least 1, at most [`max_threads`].
///
/// # Errors
/// [`Error::Parameter`] for 0; [`Error::TooLarge`] above the maximum.
pub fn threads(n: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::Parameter {
            name: "threads",
            value: "0".into(),
            reason: "at least one worker thread is needed".into(),
        });
    }
    at_most(
        "worker threads",
        n,
        max_threads(),
        "more threads than that only add overhead",
    )
}

/// `Π shape · width` bytes, or an error naming `what` when the product overflows.
///
/// # Errors
/// [`Error::TooLarge`] on overflow.
pub fn bytes(what: &str, shape: &[usize], width: usize) -> Result<u64> {
    shape
        .iter()
        .try_fold(width as u64, |acc, &s| acc.checked_mul(s as u64))
        .ok_or_else(|| Error::TooLarge {
            what: what.to_string(),
            value: format!("shape {shape:?} of {width}-byte values"),
            bound: "2⁶⁴ bytes".into(),
            reason: "its size overflows 64 bits".into(),
        })
}

/// Check that `bytes` of `what` fit in the memory available now.
///
/// # Errors
/// [`Error::TooLarge`] naming the size and what is available.
pub fn fits(what: &str, bytes: u64) -> Result<()> {
    match available_memory() {
        Some(available) if bytes > available => Err(Error::TooLarge {
            what: what.to_string(),
            value: format!("{} needed", human(bytes)),
            bound: format!("{} available", human(available)),
            reason: "it does not fit in this machine's memory".into(),
        }),
        _ => Ok(()),
    }
}

/// Check `Π shape · width` bytes of `what` (overflow included) against available memory.
///
/// # Errors
/// As [`bytes`] and [`fits`].
pub fn allocation(what: &str, shape: &[usize], width: usize) -> Result<u64> {
    let b = bytes(what, shape, width)?;
    fits(what, b)?;
    Ok(b)
}

/// Check a number of seeds (independent repetitions) against [`MAX_SEEDS`].
///
/// # Errors
/// [`Error::TooLarge`] naming the value and the maximum.
pub fn seeds(seeds: usize) -> Result<()> {
    let why = "repetitions beyond that do not change a mean";
    at_most("seeds", seeds, MAX_SEEDS, why)
}

/// Check a count against its maximum.
///
/// # Errors
/// [`Error::TooLarge`] naming the value and the maximum.
pub fn at_most(what: &str, value: usize, max: usize, reason: &str) -> Result<()> {
    if value > max {
        return Err(Error::TooLarge {
            what: what.to_string(),
            value: value.to_string(),
            bound: max.to_string(),
            reason: reason.to_string(),
        });
    }
    Ok(())
}

/// Memory available to a new allocation: physical memory available plus free swap (Linux's
/// `/proc/meminfo`), and no more than the process's address-space limit (`ulimit -v`) leaves
/// it; `None` where that cannot be read.
pub fn available_memory() -> Option<u64> {
    let kib = |text: &str, name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        kib.checked_mul(1024)
    };
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let machine =
        kib(&meminfo, "MemAvailable:")?.saturating_add(kib(&meminfo, "SwapFree:").unwrap_or(0));
    Some(match address_space_left(&kib) {
        Some(left) => machine.min(left),
        None => machine,
    })
}

/// What the address-space limit leaves: the limit less the process's virtual size.
fn address_space_left(kib: &dyn Fn(&str, &str) -> Option<u64>) -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max address space"))?;
    let soft: u64 = line.split_whitespace().nth(3)?.parse().ok()?; // "unlimited" → None
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    Some(soft.saturating_sub(kib(&status, "VmSize:")?))
}

/// Bytes in the largest binary unit that keeps a number ≥ 1.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflowing_shapes_and_huge_sizes_are_errors() {
        assert_eq!(bytes("x", &[2, 3, 4], 8).unwrap(), 192);
        let huge = (1usize << 62) + 1;
        let err = bytes("x.npy", &[huge, 300, 3], 4).unwrap_err().to_string();
        assert!(err.contains("overflows"), "{err}");
        if let Some(available) = available_memory() {
            assert!(fits("x", available / 2).is_ok());
            let err = fits("x", available.saturating_mul(4))
                .unwrap_err()
                .to_string();
            assert!(err.contains("available"), "{err}");
        }
        assert!(at_most("depth", 64, MAX_DEPTH, "").is_ok());
        assert!(at_most("depth", 65, MAX_DEPTH, "").is_err());
        assert_eq!(human(1536), "1.5 KiB");
    }
}
