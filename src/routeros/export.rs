//! Writes a configuration back out as `/export` would — a context line per menu, one `add` (or
//! `set`) per item, parameters in alphabetical order — in either dialect, so a user sees exactly
//! what pccsim understood, and reading the export again gives the same model.

use crate::router::config::{Dialect, RouterConfig};
use crate::router::firewall::{Action, Rule, Table, TableId};
use crate::router::routing::{CheckGateway, Gateway, Route};
use std::fmt::Write as _;

/// The configuration as RouterOS script. `verbose` also lists settings left at their defaults.
pub fn export(cfg: &RouterConfig, dialect: Dialect, verbose: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# pccsim export, RouterOS {} syntax", dialect.name());
    let e = Exporter { cfg, dialect };
    e.interfaces(&mut out);
    if dialect == Dialect::V7 && cfg.routing_tables.len() > 1 {
        section(&mut out, "/routing table");
        for name in cfg.routing_tables.iter().skip(1) {
            let _ = writeln!(out, "add fib name={}", quote(name));
        }
    }
    e.addresses(&mut out);
    e.address_lists(&mut out);
    e.table(&mut out, "/ip firewall filter", &cfg.filter);
    e.table(&mut out, "/ip firewall mangle", &cfg.mangle);
    e.table(&mut out, "/ip firewall nat", &cfg.nat);
    e.routes(&mut out);
    e.conntrack(&mut out, verbose);
    e.routing_settings(&mut out, verbose);
    e.dns(&mut out);
    e.ip_settings(&mut out);
    // Items that others name come first, as RouterOS's own export writes them.
    let mut stored: Vec<_> = cfg.stored.iter().collect();
    stored.sort_by_key(|(menu, _)| menu.as_str() != "queue type");
    for (menu, items) in stored {
        section(&mut out, &format!("/{menu}"));
        for item in items {
            let params = item
                .props
                .iter()
                .map(|(k, v)| (k.as_ref(), v.clone()))
                .collect();
            line(&mut out, "add", params);
        }
    }
    out
}

struct Exporter<'a> {
    cfg: &'a RouterConfig,
    dialect: Dialect,
}

/// A firewall rule's parameters as `/export` writes them (and `find` matches on them).
pub fn rule_params(cfg: &RouterConfig, table: &Table, r: &Rule) -> Vec<(&'static str, String)> {
    Exporter {
        cfg,
        dialect: cfg.dialect,
    }
    .rule_params(table, r)
}

/// A route's parameters as `/export` writes them.
pub fn route_params(cfg: &RouterConfig, r: &Route) -> Vec<(&'static str, String)> {
    Exporter {
        cfg,
        dialect: cfg.dialect,
    }
    .route_params(r)
}

impl Exporter<'_> {
    /// `/ip dns`: the router's DNS service, when set.
    fn dns(&self, out: &mut String) {
        let d = &self.cfg.dns;
        if *d == Default::default() {
            return;
        }
        section(out, "/ip dns");
        let servers: Vec<String> = d.servers.iter().map(|s| s.to_string()).collect();
        let allow = if d.allow_remote_requests { "yes" } else { "no" };
        let params = vec![
            ("allow-remote-requests", allow.to_string()),
            ("servers", servers.join(",")),
        ];
        line(out, "set", params);
    }

    /// `/ip settings`: ECMP's hash policy, when not the default.
    fn ip_settings(&self, out: &mut String) {
        let policy = self.cfg.multipath_hash_policy;
        if policy == Default::default() {
            return;
        }
        section(out, "/ip settings");
        line(
            out,
            "set",
            vec![("ipv4-multipath-hash-policy", policy.name().to_string())],
        );
    }

    /// `/routing settings`: check-gateway's timing, when it is not RouterOS's default.
    fn routing_settings(&self, out: &mut String, verbose: bool) {
        let s = self.cfg.check_gateway;
        let d = crate::router::gateway_check::Settings::default();
        if s == d && !verbose {
            return;
        }
        section(out, "/routing settings");
        let fmt = crate::units::format_duration;
        let params = vec![
            ("check-gateway-ping-count", s.count.to_string()),
            ("check-gateway-ping-interval", fmt(s.interval)),
            ("check-gateway-ping-timeout", fmt(s.timeout)),
        ];
        line(out, "set", params);
    }
}

fn section(out: &mut String, menu: &str) {
    let _ = writeln!(out, "{menu}");
}

