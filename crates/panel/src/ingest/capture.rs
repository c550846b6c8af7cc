//! Live capture of Jetstream's websocket into event files that [`super::files`] reads.
//!
//! ```text
//! connect  {endpoint}?wantedCollections=…&maxMessageSizeBytes={limit}&cursor={resume}
//! resume   = max(last plausible time_us written − rewind, the point past a skipped message)
//! each message (one JSON event) → DIR/YYYY-MM-DDTHH.jsonl (UTC hour of its time_us; or
//!                                   YYYY-MM-DD.jsonl by day), appended
//!            time_us implausible → DIR/implausible.jsonl, counted; the cursor does not move
//!            over the size limit → counted and skipped (see below)
//! every second: flush the files, then DIR/cursor (the largest plausible time_us on disk)
//! connection lost → flush, wait (backoff doubling from `backoff` to `max_backoff`), reconnect
//! stop requested  → flush, close, return
//! ```
//!
//! A restart reads `DIR/cursor` and resumes a few seconds before it: Jetstream's cursor is a
//! time, delivery is at least once, so the overlap is written twice and dropped on ingest. A
//! cursor file that cannot be read, or holds no plausible time, stops the capture unless it is
//! told to ignore the file. Compressed files (`.jsonl.zst`) are sequences of zstd frames, one
//! per flush, so a file cut short by a crash loses at most its last second; before appending
//! to a file the first time, a capture cuts off such a broken end ([`super::tail`]).
//!
//! Plausible means from 2023 to [`AHEAD`] past the wall clock ([`super::clock`]): one event
//! dated 2100 would otherwise move the cursor to 2100 and every resume would skip everything.
//!
//! A message over the size limit breaks the websocket connection (tungstenite keeps reading
//! the oversized frame if asked to go on). The server is asked not to send such messages
//! (`maxMessageSizeBytes`); one that sends them anyway is probed: cursors after the last event
//! received are tried, doubling then halving the step, for the first one whose first message
//! is not the oversized one, and the capture resumes there. That skips exactly the oversized
//! message (one message per µs of `time_us`), in about 2·log₂(gap in µs) short connections.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tungstenite::protocol::WebSocketConfig;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use super::clock;
use crate::calendar;
use crate::error::{Error, Result};
use aumann_engine::Error as EngineError;

/// How far past the wall clock an event's `time_us` may be and still move the cursor.
pub const AHEAD: Duration = Duration::from_secs(600);

/// The longest rewind: about what Jetstream keeps (a cursor older than that is clamped).
pub const MAX_REWIND: Duration = Duration::from_secs(86_400);

/// tungstenite's own frame limit, the default message limit: Jetstream's events are far
/// smaller (a post is at most a few KB).
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// How long a probe waits for a first message before taking the silence as "none oversized".
const PROBE_WAIT: Duration = Duration::from_secs(10);

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
    /// How far before the last event written a resumed stream starts (at most
    /// [`MAX_REWIND`]).
    pub rewind: Duration,
    /// First wait after a lost connection.
    pub backoff: Duration,
    /// Longest wait.
    pub max_backoff: Duration,
    /// The largest message kept, in bytes; larger ones are counted and skipped.
    pub max_message_bytes: usize,
    /// Start from the live stream, ignoring `DIR/cursor` (even one that cannot be read).
    pub ignore_cursor: bool,
}

/// What happened during a capture, for a status line.
#[derive(Clone, Debug, PartialEq)]
pub enum CaptureStatus {
    /// Connected, resuming from this cursor (if any).
    Connected(Option<i64>),
    /// The connection was lost; reconnecting after this wait.
    Reconnecting(String, Duration),
    /// A message over the size limit came after this `time_us`; probing for the cursor past it.
    Oversized(Option<i64>),
    /// The broken end of a file (this many bytes) was cut off before appending to it.
    Mended(PathBuf, u64),
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
    /// Events whose `time_us` is not plausible (written to `implausible.jsonl`).
    pub implausible: u64,
    /// Messages over the size limit (skipped; one met again after a reconnection counts again).
    pub oversized: u64,
    /// Files whose broken end (a crash's) was cut off.
    pub mended: u64,
    /// Connections made (probes included).
    pub connections: u64,
    /// The largest plausible `time_us` on disk.
    pub cursor: Option<i64>,
}

