//! A followers snapshot: `did,followers` CSV, one account a line after the header, taken
//! outside the stream (Jetstream carries follows, not follower counts).
//!
//! ```text
//! did,followers
//! did:plc:ewvi7nxzyoun6zhxrhs64oiz,15230
//! ```

use std::io::BufRead;
use std::path::Path;

use super::build::FollowerCounts;
use crate::error::{Error, Result};
use aumann_engine::Error as EngineError;

/// Read the snapshot `path`.
///
/// # Errors
/// [`EngineError::Io`] if it cannot be read; [`Error::Followers`] naming the line of a missing
/// header, a line without two fields, a count that is not a non-negative integer, or a DID
/// given twice with different counts.
pub fn load(path: &Path) -> Result<FollowerCounts> {
    let file = aumann_engine::input::open(path)?;
    parse(std::io::BufReader::new(file), path)
}

/// The snapshot in `source`, read from `path` (named in errors).
///
/// # Errors
/// As [`load`].
pub fn parse(source: impl BufRead, path: &Path) -> Result<FollowerCounts> {
    let bad = |line: u64, reason: String| Error::Followers {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let mut counts = FollowerCounts::new();
    for (i, line) in source.lines().enumerate() {
        let n = i as u64 + 1;
        let line = line.map_err(|source| match source.kind() {
            std::io::ErrorKind::InvalidData => bad(n, "not UTF-8 text".into()),
            _ => EngineError::Io {
                path: path.to_path_buf(),
                source,
            }
            .into(),
        })?;
        let line = line.trim();
        if n == 1 {
            if line.replace(' ', "") != "did,followers" {
                return Err(bad(
                    1,
                    format!("header is '{line}', expected 'did,followers'"),
                ));
            }
            continue;
        }
        if line.is_empty() {
            continue;
        }
        let Some((did, count)) = line.split_once(',') else {
            return Err(bad(n, format!("'{line}' is not 'did,followers'")));
        };
        let (did, count) = (did.trim(), count.trim());
        if !did.starts_with("did:") {
            return Err(bad(n, format!("'{did}' is not a DID")));
        }
        let count: u64 = count.parse().map_err(|_| {
            bad(
                n,
                format!("followers '{count}' is not a non-negative integer"),
            )
        })?;
        if let Some(old) = counts.insert(did.to_string(), count)
            && old != count
        {
            return Err(bad(n, format!("{did} given twice ({old} and {count})")));
        }
    }
    if counts.is_empty() {
        // Every agent's reach would be 0: a panel without tiers.
        return Err(bad(
            1,
            "the snapshot holds no account (a header at most)".into(),
        ));
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_counts_and_names_the_bad_line() {
        let p = Path::new("f.csv");
        let ok = parse("did,followers\ndid:plc:a,3\n\ndid:plc:b, 0\n".as_bytes(), p).unwrap();
        assert_eq!((ok["did:plc:a"], ok["did:plc:b"], ok.len()), (3, 0, 2));
        for (text, line) in [
            ("handle,count\n", 1),
            ("did,followers\ndid:plc:a,3\ndid:plc:b,-1\n", 3),
            ("did,followers\ndid:plc:a\n", 2),
            ("did,followers\nalice,3\n", 2),
            ("did,followers\ndid:plc:a,3\ndid:plc:a,4\n", 3),
        ] {
            let err = parse(text.as_bytes(), p).unwrap_err().to_string();
            assert!(err.starts_with(&format!("f.csv:{line}:")), "{err}");
        }
        let err = parse(&b"did,followers\ndid:plc:a,3\ndid:plc:\xff,4\n"[..], p).unwrap_err();
        assert_eq!(err.to_string(), "f.csv:3: not UTF-8 text");
    }
}
