//! Many event files at once: files and folders in any order, each file read to its end or to
//! where it stops being readable, and what went wrong said per file without stopping.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::build::{PanelBuilder, ReadingReport};
use super::reader::ReadStats;
use super::source::read_file;
use crate::error::{Error, Result};
use aumann_engine::Error as EngineError;

/// Whether `path` names an event file: `.jsonl`, `.json`, or either compressed (`.zst`).
pub fn is_event_file(path: &Path) -> bool {
    // Lossy: a name that is not UTF-8 is still judged by its (ASCII) extension.
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let name = name.strip_suffix(".zst").unwrap_or(&name);
    name.ends_with(".jsonl") || name.ends_with(".json")
}

/// The event files of `paths`: each file as given, each folder's event files (searched
/// recursively, following symbolic links), sorted, each file once however many names reach
/// it (a link to it, a folder linked into another, a link looping back up).
///
/// # Errors
/// [`EngineError::Io`] for a path that does not exist or a folder that cannot be listed;
/// [`Error::Events`] when a folder holds no event file; [`EngineError::Input`] for an event file
/// that is not a regular file (a FIFO would block the ingest).
pub fn event_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut visited = HashSet::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| EngineError::Io {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            let before = files.len();
            walk(path, &mut files, &mut visited)?;
            if files.len() == before {
                return Err(Error::Events {
                    path: path.clone(),
                    reason: "no event files (.jsonl, .jsonl.zst) in this folder".into(),
                });
            }
        } else {
            aumann_engine::input::check_regular(path)?;
            files.push(path.clone());
        }
    }
    files.sort();
    let mut seen = HashSet::new();
    files.retain(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
    Ok(files)
}

/// The event files under `dir`, unless `visited` holds it already (by its canonical path: a
/// folder reached again through a link is not listed twice, and a loop ends).
fn walk(dir: &Path, files: &mut Vec<PathBuf>, visited: &mut HashSet<PathBuf>) -> Result<()> {
    let io = |source| EngineError::Io {
        path: dir.to_path_buf(),
        source,
    };
    if !visited.insert(std::fs::canonicalize(dir).map_err(io)?) {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            walk(&path, files, visited)?;
        } else if is_event_file(&path) {
            aumann_engine::input::check_regular(&path)?;
            files.push(path);
        }
    }
    Ok(())
}

/// What reading found, summed, and each file's problems in words.
#[derive(Clone, Debug, Default)]
pub struct Reading {
    /// The sums.
    pub report: ReadingReport,
    /// One line per file with malformed lines, unknown kinds or a truncation.
    pub problems: Vec<String>,
}

/// How to read the files.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadOptions<'a> {
    /// Jetstream's zstd dictionary, for files of its dictionary-compressed frames.
    pub dictionary: Option<&'a [u8]>,
    /// Skip (and count) files that cannot be decoded instead of stopping at the first.
    pub skip_unreadable: bool,
}

/// Read every file into `builder`, calling `progress(bytes done, bytes in all)` after each.
///
/// # Errors
/// [`EngineError::Io`] if a file cannot be opened; [`Error::Undecodable`] for a file that cannot be
/// decoded at all, unless `options` skips those. A file that stops being readable part way is
/// not an error: its events up to there are kept and the problem is reported.
pub fn read_all(
    files: &[PathBuf],
    options: ReadOptions<'_>,
    builder: &mut PanelBuilder,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Reading> {
    let sizes: Vec<u64> = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .collect();
    let total = sizes.iter().sum();
    let mut reading = Reading::default();
    let mut done = 0;
    for (file, size) in files.iter().zip(sizes) {
        match read_file(file, options.dictionary, &mut |event| builder.add(event)) {
            Ok(stats) => add(&mut reading, &stats),
            Err(e @ Error::Truncated { .. }) => {
                reading.report.truncated_files += 1;
                reading.problems.push(e.to_string());
            }
            Err(e @ Error::Undecodable { .. }) if options.skip_unreadable => {
                reading.report.unreadable_files += 1;
                reading.problems.push(format!("{e}; skipped"));
            }
            Err(e) => return Err(e),
        }
        reading.report.files += 1;
        reading.report.bytes += size;
        done += size;
        progress(done, total);
    }
    Ok(reading)
}

fn add(reading: &mut Reading, stats: &ReadStats) {
    let r = &mut reading.report;
    r.lines += stats.lines;
    r.malformed += stats.malformed;
    r.error_frames += stats.error_frames;
    let unknown: u64 = stats.unknown_kinds.values().sum();
    r.unknown_kinds += unknown;
    let file = stats.file.display();
    if stats.malformed > 0 {
        let first: Vec<String> = (stats.first_malformed.iter())
            .map(|(line, reason)| format!("line {line}: {reason}"))
            .collect();
        reading.problems.push(format!(
            "{file}: {} malformed lines skipped (first: {})",
            stats.malformed,
            first.join("; ")
        ));
    }
    if unknown > 0 {
        let kinds: Vec<String> = (stats.unknown_kinds.iter())
            .map(|(k, n)| format!("{k} ×{n}"))
            .collect();
        reading.problems.push(format!(
            "{file}: {unknown} events of unknown kinds skipped ({})",
            kinds.join(", ")
        ));
    }
}

/// Everything an ingest needs besides the events.
pub struct IngestInput<'a> {
    /// The event files ([`event_files`]).
    pub files: &'a [PathBuf],
    /// The dictionary, and whether to skip files that cannot be decoded.
    pub read: ReadOptions<'a>,
    /// The topics.
    pub topics: super::topics::Topics,
    /// Window, reach and filters.
    pub config: super::build::IngestConfig,
    /// The manifest's `source`.
    pub source: &'a str,
}

/// Read `input`'s files and build the panel.
///
/// # Errors
/// [`EngineError::Parameter`] for a window that [`super::build::Window::check`] refuses; as
/// [`read_all`]; [`Error::Events`] naming the first file when no panel can be built (no event
/// in the window, every account filtered out, too many topics).
pub fn ingest(
    input: IngestInput<'_>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(super::build::Ingested, Reading)> {
    input.config.window.check()?;
    let first = input.files.first().cloned().unwrap_or_default();
    let refuse = |e: super::build::BuildError| Error::Events {
        path: first.clone(),
        reason: e.to_string(),
    };
    let mut builder = PanelBuilder::new(input.topics, input.config).map_err(refuse)?;
    let reading = read_all(input.files, input.read, &mut builder, progress)?;
    let ingested = builder
        .finish(input.source, reading.report.clone())
        .map_err(refuse)?;
    Ok((ingested, reading))
}
