//! Outputs that land only where asked, complete or not at all.
//!
//! ```text
//! Staged::file(target, inputs)      → .{name}.{pid}.{seq}.tmp beside target, created empty
//! Staged::folder(target, marker, …) → .{name}.{pid}.{seq}.tmp/ beside target, created empty
//! write to staged.path(), then staged.commit(): renamed over target
//! dropped uncommitted, or discard_staged() on a signal: the temporary name is removed
//! ```
//!
//! A target is refused when it exists and is not a regular file (or, for a folder, a
//! directory): a device node, a FIFO, a socket or a symbolic link is never replaced. It is
//! refused when it is one of the command's inputs, or (a folder) holds one, and when another
//! output of the same process is already staged to it. Each temporary name is created with
//! `O_EXCL`, so a name planted in advance (a symbolic link, say) is never written through.
//!
//! Every temporary name is registered process-wide until it is committed or removed, so a
//! signal handler can remove them all ([`discard_staged`]) before the process exits.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::error::{Error, Result};

/// The temporary names staged and not yet committed or removed, with their targets.
static STAGED: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// Set by [`discard_staged`]: the process is about to exit, and nothing more is staged or
/// committed. Read and written under the `STAGED` lock.
static DISCARDED: AtomicBool = AtomicBool::new(false);

/// Makes each temporary name of this process distinct.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

#[derive(Clone, Debug)]
struct Entry {
    temp: PathBuf,
    target: PathBuf,
    kind: Kind,
}

/// A file or a folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    File,
    Folder,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Folder => "folder",
        }
    }
}

/// An output being written under a temporary name in its target's directory, removed on drop
/// unless committed.
#[derive(Debug)]
pub struct Staged {
    entry: Entry,
    committed: bool,
}

impl Staged {
    /// Stage the file `target`, which must not be any of `inputs`.
    ///
    /// # Errors
    /// [`Error::Output`] when the target's directory does not exist, the target exists and is
    /// not a regular file, it is one of `inputs`, or it is already staged by this process;
    /// [`Error::Io`] when the temporary file cannot be created.
    pub fn file(target: &Path, inputs: &[&Path]) -> Result<Self> {
        Self::stage(target, Kind::File, inputs)
    }

    /// Stage the folder `target`, which must not be nor hold any of `inputs`. An existing
    /// folder is replaced on commit only if it holds `marker` (a file every output of this
    /// kind has) or nothing at all: a folder of other files is refused, never deleted.
    ///
    /// # Errors
    /// As [`Staged::file`], and [`Error::Output`] for an existing folder of other files.
    pub fn folder(target: &Path, marker: &str, inputs: &[&Path]) -> Result<Self> {
        if fs::symlink_metadata(target).is_ok_and(|m| m.is_dir()) {
            let mut entries = fs::read_dir(target).map_err(|source| Error::Io {
                path: target.to_path_buf(),
                source,
            })?;
            if entries.next().is_some() && !target.join(marker).is_file() {
                return Err(refused(
                    target,
                    format!(
                        "the folder exists and is not an earlier output of this command (it \
                         has no {marker}); choose a new folder"
                    ),
                ));
            }
        }
        Self::stage(target, Kind::Folder, inputs)
    }

    fn stage(target: &Path, kind: Kind, inputs: &[&Path]) -> Result<Self> {
        let dir = parent(target);
        if !dir.is_dir() {
            return Err(refused(
                target,
                format!("the output directory {} does not exist", dir.display()),
            ));
        }
        let name = target
            .file_name()
            .ok_or_else(|| refused(target, "not a file name".into()))?;
        check_existing(target, kind)?;
        check_not_input(target, kind, inputs)?;
        let target_id = identity(target);
        let mut staged = STAGED.lock().unwrap_or_else(|e| e.into_inner());
        if DISCARDED.load(Ordering::SeqCst) {
            return Err(refused(target, "the process is stopping".into()));
        }
        if staged.iter().any(|e| identity(&e.target) == target_id) {
            return Err(refused(
                target,
                "the same path is given for two outputs; give each its own".into(),
            ));
        }
        let temp = dir.join(format!(
            ".{}.{}.{}.tmp",
            name.to_string_lossy(),
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        ));
        create_new(&temp, kind)?;
        let entry = Entry {
            temp,
            target: target.to_path_buf(),
            kind,
        };
        staged.push(entry.clone());
        Ok(Self {
            entry,
            committed: false,
        })
    }

