//! Event files: JSON lines as written (`.jsonl`), or compressed with zstd (`.zst`), either as
//! one stream or as Jetstream's own frames (one per event, compressed with its dictionary).
//!
//! A zstd file may hold any number of frames one after another; each is decompressed with the
//! dictionary when one is given (a frame compressed without it reads the same). What comes out
//! is read line by line ([`super::reader::read`]).
//!
//! A file that fails part way is [`Error::Truncated`] (its events up to there handed on); one
//! that fails before its first event for another reason than being cut short is
//! [`Error::Undecodable`], naming the likely cause: frames that need a dictionary not given
//! (or another one), or content that is not zstd at all.

use std::cell::Cell;
use std::fs::File;
use std::io::{BufReader, ErrorKind, Read, Seek};
use std::path::Path;
use std::rc::Rc;

use super::event::Event;
use super::reader::{ReadStats, read};
use crate::error::{Error, Result};
use aumann_engine::Error as EngineError;

/// Whether `path` names a zstd file (by its `.zst` extension).
pub fn is_zstd(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "zst")
}

/// Read every event of the file `path`, decompressing a `.zst` file (with `dictionary`, if
/// given, for Jetstream's frames).
///
/// # Errors
/// [`EngineError::Io`] if the file cannot be opened; [`Error::Truncated`] where its content stops
/// being readable, every event before that handed on; [`Error::Undecodable`] for a `.zst`
/// file that cannot be decoded from its start (not cut short: compressed with a dictionary
/// that was not given, or not zstd).
pub fn read_file(
    path: &Path,
    dictionary: Option<&[u8]>,
    on_event: &mut dyn FnMut(Event),
) -> Result<ReadStats> {
    let io = |source| EngineError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    if !is_zstd(path) {
        return read(BufReader::with_capacity(1 << 16, file), path, on_event);
    }
    let mut head = Vec::with_capacity(HEAD);
    (&mut file)
        .take(HEAD as u64)
        .read_to_end(&mut head)
        .map_err(io)?;
    file.rewind().map_err(io)?;
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
        Error::Truncated {
            path,
            events: 0,
            source,
            ..
        } if source.kind() != ErrorKind::UnexpectedEof => Error::Undecodable {
            reason: cause(&head, dictionary, &source),
            path,
        },
        Error::Truncated {
            path,
            events,
            source,
            ..
        } => Error::Truncated {
            path,
            offset: consumed.get(),
            events,
            source,
        },
        other => other,
    })
}

/// Bytes of a file enough for a zstd frame header (at most 18).
const HEAD: usize = 32;

/// The first bytes of every zstd frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Why a zstd file whose first bytes are `head` cannot be decoded with `dictionary`.
fn cause(head: &[u8], dictionary: Option<&[u8]>, error: &std::io::Error) -> String {
    // Skippable frames (magic 0x184D2A5?) are zstd too.
    let skippable = head.len() >= 4 && head[1..4] == [0x2a, 0x4d, 0x18] && head[0] & 0xf0 == 0x50;
    if !head.starts_with(&ZSTD_MAGIC) && !skippable {
        let text = head
            .iter()
            .all(|&b| b.is_ascii_graphic() || b.is_ascii_whitespace());
        let hint = if text {
            " (it starts as text: plain JSON lines are named .jsonl)"
        } else {
            ""
        };
        return format!("not zstd data{hint}");
    }
    let need = zstd::zstd_safe::get_dict_id_from_frame(head);
    let given = dictionary.map(zstd::zstd_safe::get_dict_id_from_dict);
    match (need, given) {
        (Some(need), None) => format!("its zstd frames need dictionary {need}, and none was given"),
        (Some(need), Some(given)) if given != Some(need) => format!(
            "its zstd frames need dictionary {need}, and the dictionary given {}",
            given.map_or("has no id".into(), |g| format!("is dictionary {g}"))
        ),
        (None, None) => {
            format!(
                "corrupt zstd data, or frames that need a dictionary and none was given ({error})"
            )
        }
        _ => format!("corrupt zstd data ({error})"),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn undecodable(bytes: &[u8], dictionary: Option<&[u8]>) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl.zst");
        std::fs::write(&path, bytes).unwrap();
        match read_file(&path, dictionary, &mut |_| {}) {
            Err(Error::Undecodable { reason, .. }) => reason,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn undecodable_files_say_why() {
        let line = b"{\"did\":\"did:plc:a\",\"time_us\":1,\"kind\":\"identity\"}\n";
        let samples: Vec<String> = (0..1000)
            .map(|i| {
                format!(
                    "{{\"did\":\"did:plc:{i}\",\"time_us\":{},\"kind\":\"x\"}}",
                    i * 7919
                )
            })
            .collect();
        let dict = zstd::dict::from_samples(&samples, 4096).unwrap();
        assert!(undecodable(line, None).contains("not zstd data (it starts as text"));
        assert!(undecodable(&[0, 1, 2, 255], None).ends_with("not zstd data"));
        if !dict.is_empty() {
            let id = zstd::zstd_safe::get_dict_id_from_dict(&dict).unwrap();
            let frame = zstd::bulk::Compressor::with_dictionary(3, &dict)
                .unwrap()
                .compress(line)
                .unwrap();
            let reason = undecodable(&frame, None);
            assert!(
                reason.contains(&format!("need dictionary {id}, and none")),
                "{reason}"
            );
            let reason = undecodable(&frame, Some(b"raw content"));
            assert!(reason.contains("has no id"), "{reason}");
        }
        let mut corrupt = zstd::encode_all(&line[..], 3).unwrap();
        let n = corrupt.len();
        corrupt[6..n - 2].iter_mut().for_each(|b| *b ^= 0x5a);
        let reason = undecodable(&corrupt, None);
        assert!(reason.contains("corrupt zstd data"), "{reason}");
    }
}
