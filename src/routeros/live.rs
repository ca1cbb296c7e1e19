//! Scripts the running router runs — netwatch's `up-script` and `down-script`, the scheduler's
//! `on-event` — through the
//! same interpreter as a configuration, against the router as it is at that moment.
//!
//! What failover scripts do is modeled: `enable`, `disable`, `set … disabled=` and `remove` of
//! routes, firewall rules and address-list entries; `add` of address-list entries; `remove` of
//! connections (`/ip firewall connection remove [find connection-mark=…]`). `find`, `print`,
//! `:log`, `:put`, variables and control flow work as in any script, and `/system script run`
//! runs a stored script's source. Other changes are refused
//! with the line and column, so a script never silently does less than it says. The router then
//! rebuilds its rule indexes, address lists and routes; connections and probe states stay.

use super::interp::{Interpreter, Invocation, Menus, Props};
use super::value::Value;
use crate::error::SourceError;
use crate::router::Router;

struct Live<'r> {
    router: &'r mut Router,
    file: &'r str,
    src: &'r str,
    changed: bool,
    /// How many `/system script run` deep this runs.
    depth: u8,
}

/// Runs `src` (named `file` in errors) on `router`.
pub fn run_script(router: &mut Router, file: &str, src: &str) -> Result<(), SourceError> {
    run_script_with(router, file, src, Vec::new())
}

/// [`run_script`] with variables the caller sets (a DHCP client's `$bound`).
pub fn run_script_with(
    router: &mut Router,
    file: &str,
    src: &str,
    vars: Vec<(String, super::value::Value)>,
) -> Result<(), SourceError> {
    let script = super::parse::parse_any(file, src)?;
    let mut live = Live {
        router,
        file,
        src,
        changed: false,
        depth: 0,
    };
    let mut interp = Interpreter::new(file, src, &mut live);
    interp.undeclared_ok = true;
    for (name, value) in vars {
        interp.define(name, value);
    }
    let result = interp.run(&script.stmts);
    if live.changed {
        live.router.reconfigure();
    }
    result.map(drop)
}

/// Which collection of the router's configuration a menu is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Route,
    Mangle,
    Nat,
    Filter,
    AddressList,
    Connection,
}

impl Target {
    fn of(menu: &str) -> Option<Target> {
        Some(match menu {
            "ip route" => Target::Route,
            "ip firewall mangle" => Target::Mangle,
            "ip firewall nat" => Target::Nat,
            "ip firewall filter" => Target::Filter,
            "ip firewall address-list" => Target::AddressList,
            "ip firewall connection" => Target::Connection,
            _ => return None,
        })
    }
}

