//! `aumann import`: a long per-agent CSV (one row per step and agent) pivoted to `X.npy`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use aumann::longtable::{Fill, pivot_csv};
use clap::Args;

use aumann::output::Staged;

/// `aumann import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The table: a plain CSV with a header (no quoted fields).
    #[arg(long, value_name = "FILE")]
    pub csv: PathBuf,
    /// The step column.
    #[arg(long, value_name = "COL")]
    pub step: String,
    /// The agent column.
    #[arg(long, value_name = "COL")]
    pub agent: String,
    /// Feature columns, in order.
    #[arg(long, value_name = "A,B,…", value_delimiter = ',', required = true)]
    pub features: Vec<String>,
    /// What an agent without a row at a step gets: a number (its baseline value) or `raise`.
    #[arg(long, value_name = "VALUE", default_value = "0")]
    pub fill: String,
    /// Output: float32 `.npy` of shape [T, n, d] (steps and agents sorted).
    #[arg(long, value_name = "X.npy")]
    pub out: PathBuf,
}

/// Run `aumann import`.
pub fn run(args: ImportArgs) -> Result<ExitCode> {
    let fill = match args.fill.as_str() {
        "raise" => Fill::Refuse,
        v => Fill::Value(
            v.parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .with_context(|| format!("--fill is '{v}'; expected a number or 'raise'"))?,
        ),
    };
    let text = aumann::input::read_to_string(&args.csv)?;
    let pivot = pivot_csv(
        &text,
        &args.csv,
        &args.step,
        &args.agent,
        &args.features,
        fill,
    )?;
    let staged = Staged::file(&args.out, &[&args.csv])?;
    let x = &pivot.features;
    aumann::npy::write(staged.path(), &x.shape(), x.values())?;
    staged.commit()?;
    let [t, n, d] = x.shape();
    eprintln!(
        "wrote {}: [{t}, {n}, {d}] (steps {} to {}, {n} agents)",
        args.out.display(),
        pivot.steps[0],
        pivot.steps[t - 1]
    );
    Ok(ExitCode::SUCCESS)
}
