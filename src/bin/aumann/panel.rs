//! `aumann panel synth`: the synthetic panel (the study's default input) as a folder, or as
//! the Jetstream events that make it; `aumann panel ingest`: a panel from Jetstream events.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use aumann::ingest::panel_events::{EventsOptions, write_events};
use aumann::panel::Panel;
use aumann::panel::synth::PanelConfig;
use clap::{Args, Subcommand};

use crate::common::set_threads;
use crate::progress::Bar;
use aumann::output::Staged;

/// `aumann panel ...`.
#[derive(Debug, Subcommand)]
pub enum PanelCommand {
    /// Write a synthetic panel: heavy-tailed followers calibrated to public Bluesky figures,
    /// five topics with distinct temporal shapes.
    Synth(PanelSynthArgs),
    /// Build a panel from Jetstream event files (.jsonl, .jsonl.zst; files and folders in any
    /// order): per account, topic and UTC day of `time_us`, activity = ln(1 + topic posts and
    /// reposts), resonance = ln(1 + replies received on topic posts), reach = ln(1 + followers).
    /// DIDs become row numbers; they are written only with --write-id-map.
    Ingest(crate::ingest::PanelIngestArgs),
}

/// `aumann panel synth`.
#[derive(Debug, Args)]
pub struct PanelSynthArgs {
    /// Number of agents.
    #[arg(long, default_value_t = 1_000_000)]
    pub agents: usize,
    /// Number of days.
    #[arg(long, default_value_t = 14)]
    pub days: usize,
    /// Seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Output panel folder.
    #[arg(long, value_name = "DIR", required_unless_present = "events")]
    pub out: Option<PathBuf>,
    /// Also (or instead) write the panel as Jetstream events, with the topics file and the
    /// followers snapshot that `panel ingest` needs to rebuild it exactly.
    #[arg(long, value_name = "DIR")]
    pub events: Option<PathBuf>,
    /// Compress the event files with zstd (.jsonl.zst).
    #[arg(long, requires = "events")]
    pub compress: bool,
    /// Likes on every post in the events (they change no feature of the panel).
    #[arg(long, value_name = "N", default_value_t = 0, requires = "events")]
    pub likes_per_post: usize,
}

/// Run `aumann panel ...`.
pub fn run(command: PanelCommand) -> Result<ExitCode> {
    let args = match command {
        PanelCommand::Synth(args) => args,
        PanelCommand::Ingest(args) => return crate::ingest::run(args),
    };
    set_threads(args.threads)?;
    let start = Instant::now();
    let options = EventsOptions {
        compress: args.compress,
        likes_per_post: args.likes_per_post,
    };
    if args.events.is_some() {
        options.check(args.agents)?;
    }
    let panel = generate(args.agents, args.days, args.seed)?;
    // Both outputs staged before either is written: the same folder given twice is refused
    // before any work.
    let panel_out = (args.out.as_deref())
        .map(|out| Staged::folder(out, "manifest.json", &[]))
        .transpose()?;
    let events_out = (args.events.as_deref())
        .map(|dir| Staged::folder(dir, "topics.toml", &[]))
        .transpose()?;
    if let (Some(out), Some(staged)) = (&args.out, panel_out) {
        panel.save(staged.path())?;
        staged.commit()?;
        eprintln!(
            "wrote {}: {} agents, {} days, topics {} ({:.1} s)",
            out.display(),
            args.agents,
            args.days,
            panel.manifest.topics.join(", "),
            start.elapsed().as_secs_f64()
        );
    }
    if let (Some(dir), Some(staged)) = (&args.events, events_out) {
        let mut bar = Bar::new("days", true);
        let written = write_events(&panel, staged.path(), options, &mut |d, n| bar.update(d, n))?;
        bar.finish();
        staged.commit()?;
        eprintln!(
            "wrote {}: {} events, {:.1} MB of JSON lines in {} day files{}, topics.toml, \
             followers.csv ({:.1} s)",
            dir.display(),
            written.events,
            written.bytes as f64 / 1e6,
            written.files.len(),
            if args.compress { " (zstd)" } else { "" },
            start.elapsed().as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The synthetic panel of `agents` agents over `days` days.
pub fn generate(agents: usize, days: usize, seed: u64) -> Result<Panel> {
    anyhow::ensure!(
        agents >= 2 && days >= 1,
        "--agents must be at least 2 and --days at least 1"
    );
    let config = PanelConfig {
        agents,
        days,
        seed,
        ..PanelConfig::default()
    };
    config.check()?;
    Ok(aumann::panel::synth::generate(&config))
}