impl Live<'_> {
    fn err(&self, inv: &Invocation, msg: impl Into<String>) -> SourceError {
        SourceError::new(self.file, self.src, inv.span.0, inv.span.1, msg)
    }

    /// The items a command names: ids (`*3`), numbers or `numbers=`, as the rows number them.
    fn targets(&self, inv: &Invocation, menu: &str) -> Result<Vec<u32>, SourceError> {
        let rows = crate::inspect::menu_items(self.router, menu).unwrap_or_default();
        let Some(arg) = inv
            .args
            .iter()
            .find(|a| a.key.is_none() || a.key.as_deref() == Some("numbers"))
        else {
            return Err(self.err(inv, "expected which items, by number or [ find … ]"));
        };
        let rows: Vec<(u32, Option<&str>)> = rows
            .iter()
            .map(|(id, props)| {
                let name = props.iter().find(|(k, _)| k == "name");
                (*id, name.map(|(_, v)| v.as_str()))
            })
            .collect();
        super::value::numbered_items(&arg.text, &rows)
            .map_err(|part| self.err(inv, format!("no such item `{part}`")))
    }

    fn set_disabled(&mut self, target: Target, id: u32, disabled: bool) {
        let i = id as usize - 1;
        let cfg = self.router.config_mut();
        match target {
            // Rows past the configured routes are connected routes, which cannot be disabled.
            Target::Route => {
                if let Some(r) = cfg.routes.get_mut(i) {
                    r.disabled = disabled;
                }
            }
            Target::Mangle => cfg.mangle.rules[i].disabled = disabled,
            Target::Nat => cfg.nat.rules[i].disabled = disabled,
            Target::Filter => cfg.filter.rules[i].disabled = disabled,
            // Rows past the configured entries are dynamic ones rules added: never disabled.
            Target::AddressList => {
                if let Some(e) = cfg.address_list_entries.get_mut(i) {
                    e.disabled = disabled;
                }
            }
            Target::Connection => {}
        }
        self.changed = true;
    }

    /// Removes items, highest first so the others keep their place.
    fn remove(&mut self, target: Target, mut ids: Vec<u32>) {
        ids.sort_unstable_by(|a, b| b.cmp(a));
        for id in ids {
            let i = id as usize - 1;
            if target == Target::Connection {
                self.router.conntrack.remove(i as u32);
                continue;
            }
            let configured = self.router.config.address_list_entries.len();
            if target == Target::AddressList && i >= configured {
                self.router.remove_dynamic_entry(i - configured);
                continue;
            }
            let cfg = self.router.config_mut();
            match target {
                Target::Route if i < cfg.routes.len() => drop(cfg.routes.remove(i)),
                Target::Route => {}
                Target::Mangle => drop(cfg.mangle.rules.remove(i)),
                Target::Nat => drop(cfg.nat.rules.remove(i)),
                Target::Filter => drop(cfg.filter.rules.remove(i)),
                Target::AddressList => drop(cfg.address_list_entries.remove(i)),
                Target::Connection => {}
            }
        }
        self.changed |= target != Target::Connection;
    }

    /// `/system script run NAME`: the script's source, run here, a few levels deep at most.
    fn run_named(&mut self, inv: &Invocation) -> Result<(), SourceError> {
        const MAX_DEPTH: u8 = 8;
        let name = inv
            .args
            .iter()
            .find(|a| a.key.is_none() || a.key.as_deref() == Some("number"))
            .map(|a| a.text.clone())
            .ok_or_else(|| self.err(inv, "expected the name of a /system script"))?;
        let source = crate::router::scheduler::script_source(&self.router.config, &name)
            .ok_or_else(|| self.err(inv, format!("no /system script named `{name}`")))?
            .to_string();
        if self.depth >= MAX_DEPTH {
            return Err(self.err(inv, "scripts run each other too deeply"));
        }
        let script = super::parse::parse_any(&name, &source)?;
        let mut nested = Live {
            router: &mut *self.router,
            file: &name,
            src: &source,
            changed: false,
            depth: self.depth + 1,
        };
        let mut interp = Interpreter::new(&name, &source, &mut nested);
        interp.undeclared_ok = true;
        interp.run(&script.stmts)?;
        self.changed |= nested.changed;
        Ok(())
    }

    fn add_address(&mut self, inv: &Invocation) -> Result<(), SourceError> {
        let (mut list, mut range, mut comment) = (None, None, None);
        for a in &inv.args {
            match a.key.as_deref() {
                Some("list") => list = Some(a.text.clone()),
                Some("address") => {
                    let r = crate::router::firewall::AddrRange::parse(&a.text)
                        .map_err(|e| self.err(inv, e))?;
                    range = Some(r);
                }
                Some("comment") => comment = Some(a.text.clone()),
                Some("timeout" | "dynamic" | "disabled") => {}
                _ => return Err(self.err(inv, "expected list=, address= and comment=")),
            }
        }
        let (Some(list), Some(range)) = (list, range) else {
            return Err(self.err(inv, "expected list= and address="));
        };
        if let Some(l) = self.router.config.address_lists.find(&list)
            && self.router.config.has_address_list_entry(l, range)
        {
            return Err(self.err(inv, "failure: already have such entry"));
        }
        let cfg = self.router.config_mut();
        let list = cfg.address_lists.intern(&list);
        cfg.address_list_entries
            .push(crate::router::config::AddressListEntry {
                list,
                range,
                disabled: false,
                comment: comment.map(|c| c.into_owned()),
                line: 0,
            });
        self.changed = true;
        Ok(())
    }
}

