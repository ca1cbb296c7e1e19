//! RouterOS's operational commands against the router as a simulation left it (`pccsim run
//! --exec`): `/ip firewall mangle print stats`, `/ip firewall connection print count-only where
//! connection-mark=WAN1_conn`, `/ip route print`, `:put "…$[…]…"`. The router is read, never
//! changed: the run is over.

use crate::error::SourceError;
use crate::router::Router;
use crate::router::config::RouterConfig;
use crate::router::conntrack::{Dir, Flags, State};
use crate::router::firewall::{IfaceId, Table};
use crate::router::netwatch::Status;
use crate::router::routing::Gateway;
use crate::routeros::export::{route_params, rule_params};
use crate::routeros::interp::{Interpreter, Invocation, Menus, Props};
use crate::routeros::value::Value;
use std::fmt::Write as _;

pub struct Inspector<'r> {
    router: &'r Router,
    file: &'r str,
    src: &'r str,
    /// What the commands printed, in order.
    pub output: Vec<String>,
}

/// Runs `src` (a RouterOS script of operational commands) against `router`; returns what it
/// printed.
pub fn exec(router: &Router, file: &str, src: &str) -> Result<Vec<String>, SourceError> {
    let script = crate::routeros::parse::parse(file, src)?;
    let mut inspector = Inspector {
        router,
        file,
        src,
        output: Vec::new(),
    };
    Interpreter::new(file, src, &mut inspector).run(&script.stmts)?;
    Ok(inspector.output)
}

fn table_of<'a>(cfg: &'a RouterConfig, menu: &str) -> Option<&'a Table> {
    match menu {
        "ip firewall mangle" => Some(&cfg.mangle),
        "ip firewall nat" => Some(&cfg.nat),
        "ip firewall filter" => Some(&cfg.filter),
        _ => None,
    }
}

fn own(params: Vec<(&'static str, String)>) -> Props {
    params.into_iter().map(|(k, v)| (k.into(), v)).collect()
}

/// `/ip firewall connection`'s rows: one per tracked connection, id = entry + 1.
fn connections(router: &Router) -> Vec<(u32, Props)> {
    let cfg = &router.config;
    router
        .conntrack
        .iter()
        .map(|(id, e)| {
            let o = e.original;
            let r = e.reply;
            let mut p = vec![
                ("protocol".into(), o.protocol.name().to_string()),
                ("src-address".into(), format!("{}:{}", o.src, o.src_port)),
                ("dst-address".into(), format!("{}:{}", o.dst, o.dst_port)),
                (
                    "reply-src-address".into(),
                    format!("{}:{}", r.src, r.src_port),
                ),
                (
                    "reply-dst-address".into(),
                    format!("{}:{}", r.dst, r.dst_port),
                ),
                (
                    "connection-mark".into(),
                    match e.connection_mark.0 {
                        0 => String::new(),
                        m => cfg.connection_marks.name(m).to_string(),
                    },
                ),
                (
                    "seen-reply".into(),
                    if e.has(Flags::SEEN_REPLY) {
                        "yes"
                    } else {
                        "no"
                    }
                    .into(),
                ),
                (
                    "fasttrack".into(),
                    if e.has(Flags::FASTTRACKED) {
                        "yes"
                    } else {
                        "no"
                    }
                    .into(),
                ),
                (
                    "orig-packets".into(),
                    e.packets[Dir::Original as usize].to_string(),
                ),
                (
                    "orig-bytes".into(),
                    e.bytes[Dir::Original as usize].to_string(),
                ),
                (
                    "repl-packets".into(),
                    e.packets[Dir::Reply as usize].to_string(),
                ),
                (
                    "repl-bytes".into(),
                    e.bytes[Dir::Reply as usize].to_string(),
                ),
            ];
            if e.state != State::Datagram {
                p.push(("tcp-state".into(), e.state.name().into()));
            }
            (id + 1, p)
        })
        .collect()
}

impl Inspector<'_> {
    fn print(&mut self, inv: &Invocation, menu: &str, rows: Vec<(u32, Props)>) -> Value {
        let count_only = inv
            .args
            .iter()
            .any(|a| a.text == "count-only" || a.key.as_deref() == Some("count-only"));
        if count_only {
            if inv.top_level {
                self.output.push(rows.len().to_string());
            }
            return Value::Num(rows.len() as i64);
        }
        let stats = inv.args.iter().any(|a| a.text == "stats");
        let columns: Vec<&str> = match menu {
            "ip firewall connection" => vec![
                "protocol",
                "src-address",
                "dst-address",
                "reply-dst-address",
                "connection-mark",
                "tcp-state",
            ],
            _ if table_of(&self.router.config, menu).is_some() && stats => {
                vec!["chain", "action", "bytes", "packets"]
            }
            "ip route" => vec!["flags", "dst-address", "gateway", "distance", "table"],
            _ => Vec::new(),
        };
        if inv.top_level {
            self.output.extend(format_rows(&columns, &rows));
        }
        Value::Nothing
    }
}