    /// Where to write: a file or an empty folder that exists.
    pub fn path(&self) -> &Path {
        &self.entry.temp
    }

    /// The path the output will have.
    pub fn target(&self) -> &Path {
        &self.entry.target
    }

    /// Move the finished output into place, replacing an earlier one.
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be renamed (the temporary name is then removed), or the
    /// target changed into something that is not ours to replace meanwhile.
    pub fn commit(mut self) -> Result<()> {
        let mut staged = STAGED.lock().unwrap_or_else(|e| e.into_inner());
        let Entry { temp, target, kind } = &self.entry;
        if !staged.iter().any(|e| e.temp == *temp) {
            // Discarded by a signal: the temporary is gone and the old output stays.
            return Err(refused(target, "the process is stopping".into()));
        }
        check_existing(target, *kind)?;
        let io = |source| Error::Io {
            path: target.clone(),
            source,
        };
        if *kind == Kind::Folder && target.exists() {
            // The old folder is moved aside before the new one moves in, so a crash between
            // the two leaves it under a name that says what it is, not deleted.
            let old = temp.with_extension("old");
            fs::rename(target, &old).map_err(io)?;
            fs::rename(temp, target).map_err(io)?;
            let _ = fs::remove_dir_all(&old);
        } else {
            fs::rename(temp, target).map_err(io)?;
        }
        staged.retain(|e| e.temp != *temp);
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let mut staged = STAGED.lock().unwrap_or_else(|e| e.into_inner());
            remove(&self.entry);
            staged.retain(|e| e.temp != self.entry.temp);
        }
    }
}

/// Remove every temporary name this process has staged and not committed: what a signal
/// handler calls before the process exits. Nothing is staged or committed afterwards: the
/// other threads may still be running, and an output they stage or commit now would outlive
/// the exit.
pub fn discard_staged() {
    let mut staged = STAGED.lock().unwrap_or_else(|e| e.into_inner());
    DISCARDED.store(true, Ordering::SeqCst);
    for entry in staged.drain(..) {
        remove(&entry);
    }
}

/// The temporary names staged now (for tests and diagnostics).
pub fn staged_paths() -> Vec<PathBuf> {
    let staged = STAGED.lock().unwrap_or_else(|e| e.into_inner());
    staged.iter().map(|e| e.temp.clone()).collect()
}

fn remove(entry: &Entry) {
    let _ = match entry.kind {
        Kind::File => fs::remove_file(&entry.temp),
        Kind::Folder => fs::remove_dir_all(&entry.temp),
    };
}

fn refused(target: &Path, reason: String) -> Error {
    Error::Output {
        path: target.to_path_buf(),
        reason,
    }
}

fn parent(target: &Path) -> PathBuf {
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// An existing target must be what this output replaces: a regular file, or a directory.
fn check_existing(target: &Path, kind: Kind) -> Result<()> {
    let Ok(meta) = fs::symlink_metadata(target) else {
        return Ok(());
    };
    let what = crate::input::kind(&meta.file_type());
    let ok = match kind {
        Kind::File => meta.is_file(),
        Kind::Folder => meta.is_dir(),
    };
    if ok {
        return Ok(());
    }
    Err(refused(
        target,
        format!(
            "exists and is {what}; an output {} replaces only a {}, choose another path",
            kind.word(),
            match kind {
                Kind::File => "regular file",
                Kind::Folder => "folder",
            }
        ),
    ))
}

/// The target must not be an input, and a folder must not hold one.
fn check_not_input(target: &Path, kind: Kind, inputs: &[&Path]) -> Result<()> {
    let target_id = identity(target);
    for input in inputs {
        let input_id = identity(input);
        let clash = input_id == target_id
            || same_file(target, input)
            || kind == Kind::Folder && input_id.starts_with(&target_id);
        if clash {
            return Err(refused(
                target,
                format!(
                    "it would overwrite the input {}; choose another output path",
                    input.display()
                ),
            ));
        }
    }
    Ok(())
}

/// An absolute path naming the same place as `path`, whether or not `path` exists: its
/// directory resolved, its last component kept.
fn identity(path: &Path) -> PathBuf {
    if let Ok(p) = fs::canonicalize(path) {
        return p;
    }
    let dir = fs::canonicalize(parent(path)).unwrap_or_else(|_| parent(path));
    match path.file_name() {
        Some(name) => dir.join(name),
        None => dir,
    }
}

/// Two existing paths that are one file (hard links included).
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(a), Ok(b)) = (fs::metadata(a), fs::metadata(b)) {
            return a.dev() == b.dev() && a.ino() == b.ino();
        }
    }
    let _ = (a, b);
    false
}

