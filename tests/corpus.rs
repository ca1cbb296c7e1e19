//! RouterOS 7.22.1 as the judge of pccsim's reader: every script of the corpus in
//! `tests/data/routeros-corpus/` (see its README) must be accepted or refused as RouterOS's own
//! `:parse` did, and a refused one at the same line. The judging router had the main package
//! alone, so the scripts are read for that router (`Packages::Main`).

use pccsim::routeros::{Packages, parse};
use std::path::{Path, PathBuf};

const CORPUS: &str = "tests/data/routeros-corpus";

fn scripts(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("the corpus is in the repository") {
        let path = entry.expect("a readable folder").path();
        if path.is_dir() {
            scripts(&path, out);
        } else if path.extension().is_some_and(|e| e == "rsc") {
            out.push(path);
        }
    }
}

/// RouterOS's verdict: `None` if it accepted the script, else the line of its error.
fn verdict(parseil: &str) -> Option<u32> {
    let at = parseil.find("(line ")?;
    let rest = &parseil[at + "(line ".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    rest[digits.len()..]
        .starts_with(" column ")
        .then(|| digits.parse().expect("a line number"))
}

#[test]
fn pccsim_reads_every_corpus_script_as_routeros_7_does() {
    let mut files = Vec::new();
    scripts(Path::new(CORPUS), &mut files);
    files.sort();
    assert_eq!(files.len(), 265, "the whole corpus is here");
    let (mut judged, mut accepted, mut refused) = (0, 0, 0);
    let mut disagreements = Vec::new();
    let mut unjudged = Vec::new();
    for file in &files {
        let name = file.strip_prefix(CORPUS).unwrap().display().to_string();
        let bytes = std::fs::read(file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let parseil = file.with_extension("rsc.v7.22.1.parseil");
        let ours = parse::parse_for(&name, &text, Packages::Main)
            .map_err(|errors| (errors[0].line, errors[0].message.clone()));
        let Ok(il) = std::fs::read(&parseil) else {
            unjudged.push((name, ours.is_ok()));
            continue;
        };
        judged += 1;
        match (verdict(&String::from_utf8_lossy(&il)), ours) {
            (None, Ok(_)) => accepted += 1,
            (Some(line), Err((ours, _))) if line == ours => refused += 1,
            (theirs, ours) => disagreements.push(format!(
                "{name}: RouterOS {}, pccsim {}",
                theirs.map_or("accepts".into(), |l| format!("refuses at line {l}")),
                match ours {
                    Ok(_) => "accepts".into(),
                    Err((l, m)) => format!("refuses at line {l}: {m}"),
                }
            )),
        }
    }
    println!("{judged} scripts judged: {accepted} accepted and {refused} refused as RouterOS does");
    assert!(
        disagreements.is_empty(),
        "{} of {judged} scripts read otherwise than RouterOS 7.22.1 reads them:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    assert_eq!(judged, 264);
    // The one script RouterOS could not be asked about (over `:parse`'s 32 KB): 1,500 plain
    // address-list lines, which pccsim reads.
    assert_eq!(
        unjudged,
        [("edge-cases/oversize-32k.rsc".to_string(), true)]
    );
}

#[test]
fn the_judging_routers_packages_matter_and_users_get_all_by_default() {
    // The corpus router lacked the wireless package; a user's router may have it.
    let text = "/interface wireless\nset [ find default-name=wlan1 ] ssid=office\n";
    let e = parse::parse_for("w.rsc", text, Packages::Main).unwrap_err();
    assert_eq!((e[0].line, e[0].column), (1, 12));
    assert!(e[0].message.contains("extra package"), "{}", e[0].message);
    parse::parse_all("w.rsc", text).unwrap();
}

/// `body` is refused (saying `says`) as a script, and read once an `/export` header from
/// `version` comes first.
fn read_only_as_an_export(body: &str, version: &str, says: &str) {
    let e = parse::parse_all("typed.rsc", body).unwrap_err();
    assert!(e[0].message.contains(says), "{}", e[0].message);
    let export = format!("# 2024-05-01 12:00:00 by RouterOS {version}\n{body}");
    parse::parse_all("export.rsc", &export).unwrap();
}

#[test]
fn a_v6_export_may_use_what_v7_dropped() {
    let body = "/tool user-manager customer add login=admin\n";
    read_only_as_an_export(body, "6.49.10", "bad command name user-manager");
    // What pccsim simulates of v6 reads in any file.
    parse::parse_all(
        "r.rsc",
        "/ip route add gateway=1.1.1.1 routing-mark=to_wan1",
    )
    .unwrap();
}

#[test]
fn an_export_is_routeros_own_writing_so_names_the_tree_lacks_are_that_routers() {
    // A device's hardware offload, absent from the CHR the tree comes from.
    let body = "/ip firewall filter\nadd action=fasttrack-connection chain=forward connection-state=established,related hw-offload=yes\n";
    read_only_as_an_export(body, "7.14.3", "no argument `hw-offload`");
    // A real matcher pccsim does not model is read with what it assumes, which check lists
    // on the rule's line; a typo of one is refused.
    let l7 = "/ip firewall filter add chain=forward action=drop layer7-protocol=games";
    let cfg = pccsim::routeros::load("l.rsc", l7).unwrap();
    let a = &cfg.assumptions[0];
    assert_eq!((a.id, a.line), ("matcher-assumed", 1));
    assert!(a.message.contains("never matches"), "{}", a.message);
    let typo = "/ip firewall filter add chain=forward action=drop layer7-protocl=games";
    let e = pccsim::routeros::load("l.rsc", typo).err().unwrap();
    assert!(
        e.message.contains("did you mean `layer7-protocol`"),
        "{}",
        e.message
    );
}
