//! Input files are opened only when they are regular files: a FIFO with no writer would block
//! the program forever, a device would stream without end, and neither is a file of data.

use std::fs::File;
use std::path::Path;

use crate::error::{Error, Result};

/// Open `path` for reading if it is a regular file (symbolic links followed).
///
/// # Errors
/// [`Error::Io`] if it does not exist or cannot be opened; [`Error::Input`] if it is a FIFO,
/// a device, a socket or a folder.
pub fn open(path: &Path) -> Result<File> {
    check_regular(path)?;
    File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The content of the regular file `path` as text.
///
/// # Errors
/// As [`open`], and [`Error::Io`] for content that is not UTF-8.
pub fn read_to_string(path: &Path) -> Result<String> {
    check_regular(path)?;
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The content of the regular file `path`.
///
/// # Errors
/// As [`open`].
pub fn read(path: &Path) -> Result<Vec<u8>> {
    check_regular(path)?;
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Refuse a path that exists and is not a regular file.
///
/// # Errors
/// [`Error::Io`] if it cannot be examined; [`Error::Input`] if it is not a regular file.
pub fn check_regular(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.is_file() {
        return Ok(());
    }
    let what = kind(&meta.file_type());
    Err(Error::Input {
        path: path.to_path_buf(),
        reason: format!("is {what}, not a regular file; give a file of data"),
    })
}

/// What a file type is, in words ("a FIFO", "a folder" …).
pub(crate) fn kind(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a folder"
    } else if t.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_are_opened() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x");
        std::fs::write(&file, b"data").unwrap();
        assert_eq!(read(&file).unwrap(), b"data");
        let err = read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("a folder"), "{err}");
        #[cfg(unix)]
        {
            let fifo = dir.path().join("fifo");
            let made = std::process::Command::new("mkfifo").arg(&fifo).status();
            assert!(made.unwrap().success());
            // Would block forever if opened: refused before.
            let err = open(&fifo).unwrap_err().to_string();
            assert!(err.contains("a FIFO"), "{err}");
        }
    }
}
