//! The results folder, handled so that pccsim can never destroy a user's work nor lose its own.
//!
//! pccsim writes only into a folder that is new, empty, or marked by an earlier run of the same
//! command (a `.pccsim` file saying which command wrote it and listing the files it wrote). In
//! a marked folder it replaces and removes only the files the marker lists; anything else in it
//! is left alone, a file of the user's that has the name of an output is a refusal, not an
//! overwrite, and `compare` into a folder `run` wrote is refused rather than replacing the
//! run's results. Everything is decided in [`ResultsFolder::claim`], before the simulation
//! starts, and the staging folder is created then too, so an unwritable destination fails at
//! once.
//!
//! One pccsim at a time writes a folder: `claim` takes a lock beside it (`.NAME.pccsim-lock`,
//! made with `O_EXCL`, holding the process id), so a second run into the same `--out` is
//! refused with the first's process id instead of both saying "results in …" and one result
//! being lost. The lock and the unfinished files of a process that died are cleared by the
//! next claim; those of one stopped by Ctrl-C or SIGTERM are removed at once
//! ([`clean_up_on_signal`]), and those of one that fails, when its `ResultsFolder` drops unpublished.
//!
//! Files are written into a hidden staging folder beside the destination and published when
//! all are complete: a new folder appears whole by one rename; a folder holding only an earlier
//! run's files is exchanged with the staging folder in one atomic step (Linux's
//! `renameat2(RENAME_EXCHANGE)`), so readers see the old results or the new, never a mix; only
//! where the user keeps files of their own in it (or the system cannot exchange) are the files
//! renamed over their predecessors one by one, each atomically.

use crate::error::{Error, plain_io as plain};
use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The marker: its presence says pccsim made the folder; its lines name the command that wrote
/// it and the files it wrote.
pub const MARKER: &str = ".pccsim";
const MARKER_HEADER: &str =
    "# written by pccsim: the files below are its results and may be replaced by its next run\n";
const KIND_LINE: &str = "# command: ";

/// The command whose results a folder holds: a folder is only ever rewritten by its own kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `pccsim run`.
    Run,
    /// `pccsim compare`, `sweep` or `merge`: a comparison.
    Compare,
    /// A shard of a comparison (`--shard`), for `merge`.
    Shard,
    /// `pccsim lesson`.
    Lesson,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Run => "run",
            Kind::Compare => "compare",
            Kind::Shard => "shard",
            Kind::Lesson => "lesson",
        }
    }

    fn of_name(name: &str) -> Option<Kind> {
        [Kind::Run, Kind::Compare, Kind::Shard, Kind::Lesson]
            .into_iter()
            .find(|k| k.name() == name)
    }

    /// A marker written before markers named their command: told by the files it lists.
    fn guessed(files: &BTreeSet<String>) -> Option<Kind> {
        if files.contains("summary.json") {
            Some(Kind::Run)
        } else if files.contains("comparison.json") {
            Some(Kind::Compare)
        } else if files.iter().any(|f| f.starts_with("shard-")) {
            Some(Kind::Shard)
        } else {
            None
        }
    }
}

/// The staging folders and locks of folders being written, for [`clean_up_on_signal`].
static LIVE: Mutex<Vec<(PathBuf, PathBuf)>> = Mutex::new(Vec::new());

/// Removes the unfinished results and locks of this process when Ctrl-C, SIGTERM or SIGHUP
/// stops it, says so, and exits with 130 (143 would need the signal's number, which the
/// handler is not told). Call once, early in `main`.
pub fn clean_up_on_signal() {
    let _ = ctrlc::set_handler(|| {
        let live = LIVE.lock().map(|l| l.clone()).unwrap_or_default();
        for (staging, lock) in &live {
            let _ = std::fs::remove_dir_all(staging);
            let _ = std::fs::remove_file(lock);
        }
        if !live.is_empty() {
            eprintln!("interrupted: unfinished results removed; nothing was published");
        }
        std::process::exit(130);
    });
}

fn register(staging: &Path, lock: &Path) {
    if let Ok(mut live) = LIVE.lock() {
        live.push((staging.to_path_buf(), lock.to_path_buf()));
    }
}

