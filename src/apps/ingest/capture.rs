//! Live capture of Jetstream's websocket into event files that [`super::files`] reads.
//!
//! ```text
//! connect  {endpoint}?wantedCollections=…&cursor={last time_us written − rewind}
//! each message (one JSON event) → DIR/YYYY-MM-DDTHH.jsonl (UTC hour of its time_us; or
//!                                   YYYY-MM-DD.jsonl by day), appended
//! every second: flush the files, then DIR/cursor (the largest time_us on disk)
//! connection lost → flush, wait (backoff doubling from `backoff` to `max_backoff`), reconnect
//! stop requested  → flush, close, return
//! ```
//!
//! A restart reads `DIR/cursor` and resumes a few seconds before it: Jetstream's cursor is a
//! time, delivery is at least once, so the overlap is written twice and dropped on ingest.
//! Compressed files (`.jsonl.zst`) are sequences of zstd frames, one per flush, so a file cut
//! short by a crash loses at most its last second.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use crate::error::{Error, Result};
use crate::panel::calendar;

/// How files are cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// One file per UTC hour.
    Hour,
    /// One file per UTC day.
    Day,
}

/// A capture's settings.
#[derive(Clone, Debug)]
pub struct CaptureConfig {
    /// `ws://` or `wss://` URL of Jetstream's `/subscribe`.
    pub endpoint: String,
    /// Collections to ask for (`wantedCollections`); empty asks for all.
    pub collections: Vec<String>,
    /// The output folder.
    pub out: PathBuf,
    /// File cutting.
    pub rotation: Rotation,
    /// zstd-compress the files.
    pub compress: bool,
    /// How far before the last event written a resumed stream starts.
    pub rewind: Duration,
    /// First wait after a lost connection.
    pub backoff: Duration,
    /// Longest wait.
    pub max_backoff: Duration,
}

/// What happened during a capture, for a status line.
#[derive(Clone, Debug, PartialEq)]
pub enum CaptureStatus {
    /// Connected, resuming from this cursor (if any).
    Connected(Option<i64>),
    /// The connection was lost; reconnecting after this wait.
    Reconnecting(String, Duration),
    /// Events written so far.
    Written(u64),
}

/// What a capture wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Events written.
    pub events: u64,
    /// Messages that were not events with a `time_us` (skipped).
    pub skipped: u64,
    /// Connections made.
    pub connections: u64,
    /// The largest `time_us` on disk.
    pub cursor: Option<i64>,
}

/// The cursor a capture in `out` resumes from: the largest `time_us` it has written.
pub fn last_cursor(out: &Path) -> Option<i64> {
    std::fs::read_to_string(out.join("cursor"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Capture until `stop` is set.
///
/// # Errors
/// [`Error::Io`] naming a file that cannot be written; [`Error::Events`] for an endpoint that
/// is not a websocket URL. Lost connections are not errors: they are retried.
pub fn capture(
    config: &CaptureConfig,
    stop: &AtomicBool,
    status: &mut dyn FnMut(CaptureStatus),
) -> Result<CaptureStats> {
    if !(config.endpoint.starts_with("ws://") || config.endpoint.starts_with("wss://")) {
        return Err(Error::Events {
            path: PathBuf::from(&config.endpoint),
            reason: "not a websocket URL (ws:// or wss://)".into(),
        });
    }
    // One process-wide TLS provider; a second install fails harmlessly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    std::fs::create_dir_all(&config.out).map_err(|source| Error::Io {
        path: config.out.clone(),
        source,
    })?;
    let mut sink = Sink::new(config, last_cursor(&config.out));
    let mut wait = config.backoff;
    while !stop.load(Ordering::Relaxed) {
        let cursor = sink.cursor.map(|c| c - config.rewind.as_micros() as i64);
        let outcome = match connect(config, cursor) {
            Ok(mut socket) => {
                sink.stats.connections += 1;
                status(CaptureStatus::Connected(cursor));
                let outcome = receive(&mut socket, &mut sink, stop, status);
                let _ = socket.close(None);
                if sink.received_since_connect {
                    wait = config.backoff;
                }
                outcome
            }
            Err(e) => Err(e),
        };
        sink.flush()?;
        match outcome {
            Ok(()) => break,
            Err(Lost::Io(e)) => return Err(e),
            Err(Lost::Connection(why)) => {
                status(CaptureStatus::Reconnecting(why, wait));
                sleep_unless(stop, wait);
                wait = (wait * 2).min(config.max_backoff);
            }
        }
    }
    sink.flush()?;
    Ok(sink.stats.clone())
}

/// Why receiving ended.
enum Lost {
    /// The connection failed: retry.
    Connection(String),
    /// Writing failed: stop.
    Io(Error),
}

type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

fn connect(config: &CaptureConfig, cursor: Option<i64>) -> std::result::Result<Socket, Lost> {
    let mut url = config.endpoint.clone();
    let mut query: Vec<String> = (config.collections.iter())
        .map(|c| format!("wantedCollections={c}"))
        .collect();
    if let Some(c) = cursor {
        query.push(format!("cursor={c}"));
    }
    if !query.is_empty() {
        url.push(if url.contains('?') { '&' } else { '?' });
        url += &query.join("&");
    }
    let (socket, _) =
        tungstenite::connect(url.as_str()).map_err(|e| Lost::Connection(e.to_string()))?;
    let timeout = Some(Duration::from_millis(200));
    match socket.get_ref() {
        MaybeTlsStream::Plain(s) => s.set_read_timeout(timeout),
        MaybeTlsStream::Rustls(s) => s.get_ref().set_read_timeout(timeout),
        _ => Ok(()),
    }
    .map_err(|e| Lost::Connection(e.to_string()))?;
    Ok(socket)
}

fn receive(
    socket: &mut Socket,
    sink: &mut Sink,
    stop: &AtomicBool,
    status: &mut dyn FnMut(CaptureStatus),
) -> std::result::Result<(), Lost> {
    sink.received_since_connect = false;
    let mut last_flush = Instant::now();
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        match socket.read() {
            Ok(Message::Text(text)) => sink.write(text.as_str()).map_err(Lost::Io)?,
            Ok(Message::Binary(_)) => sink.stats.skipped += 1,
            Ok(Message::Close(_)) => return Err(Lost::Connection("closed by the server".into())),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(Lost::Connection(e.to_string())),
        }
        if last_flush.elapsed() >= Duration::from_secs(1) {
            sink.flush().map_err(Lost::Io)?;
            status(CaptureStatus::Written(sink.stats.events));
            last_flush = Instant::now();
        }
    }
}

