//! Cutting off the broken end a crash leaves on an event file, before a capture appends to it.
//!
//! ```text
//! .jsonl      whole = bytes up to and including the last '\n'
//! .jsonl.zst  whole = bytes up to the end of the last zstd frame that decodes completely
//! ```
//!
//! A capture appends one flush at a time (a zstd frame, or lines) and writes its cursor only
//! after the flush is on disk, so a crash mid-flush leaves a partial frame or line whose events
//! come after the cursor: the resumed stream sends them again. Appending after the broken part
//! would hide every later event from a reader (a zstd decoder stops at the broken frame; the
//! next line would be glued to the half line), so the file is cut back to its whole part.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::path::Path;

use zstd::stream::raw::{Decoder, InBuffer, Operation, OutBuffer};

/// Cut `path` back to its whole part (zstd frames if `zstd`, else lines); the bytes removed
/// (0 for a whole file, or one that does not exist).
///
/// # Errors
/// The file cannot be opened, read or cut.
pub fn cut_broken_tail(path: &Path, zstd: bool) -> std::io::Result<u64> {
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(0),
        other => other?,
    };
    let len = file.metadata()?.len();
    let whole = if zstd {
        whole_frames(&mut file)?
    } else {
        whole_lines(&mut file, len)?
    };
    if whole < len {
        file.set_len(whole)?;
        file.sync_data()?;
    }
    Ok(len - whole)
}

/// Bytes of `file` (`len` long) up to and including its last newline.
fn whole_lines(file: &mut File, len: u64) -> std::io::Result<u64> {
    let mut end = len;
    let mut chunk = vec![0u8; 1 << 16];
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let part = &mut chunk[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(part)?;
        if let Some(i) = part.iter().rposition(|&b| b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// Bytes of `file` up to the end of its last zstd frame that decodes completely (output
/// discarded): where a frame fails to decode or the file ends inside one.
fn whole_frames(file: &mut File) -> std::io::Result<u64> {
    let mut decoder = Decoder::new()?;
    let (mut input, mut output) = (vec![0u8; 1 << 16], vec![0u8; 1 << 17]);
    let (mut read, mut whole) = (0u64, 0u64);
    loop {
        let n = file.read(&mut input)?;
        let mut src = InBuffer::around(&input[..n]);
        loop {
            let mut dst = OutBuffer::around(&mut output[..]);
            let Ok(hint) = decoder.run(&mut src, &mut dst) else {
                return Ok(whole);
            };
            if hint == 0 {
                whole = read + src.pos as u64;
                if src.pos == n {
                    break;
                }
            } else if src.pos == n && dst.pos() < output.len() {
                break; // everything given is taken and flushed: more input needed
            }
        }
        if n == 0 {
            return Ok(whole);
        }
        read += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(bytes: &[u8], zstd: bool) -> (Vec<u8>, u64) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, bytes).unwrap();
        let removed = cut_broken_tail(&path, zstd).unwrap();
        (std::fs::read(&path).unwrap(), removed)
    }

    #[test]
    fn lines_are_cut_after_the_last_newline() {
        assert_eq!(cut(b"a\nb\n", false), (b"a\nb\n".to_vec(), 0));
        assert_eq!(cut(b"a\nb\n{\"half", false), (b"a\nb\n".to_vec(), 6));
        assert_eq!(cut(b"no newline", false), (vec![], 10));
        assert_eq!(cut(b"", false), (vec![], 0));
        let long: Vec<u8> = [&b"x\n"[..], &vec![b'y'; 200_000]].concat();
        assert_eq!(cut(&long, false), (b"x\n".to_vec(), 200_000));
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(cut_broken_tail(&dir.path().join("none"), true).unwrap(), 0);
    }

    #[test]
    fn zstd_files_are_cut_after_the_last_whole_frame() {
        // Frames large enough to span several reads and output buffers.
        let text = |k: usize| -> Vec<u8> {
            (0..40_000)
                .flat_map(|i| format!("{{\"n\":{}}}\n", i * 7 + k).into_bytes())
                .collect()
        };
        let frames: Vec<Vec<u8>> = (0..3)
            .map(|k| zstd::encode_all(&text(k)[..], 3).unwrap())
            .collect();
        let whole = frames.concat();
        assert_eq!(cut(&whole, true), (whole.clone(), 0));
        let two = frames[..2].concat();
        for keep in [1, 7, frames[2].len() / 2, frames[2].len() - 1] {
            let broken = [&two[..], &frames[2][..keep]].concat();
            assert_eq!(cut(&broken, true), (two.clone(), keep as u64), "{keep}");
        }
        let garbage = [&two[..], b"not zstd at all"].concat();
        assert_eq!(cut(&garbage, true).0, two);
        assert_eq!(cut(&frames[0][..10], true), (vec![], 10));
        let decoded = zstd::decode_all(&cut(&[&two[..], &frames[2][..9]].concat(), true).0[..]);
        assert_eq!(decoded.unwrap(), [text(0), text(1)].concat());
    }
}