fn unregister(staging: &Path) {
    if let Ok(mut live) = LIVE.lock() {
        live.retain(|(s, _)| s != staging);
    }
}

/// A destination checked, locked and reserved for a run's files.
#[derive(Debug)]
pub struct ResultsFolder {
    dir: PathBuf,
    staging: PathBuf,
    lock: PathBuf,
    kind: Kind,
    /// Files an earlier run wrote here (from its marker); empty for a new folder.
    previous: BTreeSet<String>,
    /// The folder did not exist: the staging folder becomes it by one rename.
    fresh: bool,
    /// Published or cleaned up: nothing left to do.
    done: bool,
}

impl ResultsFolder {
    /// Checks that `dir` may receive files named `outputs` from a command of `kind`, locks it,
    /// and creates the staging folder.
    pub fn claim(dir: &Path, kind: Kind, outputs: &[String]) -> Result<ResultsFolder, Error> {
        let refuse = |why: String| Error::Invalid(format!("--out {}: {why}", dir.display()));
        let (name, parent) = sibling_parts(dir);
        std::fs::create_dir_all(&parent)
            .map_err(|e| refuse(format!("cannot write there: {}", plain(&e))))?;
        let lock = parent.join(format!(".{name}.pccsim-lock"));
        take_lock(&lock, &parent, &name, dir).map_err(refuse)?;
        let checked = check_destination(dir, kind, outputs);
        let staging = parent.join(format!(".{name}.pccsim-partial-{}", std::process::id()));
        let made = checked.and_then(|(fresh, previous)| {
            std::fs::create_dir(&staging)
                .map_err(|e| format!("cannot write there: {}", plain(&e)))?;
            Ok((fresh, previous))
        });
        let (fresh, previous) = match made {
            Ok(x) => x,
            Err(why) => {
                let _ = std::fs::remove_file(&lock);
                return Err(refuse(why));
            }
        };
        register(&staging, &lock);
        Ok(ResultsFolder {
            dir: dir.to_path_buf(),
            staging,
            lock,
            kind,
            previous,
            fresh,
            done: false,
        })
    }

    /// Claims `dir`, lets `fill` write the files into the staging folder, and publishes them
    /// if it succeeds; if it fails, nothing is published and the staging folder goes.
    pub fn write<T>(
        dir: &Path,
        kind: Kind,
        outputs: &[String],
        fill: impl FnOnce(&ResultsFolder) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let folder = ResultsFolder::claim(dir, kind, outputs)?;
        let value = fill(&folder)?;
        folder.publish()?;
        Ok(value)
    }

