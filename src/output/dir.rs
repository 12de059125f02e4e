//! Output directories published as one unit, and the lock that keeps two runs
//! from writing the same one.
//!
//! A nightly run writes several files that belong together (scored rows, the
//! rejects, the manifest that describes both). Each is written into a private
//! staging directory beside the destination; [`StagedDir::publish`] then
//! swaps the staging directory for the destination in one `rename` (on Linux,
//! an atomic exchange with the previous night's directory, which is removed
//! afterwards). A reader sees the complete old set or the complete new set,
//! never a mixture, and a run that fails or is killed leaves the previous
//! set untouched. Staging directories orphaned by a killed process are
//! removed by the next run that holds the lock.
//!
//! [`DirLock`] is an OS file lock (`flock`) on a lock file beside the
//! destination: the kernel releases it when the process exits, however it
//! exits, so a crashed run never leaves a stale lock behind.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{OutputError, Result, FAIL_BEFORE_RENAME};

/// `parent` of `dest` and its file name, for sibling paths.
fn split(dest: &Path) -> (PathBuf, String) {
    let parent = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    (parent, name)
}

fn io<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(std::io::Error) -> OutputError + 'a {
    move |source| OutputError::Io {
        path: path.to_path_buf(),
        action,
        source,
    }
}

/// An exclusive lock on an output directory, held until dropped (or until the
/// process ends). The lock file `.<name>.lock` beside the directory stays on
/// disk: deleting it would let a third process lock a different inode.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

/// Why [`DirLock::acquire`] did not lock.
#[derive(Debug)]
pub enum LockError {
    /// Another process holds the lock; its pid, when it wrote one.
    Busy {
        /// The lock file.
        path: PathBuf,
        /// The holder's pid, as written in the lock file.
        pid: Option<u32>,
    },
    /// The lock file could not be created or locked.
    Io(OutputError),
}

impl DirLock {
    /// Locks `dest` (a directory that may not exist yet) without waiting.
    pub fn acquire(dest: &Path) -> std::result::Result<Self, LockError> {
        let (parent, name) = split(dest);
        std::fs::create_dir_all(&parent)
            .map_err(io(&parent, "creating the output directory"))
            .map_err(LockError::Io)?;
        let path = parent.join(format!(".{name}.lock"));
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path, "opening the lock file"))
            .map_err(LockError::Io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let pid = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|t| t.trim().parse().ok());
                return Err(LockError::Busy { path, pid });
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(LockError::Io(io(&path, "locking the lock file")(e)));
            }
        }
        // The pid is informational (for the "busy" message); the lock is the flock.
        let _ = file
            .set_len(0)
            .and_then(|_| writeln!(file, "{}", std::process::id()));
        Ok(Self { _file: file })
    }
}

/// A directory being written that replaces `dest` as a whole on
/// [`StagedDir::publish`]. Dropping it unpublished removes it.
#[derive(Debug)]
pub struct StagedDir {
    dest: PathBuf,
    staging: tempfile::TempDir,
}

impl StagedDir {
    /// Creates a staging directory beside `dest`, after removing the staging
    /// directories of earlier runs that were killed. Call it while holding a
    /// [`DirLock`] on `dest`, so no live run's staging directory is removed.
    pub fn create(dest: &Path) -> Result<Self> {
        let (parent, name) = split(dest);
        std::fs::create_dir_all(&parent).map_err(io(&parent, "creating the output directory"))?;
        let prefix = format!(".{name}.staging-");
        if let Ok(entries) = std::fs::read_dir(&parent) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let staging = tempfile::Builder::new()
            .prefix(&prefix)
            .tempdir_in(&parent)
            .map_err(io(dest, "creating a staging directory"))?;
        Ok(Self {
            dest: dest.to_path_buf(),
            staging,
        })
    }

    /// The staging directory: write the files here.
    pub fn path(&self) -> &Path {
        self.staging.path()
    }

    /// The directory the files will appear in.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Replaces `dest` with the staging directory in one step and removes the
    /// previous contents of `dest`.
    pub fn publish(self) -> Result<()> {
        let dest = self.dest;
        let staging = self.staging.path().to_path_buf();
        if std::env::var_os(FAIL_BEFORE_RENAME)
            .is_some_and(|v| dest.file_name().is_some_and(|n| n == v.as_os_str()))
        {
            return Err(OutputError::Io {
                path: dest,
                action: "publishing the output directory",
                source: std::io::Error::other(format!("injected failure ({FAIL_BEFORE_RENAME})")),
            });
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(0o755))
                .map_err(io(&dest, "setting permissions"))?;
        }
        let replaced = swap_in(&staging, &dest)?;
        // `staging` now holds the previous contents (or nothing): the TempDir
        // removes whatever is at its path when dropped.
        if !replaced {
            // The rename moved the TempDir's directory away; nothing to clean.
            let _ = self.staging.keep();
        }
        sync_dir(&dest);
        Ok(())
    }
}