/// The cursor a capture in `out` resumes from: the largest plausible `time_us` it has written
/// (`None` without a cursor file).
///
/// # Errors
/// [`Error::Cursor`] for a cursor file that cannot be read, or holds no number, or a time
/// before 2023 or past the wall clock.
pub fn last_cursor(out: &Path) -> Result<Option<i64>> {
    let path = out.join("cursor");
    let bad = |value: Option<&str>, reason: String| Error::Cursor {
        path: path.clone(),
        value: value.map(|v| v.chars().take(40).collect()),
        reason,
    };
    if !path.exists() {
        return Ok(None);
    }
    let text = match aumann_engine::input::read(&path) {
        Err(e) => return Err(bad(None, format!("cannot be read ({e})"))),
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_string(),
    };
    let cursor: i64 =
        (text.parse()).map_err(|_| bad(Some(&text), "is not a time in microseconds".into()))?;
    if !clock::plausible(clock::now_us(), AHEAD).contains(&cursor) {
        let date = calendar::label(calendar::day_of_micros(cursor));
        let reason = format!("({date}) is not a time from 2023-01-01 to now");
        return Err(bad(Some(&text), reason));
    }
    Ok(Some(cursor))
}

/// The settings, if a capture can run with them.
fn check(config: &CaptureConfig) -> Result<()> {
    if !(config.endpoint.starts_with("ws://") || config.endpoint.starts_with("wss://")) {
        return Err(Error::Events {
            path: PathBuf::from(&config.endpoint),
            reason: "not a websocket URL (ws:// or wss://)".into(),
        });
    }
    if config.rewind > MAX_REWIND {
        return Err(EngineError::Parameter {
            name: "rewind",
            value: format!("{} s", config.rewind.as_secs()),
            reason: format!(
                "at most {} s (a day: Jetstream keeps about that much)",
                MAX_REWIND.as_secs()
            ),
        }
        .into());
    }
    Ok(())
}

/// Capture until `stop` is set.
///
/// # Errors
/// [`EngineError::Io`] naming a file that cannot be written; [`Error::Events`] for an endpoint that
/// is not a websocket URL; [`EngineError::Parameter`] for a rewind past [`MAX_REWIND`];
/// [`Error::Cursor`] as [`last_cursor`] (unless told to ignore the cursor file). Lost
/// connections are not errors: they are retried.
pub fn capture(
    config: &CaptureConfig,
    stop: &AtomicBool,
    status: &mut dyn FnMut(CaptureStatus),
) -> Result<CaptureStats> {
    check(config)?;
    let cursor = match config.ignore_cursor {
        true => None,
        false => last_cursor(&config.out)?,
    };
    // One process-wide TLS provider; a second install fails harmlessly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    std::fs::create_dir_all(&config.out).map_err(|source| EngineError::Io {
        path: config.out.clone(),
        source,
    })?;
    let mut sink = Sink::new(config, cursor);
    let (mut wait, mut floor) = (config.backoff, None);
    while !stop.load(Ordering::Relaxed) {
        let rewound = sink
            .cursor
            .map(|c| c.saturating_sub(clock::micros(config.rewind)));
        let cursor = rewound.max(floor);
        sink.received_since_connect = false;
        let outcome = session(config, cursor, &mut sink, stop, status);
        if sink.received_since_connect {
            wait = config.backoff;
        }
        sink.flush(status)?;
        let why = match outcome {
            Ok(()) => break,
            Err(Lost::Io(e)) => return Err(e),
            Err(Lost::Connection(why)) => why,
            Err(Lost::Oversized(after)) => {
                sink.stats.oversized += 1;
                status(CaptureStatus::Oversized(after));
                match after.map(|a| past_oversized(config, a, &mut sink.stats, stop)) {
                    Some(Ok(Some(past))) => {
                        floor = Some(past);
                        continue;
                    }
                    Some(Ok(None)) => "every message from there on is over the size limit".into(),
                    Some(Err(why)) => why,
                    None => {
                        "a message over the size limit came first: no time to resume past".into()
                    }
                }
            }
        };
        status(CaptureStatus::Reconnecting(why, wait));
        sleep_unless(stop, wait);
        wait = (wait * 2).min(config.max_backoff);
    }
    sink.flush(status)?;
    Ok(sink.stats.clone())
}

