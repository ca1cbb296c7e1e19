//! Reading the files users give: a scenario, a router configuration, a sweep, a shard — or any
//! of them from standard input as `-`.
//!
//! A wrong file is told as what it is rather than as a syntax error deep inside it: a router
//! configuration (`.rsc`) where a scenario is wanted, or the reverse. Input is capped at
//! [`MAX_INPUT`] bytes, so `/dev/zero` or a multi-gigabyte log given by mistake is an error at
//! once rather than memory filling for minutes; the largest real configurations are a few
//! megabytes. A UTF-8 byte-order mark, which Windows editors put first, is read past: it is not
//! part of the text and changes nothing.

use crate::error::Error;
use std::io::Read as _;
use std::path::Path;

/// The most bytes read from one input file.
pub const MAX_INPUT: u64 = 64 << 20;

/// How errors name standard input.
pub const STDIN_NAME: &str = "<stdin>";

/// What a command wants to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wanted {
    /// A scenario (RON): the world around the router.
    Scenario,
    /// A RouterOS script or export (`.rsc`).
    Config,
    /// Any text (a sweep file, a shard, a file of commands).
    Text,
}

/// The name errors give `path`: the path, or `<stdin>` for `-`.
pub fn name(path: &Path) -> String {
    if is_stdin(path) {
        STDIN_NAME.into()
    } else {
        path.display().to_string()
    }
}

pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Reads `path` (standard input for `-`) as text of the kind wanted.
pub fn read(path: &Path, wanted: Wanted) -> Result<String, Error> {
    let file = name(path);
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match (wanted, ext.to_ascii_lowercase().as_str()) {
        (Wanted::Scenario, "rsc") => {
            return Err(Error::Invalid(format!(
                "{file} is a RouterOS configuration, not a scenario: `pccsim run {file}` runs it in a world built for it, and `pccsim init {file}` writes that world as a scenario to edit"
            )));
        }
        (Wanted::Config, "ron") => {
            return Err(Error::Invalid(format!(
                "{file} is a scenario, not a RouterOS configuration: give the .rsc it names (its `router:`)"
            )));
        }
        _ => {}
    }
    let mut bytes = Vec::new();
    let read = if is_stdin(path) {
        std::io::stdin()
            .lock()
            .take(MAX_INPUT + 1)
            .read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(MAX_INPUT + 1).read_to_end(&mut bytes))
    };
    read.map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > MAX_INPUT {
        return Err(Error::Invalid(format!(
            "{file}: more than {} MiB — not a scenario or a router configuration (is it the right file?)",
            MAX_INPUT >> 20
        )));
    }
    let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
    String::from_utf8(text.to_vec()).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = text[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        Error::Invalid(format!(
            "{file}:{line}: not UTF-8 text (byte {at} is not valid UTF-8; save the file as UTF-8)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_that_never_ends_is_refused_at_the_cap() {
        let e = read(Path::new("/dev/zero"), Wanted::Config)
            .unwrap_err()
            .to_string();
        assert!(e.contains("/dev/zero: more than 64 MiB"), "{e}");
    }

    #[test]
    fn a_byte_order_mark_is_read_past_and_the_wrong_kind_of_file_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("s.ron");
        std::fs::write(&p, b"\xef\xbb\xbfScenario()").unwrap();
        assert_eq!(read(&p, Wanted::Scenario).unwrap(), "Scenario()");
        let e = read(Path::new("a.rsc"), Wanted::Scenario)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("a.rsc is a RouterOS configuration, not a scenario"),
            "{e}"
        );
        let e = read(&p, Wanted::Config).unwrap_err().to_string();
        assert!(
            e.contains("is a scenario, not a RouterOS configuration"),
            "{e}"
        );
        std::fs::write(&p, b"ok\n\xff").unwrap();
        let e = read(&p, Wanted::Text).unwrap_err().to_string();
        assert!(e.contains("s.ron:2: not UTF-8 text"), "{e}");
    }
}
