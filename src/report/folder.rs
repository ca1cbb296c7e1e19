//! The results folder, handled so that pccsim can never destroy a user's work.
//!
//! pccsim writes only into a folder that is new, empty, or marked by an earlier run (a `.pccsim`
//! file listing the files that run wrote). In a marked folder it replaces and removes only the
//! files the marker lists; anything else in it is left alone, and a file of the user's that has
//! the name of an output is a refusal, not an overwrite. Everything is decided in
//! [`ResultsFolder::claim`], before the simulation starts, and the staging folder is created
//! then too, so an unwritable destination fails at once.
//!
//! Files are written into a hidden staging folder and moved into place only when all are
//! complete: a new folder appears whole by one rename; in a folder that exists, each file is
//! renamed over its predecessor, which is atomic per file.

use crate::error::{Error, plain_io as plain};
use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

/// The marker: its presence says pccsim made the folder; its lines name the files it wrote.
pub const MARKER: &str = ".pccsim";
const MARKER_HEADER: &str =
    "# written by pccsim: the files below are its results and may be replaced by its next run\n";

/// A destination checked and reserved for a run's files.
#[derive(Debug)]
pub struct ResultsFolder {
    dir: PathBuf,
    staging: PathBuf,
    /// Files an earlier run wrote here (from its marker); empty for a new folder.
    previous: BTreeSet<String>,
    /// The folder did not exist: the staging folder becomes it by one rename.
    fresh: bool,
}

impl ResultsFolder {
    /// Checks that `dir` may receive files named `outputs`, and creates the staging folder.
    pub fn claim(dir: &Path, outputs: &[String]) -> Result<ResultsFolder, Error> {
        let refuse = |why: String| Error::Invalid(format!("--out {}: {why}", dir.display()));
        let (fresh, previous) = match std::fs::metadata(dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => (true, BTreeSet::new()),
            Err(e) => return Err(refuse(plain(&e))),
            Ok(m) if !m.is_dir() => {
                return Err(refuse(
                    "a file of that name exists; give a folder that is new or that an earlier pccsim run wrote".into(),
                ));
            }
            Ok(_) => (false, previous_outputs(dir).map_err(|e| refuse(plain(&e)))?),
        };
        if !fresh {
            check_existing(dir, &previous, outputs).map_err(refuse)?;
        }
        let staging = staging_path(dir, fresh);
        let parent = staging.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent)
            .and_then(|()| std::fs::create_dir(&staging))
            .map_err(|e| refuse(format!("cannot write there: {}", plain(&e))))?;
        Ok(ResultsFolder {
            dir: dir.to_path_buf(),
            staging,
            previous,
            fresh,
        })
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
    pub fn publish(self) -> Result<(), Error> {
        let io_err = |e: io::Error| {
            Error::Invalid(format!(
                "--out {}: cannot move the results into place: {}",
                self.dir.display(),
                plain(&e)
            ))
        };
        let written = staged_files(&self.staging).map_err(io_err)?;
        std::fs::write(self.staging.join(MARKER), marker_text(&written)).map_err(io_err)?;
        if self.fresh {
            return std::fs::rename(&self.staging, &self.dir).map_err(io_err);
        }
        for name in written.iter().map(String::as_str).chain([MARKER]) {
            std::fs::rename(self.staging.join(name), self.dir.join(name)).map_err(io_err)?;
        }
        for stale in self.previous.difference(&written) {
            match std::fs::remove_file(self.dir.join(stale)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_err(e)),
                _ => {}
            }
        }
        std::fs::remove_dir(&self.staging).map_err(io_err)
    }

    /// Removes the staging folder (pccsim made it, and nothing in it was published).
    pub fn abandon(self) {
        let _ = std::fs::remove_dir_all(&self.staging);
    }
}

fn staging_path(dir: &Path, fresh: bool) -> PathBuf {
    let tag = format!("pccsim-partial-{}", std::process::id());
    if !fresh {
        return dir.join(format!(".{tag}"));
    }
    let name = dir
        .file_name()
        .map_or("results".into(), |n| n.to_string_lossy().into_owned());
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    parent.join(format!(".{name}.{tag}"))
}

/// The files a marker lists, or `None` when the folder has no marker.
fn previous_outputs(dir: &Path) -> io::Result<BTreeSet<String>> {
    match std::fs::read_to_string(dir.join(MARKER)) {
        Ok(text) => Ok(text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter(|l| is_plain_name(l))
            .map(str::to_string)
            .collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(BTreeSet::new()),
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

fn marker_text(files: &BTreeSet<String>) -> String {
    let mut text = String::from(MARKER_HEADER);
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
        let folder = ResultsFolder::claim(dir, &names(files))?;
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
        let e = ResultsFolder::claim(tmp.path(), &names(&["summary.json"])).unwrap_err();
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
        let e = ResultsFolder::claim(&file, &[]).unwrap_err().to_string();
        assert!(e.starts_with(&format!("--out {}:", file.display())), "{e}");
        let e = ResultsFolder::claim(Path::new("/proc/x"), &[])
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
}
