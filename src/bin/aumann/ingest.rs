//! `aumann panel ingest`: Jetstream event files → a panel folder that `aumann study --panel`
//! reads.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use aumann::ingest::build::{Filters, IngestConfig, Window};
use aumann::ingest::clock;
use aumann::ingest::files::{IngestInput, ReadOptions, event_files, ingest};
use aumann::ingest::{followers, topics::Topics};
use clap::Args;

use crate::progress::Bar;
use aumann::output::Staged;

/// `aumann panel ingest`.
#[derive(Debug, Args)]
pub struct PanelIngestArgs {
    /// Event files or folders (searched for .jsonl and .jsonl.zst), in any order.
    #[arg(long, value_name = "PATH", num_args = 1.., required = true)]
    pub events: Vec<PathBuf>,
    /// Topics: a TOML file of [[topic]] tables with name, keywords and hashtags.
    #[arg(long, value_name = "TOML")]
    pub topics: PathBuf,
    /// Output panel folder.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Followers snapshot (`did,followers` CSV). Without it, reach counts the follows seen in
    /// the window (an approximation, flagged in the manifest).
    #[arg(long, value_name = "CSV")]
    pub followers: Option<PathBuf>,
    /// First UTC day of the window (YYYY-MM-DD). By default the window runs from the first to
    /// the last day of the events with a plausible time (from 2023 to tomorrow); events with
    /// another time are set aside and counted in the manifest.
    #[arg(long, value_name = "DATE", requires = "days")]
    pub from: Option<String>,
    /// Days in the window (with --from), 1 to 36525 (100 years).
    #[arg(long, value_name = "N", requires = "from")]
    pub days: Option<usize>,
    /// Also write id_map.csv (row,did): the only output that names accounts.
    #[arg(long)]
    pub write_id_map: bool,
    /// Jetstream's zstd dictionary, for files of its dictionary-compressed frames.
    #[arg(long, value_name = "FILE")]
    pub zstd_dictionary: Option<PathBuf>,
    /// Skip event files that cannot be decoded at all (a .zst of another dictionary, or not
    /// zstd), counting them in the manifest, instead of stopping at the first.
    #[arg(long)]
    pub skip_unreadable: bool,
    /// Remove accounts posting and reposting more than this many times a day on average
    /// (0 keeps them all).
    #[arg(long, value_name = "N", default_value_t = 100.0)]
    pub max_daily_posts: f64,
    /// Keep accounts taken down, suspended, deleted or deactivated in the window.
    #[arg(long)]
    pub keep_inactive: bool,
    /// Keep accounts with no engagement with another account.
    #[arg(long)]
    pub keep_unengaged: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Run `aumann panel ingest`.
pub fn run(args: PanelIngestArgs) -> Result<ExitCode> {
    let start = Instant::now();
    let topics = Topics::load(&args.topics)?;
    let snapshot = args.followers.as_deref().map(followers::load).transpose()?;
    let window = match (&args.from, args.days) {
        (Some(from), Some(days)) => Window::starting(from, days).map_err(|e| match &e {
            aumann::Error::Parameter { name: "days", .. } => anyhow::anyhow!("--days: {e}"),
            _ => anyhow::anyhow!("--from: {e}"),
        })?,
        _ => Window::Seen,
    };
    anyhow::ensure!(
        args.max_daily_posts >= 0.0,
        "--max-daily-posts must be ≥ 0 (0 keeps every account)"
    );
    let dictionary = args
        .zstd_dictionary
        .as_ref()
        .map(|p| aumann::input::read(p))
        .transpose()?;
    let files = event_files(&args.events)?;
    let mut inputs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    inputs.extend(args.events.iter().map(PathBuf::as_path));
    inputs.extend(
        [Some(args.topics.as_path()), args.followers.as_deref()]
            .into_iter()
            .flatten(),
    );
    inputs.extend(args.zstd_dictionary.as_deref());
    let staged = Staged::folder(&args.out, "manifest.json", &inputs)?;
    let mut bar = Bar::new("MB", !args.quiet);
    let (built, reading) = ingest(
        IngestInput {
            files: &files,
            read: ReadOptions {
                dictionary: dictionary.as_deref(),
                skip_unreadable: args.skip_unreadable,
            },
            topics,
            config: IngestConfig {
                window,
                followers: snapshot,
                filters: Filters {
                    inactive: !args.keep_inactive,
                    max_daily_posts: (args.max_daily_posts > 0.0).then_some(args.max_daily_posts),
                    engagement: !args.keep_unengaged,
                },
                plausible: clock::plausible(clock::now_us(), clock::INGEST_AHEAD),
            },
            source: "Bluesky Jetstream events (aumann panel ingest)",
        },
        &mut |done, total| bar.update((done >> 20) as usize, (total >> 20) as usize),
    )
    .map_err(|e| match e {
        aumann::panel::Error::Undecodable { .. } => anyhow::anyhow!(
            "{e}; give Jetstream's dictionary with --zstd-dictionary if the file holds its \
             frames, or pass --skip-unreadable to go on without such files"
        ),
        e => e.into(),
    })?;
    bar.finish();
    for problem in &reading.problems {
        eprintln!("warning: {problem}");
    }
    built.panel.save(staged.path())?;
    if args.write_id_map {
        write_id_map(&staged.path().join("id_map.csv"), &built.dids)?;
    }
    staged.commit()?;
    let report = built
        .panel
        .manifest
        .ingest
        .as_ref()
        .expect("an ingest report");
    if report.agents_without_snapshot_row > 0 {
        eprintln!(
            "warning: {} of {} agents have no row in the followers snapshot: their reach is 0",
            report.agents_without_snapshot_row,
            built.panel.agents()
        );
    }
    let seconds = start.elapsed().as_secs_f64();
    eprintln!(
        "wrote {}: {} agents of {} accounts seen, {} days ({} to {}), topics {}; {} events from \
         {} files ({:.1} MB, {:.0} MB/s); {} duplicates dropped, {} deletes resolved; reach: {} \
         ({:.1} s)",
        args.out.display(),
        built.panel.agents(),
        report.accounts_seen,
        built.panel.days(),
        built.panel.manifest.day_labels[0],
        built.panel.manifest.day_labels[built.panel.days() - 1],
        built.panel.manifest.topics.join(", "),
        report.events,
        reading.report.files,
        reading.report.bytes as f64 / 1e6,
        reading.report.bytes as f64 / 1e6 / seconds,
        report.duplicates,
        report.deletes_resolved,
        report.reach,
        seconds,
    );
    if report.outside_window + report.implausible_time > 0 {
        eprintln!(
            "  set aside: {} events outside the window, {} with a time before 2023 or after \
             tomorrow",
            report.outside_window, report.implausible_time
        );
    }
    for f in &report.filters {
        eprintln!("  filter '{}': {} accounts removed", f.filter, f.removed);
    }
    Ok(ExitCode::SUCCESS)
}

fn write_id_map(path: &std::path::Path, dids: &[String]) -> Result<()> {
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("{}", path.display()))?,
    );
    writeln!(out, "row,did")?;
    for (i, did) in dids.iter().enumerate() {
        writeln!(out, "{i},{did}")?;
    }
    out.flush().with_context(|| format!("{}", path.display()))
}
