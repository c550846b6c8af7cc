//! Event files: JSON lines as written (`.jsonl`), or compressed with zstd (`.zst`), either as
//! one stream or as Jetstream's own frames (one per event, compressed with its dictionary).
//!
//! A zstd file may hold any number of frames one after another; each is decompressed with the
//! dictionary when one is given (a frame compressed without it reads the same). What comes out
//! is read line by line ([`super::reader::read`]).

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use super::event::Event;
use super::reader::{ReadStats, read};
use crate::error::{Error, Result};

/// Whether `path` names a zstd file (by its `.zst` extension).
pub fn is_zstd(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "zst")
}

/// Read every event of the file `path`, decompressing a `.zst` file (with `dictionary`, if
/// given, for Jetstream's frames).
///
/// # Errors
/// [`Error::Io`] if the file cannot be opened; [`Error::Truncated`] where its content stops
/// being readable, every event before that handed on.
pub fn read_file(
    path: &Path,
    dictionary: Option<&[u8]>,
    on_event: &mut dyn FnMut(Event),
) -> Result<ReadStats> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    if !is_zstd(path) {
        return read(BufReader::new(file), path, on_event);
    }
    let decoder = match dictionary {
        Some(dict) => zstd::stream::read::Decoder::with_dictionary(BufReader::new(file), dict),
        None => zstd::stream::read::Decoder::with_buffer(BufReader::new(file)),
    }
    .map_err(io)?;
    read(BufReader::new(decoder), path, on_event)
}