impl Menus for Live<'_> {
    fn items(&self, menu: &str) -> Option<Vec<(u32, Props)>> {
        crate::inspect::menu_items(self.router, menu)
    }

    fn command(&mut self, inv: &Invocation) -> Result<Value, SourceError> {
        let menu = inv.menu();
        if menu == "system script" && inv.verb == "run" {
            return self.run_named(inv).map(|()| Value::Nothing);
        }
        let Some(target) = Target::of(&menu) else {
            return Ok(Value::Nothing); // a menu the simulation does not model: no effect
        };
        match (inv.verb, target) {
            ("print" | "find" | "get", _) => Ok(Value::Nothing),
            ("enable" | "disable", Target::Connection) => {
                Err(self.err(inv, "connections cannot be enabled or disabled"))
            }
            ("enable" | "disable", _) => {
                for id in self.targets(inv, &menu)? {
                    self.set_disabled(target, id, inv.verb == "disable");
                }
                Ok(Value::Nothing)
            }
            ("set", _) => {
                let Some(value) = inv.arg("disabled").map(|a| a.text.clone()) else {
                    return Err(
                        self.err(inv, "a script may only set disabled= on a running router")
                    );
                };
                if inv.args.iter().any(|a| {
                    a.key
                        .as_deref()
                        .is_some_and(|k| !matches!(k, "disabled" | "numbers"))
                }) {
                    return Err(
                        self.err(inv, "a script may only set disabled= on a running router")
                    );
                }
                let disabled = matches!(value.as_ref(), "yes" | "true");
                for id in self.targets(inv, &menu)? {
                    self.set_disabled(target, id, disabled);
                }
                Ok(Value::Nothing)
            }
            ("remove", _) => {
                let ids = self.targets(inv, &menu)?;
                self.remove(target, ids);
                Ok(Value::Nothing)
            }
            ("add", Target::AddressList) => self.add_address(inv).map(|()| Value::Nothing),
            (verb, _) => Err(self.err(
                inv,
                format!("`{verb}` on /{menu} is not simulated on a running router"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(src: &str) -> Router {
        Router::new(crate::routeros::load("t.rsc", src).unwrap())
    }

    const CONFIG: &str = "/ip address add address=192.168.1.2/24 interface=ether1
/ip address add address=192.168.2.2/24 interface=ether2
/ip route add gateway=192.168.1.1 distance=1 comment=WAN1
/ip route add gateway=192.168.2.1 distance=2 comment=WAN2
/ip firewall address-list add list=WAN1_up address=192.168.1.2
";

    #[test]
    fn failover_scripts_change_routes_and_address_lists_on_the_running_router() {
        let mut r = router(CONFIG);
        let dst = "93.184.216.34".parse().unwrap();
        let main = crate::router::firewall::TableId::MAIN;
        assert_eq!(r.fib.lookup(main, dst).unwrap().iface, 0);
        run_script(&mut r, "down", "/ip route disable [find comment=\"WAN1\"]").unwrap();
        assert_eq!(
            r.fib.lookup(main, dst).unwrap().iface,
            1,
            "traffic moved to WAN2"
        );
        run_script(
            &mut r,
            "list",
            "/ip firewall address-list disable [find list=WAN1_up]",
        )
        .unwrap();
        assert!(r.config.address_list_entries[0].disabled);
        run_script(
            &mut r,
            "up",
            ":foreach i in=[/ip route find comment~\"WAN\"] do={ /ip route set $i disabled=no }",
        )
        .unwrap();
        assert_eq!(r.fib.lookup(main, dst).unwrap().iface, 0, "and back");
    }

    #[test]
    fn a_script_runs_a_stored_script_by_name() {
        let config = format!(
            "{CONFIG}/system script add name=to-wan2 source=\"/ip route disable [find comment=WAN1]\"\n"
        );
        let mut r = router(&config);
        run_script(&mut r, "s", "/system script run to-wan2").unwrap();
        assert!(r.config.routes[0].disabled);
        let e = run_script(&mut r, "s", "/system script run nope").unwrap_err();
        assert!(
            e.to_string().contains("no /system script named `nope`"),
            "{e}"
        );
        let looping =
            format!("{CONFIG}/system script add name=me source=\"/system script run me\"\n");
        let mut r = router(&looping);
        let e = run_script(&mut r, "s", "/system script run me").unwrap_err();
        assert!(e.to_string().contains("too deeply"), "{e}");
    }

    #[test]
    fn an_address_list_entry_that_exists_is_refused_as_routeros_refuses_it() {
        let mut r = router(CONFIG);
        let e = run_script(
            &mut r,
            "s",
            "/ip firewall address-list add list=WAN1_up address=192.168.1.2",
        )
        .unwrap_err();
        assert!(e.to_string().contains("already have such entry"), "{e}");
        let twice =
            format!("{CONFIG}/ip firewall address-list add list=WAN1_up address=192.168.1.2\n");
        let e = crate::routeros::load("t.rsc", &twice).unwrap_err();
        assert!(e.to_string().contains("t.rsc:6"), "{e}");
    }

    #[test]
    fn disabled_routes_print_with_their_x_flag() {
        let mut r = router(CONFIG);
        run_script(&mut r, "down", "/ip route disable [find comment=\"WAN1\"]").unwrap();
        let rows = crate::inspect::menu_items(&r, "ip route").unwrap();
        let flags = |i: usize| {
            rows[i]
                .1
                .iter()
                .find(|(k, _)| k == "flags")
                .unwrap()
                .1
                .clone()
        };
        assert_eq!((flags(0).as_str(), flags(1).as_str()), ("XS", "AS"));
    }

    #[test]
    fn what_a_running_router_cannot_do_is_an_error_with_its_place() {
        let mut r = router(CONFIG);
        let e =
            run_script(&mut r, "s", "/ip route set [find comment=WAN1] distance=5").unwrap_err();
        assert!(
            e.to_string().contains("s:1:1") && e.to_string().contains("disabled="),
            "{e}"
        );
        let e = run_script(&mut r, "s", "/ip route remove 9").unwrap_err();
        assert!(e.to_string().contains("no such item"), "{e}");
    }
}
