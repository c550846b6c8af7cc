//! `aumann capture`: record Jetstream's live stream into hourly (or daily) event files until
//! Ctrl-C, resuming where an earlier capture into the same folder stopped.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Result;
use aumann::ingest::capture::{CaptureConfig, CaptureStatus, Rotation, capture, last_cursor};
use clap::{Args, ValueEnum};

/// The collections the panel reads.
const PANEL_COLLECTIONS: &str =
    "app.bsky.feed.post,app.bsky.feed.repost,app.bsky.feed.like,app.bsky.graph.follow";

/// File cutting, as typed.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Per {
    /// One file per UTC hour.
    Hour,
    /// One file per UTC day.
    Day,
}

/// `aumann capture`.
#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// Jetstream's websocket, e.g. wss://jetstream2.us-east.bsky.network/subscribe.
    #[arg(long, value_name = "URL")]
    pub endpoint: String,
    /// Collections to record, comma-separated ("" records every collection). Account and
    /// identity events always come.
    #[arg(long, value_name = "NSID,…", default_value = PANEL_COLLECTIONS)]
    pub collections: String,
    /// Output folder (created if needed; a capture into it resumes from its last event).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// zstd-compress the files (.jsonl.zst).
    #[arg(long)]
    pub compress: bool,
    /// One file per UTC hour or per day.
    #[arg(long, value_enum, default_value_t = Per::Hour)]
    pub per: Per,
    /// Seconds before the last event written that a resumed stream starts (the overlap is
    /// dropped on ingest).
    #[arg(long, value_name = "S", default_value_t = 5)]
    pub rewind: u64,
}

/// Run `aumann capture`.
pub fn run(args: CaptureArgs) -> Result<ExitCode> {
    on_interrupt_stop()?;
    let config = CaptureConfig {
        endpoint: args.endpoint,
        collections: (args.collections.split(','))
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect(),
        out: args.out,
        rotation: match args.per {
            Per::Hour => Rotation::Hour,
            Per::Day => Rotation::Day,
        },
        compress: args.compress,
        rewind: Duration::from_secs(args.rewind),
        backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(60),
    };
    if let Some(c) = last_cursor(&config.out) {
        eprintln!("resuming {} from time_us {c}", config.out.display());
    }
    let stats = capture(&config, &STOP, &mut |s| match s {
        CaptureStatus::Connected(_) => eprintln!("connected to {}", config.endpoint),
        CaptureStatus::Reconnecting(why, wait) => {
            eprintln!("connection lost ({why}); reconnecting in {:.0?}", wait)
        }
        CaptureStatus::Written(_) => {}
    })?;
    eprintln!(
        "stopped: {} events written to {} over {} connections ({} messages skipped); resume \
         cursor {}",
        stats.events,
        config.out.display(),
        stats.connections,
        stats.skipped,
        stats.cursor.map_or("none".into(), |c| c.to_string()),
    );
    Ok(ExitCode::SUCCESS)
}

/// Set by Ctrl-C (SIGINT) or SIGTERM: the capture finishes what it received and returns.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn request_stop(_signal: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    STOP.store(true, Ordering::Relaxed);
}

/// Route SIGINT and SIGTERM to [`STOP`].
fn on_interrupt_stop() -> Result<()> {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: `request_stop` only stores to an atomic, which is async-signal-safe, and
        // has the signature `signal` expects.
        let previous = unsafe {
            libc::signal(
                signal,
                request_stop as extern "C" fn(libc::c_int) as libc::sighandler_t,
            )
        };
        anyhow::ensure!(previous != libc::SIG_ERR, "cannot handle signal {signal}");
    }
    Ok(())
}