fn sleep_unless(stop: &AtomicBool, wait: Duration) {
    let until = Instant::now() + wait;
    while !stop.load(Ordering::Relaxed) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20).min(wait));
    }
}

/// The files being written and what is pending in each.
struct Sink {
    out: PathBuf,
    rotation: Rotation,
    compress: bool,
    pending: HashMap<PathBuf, Vec<u8>>,
    cursor: Option<i64>,
    stats: CaptureStats,
    received_since_connect: bool,
}

impl Sink {
    fn new(config: &CaptureConfig, cursor: Option<i64>) -> Self {
        Self {
            out: config.out.clone(),
            rotation: config.rotation,
            compress: config.compress,
            pending: HashMap::new(),
            cursor,
            stats: CaptureStats {
                cursor,
                ..CaptureStats::default()
            },
            received_since_connect: false,
        }
    }

    /// The file an event of `time_us` goes to.
    fn file_for(&self, time_us: i64) -> PathBuf {
        let day = calendar::label(calendar::day_of_micros(time_us));
        let stem = match self.rotation {
            Rotation::Day => day,
            Rotation::Hour => {
                let hour = time_us.rem_euclid(calendar::MICROS_PER_DAY) / 3_600_000_000;
                format!("{day}T{hour:02}")
            }
        };
        let ext = if self.compress { "jsonl.zst" } else { "jsonl" };
        self.out.join(format!("{stem}.{ext}"))
    }

    fn write(&mut self, text: &str) -> Result<()> {
        #[derive(serde::Deserialize)]
        struct Stamp {
            time_us: Option<i64>,
        }
        let time_us = serde_json::from_str::<Stamp>(text)
            .ok()
            .and_then(|s| s.time_us);
        let (Some(time_us), false) = (time_us, text.contains('\n')) else {
            self.stats.skipped += 1;
            return Ok(());
        };
        let file = self.file_for(time_us);
        let buffer = self.pending.entry(file).or_default();
        buffer.extend_from_slice(text.as_bytes());
        buffer.push(b'\n');
        self.cursor = Some(self.cursor.map_or(time_us, |c| c.max(time_us)));
        self.stats.events += 1;
        self.received_since_connect = true;
        Ok(())
    }

    /// Append what is pending to its files, then record the cursor.
    fn flush(&mut self) -> Result<()> {
        for (path, bytes) in self.pending.drain() {
            let io = |source| Error::Io {
                path: path.clone(),
                source,
            };
            let mut file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(io)?;
            let bytes = if self.compress {
                zstd::encode_all(&bytes[..], 3).map_err(io)?
            } else {
                bytes
            };
            file.write_all(&bytes).map_err(io)?;
            file.sync_data().map_err(io)?;
        }
        if let Some(c) = self.cursor
            && self.stats.cursor != Some(c)
        {
            let path = self.out.join("cursor");
            crate::panel::write_atomic(&path, |p| {
                let mut f = File::create(p).map_err(|source| Error::Io {
                    path: p.to_path_buf(),
                    source,
                })?;
                writeln!(f, "{c}").map_err(|source| Error::Io {
                    path: p.to_path_buf(),
                    source,
                })
            })?;
            self.stats.cursor = Some(c);
        }
        Ok(())
    }
}