    /// Where the run writes its files until [`ResultsFolder::publish`].
    pub fn staging(&self) -> &Path {
        &self.staging
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Moves the staged files into place, removes files of the previous run that this one did
    /// not write, and marks the folder.
    pub fn publish(mut self) -> Result<(), Error> {
        let result = self.publish_files();
        self.clean_up();
        result.map_err(|e| {
            Error::Invalid(format!(
                "--out {}: cannot move the results into place: {}",
                self.dir.display(),
                plain(&e)
            ))
        })
    }

    fn publish_files(&self) -> io::Result<()> {
        let written = staged_files(&self.staging)?;
        std::fs::write(self.staging.join(MARKER), marker_text(self.kind, &written))?;
        if self.fresh {
            return std::fs::rename(&self.staging, &self.dir);
        }
        if only_ours(&self.dir, &self.previous)? && exchange(&self.staging, &self.dir).is_ok() {
            // The old results are now in the staging folder: remove what the marker listed
            // there, and move back anything that appeared since the claim.
            for name in self.previous.iter().map(String::as_str).chain([MARKER]) {
                remove_if_there(&self.staging.join(name))?;
            }
            for late in staged_files(&self.staging)? {
                let to = self.dir.join(&late);
                if !to.exists() {
                    std::fs::rename(self.staging.join(&late), to)?;
                }
            }
            return Ok(());
        }
        for name in written.iter().map(String::as_str).chain([MARKER]) {
            std::fs::rename(self.staging.join(name), self.dir.join(name))?;
        }
        for stale in self.previous.difference(&written) {
            remove_if_there(&self.dir.join(stale))?;
        }
        Ok(())
    }

    fn clean_up(&mut self) {
        if !self.done {
            self.done = true;
            // After a publish by rename or exchange, what is left here is ours alone.
            let _ = std::fs::remove_dir_all(&self.staging);
            let _ = std::fs::remove_file(&self.lock);
            unregister(&self.staging);
        }
    }
}

impl Drop for ResultsFolder {
    fn drop(&mut self) {
        self.clean_up();
    }
}

/// The folder's name and the folder it is in, where the lock and staging folder go.
fn sibling_parts(dir: &Path) -> (String, PathBuf) {
    let name = dir
        .file_name()
        .map_or("results".into(), |n| n.to_string_lossy().into_owned());
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    (name, parent)
}

/// Takes the folder's lock, clearing that of a process that no longer runs (with its
/// unfinished files); refuses while a live one holds it.
fn take_lock(lock: &Path, parent: &Path, name: &str, dir: &Path) -> Result<(), String> {
    for _ in 0..3 {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(lock)
        {
            Ok(mut f) => {
                use std::io::Write as _;
                let _ = writeln!(f, "{}", std::process::id());
                return Ok(());
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let holder = std::fs::read_to_string(lock)
                    .ok()
                    .and_then(|t| t.trim().parse::<u32>().ok());
                match holder {
                    Some(pid) if alive(pid) => {
                        return Err(format!(
                            "another pccsim (process {pid}) is writing results there; wait for it to finish or give another --out"
                        ));
                    }
                    _ => {
                        if let Some(pid) = holder {
                            let partial = parent.join(format!(".{name}.pccsim-partial-{pid}"));
                            let _ = std::fs::remove_dir_all(&partial);
                            let _ =
                                std::fs::remove_dir_all(dir.join(format!(".pccsim-partial-{pid}")));
                        }
                        let _ = std::fs::remove_file(lock);
                        eprintln!(
                            "note: cleared what an interrupted pccsim{} left unfinished beside {}",
                            holder.map_or(String::new(), |p| format!(" (process {p})")),
                            dir.display()
                        );
                    }
                }
            }
            Err(e) => return Err(format!("cannot write there: {}", plain(&e))),
        }
    }
    Err("its lock is taken and released over and over; try again".into())
}

/// Whether process `pid` still runs (where that cannot be asked: assume it does).
fn alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        // SAFETY: signal 0 sends nothing; it only asks whether the process exists.
        let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
        r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// Whether `dir` holds nothing but the files its marker lists (and the marker).
fn only_ours(dir: &Path, previous: &BTreeSet<String>) -> io::Result<bool> {
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name != MARKER && !previous.contains(&name) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Swaps two folders in one step.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt as _;
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(io::Error::other);
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: both paths are valid NUL-terminated strings for the call's duration.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

fn remove_if_there(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Whether the destination may take `outputs` of `kind`: `(fresh, files of the earlier run)`.
fn check_destination(
    dir: &Path,
    kind: Kind,
    outputs: &[String],
) -> Result<(bool, BTreeSet<String>), String> {
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok((true, BTreeSet::new())),
        Err(e) => Err(plain(&e)),
        Ok(m) if !m.is_dir() => Err(
            "a file of that name exists; give a folder that is new or that an earlier pccsim run wrote".into(),
        ),
        Ok(_) => {
            let (written_by, previous) = previous_outputs(dir).map_err(|e| plain(&e))?;
            if let Some(other) = written_by.filter(|k| *k != kind) {
                return Err(format!(
                    "it holds the results of `pccsim {}`, which `pccsim {}` would replace; give another --out",
                    other.name(),
                    kind.name()
                ));
            }
            check_existing(dir, &previous, outputs)?;
            Ok((false, previous))
        }
    }
}

/// The command a marker names and the files it lists (none without a marker).
fn previous_outputs(dir: &Path) -> io::Result<(Option<Kind>, BTreeSet<String>)> {
    match std::fs::read_to_string(dir.join(MARKER)) {
        Ok(text) => {
            let files: BTreeSet<String> = text
                .lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty())
                .filter(|l| is_plain_name(l))
                .map(str::to_string)
                .collect();
            let kind = (text.lines())
                .find_map(|l| Kind::of_name(l.strip_prefix(KIND_LINE)?.trim()))
                .or_else(|| Kind::guessed(&files));
            Ok((kind, files))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok((None, BTreeSet::new())),
        Err(e) => Err(e),
    }
}

/// A marker names files in its own folder only: a tampered marker cannot point elsewhere.
fn is_plain_name(name: &str) -> bool {
    !name.contains(['/', '\\']) && name != "." && name != ".." && name != MARKER
}

fn check_existing(
    dir: &Path,
    previous: &BTreeSet<String>,
    outputs: &[String],
) -> Result<(), String> {
    let marked = dir.join(MARKER).is_file();
    let entries: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| plain(&e))?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if !marked && !entries.is_empty() {
        let mut sample: Vec<&String> = entries.iter().collect();
        sample.sort();
        let shown: Vec<String> = sample.iter().take(3).map(|s| format!("`{s}`")).collect();
        return Err(format!(
            "the folder holds files pccsim did not write ({}{}); pccsim writes only into a new folder, an empty one, or one an earlier run marked — give another --out (results of a pccsim older than 0.2 are unmarked: remove them yourself)",
            shown.join(", "),
            if entries.len() > 3 { ", …" } else { "" }
        ));
    }
    for name in outputs {
        if entries.contains(name) && !previous.contains(name) {
            return Err(format!(
                "`{name}` there was not written by pccsim and would be replaced; move it or give another --out"
            ));
        }
    }
    Ok(())
}

fn staged_files(staging: &Path) -> io::Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(staging)? {
        names.insert(entry?.file_name().to_string_lossy().into_owned());
    }
    Ok(names)
}