/// One connection from `cursor`: receive until stopped or lost.
fn session(
    config: &CaptureConfig,
    cursor: Option<i64>,
    sink: &mut Sink,
    stop: &AtomicBool,
    status: &mut dyn FnMut(CaptureStatus),
) -> std::result::Result<(), Lost> {
    let mut socket = connect(config, cursor)?;
    sink.stats.connections += 1;
    status(CaptureStatus::Connected(cursor));
    let outcome = receive(&mut socket, sink, stop, status);
    let _ = socket.close(None);
    match outcome {
        // Past the cursor (or its last event), the oversized message is the next one.
        Err(Lost::Oversized(None)) => Err(Lost::Oversized(cursor.map(|c| c.saturating_sub(1)))),
        other => other,
    }
}

/// Why receiving ended.
enum Lost {
    /// The connection failed: retry.
    Connection(String),
    /// A message over the size limit came after the event of this `time_us` (if known).
    Oversized(Option<i64>),
    /// Writing failed: stop.
    Io(Error),
}

impl Lost {
    /// In words, for a status line.
    fn reason(self) -> String {
        match self {
            Lost::Connection(why) => why,
            Lost::Oversized(_) => "a message over the size limit".into(),
            Lost::Io(e) => e.to_string(),
        }
    }
}

type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

fn connect(config: &CaptureConfig, cursor: Option<i64>) -> std::result::Result<Socket, Lost> {
    let mut url = config.endpoint.clone();
    let mut query: Vec<String> = (config.collections.iter())
        .map(|c| format!("wantedCollections={c}"))
        .collect();
    query.push(format!("maxMessageSizeBytes={}", config.max_message_bytes));
    if let Some(c) = cursor {
        query.push(format!("cursor={c}"));
    }
    url.push(if url.contains('?') { '&' } else { '?' });
    url += &query.join("&");
    let limit = Some(config.max_message_bytes);
    let ws = WebSocketConfig::default()
        .max_message_size(limit)
        .max_frame_size(limit);
    let (socket, _) = tungstenite::client::connect_with_config(url.as_str(), Some(ws), 3)
        .map_err(|e| Lost::Connection(e.to_string()))?;
    let timeout = Some(Duration::from_millis(200));
    match socket.get_ref() {
        MaybeTlsStream::Plain(s) => s.set_read_timeout(timeout),
        MaybeTlsStream::Rustls(s) => s.get_ref().set_read_timeout(timeout),
        _ => Ok(()),
    }
    .map_err(|e| Lost::Connection(e.to_string()))?;
    Ok(socket)
}

/// One read: a message, nothing yet (`None`), or why the connection ended.
fn next(socket: &mut Socket) -> std::result::Result<Option<Message>, Lost> {
    match socket.read() {
        Ok(Message::Close(_)) => Err(Lost::Connection("closed by the server".into())),
        Ok(message) => Ok(Some(message)),
        Err(tungstenite::Error::Io(e))
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Ok(None)
        }
        Err(tungstenite::Error::Capacity(_)) => Err(Lost::Oversized(None)),
        Err(e) => Err(Lost::Connection(e.to_string())),
    }
}

fn receive(
    socket: &mut Socket,
    sink: &mut Sink,
    stop: &AtomicBool,
    status: &mut dyn FnMut(CaptureStatus),
) -> std::result::Result<(), Lost> {
    let mut last_flush = Instant::now();
    let mut last = None;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        match next(socket) {
            Ok(Some(Message::Text(text))) => {
                last = sink.write(text.as_str()).map_err(Lost::Io)?.or(last);
            }
            Ok(Some(Message::Binary(_))) => sink.stats.skipped += 1,
            Ok(_) => {}
            Err(Lost::Oversized(None)) if last.is_some() => return Err(Lost::Oversized(last)),
            Err(e) => return Err(e),
        }
        if last_flush.elapsed() >= Duration::from_secs(1) {
            sink.flush(status).map_err(Lost::Io)?;
            status(CaptureStatus::Written(sink.stats.events));
            last_flush = Instant::now();
        }
    }
}

