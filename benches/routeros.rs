//! Reading a large `/export`: 100,000 lines of address lists, mangle rules and routes, parsed
//! and run against the router model.

use divan::black_box;

fn main() {
    divan::main();
}

/// An export of `lines` lines, shaped like a big real one: mostly address-list entries (over
/// `names` lists), some hundreds of rules and routes.
fn big_export(lines: usize, names: usize) -> String {
    let mut s = String::from(
        "# big export\n/interface ethernet\nset [ find default-name=ether1 ] name=WAN1\nset [ find default-name=ether2 ] name=LAN\n/ip address\nadd address=192.0.2.2/24 interface=WAN1\nadd address=10.0.0.1/16 interface=LAN\n",
    );
    s.push_str("/ip firewall address-list\n");
    let lists = lines * 9 / 10;
    for i in 0..lists {
        s.push_str(&format!(
            "add address=100.{}.{}.0/24 comment=\"customer {i}\" list=customers-{}\n",
            64 + (i / 256) % 64,
            i % 256,
            i % names
        ));
    }
    s.push_str("/ip firewall mangle\n");
    let rules = (lines - lists) / 2;
    for i in 0..rules {
        s.push_str(&format!(
            "add action=mark-connection chain=prerouting connection-mark=no-mark in-interface=LAN new-connection-mark=m{} per-connection-classifier=both-addresses:{}/{} src-address-list=customers-{}\n",
            i % 7,
            rules.max(1),
            i,
            i % 50
        ));
    }
    s.push_str("/ip route\n");
    for i in 0..(lines - lists - rules) {
        s.push_str(&format!(
            "add distance={} dst-address=203.0.{}.{}/32 gateway=192.0.2.1\n",
            1 + i % 10,
            (i / 256) % 256,
            i % 256
        ));
    }
    s
}

/// Read, run and checked, as `pccsim check` does, with the entries in 50 address lists and
/// in 5,000 (names are found by hash, and the check looks at each list once).
#[divan::bench(args = [50, 5_000], sample_count = 5)]
fn export_100k_lines(b: divan::Bencher, names: usize) {
    let text = big_export(100_000, names);
    b.bench(|| {
        let loaded = pccsim::routeros::run("big.rsc", black_box(&text)).unwrap();
        pccsim::check::check(&loaded.config).findings.len()
    });
}

/// What `pccsim parse` does: read the export against RouterOS 7's command tree and outline it,
/// a command at a time.
#[divan::bench(sample_count = 10)]
fn parse_100k_lines(b: divan::Bencher) {
    let text = big_export(100_000, 50);
    b.bench(|| {
        let outline =
            pccsim::routeros::outline("big.rsc", black_box(&text), pccsim::routeros::Packages::All)
                .unwrap();
        outline.commands
    });
}
