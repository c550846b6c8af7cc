//! Streaming a file of Jetstream lines: every event handed on as it is read, nothing held,
//! and what could not be read counted with the first few line numbers, so that one bad line
//! in a billion does not stop an ingest and does not pass unnoticed. A line longer than
//! [`MAX_LINE_BYTES`] is skipped unread (counted as malformed): memory stays bounded whatever
//! the input.

use std::collections::BTreeMap;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use super::event::{Body, Event, Line, Operation};
use crate::error::{Error, Result};

/// Line numbers (1-based) kept per kind of problem.
pub const FIRST_LINES: usize = 5;

/// The longest line read: Jetstream's events are a few KB, its messages at most 16 MiB.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// What reading one source found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReadStats {
    /// The source.
    pub file: PathBuf,
    /// Lines read (blank lines included).
    pub lines: u64,
    /// Events handed on (unknown kinds included).
    pub events: u64,
    /// Lines that are not events, and the first few of their numbers with the reason.
    pub malformed: u64,
    /// `(line, reason)` of the first [`FIRST_LINES`] malformed lines.
    pub first_malformed: Vec<(u64, String)>,
    /// Events of a kind this reader does not know, by kind.
    pub unknown_kinds: BTreeMap<String, u64>,
    /// Error frames the server sent.
    pub error_frames: u64,
}

/// Read every line of `source` (named `file` in messages), handing each event to `on_event`.
///
/// # Errors
/// [`Error::Truncated`] naming the file and the byte where reading failed (a truncated or
/// corrupt file: every event before the failure has been handed on).
pub fn read(
    source: impl BufRead,
    file: &Path,
    on_event: &mut dyn FnMut(Event),
) -> Result<ReadStats> {
    let mut stats = ReadStats {
        file: file.to_path_buf(),
        ..ReadStats::default()
    };
    let mut offset = 0u64;
    let mut source = source;
    let mut buffer = Vec::with_capacity(4096);
    loop {
        buffer.clear();
        let truncated = |source| Error::Truncated {
            path: file.to_path_buf(),
            offset,
            events: stats.events,
            source,
        };
        let (n, whole) = next_line(&mut source, &mut buffer).map_err(truncated)?;
        if n == 0 {
            break;
        }
        offset += n;
        stats.lines += 1;
        if !whole {
            let reason = format!("longer than {MAX_LINE_BYTES} bytes ({n}): skipped");
            stats.malformed(reason);
            continue;
        }
        let parsed = match buffer.trim_ascii() {
            [] => Ok(None),
            text => Line::parse_bytes(text).map(Some),
        };
        match parsed {
            Ok(None) => {}
            Ok(Some(Line::Event(event))) => {
                if let Body::Unknown(kind) = &event.body {
                    *stats.unknown_kinds.entry(kind.clone()).or_default() += 1;
                }
                stats.events += 1;
                on_event(event);
            }
            Ok(Some(Line::Error(_))) => stats.error_frames += 1,
            Err(reason) => stats.malformed(reason),
        }
    }
    Ok(stats)
}

impl ReadStats {
    /// Count the current line as malformed, for `reason`.
    fn malformed(&mut self, reason: String) {
        self.malformed += 1;
        if self.first_malformed.len() < FIRST_LINES {
            self.first_malformed.push((self.lines, reason));
        }
    }
}

/// Read the next line into `buffer` (with its newline); the bytes it took, and whether it
/// is whole: a line over [`MAX_LINE_BYTES`] is consumed to its end but not kept.
fn next_line(source: &mut impl BufRead, buffer: &mut Vec<u8>) -> std::io::Result<(u64, bool)> {
    let n = (&mut *source)
        .take(MAX_LINE_BYTES as u64 + 1)
        .read_until(b'\n', buffer)?;
    if buffer.len() <= MAX_LINE_BYTES || buffer.ends_with(b"\n") {
        return Ok((n as u64, true));
    }
    buffer.clear();
    let mut skipped = n as u64;
    loop {
        let available = source.fill_buf()?;
        let (used, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), available.is_empty()),
        };
        source.consume(used);
        skipped += used as u64;
        if done {
            return Ok((skipped, false));
        }
    }
}

/// Events counted by what they are: commits by collection and operation, identity and
/// account events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// `(collection, operation) → count`.
    pub commits: BTreeMap<(String, Operation), u64>,
    /// Identity events.
    pub identity: u64,
    /// Account events.
    pub account: u64,
}

impl Tally {
    /// Count one event.
    pub fn add(&mut self, event: &Event) {
        match &event.body {
            Body::Commit(c) => {
                *self
                    .commits
                    .entry((c.collection.clone(), c.operation))
                    .or_default() += 1;
            }
            Body::Identity => self.identity += 1,
            Body::Account(_) => self.account += 1,
            Body::Unknown(_) => {}
        }
    }

    /// Commits of `collection` with `operation`.
    pub fn get(&self, collection: &str, operation: Operation) -> u64 {
        self.commits
            .get(&(collection.to_string(), operation))
            .copied()
            .unwrap_or(0)
    }

    /// Commits with `operation`, every collection.
    pub fn operations(&self, operation: Operation) -> u64 {
        (self.commits.iter())
            .filter(|((_, op), _)| *op == operation)
            .map(|(_, n)| n)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_over_the_limit_is_skipped_and_counted() {
        let event = br#"{"did":"did:plc:a","time_us":1,"kind":"identity"}"#;
        for tail in [&b"\n"[..], b""] {
            let mut text = [&event[..], b"\n{\"did\":\""].concat();
            text.resize(text.len() + MAX_LINE_BYTES + 10, b'x');
            text.extend_from_slice(b"\"}\n");
            text.extend_from_slice(event);
            text.extend_from_slice(tail);
            let mut n = 0;
            let stats = read(&text[..], Path::new("t"), &mut |_| n += 1).unwrap();
            assert_eq!(
                (n, stats.events, stats.lines, stats.malformed),
                (2, 2, 3, 1)
            );
            assert_eq!(stats.first_malformed[0].0, 2);
            assert!(stats.first_malformed[0].1.starts_with("longer than"));
        }
        // Exactly at the limit, with its newline: read (and malformed only as JSON).
        let mut text = vec![b' '; MAX_LINE_BYTES - event.len()];
        text.extend_from_slice(event);
        text.push(b'\n');
        let stats = read(&text[..], Path::new("t"), &mut |_| {}).unwrap();
        assert_eq!((stats.events, stats.malformed), (1, 0));
    }
}