/// A table with a `#` column, or one `key=value` line per item when no columns are set.
fn format_rows(columns: &[&str], rows: &[(u32, Props)]) -> Vec<String> {
    let cell = |p: &Props, c: &str| {
        p.iter()
            .find(|(k, _)| k == c)
            .map_or(String::new(), |(_, v)| v.clone())
    };
    if columns.is_empty() {
        return rows
            .iter()
            .enumerate()
            .map(|(i, (_, p))| {
                let kv: Vec<String> = p.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{i:>3} {}", kv.join(" "))
            })
            .collect();
    }
    let mut widths: Vec<usize> = columns.iter().map(|c| c.len()).collect();
    for (_, p) in rows {
        for (w, c) in widths.iter_mut().zip(columns) {
            *w = (*w).max(cell(p, c).len());
        }
    }
    let mut lines = Vec::new();
    let mut header = String::from("  #");
    for (w, c) in widths.iter().zip(columns) {
        let _ = write!(header, "  {:<w$}", c.to_uppercase());
    }
    lines.push(header.trim_end().to_string());
    for (i, (_, p)) in rows.iter().enumerate() {
        let mut line = format!("{i:>3}");
        for (w, c) in widths.iter().zip(columns) {
            let _ = write!(line, "  {:<w$}", cell(p, c));
        }
        lines.push(line.trim_end().to_string());
    }
    lines
}

impl Menus for Inspector<'_> {
    fn items(&self, menu: &str) -> Option<Vec<(u32, Props)>> {
        menu_items(self.router, menu)
    }

    fn command(&mut self, inv: &Invocation) -> Result<Value, SourceError> {
        let menu = inv.menu();
        match inv.verb {
            "print" => {
                let mut rows = self.items(&menu).unwrap_or_default();
                if let Some(ids) = &inv.matched {
                    rows.retain(|(id, _)| ids.contains(id));
                }
                Ok(self.print(inv, &menu, rows))
            }
            "add" | "set" | "remove" | "enable" | "disable" if self.items(&menu).is_some() => {
                Err(SourceError::new(
                    self.file,
                    self.src,
                    inv.span.0,
                    inv.span.1,
                    "the simulation is over: --exec commands read the router but cannot change it",
                ))
            }
            verb => {
                if inv.top_level {
                    let what = if menu.is_empty() {
                        verb.to_string()
                    } else {
                        format!("{menu} {verb}")
                    };
                    self.output.push(format!("# /{what}: not simulated"));
                }
                Ok(Value::Nothing)
            }
        }
    }

    fn put(&mut self, line: &str) {
        self.output.push(line.to_string());
    }
}