fn marker_text(kind: Kind, files: &BTreeSet<String>) -> String {
    let mut text = format!("{MARKER_HEADER}{KIND_LINE}{}\n", kind.name());
    for f in files {
        text.push_str(f);
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn run_into(dir: &Path, files: &[&str]) -> Result<(), Error> {
        let folder = ResultsFolder::claim(dir, Kind::Run, &names(files))?;
        for f in files {
            std::fs::write(folder.staging().join(f), "new").unwrap();
        }
        folder.publish()
    }

    #[test]
    fn a_new_folder_appears_whole_and_marked() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        run_into(&dir, &["summary.json"]).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("summary.json")).unwrap(),
            "new"
        );
        assert!(dir.join(MARKER).is_file());
        // Nothing else was left beside it.
        let left: Vec<_> = std::fs::read_dir(tmp.path().join("a")).unwrap().collect();
        assert_eq!(left.len(), 1);
    }

    #[test]
    fn a_folder_with_other_files_is_refused_before_anything_is_written() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("scenario.ron"), "mine").unwrap();
        let e = ResultsFolder::claim(tmp.path(), Kind::Run, &names(&["summary.json"])).unwrap_err();
        assert!(e.to_string().contains("`scenario.ron`"), "{e}");
        let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
        assert_eq!(left.len(), 1);
    }

    #[test]
    fn a_rerun_keeps_the_users_files_and_drops_its_own_stale_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("res");
        run_into(&dir, &["summary.json", "connections.csv"]).unwrap();
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        run_into(&dir, &["summary.json"]).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
            "mine"
        );
        assert!(!dir.join("connections.csv").exists());
        let marker = std::fs::read_to_string(dir.join(MARKER)).unwrap();
        assert!(marker.ends_with("\nsummary.json\n"), "{marker}");
        assert!(
            !std::fs::read_dir(&dir)
                .unwrap()
                .any(|e| { e.unwrap().file_name().to_string_lossy().contains("partial") })
        );
    }

    #[test]
    fn a_users_file_with_an_outputs_name_is_not_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("res");
        run_into(&dir, &["summary.json"]).unwrap();
        std::fs::write(dir.join("WAN1.pcap"), "mine").unwrap();
        let e = run_into(&dir, &["summary.json", "WAN1.pcap"]).unwrap_err();
        assert!(e.to_string().contains("`WAN1.pcap`"), "{e}");
        assert_eq!(
            std::fs::read_to_string(dir.join("WAN1.pcap")).unwrap(),
            "mine"
        );
    }

    #[test]
    fn a_file_or_an_unwritable_place_is_refused_with_the_users_path() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let e = ResultsFolder::claim(&file, Kind::Run, &[])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(&format!("--out {}:", file.display())), "{e}");
        let e = ResultsFolder::claim(Path::new("/proc/x"), Kind::Run, &[])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--out /proc/x: cannot write there"), "{e}");
        assert!(!e.contains("partial") && !e.contains("os error"), "{e}");
    }

    #[test]
    fn a_tampered_marker_cannot_name_files_elsewhere() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("res");
        run_into(&dir, &["summary.json"]).unwrap();
        std::fs::write(tmp.path().join("precious"), "mine").unwrap();
        std::fs::write(dir.join(MARKER), "../precious\nsummary.json\n").unwrap();
        run_into(&dir, &["summary.json"]).unwrap();
        assert!(tmp.path().join("precious").exists());
    }

    #[test]
    fn a_second_writer_is_refused_while_the_first_holds_the_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("race");
        let first = ResultsFolder::claim(&dir, Kind::Run, &names(&["summary.json"])).unwrap();
        let e = ResultsFolder::claim(&dir, Kind::Run, &names(&["summary.json"]))
            .unwrap_err()
            .to_string();
        let me = std::process::id();
        assert!(e.contains(&format!("another pccsim (process {me})")), "{e}");
        drop(first);
        // Dropped unpublished: its staging folder and lock are gone, and the folder is free.
        let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
        run_into(&dir, &["summary.json"]).unwrap();
    }

    #[test]
    fn what_a_dead_process_left_unfinished_is_cleared_by_the_next_claim() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("res");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        std::fs::write(tmp.path().join(".res.pccsim-lock"), format!("{dead}\n")).unwrap();
        let partial = tmp.path().join(format!(".res.pccsim-partial-{dead}"));
        std::fs::create_dir(&partial).unwrap();
        std::fs::write(partial.join("WAN1.pcap"), vec![0u8; 1024]).unwrap();
        run_into(&dir, &["summary.json"]).unwrap();
        assert!(!partial.exists());
        let left: Vec<String> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["res"]);
    }

    #[test]
    fn a_folder_another_command_wrote_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("res");
        run_into(&dir, &["summary.json"]).unwrap();
        let e = ResultsFolder::claim(&dir, Kind::Compare, &names(&["comparison.json"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("the results of `pccsim run`"), "{e}");
        assert!(dir.join("summary.json").exists());
        // A marker from before markers named their command is told by its files.
        std::fs::write(dir.join(MARKER), "# written by pccsim\nsummary.json\n").unwrap();
        assert!(ResultsFolder::claim(&dir, Kind::Compare, &[]).is_err());
    }

    #[test]
    fn a_rerun_replaces_the_whole_folder_at_once_and_keeps_a_file_added_meanwhile() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("res");
        run_into(&dir, &["summary.json", "old.csv"]).unwrap();
        let folder = ResultsFolder::claim(&dir, Kind::Run, &names(&["summary.json"])).unwrap();
        std::fs::write(folder.staging().join("summary.json"), "second").unwrap();
        // The user drops a file in while the run goes on.
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        folder.publish().unwrap();
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
        assert_eq!(read("summary.json"), "second");
        assert_eq!(read("notes.txt"), "mine");
        assert!(!dir.join("old.csv").exists());
        assert!(read(MARKER).contains("# command: run\n"));
        let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no staging folder or lock left");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_folder_of_its_own_results_is_exchanged_whole_for_the_new_one() {
        use std::os::unix::fs::MetadataExt as _;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("res");
        run_into(&dir, &["summary.json", "old.csv"]).unwrap();
        let before = std::fs::metadata(&dir).unwrap().ino();
        let folder = ResultsFolder::claim(&dir, Kind::Run, &names(&["summary.json"])).unwrap();
        let staged = std::fs::metadata(folder.staging()).unwrap().ino();
        std::fs::write(folder.staging().join("summary.json"), "second").unwrap();
        folder.publish().unwrap();
        // The staging folder itself is now the results folder: one step, never a mix.
        assert_eq!(std::fs::metadata(&dir).unwrap().ino(), staged);
        assert_ne!(staged, before);
        assert_eq!(
            std::fs::read_to_string(dir.join("summary.json")).unwrap(),
            "second"
        );
        assert!(!dir.join("old.csv").exists());
        let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
        assert_eq!(left.len(), 1);
    }
}
