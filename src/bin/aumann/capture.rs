//! `aumann capture`: record Jetstream's live stream into hourly (or daily) event files until
//! Ctrl-C, resuming where an earlier capture into the same folder stopped.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Result;
use aumann::ingest::capture::{
    CaptureConfig, CaptureStatus, MAX_MESSAGE_BYTES, Rotation, capture, last_cursor,
};
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
    /// dropped on ingest); at most 86400.
    #[arg(long, value_name = "S", default_value_t = 5)]
    pub rewind: u64,
    /// Start from the live stream, ignoring DIR/cursor: without it, a cursor file that
    /// cannot be read or holds no plausible time stops the capture.
    #[arg(long)]
    pub ignore_cursor: bool,
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
        max_message_bytes: MAX_MESSAGE_BYTES,
        ignore_cursor: args.ignore_cursor,
    };
    let flagged = |e: aumann::panel::Error| match e {
        aumann::panel::Error::Cursor { .. } => {
            anyhow::anyhow!("{e}; pass --ignore-cursor to start from the live stream without it")
        }
        aumann::panel::Error::Engine(aumann::Error::Parameter { name: "rewind", .. }) => {
            anyhow::anyhow!("--rewind: {e}")
        }
        e => e.into(),
    };
    if !config.ignore_cursor
        && let Some(c) = last_cursor(&config.out).map_err(flagged)?
    {
        eprintln!("resuming {} from time_us {c}", config.out.display());
    }
    let stats = capture(&config, &STOP, &mut |s| report(&config, s)).map_err(flagged)?;
    eprintln!(
        "stopped: {} events written to {} over {} connections ({} messages skipped, {} with \
         an implausible time written to implausible.jsonl, {} over the size limit skipped, {} \
         broken file ends cut off); resume cursor {}",
        stats.events,
        config.out.display(),
        stats.connections,
        stats.skipped,
        stats.implausible,
        stats.oversized,
        stats.mended,
        stats.cursor.map_or("none".into(), |c| c.to_string()),
    );
    Ok(ExitCode::SUCCESS)
}

/// One status line.
fn report(config: &CaptureConfig, status: CaptureStatus) {
    match status {
        CaptureStatus::Connected(_) => eprintln!("connected to {}", config.endpoint),
        CaptureStatus::Reconnecting(why, wait) => {
            eprintln!("connection lost ({why}); reconnecting in {wait:.0?}")
        }
        CaptureStatus::Oversized(after) => eprintln!(
            "a message over {} bytes after time_us {}: skipping it",
            config.max_message_bytes,
            after.map_or("?".into(), |t| t.to_string())
        ),
        CaptureStatus::Mended(path, bytes) => eprintln!(
            "{}: cut {bytes} bytes of an interrupted write off its end",
            path.display()
        ),
        CaptureStatus::Written(_) => {}
    }
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
