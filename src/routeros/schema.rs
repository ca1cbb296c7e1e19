//! RouterOS 7's own command tree (`schema/menus-7.22.1.txt`, from the router's
//! `/console/inspect`): which menus exist and which commands each has. The parser asks it what
//! is a menu, so a context line under any real menu works; v6's menus that v7 dropped stay
//! known through the parser's own list.

use std::collections::HashMap;
use std::sync::OnceLock;

const TREE: &str = include_str!("schema/menus-7.22.1.txt");

/// Menu path (words joined by spaces; "" is the root) → its commands.
fn tree() -> &'static HashMap<&'static str, Vec<&'static str>> {
    static TREE_MAP: OnceLock<HashMap<&'static str, Vec<&'static str>>> = OnceLock::new();
    TREE_MAP.get_or_init(|| {
        TREE.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('\t'))
            .map(|(menu, cmds)| (menu, cmds.split(' ').filter(|c| !c.is_empty()).collect()))
            .collect()
    })
}

/// Whether RouterOS 7 has a menu at this path (words joined by spaces).
pub fn is_menu(path: &str) -> bool {
    !path.is_empty() && tree().contains_key(path)
}

/// The commands and submenus of a menu RouterOS 7 has; `None` for a menu it lacks.
pub fn children(path: &str) -> Option<Vec<&'static str>> {
    let cmds = tree().get(path)?;
    let prefix = if path.is_empty() {
        String::new()
    } else {
        format!("{path} ")
    };
    let subs = tree().keys().filter_map(|m| {
        let rest = m.strip_prefix(prefix.as_str())?;
        (!rest.is_empty() && !rest.contains(' ')).then_some(rest)
    });
    Some(cmds.iter().copied().chain(subs).collect())
}

/// Whether `word` is one of the commands of menu `path`.
pub fn is_command(path: &str, word: &str) -> bool {
    tree().get(path).is_some_and(|cmds| cmds.contains(&word))
}

/// The one submenu of `parent` whose name starts with `word` (RouterOS takes unique
/// abbreviations: `/ip fire conn`); `None` if none or several do.
pub fn expand_menu(parent: &str, word: &str) -> Option<&'static str> {
    let prefix = if parent.is_empty() {
        String::new()
    } else {
        format!("{parent} ")
    };
    let mut found = tree().keys().filter_map(|m| {
        let rest = m.strip_prefix(prefix.as_str())?;
        (!rest.contains(' ') && rest.starts_with(word)).then_some(rest)
    });
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_knows_menus_commands_and_submenus() {
        assert!(is_menu("ip firewall mangle") && is_menu("system script environment"));
        assert!(!is_menu("ip firewall mangel") && !is_menu(""));
        let fw = children("ip firewall").unwrap();
        assert!(fw.contains(&"mangle") && fw.contains(&"filter"));
        assert!(children("ip firewall mangle").unwrap().contains(&"add"));
        assert!(children("").unwrap().contains(&"foreach"));
        assert_eq!(expand_menu("ip", "fire"), Some("firewall"));
        assert_eq!(expand_menu("ip firewall", "conn"), Some("connection"));
        assert_eq!(
            expand_menu("ip firewall", "layer7"),
            Some("layer7-protocol")
        );
        assert_eq!(
            expand_menu("ip", "d"),
            None,
            "dhcp-client, dhcp-server, dns…"
        );
    }
}
