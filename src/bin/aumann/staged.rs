//! Outputs that appear complete or not at all: a file or folder is written under a temporary
//! name in the same directory and renamed into place once everything has succeeded.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// A file or folder being written to a temporary name, removed on drop unless committed.
pub struct Staged {
    target: PathBuf,
    temp: PathBuf,
    folder: bool,
    committed: bool,
}

impl Staged {
    /// Stage the file `target`: check its directory exists and pick a temporary name beside it.
    pub fn new(target: &Path) -> Result<Self> {
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        anyhow::ensure!(
            dir.is_dir(),
            "{}: the output directory {} does not exist",
            target.display(),
            dir.display()
        );
        let name = target
            .file_name()
            .with_context(|| format!("{}: not a file name", target.display()))?;
        let temp = dir.join(format!(
            ".{}.{}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        Ok(Self {
            target: target.to_path_buf(),
            temp,
            folder: false,
            committed: false,
        })
    }

    /// Stage the folder `target`. An existing folder is replaced on commit only if it holds
    /// `marker` (a file every output of this kind has) or nothing at all: a folder of other
    /// files is refused, never deleted.
    pub fn folder(target: &Path, marker: &str) -> Result<Self> {
        if target.exists() {
            let empty = std::fs::read_dir(target)
                .with_context(|| format!("{}: reading the existing folder", target.display()))?
                .next()
                .is_none();
            anyhow::ensure!(
                empty || target.join(marker).is_file(),
                "{} exists and is not an earlier output of this command (no {marker}); choose \
                 a new folder",
                target.display()
            );
        }
        let mut staged = Self::new(target)?;
        staged.folder = true;
        Ok(staged)
    }

    /// Where to write.
    pub fn path(&self) -> &Path {
        &self.temp
    }

    /// Move the finished output into place (replacing an earlier folder).
    pub fn commit(mut self) -> Result<()> {
        let what = if self.folder { "folder" } else { "file" };
        if self.folder && self.target.exists() {
            std::fs::remove_dir_all(&self.target)
                .with_context(|| format!("{}: replacing the old folder", self.target.display()))?;
        }
        std::fs::rename(&self.temp, &self.target).with_context(|| {
            format!(
                "{}: moving the finished {what} into place",
                self.target.display()
            )
        })?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = if self.folder {
                std::fs::remove_dir_all(&self.temp)
            } else {
                std::fs::remove_file(&self.temp)
            };
        }
    }
}
