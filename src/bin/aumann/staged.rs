//! Output files that appear complete or not at all: written under a temporary name in the
//! same directory, renamed into place once everything has succeeded.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// A file being written to a temporary name, removed on drop unless committed.
pub struct Staged {
    target: PathBuf,
    temp: PathBuf,
    committed: bool,
}

impl Staged {
    /// Stage `target`: check its directory exists and pick a temporary name beside it.
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
            committed: false,
        })
    }

    /// Where to write.
    pub fn path(&self) -> &Path {
        &self.temp
    }

    /// Move the finished file into place.
    pub fn commit(mut self) -> Result<()> {
        std::fs::rename(&self.temp, &self.target).with_context(|| {
            format!(
                "{}: moving the finished file into place",
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
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// A folder being written under a temporary name, removed on drop unless committed; commit
/// replaces any folder already at the target.
pub struct StagedDir {
    target: PathBuf,
    temp: PathBuf,
    committed: bool,
}

impl StagedDir {
    /// Stage the folder `target`. An existing folder is replaced on commit only if it holds
    /// `marker` (a file every output of this kind has) or nothing at all: a folder of other
    /// files is refused, never deleted.
    pub fn new(target: &Path, marker: &str) -> Result<Self> {
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
        let file = Staged::new(target)?;
        let temp = file.path().to_path_buf();
        drop(file);
        Ok(Self {
            target: target.to_path_buf(),
            temp,
            committed: false,
        })
    }

    /// Where to write.
    pub fn path(&self) -> &Path {
        &self.temp
    }

    /// Move the finished folder into place.
    pub fn commit(mut self) -> Result<()> {
        if self.target.exists() {
            std::fs::remove_dir_all(&self.target)
                .with_context(|| format!("{}: replacing the old folder", self.target.display()))?;
        }
        std::fs::rename(&self.temp, &self.target).with_context(|| {
            format!(
                "{}: moving the finished folder into place",
                self.target.display()
            )
        })?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.temp);
        }
    }
}