/// The first cursor after `after` whose stream does not begin with the oversized message
/// that followed `after`, found by probing (doubling the step, then halving the interval);
/// `None` if it would lie past the wall clock (every message from `after` on is oversized).
fn past_oversized(
    config: &CaptureConfig,
    after: i64,
    stats: &mut CaptureStats,
    stop: &AtomicBool,
) -> std::result::Result<Option<i64>, String> {
    let limit = clock::plausible(clock::now_us(), AHEAD).end;
    // Invariant: every cursor in (after, lo] begins with the oversized message.
    let (mut lo, mut step) = (after, 1i64);
    let mut hi = loop {
        let c = lo.saturating_add(step);
        if c >= limit {
            return Ok(None);
        }
        if !first_is_oversized(config, c, stats, stop)? {
            break c;
        }
        (lo, step) = (c, step.saturating_mul(2));
    };
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        match first_is_oversized(config, mid, stats, stop)? {
            true => lo = mid,
            false => hi = mid,
        }
    }
    Ok(Some(hi))
}

/// Whether the stream from `cursor` begins with a message over the size limit (silence for
/// [`PROBE_WAIT`] counts as no).
fn first_is_oversized(
    config: &CaptureConfig,
    cursor: i64,
    stats: &mut CaptureStats,
    stop: &AtomicBool,
) -> std::result::Result<bool, String> {
    let mut socket = connect(config, Some(cursor)).map_err(Lost::reason)?;
    stats.connections += 1;
    let start = Instant::now();
    let answer = loop {
        if stop.load(Ordering::Relaxed) {
            break Err("stopped".into());
        }
        match next(&mut socket) {
            Ok(Some(Message::Text(_) | Message::Binary(_))) => break Ok(false),
            Ok(_) if start.elapsed() < PROBE_WAIT => {}
            Ok(_) => break Ok(false),
            Err(Lost::Oversized(_)) => break Ok(true),
            Err(e) => break Err(e.reason()),
        }
    };
    let _ = socket.close(None);
    answer
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
    /// Files whose end has been checked (and mended) before this capture's first append.
    checked: HashSet<PathBuf>,
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
            checked: HashSet::new(),
            cursor,
            stats: CaptureStats {
                cursor,
                ..CaptureStats::default()
            },
            received_since_connect: false,
        }
    }

    /// The file an event of `time_us` goes to: its hour's or day's, or the implausible one.
    fn file_for(&self, time_us: i64, plausible: bool) -> PathBuf {
        let ext = if self.compress { "jsonl.zst" } else { "jsonl" };
        if !plausible {
            return self.out.join(format!("implausible.{ext}"));
        }
        let day = calendar::label(calendar::day_of_micros(time_us));
        let stem = match self.rotation {
            Rotation::Day => day,
            Rotation::Hour => {
                let hour = time_us.rem_euclid(calendar::MICROS_PER_DAY) / 3_600_000_000;
                format!("{day}T{hour:02}")
            }
        };
        self.out.join(format!("{stem}.{ext}"))
    }

    /// Keep one message for the next flush; its `time_us` if it is an event with a plausible
    /// one.
    fn write(&mut self, text: &str) -> Result<Option<i64>> {
        #[derive(serde::Deserialize)]
        struct Stamp {
            time_us: Option<i64>,
        }
        let time_us = serde_json::from_str::<Stamp>(text)
            .ok()
            .and_then(|s| s.time_us);
        let (Some(time_us), false) = (time_us, text.contains('\n')) else {
            self.stats.skipped += 1;
            return Ok(None);
        };
        let plausible = clock::plausible(clock::now_us(), AHEAD).contains(&time_us);
        let buffer = (self.pending)
            .entry(self.file_for(time_us, plausible))
            .or_default();
        buffer.extend_from_slice(text.as_bytes());
        buffer.push(b'\n');
        self.stats.events += 1;
        self.received_since_connect = true;
        if !plausible {
            self.stats.implausible += 1;
            return Ok(None);
        }
        self.cursor = Some(self.cursor.map_or(time_us, |c| c.max(time_us)));
        Ok(Some(time_us))
    }

    /// Append what is pending to its files (each mended first, the first time), then record
    /// the cursor.
    fn flush(&mut self, status: &mut dyn FnMut(CaptureStatus)) -> Result<()> {
        for (path, bytes) in self.pending.drain() {
            let io = |source| EngineError::Io {
                path: path.clone(),
                source,
            };
            if self.checked.insert(path.clone()) {
                let cut = super::tail::cut_broken_tail(&path, self.compress).map_err(io)?;
                if cut > 0 {
                    self.stats.mended += 1;
                    status(CaptureStatus::Mended(path.clone(), cut));
                }
            }
            let mut file = (OpenOptions::new().create(true).append(true))
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
            write_cursor(&self.out.join("cursor"), c)?;
            self.stats.cursor = Some(c);
        }
        Ok(())
    }
}