/// Create `path` as an empty file or folder, failing if anything (a link included) is there.
fn create_new(path: &Path, kind: Kind) -> Result<()> {
    let made = match kind {
        Kind::File => fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map(drop),
        Kind::Folder => fs::create_dir(path),
    };
    made.map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Write a file through `write` under the temporary name `path.partial`, then rename it to
/// `path`; the temporary file is removed if `write` fails. For the files of a folder that is
/// itself [`Staged`].
///
/// # Errors
/// What `write` reports, or [`Error::Io`] if the rename fails.
pub fn write_atomic(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    write(&tmp).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })?;
    fs::rename(&tmp, path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_file_appears_complete_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("phi.npy");
        {
            let staged = Staged::file(&target, &[]).unwrap();
            fs::write(staged.path(), b"half").unwrap();
            assert!(!target.exists());
        }
        assert!(names(dir.path()).is_empty(), "dropped: nothing left");
        let staged = Staged::file(&target, &[]).unwrap();
        fs::write(staged.path(), b"whole").unwrap();
        staged.commit().unwrap();
        assert_eq!(names(dir.path()), ["phi.npy"]);
        assert_eq!(fs::read(&target).unwrap(), b"whole");
    }

    #[test]
    fn special_files_inputs_and_twice_named_outputs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let input = d.join("x.npy");
        fs::write(&input, b"input").unwrap();
        let err = Staged::file(&input, &[&input]).unwrap_err().to_string();
        assert!(err.contains("overwrite the input"), "{err}");
        // Spelled another way, and through a hard link.
        let other = d.join(".").join("x.npy");
        assert!(Staged::file(&other, &[&input]).is_err());
        fs::hard_link(&input, d.join("y.npy")).unwrap();
        assert!(Staged::file(&d.join("y.npy"), &[&input]).is_err());
        // A folder output holding an input.
        fs::create_dir(d.join("panel")).unwrap();
        fs::write(d.join("panel/manifest.json"), b"{}").unwrap();
        let inside = d.join("panel/manifest.json");
        let err = Staged::folder(&d.join("panel"), "manifest.json", &[&inside]).unwrap_err();
        assert!(err.to_string().contains("overwrite the input"), "{err}");
        #[cfg(unix)]
        {
            let fifo = d.join("fifo");
            let made = std::process::Command::new("mkfifo").arg(&fifo).status();
            assert!(made.unwrap().success());
            let err = Staged::file(&fifo, &[]).unwrap_err().to_string();
            assert!(err.contains("a FIFO"), "{err}");
            std::os::unix::fs::symlink(&input, d.join("link")).unwrap();
            let err = Staged::file(&d.join("link"), &[]).unwrap_err().to_string();
            assert!(err.contains("symbolic link"), "{err}");
        }
        let first = Staged::file(&d.join("out"), &[]).unwrap();
        let err = Staged::file(&d.join("./out"), &[]).unwrap_err().to_string();
        assert!(err.contains("two outputs"), "{err}");
        drop(first);
        assert_eq!(fs::read(&input).unwrap(), b"input");
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_temporary_name_is_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"victim").unwrap();
        let planted = dir.path().join(".a.tmp");
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        assert!(create_new(&planted, Kind::File).is_err());
        assert!(create_new(&planted, Kind::Folder).is_err());
        assert_eq!(fs::read(&victim).unwrap(), b"victim");
    }

    #[test]
    fn a_folder_replaces_its_earlier_self_only() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        fs::create_dir(&out).unwrap();
        fs::write(out.join("notes.txt"), b"mine").unwrap();
        assert!(Staged::folder(&out, "run.json", &[]).is_err());
        fs::write(out.join("run.json"), b"old").unwrap();
        let staged = Staged::folder(&out, "run.json", &[]).unwrap();
        fs::write(staged.path().join("run.json"), b"new").unwrap();
        staged.commit().unwrap();
        assert_eq!(names(&out), ["run.json"]);
        assert_eq!(names(dir.path()), ["out"]);
    }
}