/// The rows a menu shows of `router`, with ids as RouterOS numbers them (`*1` first); `None`
/// for a menu that is not modeled.
pub fn menu_items(router: &Router, menu: &str) -> Option<Vec<(u32, Props)>> {
    let cfg = &router.config;
    if let Some(table) = table_of(cfg, menu) {
        return Some(
            table
                .rules
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let mut p = own(rule_params(cfg, table, r));
                    let counted = router.counts.of(table).rules[i];
                    p.push(("bytes".into(), counted.bytes.to_string()));
                    p.push(("packets".into(), counted.packets.to_string()));
                    (i as u32 + 1, p)
                })
                .collect(),
        );
    }
    Some(match menu {
        "ip firewall connection" => connections(router),
        "ip route" => router
            .fib
            .routes
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut p = own(route_params(cfg, r));
                // Usable routes that stand by for a lower-distance one are not `A`.
                let fib = &router.fib;
                let active = fib.is_selected(i as u32);
                let flags = format!(
                    "{}{}{}",
                    if r.disabled { "X" } else { "" },
                    if active { "A" } else { "" },
                    if r.connected { "C" } else { "S" }
                );
                p.push(("flags".into(), flags));
                p.push(("active".into(), yes_no(active)));
                p.push(("disabled".into(), yes_no(r.disabled)));
                let status: Vec<String> = r
                    .gateways
                    .iter()
                    .filter_map(|g| match g {
                        Gateway::Address(gw) => Some(gw),
                        Gateway::Interface(_) => None,
                    })
                    .map(|gw| {
                        let checked_ok = r.check_gateway.is_none() || router.gateway_reachable(*gw);
                        let up = fib.is_active(i as u32) && checked_ok;
                        format!("{gw} {}", if up { "reachable" } else { "unreachable" })
                    })
                    .collect();
                if !status.is_empty() {
                    p.push(("gateway-status".into(), status.join(",")));
                }
                p.push((
                    "table".into(),
                    cfg.routing_tables.name(r.table.0).to_string(),
                ));
                (i as u32 + 1, p)
            })
            .collect(),
        "ip firewall address-list" => {
            let mut rows: Vec<(u32, Props)> = cfg
                .address_list_entries
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    let mut p = vec![
                        ("list".into(), cfg.address_lists.name(e.list).to_string()),
                        ("address".into(), e.range.text()),
                        ("disabled".into(), yes_no(e.disabled)),
                    ];
                    if let Some(c) = &e.comment {
                        p.push(("comment".into(), c.clone()));
                    }
                    (i as u32 + 1, p)
                })
                .collect();
            // The entries rules added (`add-src-to-address-list`) that have not expired.
            let now = router.now();
            let lists = router.env().dynamic_lists.iter().enumerate();
            for (list, entries) in lists {
                for &(address, expires) in entries.iter().filter(|(_, t)| *t > now) {
                    let mut p: Props = vec![
                        (
                            "list".into(),
                            cfg.address_lists.name(list as u16).to_string(),
                        ),
                        ("address".into(), address.to_string()),
                        ("disabled".into(), "no".into()),
                        ("dynamic".into(), "yes".into()),
                    ];
                    if expires != u64::MAX {
                        let left = crate::units::format_duration(expires - now);
                        p.push(("timeout".into(), left));
                    }
                    rows.push((rows.len() as u32 + 1, p));
                }
            }
            rows
        }
        "ip dhcp-client" => router
            .dhcp
            .clients
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut p: Props = vec![("interface".into(), cfg.iface_name(c.iface).to_string())];
                match c.lease {
                    Some(l) => p.extend([
                        ("status".into(), "bound".to_string()),
                        ("address".into(), format!("{}/{}", l.address, l.prefix_len)),
                        ("gateway".into(), l.gateway.to_string()),
                        ("dhcp-server".into(), l.gateway.to_string()),
                    ]),
                    None => p.push(("status".into(), "searching...".into())),
                }
                (i as u32 + 1, p)
            })
            .collect(),
        "interface pppoe-client" => router
            .pppoe
            .clients
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut p: Props = vec![
                    ("name".into(), c.name.clone()),
                    ("user".into(), c.user.clone()),
                    ("running".into(), yes_no(c.session.is_some())),
                ];
                if let Some(s) = c.session {
                    p.push(("local-address".into(), s.local.to_string()));
                    p.push(("remote-address".into(), s.remote.to_string()));
                }
                (i as u32 + 1, p)
            })
            .collect(),
        "ip address" => cfg
            .addresses
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let p = vec![
                    ("address".into(), format!("{}/{}", a.address, a.prefix_len)),
                    ("interface".into(), cfg.iface_name(a.iface).to_string()),
                ];
                (i as u32 + 1, p)
            })
            .collect(),
        "interface" | "interface ethernet" => cfg
            .interfaces
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let p = vec![
                    ("name".into(), f.name.clone()),
                    ("default-name".into(), f.default_name.clone()),
                    (
                        "running".into(),
                        yes_no(router.fib.is_running(i as IfaceId)),
                    ),
                ];
                (i as u32 + 1, p)
            })
            .collect(),
        // Items kept for the router's services and scripts, as configured, with the state the
        // router keeps of them.
        menu => {
            let items = cfg.stored.get(menu)?;
            let rows = items.iter().enumerate().map(|(i, item)| {
                let mut p: Props = item.props.clone();
                if menu == "tool netwatch" {
                    let watch = router
                        .netwatch
                        .watches
                        .iter()
                        .position(|w| w.line == item.line);
                    let status = watch.map_or(Status::Unknown, |w| router.netwatch.status(w));
                    p.push(("status".into(), status.name().into()));
                }
                (i as u32 + 1, p)
            });
            rows.collect()
        }
    })
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}
