//! Streaming a file of Jetstream lines: every event handed on as it is read, nothing held,
//! and what could not be read counted with the first few line numbers, so that one bad line
//! in a billion does not stop an ingest and does not pass unnoticed.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use super::event::{Body, Event, Line, Operation};
use crate::error::{Error, Result};

/// Line numbers (1-based) kept per kind of problem.
pub const FIRST_LINES: usize = 5;

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
        let n = source
            .read_until(b'\n', &mut buffer)
            .map_err(|source| Error::Truncated {
                path: file.to_path_buf(),
                offset,
                events: stats.events,
                source,
            })?;
        if n == 0 {
            break;
        }
        offset += n as u64;
        stats.lines += 1;
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
            Err(reason) => {
                stats.malformed += 1;
                if stats.first_malformed.len() < FIRST_LINES {
                    stats.first_malformed.push((stats.lines, reason));
                }
            }
        }
    }
    Ok(stats)
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
