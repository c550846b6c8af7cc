//! Event files: JSON lines as written (`.jsonl`), or compressed with zstd (`.zst`), either as
//! one stream or as Jetstream's own frames (one per event, compressed with its dictionary).
//!
//! A zstd file may hold any number of frames one after another; each is decompressed with the
//! dictionary when one is given (a frame compressed without it reads the same). What comes out
//! is read line by line ([`super::reader::read`]).

use std::cell::Cell;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::rc::Rc;

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
        return read(BufReader::with_capacity(1 << 16, file), path, on_event);
    }
    let consumed = Rc::new(Cell::new(0));
    let file = BufReader::new(Counting {
        inner: file,
        count: Rc::clone(&consumed),
    });
    let decoder = match dictionary {
        Some(dict) => zstd::stream::read::Decoder::with_dictionary(file, dict),
        None => zstd::stream::read::Decoder::with_buffer(file),
    }
    .map_err(io)?;
    read(BufReader::with_capacity(1 << 16, decoder), path, on_event).map_err(|e| match e {
        Error::Truncated { path, source, .. } => Error::Truncated {
            path,
            offset: consumed.get(),
            source,
        },
        other => other,
    })
}

/// A reader that counts the bytes read through it.
struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}