/// Write the cursor file `path` (whole or not at all).
fn write_cursor(path: &Path, cursor: i64) -> aumann_engine::Result<()> {
    aumann_engine::output::write_atomic(path, |p| {
        let io = |source| EngineError::Io {
            path: p.to_path_buf(),
            source,
        };
        let mut f = File::create(p).map_err(io)?;
        writeln!(f, "{cursor}").map_err(io)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_files_must_hold_a_plausible_time() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(last_cursor(dir.path()).unwrap(), None);
        let now = clock::now_us();
        for (text, ok) in [
            (format!("{now}\n"), true),
            (format!(" {}\n", clock::EARLIEST_US), true),
            (i64::MIN.to_string(), false),
            (i64::MAX.to_string(), false),
            ("-1".into(), false),
            ("4102444800000000".into(), false),
            ((now + 2 * clock::micros(AHEAD)).to_string(), false),
            ("garbage".into(), false),
            ("".into(), false),
            ("1e15".into(), false),
            ("99999999999999999999999".into(), false),
            ("\u{0}\u{ffff}".into(), false),
        ] {
            std::fs::write(dir.path().join("cursor"), &text).unwrap();
            match last_cursor(dir.path()) {
                Ok(Some(_)) => assert!(ok, "{text:?} accepted"),
                Err(e) => {
                    assert!(!ok, "{text:?}: {e}");
                    let message = e.to_string();
                    assert!(message.contains("cursor"), "{message}");
                    assert!(message.contains(text.trim()), "{message}");
                }
                Ok(None) => panic!("{text:?}"),
            }
        }
    }

    #[test]
    fn implausible_events_go_aside_and_leave_the_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let config = CaptureConfig {
            endpoint: "ws://localhost/".into(),
            collections: vec![],
            out: dir.path().to_path_buf(),
            rotation: Rotation::Hour,
            compress: false,
            rewind: Duration::from_secs(5),
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(1),
            max_message_bytes: MAX_MESSAGE_BYTES,
            ignore_cursor: false,
        };
        let mut sink = Sink::new(&config, None);
        let real = 1_783_175_888_172_335;
        for t in [
            real,
            4_102_444_800_000_000,
            i64::MAX,
            i64::MIN,
            -1,
            real - 10,
        ] {
            sink.write(&format!("{{\"time_us\":{t}}}")).unwrap();
        }
        sink.write("{\"kind\":\"commit\"}").unwrap();
        sink.flush(&mut |_| {}).unwrap();
        let s = &sink.stats;
        assert_eq!((s.events, s.implausible, s.skipped), (6, 4, 1));
        assert_eq!(s.cursor, Some(real));
        assert_eq!(last_cursor(dir.path()).unwrap(), Some(real));
        let aside = std::fs::read_to_string(dir.path().join("implausible.jsonl")).unwrap();
        assert_eq!(aside.lines().count(), 4);
        let config = CaptureConfig {
            rewind: MAX_REWIND + Duration::from_secs(1),
            ..config
        };
        let err = check(&config).unwrap_err().to_string();
        assert!(err.contains("86401 s") && err.contains("86400"), "{err}");
    }
}
