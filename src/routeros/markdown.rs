//! Configurations published inside Markdown (a README with ```` ```rsc ```` fences): the code
//! of the fences is the script, the prose around it is not. The text keeps its shape — every
//! byte outside a RouterOS fence becomes a space, line breaks stay — so lines, columns and
//! byte spans still point into the file as the user has it.

/// The languages a fence of RouterOS code is marked with (or none).
const ROUTEROS: &[&str] = &["", "rsc", "routeros", "mikrotik", "ros", "ros7", "console"];

/// The script of a Markdown file, and where it was mended.
pub struct Published {
    pub text: String,
    /// Byte offsets of code blocks that end inside a quoted string: each fence has been read
    /// as closing it, as the author meant each block to be pasted alone.
    pub closed_strings: Vec<usize>,
}

/// The script in `src` when it is Markdown with fenced code (at least one pair of fences);
/// `None` when it is a plain script.
pub fn script_of(src: &str) -> Option<Published> {
    let is_fence = |l: &str| l.trim_start().starts_with("```");
    if src.lines().filter(|l| is_fence(l)).count() < 2 {
        return None;
    }
    let mut out = Published {
        text: String::with_capacity(src.len()),
        closed_strings: Vec::new(),
    };
    let mut inside: Option<bool> = None;
    let mut quoted = false;
    for line in src.split_inclusive('\n') {
        if is_fence(line) {
            let blank = out.text.len();
            out.text
                .extend(line.bytes().map(|b| if b == b'\n' { '\n' } else { ' ' }));
            inside = match inside {
                Some(_) => {
                    if quoted {
                        out.text.replace_range(blank..blank + 1, "\"");
                        out.closed_strings.push(blank);
                        quoted = false;
                    }
                    None
                }
                None => {
                    let lang = line.trim().trim_start_matches('`').trim();
                    Some(ROUTEROS.contains(&lang.to_ascii_lowercase().as_str()))
                }
            };
        } else if inside == Some(true) {
            quoted = ends_quoted(line, quoted);
            out.text.push_str(line);
        } else {
            out.text
                .extend(line.bytes().map(|b| if b == b'\n' { '\n' } else { ' ' }));
        }
    }
    Some(out)
}

/// Whether a quoted string is open after `line`, given whether one was before it.
fn ends_quoted(line: &str, mut quoted: bool) -> bool {
    if !quoted && line.trim_start().starts_with('#') {
        return false;
    }
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '"' => quoted = !quoted,
            _ => {}
        }
    }
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_routeros_fences_are_kept_in_place() {
        let md = "# Setup\nRun this *first*:\n```rsc\n/ip address\nadd address=10.0.0.1/24 interface=ether2\n```\n```bash\nssh admin@router\n```\n";
        let s = script_of(md).unwrap().text;
        assert_eq!(s.len(), md.len());
        assert_eq!(s.lines().count(), md.lines().count());
        assert_eq!(s.lines().nth(3), Some("/ip address"));
        assert!(!s.contains("ssh") && !s.contains("Setup") && !s.contains("```"));
        assert!(script_of("/ip address print\n").is_none());
        // A block that leaves a string open is closed at its fence, not by the next block.
        let md = "```\nadd source=\"a\\\n    \\nb\n```\ntext\n```\nadd comment=\"c\"\n```\n";
        let p = script_of(md).unwrap();
        assert_eq!(p.closed_strings.len(), 1);
        assert_eq!(&p.text[p.closed_strings[0]..p.closed_strings[0] + 1], "\"");
    }
}