/// Writes `verb` and the parameters sorted by name, as `/export` does.
fn line(out: &mut String, verb: &str, mut params: Vec<(&str, String)>) {
    params.sort_by(|a, b| a.0.cmp(b.0));
    let _ = write!(out, "{verb}");
    for (k, v) in params {
        let _ = write!(out, " {k}={}", quote(&v));
    }
    out.push('\n');
}

/// Quotes a value when RouterOS would need it.
pub fn quote(v: &str) -> String {
    let plain = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/,!*+@%".contains(c));
    if plain {
        return v.to_string();
    }
    let mut q = String::from("\"");
    for c in v.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '$' => q.push_str("\\$"),
            '?' => q.push_str("\\?"),
            '\n' => q.push_str("\\n"),
            '\r' => q.push_str("\\r"),
            '\t' => q.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(q, "\\{:02X}", c as u32);
            }
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

impl Exporter<'_> {
    fn iface(&self, i: u8) -> String {
        self.cfg.iface_name(i).to_string()
    }

    fn table_name(&self, t: TableId) -> String {
        self.cfg.routing_tables.name(t.0).to_string()
    }

    fn interfaces(&self, out: &mut String) {
        let renamed: Vec<_> = self
            .cfg
            .interfaces
            .iter()
            .filter(|i| {
                i.undeclared_use.is_none() && (i.name != i.default_name || i.comment.is_some())
            })
            .collect();
        if renamed.is_empty() {
            return;
        }
        section(out, "/interface ethernet");
        for i in renamed {
            let mut params = vec![("name", i.name.clone())];
            if let Some(c) = &i.comment {
                params.push(("comment", c.clone()));
            }
            params.sort_by(|a, b| a.0.cmp(b.0));
            let _ = write!(out, "set [ find default-name={} ]", quote(&i.default_name));
            for (k, v) in params {
                let _ = write!(out, " {k}={}", quote(&v));
            }
            out.push('\n');
        }
    }

    fn addresses(&self, out: &mut String) {
        if self.cfg.addresses.is_empty() {
            return;
        }
        section(out, "/ip address");
        for a in &self.cfg.addresses {
            let params = vec![
                ("address", format!("{}/{}", a.address, a.prefix_len)),
                ("interface", self.iface(a.iface)),
            ];
            line(out, "add", params);
        }
    }

    fn address_lists(&self, out: &mut String) {
        if self.cfg.address_list_entries.is_empty() {
            return;
        }
        section(out, "/ip firewall address-list");
        for e in &self.cfg.address_list_entries {
            let mut params = vec![
                ("address", e.range.text()),
                ("list", self.cfg.address_lists.name(e.list).to_string()),
            ];
            if let Some(c) = &e.comment {
                params.push(("comment", c.clone()));
            }
            if e.disabled {
                params.push(("disabled", "yes".into()));
            }
            line(out, "add", params);
        }
    }

    fn table(&self, out: &mut String, menu: &str, table: &Table) {
        if table.rules.is_empty() {
            return;
        }
        section(out, menu);
        for r in &table.rules {
            line(out, "add", self.rule_params(table, r));
        }
    }

    fn rule_params(&self, table: &Table, r: &Rule) -> Vec<(&'static str, String)> {
        let mut p: Vec<(&'static str, String)> =
            vec![("chain", table.chain_names[r.chain as usize].clone())];
        p.extend(r.matchers.iter().map(|m| m.text(self.cfg)));
        let action = match &r.action {
            Action::Accept => "accept",
            Action::Drop => "drop",
            Action::Passthrough => "passthrough",
            Action::Log => "log",
            Action::Return => "return",
            Action::Jump(c) => {
                p.push(("jump-target", table.chain_names[*c as usize].clone()));
                "jump"
            }
            Action::MarkConnection(m) => {
                p.push((
                    "new-connection-mark",
                    self.cfg.connection_marks.name(m.0).to_string(),
                ));
                "mark-connection"
            }
            Action::MarkRouting(t) => {
                p.push(("new-routing-mark", self.table_name(*t)));
                "mark-routing"
            }
            Action::MarkPacket(m) => {
                p.push((
                    "new-packet-mark",
                    self.cfg.packet_marks.name(*m).to_string(),
                ));
                "mark-packet"
            }
            Action::FasttrackConnection => "fasttrack-connection",
            Action::Masquerade => "masquerade",
            Action::SrcNat(a) => {
                p.push(("to-addresses", a.to_string()));
                "src-nat"
            }
            Action::DstNat { to, port } => {
                p.push(("to-addresses", to.to_string()));
                if let Some(port) = port {
                    p.push(("to-ports", port.to_string()));
                }
                "dst-nat"
            }
            Action::Redirect { port } => {
                if let Some(port) = port {
                    p.push(("to-ports", port.to_string()));
                }
                "redirect"
            }
            Action::AddToAddressList { dst, list, timeout } => {
                p.push((
                    "address-list",
                    self.cfg.address_lists.name(*list).to_string(),
                ));
                if let Some(t) = timeout {
                    p.push(("address-list-timeout", crate::units::format_duration(*t)));
                }
                if *dst {
                    "add-dst-to-address-list"
                } else {
                    "add-src-to-address-list"
                }
            }
            Action::Unmodeled(name) => name,
        };
        p.push(("action", action.into()));
        let marks = matches!(
            r.action,
            Action::MarkConnection(_) | Action::MarkRouting(_) | Action::MarkPacket(_)
        );
        if marks {
            p.push((
                "passthrough",
                if r.passthrough { "yes" } else { "no" }.into(),
            ));
        }
        if r.disabled {
            p.push(("disabled", "yes".into()));
        }
        if let Some(c) = &r.comment {
            p.push(("comment", c.clone()));
        }
        p
    }

    fn routes(&self, out: &mut String) {
        if self.cfg.routes.is_empty() {
            return;
        }
        section(out, "/ip route");
        for r in &self.cfg.routes {
            line(out, "add", self.route_params(r));
        }
    }

    fn route_params(&self, r: &Route) -> Vec<(&'static str, String)> {
        let mut p = vec![
            ("dst-address", format!("{}/{}", r.dst, r.prefix_len)),
            ("distance", r.distance.to_string()),
            (
                "gateway",
                r.gateways
                    .iter()
                    .map(|g| match *g {
                        Gateway::Address(a) => a.to_string(),
                        Gateway::Interface(i) => self.iface(i),
                    })
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        ];
        if r.table != TableId::MAIN {
            let key = match self.dialect {
                Dialect::V6 => "routing-mark",
                Dialect::V7 => "routing-table",
            };
            p.push((key, self.table_name(r.table)));
        }
        if let Some(cg) = r.check_gateway {
            p.push((
                "check-gateway",
                match cg {
                    CheckGateway::Ping => "ping",
                    CheckGateway::Arp => "arp",
                }
                .into(),
            ));
        }
        if r.scope != 30 {
            p.push(("scope", r.scope.to_string()));
        }
        if r.target_scope != 10 {
            p.push(("target-scope", r.target_scope.to_string()));
        }
        if r.disabled {
            p.push(("disabled", "yes".into()));
        }
        if let Some(c) = &r.comment {
            p.push(("comment", c.clone()));
        }
        p
    }

    fn conntrack(&self, out: &mut String, verbose: bool) {
        let s = &self.cfg.conntrack;
        let d = crate::router::conntrack::Settings::default();
        let fields = [
            ("tcp-syn-sent-timeout", s.tcp_syn_sent, d.tcp_syn_sent),
            (
                "tcp-syn-received-timeout",
                s.tcp_syn_received,
                d.tcp_syn_received,
            ),
            (
                "tcp-established-timeout",
                s.tcp_established,
                d.tcp_established,
            ),
            ("tcp-fin-wait-timeout", s.tcp_fin_wait, d.tcp_fin_wait),
            ("tcp-close-wait-timeout", s.tcp_close_wait, d.tcp_close_wait),
            ("tcp-last-ack-timeout", s.tcp_last_ack, d.tcp_last_ack),
            ("tcp-time-wait-timeout", s.tcp_time_wait, d.tcp_time_wait),
            ("tcp-close-timeout", s.tcp_close, d.tcp_close),
            ("udp-timeout", s.udp, d.udp),
            ("udp-stream-timeout", s.udp_stream, d.udp_stream),
            ("icmp-timeout", s.icmp, d.icmp),
            ("generic-timeout", s.generic, d.generic),
        ];
        let mut params: Vec<(&str, String)> = fields
            .iter()
            .filter(|(_, v, def)| verbose || v != def)
            .map(|(k, v, _)| (*k, crate::units::format_duration(*v)))
            .collect();
        if verbose || s.max_entries != d.max_entries {
            params.push(("max-entries", s.max_entries.to_string()));
        }
        if verbose || s.loose_tcp_tracking != d.loose_tcp_tracking {
            let yes_no = if s.loose_tcp_tracking { "yes" } else { "no" };
            params.push(("loose-tcp-tracking", yes_no.into()));
        }
        if !params.is_empty() {
            section(out, "/ip firewall connection tracking");
            line(out, "set", params);
        }
    }
}