/// Moves `staging` to `dest`. Returns true when an existing `dest` was
/// swapped into `staging`'s place (and must be removed by the caller).
fn swap_in(staging: &Path, dest: &Path) -> Result<bool> {
    match std::fs::symlink_metadata(dest) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::rename(staging, dest).map_err(io(dest, "publishing the output directory"))?;
            Ok(false)
        }
        Err(e) => Err(io(dest, "inspecting the output directory")(e)),
        Ok(meta) if !meta.is_dir() => Err(OutputError::Io {
            path: dest.to_path_buf(),
            action: "publishing the output directory",
            source: std::io::Error::other("the destination exists and is not a directory"),
        }),
        Ok(_) => exchange(staging, dest).map(|()| true),
    }
}

/// Atomically exchanges two directories (Linux `renameat2(RENAME_EXCHANGE)`).
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE)
        .map_err(|e| io(b, "publishing the output directory")(e.into()))
}

/// Elsewhere: move the old directory aside, move the new one in, and put the
/// old one where the staging directory was (a reader may briefly find no
/// directory, but never a mixture).
#[cfg(not(target_os = "linux"))]
fn exchange(a: &Path, b: &Path) -> Result<()> {
    let aside = a.with_extension("old");
    std::fs::rename(b, &aside).map_err(io(b, "moving the previous output aside"))?;
    if let Err(e) = std::fs::rename(a, b) {
        let _ = std::fs::rename(&aside, b);
        return Err(io(b, "publishing the output directory")(e));
    }
    std::fs::rename(&aside, a).map_err(io(a, "moving the previous output away"))
}

/// Makes a rename durable by syncing the parent directory (best effort).
fn sync_dir(path: &Path) {
    #[cfg(unix)]
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Ok(d) = File::open(parent) {
            let _ = d.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn publish_creates_then_replaces_the_whole_directory() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("night");
        let _lock = DirLock::acquire(&dest).unwrap();

        let s = StagedDir::create(&dest).unwrap();
        std::fs::write(s.path().join("a"), "1").unwrap();
        std::fs::write(s.path().join("stale"), "1").unwrap();
        s.publish().unwrap();
        assert_eq!(names(&dest), ["a", "stale"]);

        let s = StagedDir::create(&dest).unwrap();
        std::fs::write(s.path().join("a"), "2").unwrap();
        s.publish().unwrap();
        assert_eq!(names(&dest), ["a"], "files of the old set do not linger");
        assert_eq!(std::fs::read_to_string(dest.join("a")).unwrap(), "2");
        assert_eq!(names(root.path()), [".night.lock", "night"]);
    }

    #[test]
    fn an_unpublished_stage_leaves_the_previous_directory() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("night");
        let s = StagedDir::create(&dest).unwrap();
        std::fs::write(s.path().join("a"), "1").unwrap();
        s.publish().unwrap();
        let s = StagedDir::create(&dest).unwrap();
        std::fs::write(s.path().join("a"), "2").unwrap();
        drop(s);
        assert_eq!(std::fs::read_to_string(dest.join("a")).unwrap(), "1");
        assert_eq!(names(root.path()), ["night"]);
    }

    #[test]
    fn orphaned_staging_directories_are_removed() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("night");
        let orphan = root.path().join(".night.staging-killed");
        std::fs::create_dir_all(&orphan).unwrap();
        std::fs::write(orphan.join("scored.parquet"), "half").unwrap();
        let s = StagedDir::create(&dest).unwrap();
        assert!(!orphan.exists());
        drop(s);
    }

    #[test]
    fn a_second_lock_is_refused_until_the_first_is_dropped() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("night");
        let first = DirLock::acquire(&dest).unwrap();
        match DirLock::acquire(&dest) {
            Err(LockError::Busy { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("expected busy, got {other:?}"),
        }
        drop(first);
        DirLock::acquire(&dest).unwrap();
    }

    #[test]
    fn a_file_in_the_way_is_an_error() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("night");
        std::fs::write(&dest, "not a directory").unwrap();
        let s = StagedDir::create(&dest).unwrap();
        assert!(s.publish().is_err());
        assert_eq!(
            std::fs::read_to_string(&dest).unwrap(),
            "not a directory",
            "left as it was"
        );
    }
}
