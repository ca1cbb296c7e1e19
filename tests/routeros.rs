//! The RouterOS language, element by element, as small scripts whose effect on the model (or on
//! `:put`) is checked.

use pccsim::router::config::Dialect;
use pccsim::router::firewall::{Action, Match};
use pccsim::routeros::{self, export::export};

fn run(src: &str) -> routeros::Loaded {
    routeros::run("t.rsc", src).unwrap_or_else(|e| panic!("{e}\n{src}"))
}

fn put(src: &str) -> Vec<String> {
    run(src).output
}

fn fails(src: &str) -> pccsim::error::SourceError {
    match routeros::run("t.rsc", src) {
        Ok(_) => panic!("accepted: {src}"),
        Err(e) => e,
    }
}

#[test]
fn menu_paths_in_every_form() {
    let forms = [
        "/ip firewall address-list add list=a address=10.0.0.1",
        "/ip/firewall/address-list/add list=a address=10.0.0.1",
        "/ip firewall address-list\nadd list=a address=10.0.0.1",
        "/ip firewall\naddress-list add list=a address=10.0.0.1",
        "/ip firewall mangle\n.. address-list add list=a address=10.0.0.1",
        "# jan/02/1970 00:00:00 by RouterOS 7.11\n# software id = ABCD-1234\n/ip firewall address-list\nadd list=a address=10.0.0.1",
    ];
    for f in forms {
        assert_eq!(run(f).config.address_list_entries.len(), 1, "{f}");
    }
    assert_eq!(
        run("/ip/firewall/address-list/add list=a address=1.2.3.4")
            .config
            .dialect,
        Dialect::V7
    );
}

#[test]
fn verbs_change_the_model_and_other_words_are_kept() {
    let c = run("/ip firewall mangle
add chain=prerouting action=accept comment=first
add chain=prerouting action=accept comment=second
add chain=prerouting action=accept comment=zeroth place-before=0
disable [find comment=first]
set [find comment=second] chain=forward
remove [find where comment~\"^ze\"]
print stats
/tool torch interface=ether1
/ip service set telnet disabled=yes")
    .config;
    let rules = &c.mangle.rules;
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].comment.as_deref(), Some("first"));
    assert!(rules[0].disabled);
    assert_eq!(c.mangle.chain_names[rules[1].chain as usize], "forward");
    let menus: Vec<_> = c.not_simulated.iter().map(|n| n.menu.as_str()).collect();
    assert_eq!(
        menus,
        ["/ip service set"],
        "print and torch read, services are not simulated"
    );
}

#[test]
fn find_conditions() {
    let base = "/ip firewall address-list
add list=a address=10.0.0.1 comment=one
add list=a address=10.0.0.2 comment=two disabled=yes
add list=b address=10.0.0.3 comment=three
";
    let count = |cond: &str| -> String {
        put(&format!(
            "{base}:put [:len [/ip firewall address-list find {cond}]]"
        ))[0]
            .clone()
    };
    assert_eq!(count("list=a"), "2");
    assert_eq!(count("where list=a && comment!=one"), "1");
    assert_eq!(count("list=b || comment=one"), "2");
    assert_eq!(count("comment~\"^t\""), "2");
    assert_eq!(count("!disabled"), "2");
    assert_eq!(count("(list=a and !(comment=two))"), "1");
    assert_eq!(count(""), "3");
}

#[test]
fn values_of_every_kind() {
    let c = run(r#"/interface set ether1 name="WAN \"one\""
/ip address add address=192.168.1.2/24 interface="WAN \"one\""
/ip firewall address-list add list=phones address=192.168.1.50-192.168.1.60
/ip firewall mangle add chain=prerouting protocol=udp dst-port=5060-5061,10000 \
    src-address-list=!phones connection-state=established,related \
    action=mark-connection new-connection-mark="sip \41" passthrough=no \
    comment="line\tcontinued \
here"
/ip firewall connection tracking set udp-timeout=00:00:30 tcp-established-timeout=1d
/ip route add gateway=192.168.1.1 distance=2 check-gateway=ping disabled=no"#)
    .config;
    assert_eq!(c.interfaces[0].name, "WAN \"one\"");
    let r = &c.mangle.rules[0];
    assert!(!r.passthrough);
    assert_eq!(r.comment.as_deref(), Some("line\tcontinued here"));
    assert_eq!(c.connection_marks.name(1), "sip A");
    assert!(
        r.matchers
            .iter()
            .any(|m| m.negate && matches!(m.kind, Match::SrcAddressList(_)))
    );
    assert!(r.matchers.iter().any(|m| matches!(&m.kind, Match::DstPort(p) if p.contains(5061) && p.contains(10000) && !p.contains(5062))));
    assert_eq!(c.conntrack.udp, 30 * pccsim::units::SEC);
    assert_eq!(c.conntrack.tcp_established, 86_400 * pccsim::units::SEC);
    assert_eq!(c.routes[0].distance, 2);
}

#[test]
fn variables_and_substitutions() {
    assert_eq!(
        put(r#":local gw "192.168.1.1"
:global count 2
:set count ($count + 3)
:local "odd name" x
:put "gateway $gw, count $count, sum $(1 + 2), list $[:len {1;2;3}]"
:put $"odd name"
:put "price \$5""#),
        [
            "gateway 192.168.1.1, count 5, sum 3, list 3",
            "x",
            "price $5"
        ]
    );
    // A variable no one declared is nothing: the route can't be built, RouterOS's /import
    // would stop there, and check says both on the line.
    let found = run("/ip route add gateway=$nope").config.assumptions;
    let ids: Vec<_> = found.iter().map(|a| (a.id, a.line)).collect();
    assert_eq!(ids, [("script-error", 1), ("variable-undeclared", 1)]);
    assert!(found[1].message.contains("$nope"), "{}", found[1].message);
}

#[test]
fn expressions_and_operators() {
    let out = put(r#":put (1 + 2 * 3)
:put ((1 + 2) * 3)
:put (7 / 2)
:put (7 % 2)
:put ("a" . "b" . 1)
:put (3 < 4 && 4 <= 4 && 5 > 4 && 5 >= 5)
:put (1 = 1 || 1 != 1)
:put (!true)
:put (-5 + 2)
:put (10.0.0.5 in 10.0.0.0/24)
:put (192.168.1.1 + 1)
:put (10s + 1m)
:put ("PCC: WAN1" ~ "^PCC")
:put ({"a"=1;"b"=2}->"b")
:put (6 & 3)
:put (1 << 4)"#);
    assert_eq!(
        out,
        [
            "7",
            "9",
            "3",
            "1",
            "ab1",
            "true",
            "true",
            "false",
            "-3",
            "true",
            "192.168.1.2",
            "70s",
            "true",
            "2",
            "2",
            "16"
        ]
    );
}

#[test]
fn arrays_and_blocks() {
    let out = put(r#":local a {1;2;3}
:local m {"x"=10;"y"=20}
:put [:len $a]
:put ($m->"y")
:put [:pick $a 1]
{
    :local inner 5
    :put $inner
}
:put [:typeof $a]
:put [:typeof $m]"#);
    assert_eq!(out, ["3", "20", "2", "5", "array", "array"]);
    // A block's locals end with it: after it the name reads as nothing, as on RouterOS,
    // and check points at the read.
    let after = run("{ :local inner 5 }\n:put $inner");
    assert_eq!(after.output, [""]);
    let a = &after.config.assumptions[0];
    assert_eq!((a.id, a.line), ("variable-undeclared", 2));
    assert!(a.message.contains("$inner"), "{}", a.message);
}

#[test]
fn control_flow() {
    let out = put(r#":local total 0
:for i from=1 to=10 step=3 do={ :set total ($total + $i) }
:put $total
:foreach k,v in={"a"=1;"b"=2} do={ :put "$k=$v" }
:foreach v in={7;8} do={ :put $v }
:local n 0
:while ($n < 3) do={ :set n ($n + 1) }
:put $n
:if ($n = 3) do={ :put yes } else={ :put no }
:if ($n = 4) do={ :put yes } else={ :put no }
:do { :error "boom" } on-error={ :put caught }
:local d 0
:do { :set d ($d + 1) } while=($d < 5)
:put $d"#);
    assert_eq!(
        out,
        [
            "22", "a=1", "b=2", "7", "8", "3", "yes", "no", "caught", "5"
        ]
    );
}

#[test]
fn functions_and_global_commands() {
    let out = put(r#":local add do={ :return ($a + $b) }
:put [$add a=2 b=3]
:local greet do={ :return "hello $1" }
:put [$greet world]
:put [:tostr 5]
:put [:tonum "42"]
:put [:typeof [:toarray "1,2"]]
:put [:len "pccsim"]
:put [:pick "pccsim" 0 3]
:put [:find "pccsim" "sim"]
:put [:typeof 10.0.0.1]
:local code [:parse ":put parsed"]
$code
:log info "logged"
:delay 1s
:execute ":put never"
:put [:typeof [:resolve example.com]]
:environment print
/terminal style none"#);
    assert_eq!(
        out,
        [
            "5",
            "hello world",
            "5",
            "42",
            "array",
            "6",
            "pcc",
            "3",
            "ip",
            "parsed",
            "ip"
        ]
    );
    // `:resolve` answers every name with an address of the simulated internet, the same
    // address for the same name.
    let resolved =
        put(":put [:resolve example.com]\n:put [:resolve example.com]\n:put [:resolve 9.9.9.9]");
    assert_eq!(resolved[0], resolved[1]);
    let ip: std::net::Ipv4Addr = resolved[0].parse().unwrap();
    assert_eq!(
        u32::from(ip) >> 17,
        u32::from(std::net::Ipv4Addr::new(198, 18, 0, 0)) >> 17
    );
    assert_eq!(resolved[2], "9.9.9.9");
    let skipped = run(":execute \":put x\"").config.not_simulated;
    assert_eq!(skipped[0].menu, ":execute");
}

#[test]
fn a_pcc_configuration_generated_in_a_loop() {
    let c = run(r#":local wans {"fibre"=5;"cable"=2}
:local denominator 0
:foreach name,weight in=$wans do={ :set denominator ($denominator + $weight) }
:local remainder 0
:foreach name,weight in=$wans do={
    :for i from=1 to=$weight do={
        /ip firewall mangle add chain=prerouting connection-mark=no-mark \
            per-connection-classifier=("both-addresses:$denominator/" . $remainder) \
            action=mark-connection new-connection-mark=("$name" . "_conn")
        :set remainder ($remainder + 1)
    }
}"#)
    .config;
    assert_eq!(c.mangle.rules.len(), 7);
    let shares = pccsim::router::pcc::configured_shares(&c.mangle);
    let share = |name: &str| {
        shares
            .iter()
            .find(|(m, _)| c.connection_marks.name(m.0) == name)
            .unwrap()
            .1
    };
    // Keyed arrays iterate in key order: cable first.
    assert!((share("cable_conn") - 2.0 / 7.0).abs() < 1e-9);
    assert!((share("fibre_conn") - 5.0 / 7.0).abs() < 1e-9);
    assert!(matches!(
        c.mangle.rules[6].action,
        Action::MarkConnection(_)
    ));
}

#[test]
fn a_script_that_never_ends_is_stopped() {
    let e = fails(":local i 0\n:while (true) do={ :set i ($i + 1) }");
    assert_eq!(e.line, 2);
    assert!(e.message.contains("stopped after"), "{}", e.message);
    let e = fails(":global f do={ $f }\n$f");
    assert!(e.message.contains("too deeply"), "{}", e.message);
    let e = fails(":local s \"xx\"\n:for i from=1 to=100 do={ :set s ($s . $s) }");
    assert!(e.message.contains("too long"), "{}", e.message);
    // Few statements, but each copies the array: the work is the square of its length.
    let e = fails(":local a [:toarray \"\"]\n:for i from=1 to=80000 do={ :set a ($a, $i) }");
    assert!(
        e.message.contains("copying 50000000 array elements"),
        "{}",
        e.message
    );
    // An array of a few thousand built that way is fine.
    let n = put(
        ":local a [:toarray \"\"]\n:for i from=1 to=3000 do={ :set a ($a, $i) }\n:put [:len $a]",
    );
    assert_eq!(n, ["3001"]);
}

#[test]
fn syntax_errors_point_at_the_offending_text() {
    let cases = [
        ("/ip route add gateway=\"192.168.1.1", 1, 23, "never closed"),
        (
            "/ip firewall mangle add chain=prerouting action=accept ]",
            1,
            56,
            "]",
        ),
        (":put (1 + )", 1, 7, "value"),
        ("/ip route add comment=\"a\\qb\"", 1, 25, "escape"),
        // RouterOS points at the end of the text: `expected closing brace`.
        (":if (true) do={ :put x", 1, 23, "expected closing brace"),
    ];
    for (src, line, col, words) in cases {
        let e = match routeros::parse::parse("t.rsc", src) {
            Err(e) => e,
            Ok(s) => match routeros::run("t.rsc", src) {
                Err(e) => e,
                Ok(_) => panic!("accepted {src:?}: {s:?}"),
            },
        };
        assert_eq!((e.line, e.column), (line, col), "{src}: {}", e.message);
        assert!(e.message.contains(words), "{src}: {}", e.message);
    }
}

#[test]
fn export_round_trips_between_v6_and_v7() {
    for file in [
        "dual_wan.rsc",
        "weighted_5_2.rsc",
        "three_wan.rsc",
        "small_business.rsc",
    ] {
        let path = format!("{}/scenarios/{file}", env!("CARGO_MANIFEST_DIR"));
        let original = run(&std::fs::read_to_string(path).unwrap()).config;
        let v6 = export(&original, Dialect::V6, false);
        let v7 = export(&original, Dialect::V7, false);
        assert!(
            v6.contains("routing-mark=") && !v6.contains("routing-table="),
            "{file}"
        );
        assert!(
            v7.contains("routing-table=") && v7.contains("/routing table"),
            "{file}"
        );
        let from_v7 = run(&v7).config;
        assert_eq!(from_v7.dialect, Dialect::V7);
        assert_eq!(
            export(&from_v7, Dialect::V6, false),
            v6,
            "{file}: v6 → v7 → v6"
        );
        assert_eq!(
            export(&run(&v6).config, Dialect::V7, false),
            v7,
            "{file}: v7 → v6 → v7"
        );
        assert_eq!(from_v7.mangle.rules.len(), original.mangle.rules.len());
    }
}

#[test]
fn export_keeps_address_list_comments() {
    let src = "/ip firewall address-list add address=10.0.0.0/24 list=lan comment=\"office PCs\"\n";
    let loaded = run(src);
    for dialect in [
        pccsim::router::config::Dialect::V6,
        pccsim::router::config::Dialect::V7,
    ] {
        let text = export(&loaded.config, dialect, false);
        assert!(text.contains("comment=\"office PCs\" list=lan"), "{text}");
        // And what it exports reads back the same.
        let again = &run(&text).config.address_list_entries[0];
        assert_eq!(again.comment.as_deref(), Some("office PCs"));
        assert_eq!(again.range, loaded.config.address_list_entries[0].range);
    }
}

#[test]
fn routing_settings_set_check_gateways_timing_and_export_keeps_it() {
    let src = "/routing settings set check-gateway-ping-interval=5s check-gateway-ping-count=3\n";
    let loaded = run(src);
    let s = loaded.config.check_gateway;
    assert_eq!(
        (s.interval, s.timeout, s.count),
        (5 * 1_000_000_000, 1_000_000_000, 3)
    );
    assert!(
        loaded.config.not_simulated.is_empty(),
        "{:?}",
        loaded.config.not_simulated
    );
    let text = export(&loaded.config, Dialect::V7, false);
    assert!(text.contains("/routing settings\nset check-gateway-ping-count=3 check-gateway-ping-interval=5s check-gateway-ping-timeout=1s\n"), "{text}");
    assert_eq!(run(&text).config.check_gateway, s);
    let e = fails("/routing settings set check-gateway-ping-timeout=5s\n");
    assert!(e.to_string().contains("outside"), "{e}");
}

#[test]
fn get_returns_a_property_or_the_whole_item() {
    let out = pccsim::routeros::run(
        "get.rsc",
        "/ip route add gateway=1.2.3.4 distance=2 comment=backup
/ip route add gateway=5.6.7.8 distance=1
:put [/ip route get [find distance=2] gateway]
:put ([/ip route get 1 distance] + 1)
:put [/ip route get [find comment=backup] value-name=comment]
:local r [/ip route get [find distance=1]]
:put ($r->\"gateway\")
:put [:typeof [/ip route get [find comment=none] gateway]]",
    )
    .unwrap()
    .output;
    assert_eq!(out, ["1.2.3.4", "2", "backup", "5.6.7.8", "nothing"]);
}

#[test]
fn one_reading_reports_every_error_it_can_capped() {
    let text = "/ip route add gateway=1.1.1.1
:if (true) do={
  :put (1 +)
  :put ok
}
/ip firewall mangle add chain=prerouting action=accept )
:put \"fine\"
:local x [:put 1
";
    let errors = routeros::parse::parse_all("m.rsc", text).err().unwrap();
    let lines: Vec<u32> = errors.iter().map(|e| e.line).collect();
    assert_eq!(
        lines,
        [3, 6, 9],
        "the unclosed `[` is reported at the end of the text"
    );
    let many = ":put (1 +)\n".repeat(500);
    let errors = routeros::parse::parse_all("many.rsc", &many).err().unwrap();
    assert_eq!(errors.len(), routeros::parse::MAX_ERRORS);
    assert_eq!(errors[19].line, 20);
}

#[test]
fn a_misspelt_action_is_an_error_with_a_suggestion_and_a_real_one_is_not_simulated() {
    let typo =
        "/ip firewall mangle add chain=prerouting action=mark-conection new-connection-mark=x";
    let e = routeros::load("t.rsc", typo).err().unwrap();
    assert_eq!((e.line, e.column), (1, 42));
    assert!(
        e.message.contains("did you mean `mark-connection`"),
        "{}",
        e.message
    );
    // A real action pccsim does not model passes the packet on, and check says so.
    let real = "/ip firewall mangle add chain=prerouting action=clear-df";
    let cfg = routeros::load("t.rsc", real).unwrap();
    assert_eq!(cfg.assumptions[0].id, "action-not-simulated");
}

#[test]
fn routeros_7s_command_tree_knows_every_menu_and_catches_typos() {
    // Where RouterOS says `bad command name mangel (line 1 column 14)`.
    let e =
        routeros::parse::parse("t.rsc", "/ip firewall mangel add chain=prerouting").unwrap_err();
    assert_eq!((e.line, e.column), (1, 14));
    assert!(e.message.contains("did you mean `mangle`"), "{}", e.message);
    // In slash form RouterOS stops at the `/` after the bad name: `syntax error`.
    let e = routeros::parse::parse("t.rsc", "/ip/firewall/mangel/add chain=x").unwrap_err();
    assert_eq!((e.line, e.column), (1, 20));
    assert!(e.message.contains("did you mean `mangle`"), "{}", e.message);
    // A bad name is reported after every syntax error, as RouterOS does.
    let errors = routeros::parse::parse_all(
        "t.rsc",
        "/ip firewall mangel
:put (1 +)
",
    )
    .unwrap_err();
    let lines: Vec<u32> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [2, 1]);
    // Arguments come from the tree too, whole or abbreviated.
    let e = routeros::parse::parse("t.rsc", "/ip route add dst-adress=0.0.0.0/0").unwrap_err();
    assert_eq!((e.line, e.column), (1, 15));
    assert!(
        e.message.contains("did you mean `dst-address`"),
        "{}",
        e.message
    );
    routeros::parse::parse("t.rsc", "/ip route add dst-addr=0.0.0.0/0 gateway=1.1.1.1").unwrap();
    // Script commands without their colon, and a menu's block.
    routeros::parse::parse(
        "t.rsc",
        "if (true) do={ put yes }
foreach i in={1;2} do={ put $i }
/ip route { print }",
    )
    .unwrap();
    // A variable is declared before it is set; `:global $x` is no name.
    let e = routeros::parse::parse("t.rsc", ":set undeclared 1").unwrap_err();
    assert_eq!(
        (e.line, e.column, e.message.as_str()),
        (1, 6, "syntax error")
    );
    routeros::parse::parse(
        "t.rsc",
        ":local x 1
:if (true) do={ :set x 2 }",
    )
    .unwrap();
    assert!(
        routeros::parse::parse(
            "t.rsc",
            ":if (true) do={ :local y 1 }
:set y 2"
        )
        .is_err()
    );
    assert!(routeros::parse::parse("t.rsc", ":global $x 1").is_err());
    // Menus pccsim's own list never had, as paths and as context lines.
    let ok = "/interface/macvlan/add name=m1 interface=ether1
/system script environment
:foreach item in=[find] do={ :put [get $item name] }";
    routeros::parse::parse("t.rsc", ok).unwrap();
    // A v6 command v7 dropped, close to nothing in v7's menu, still reads.
    routeros::parse::parse("t.rsc", "/ip route rule add routing-mark=x table=y").unwrap();
}

#[test]
fn the_comma_operator_builds_arrays() {
    let out = put(
        ":local a (1,2)\n:set a ($a,3)\n:put $a\n:put [:len ({1;2},{3})]\n:put [:typeof (0,\"x\")]",
    );
    assert_eq!(out, ["1;2;3", "3", "array"]);
}

#[test]
fn a_substitution_at_the_start_of_a_command_runs_its_value() {
    // `[[:parse "…"]]` runs the code `:parse` made; a bare `{ … }` block nests like any other.
    let out = put("[[:parse \":put hello\"]]\n{ { :put inner } }");
    assert_eq!(out, ["hello", "inner"]);
    routeros::parse::parse("t.rsc", "[/system clock get time] - 5m").unwrap();
}

#[test]
fn strings_hold_substitutions_with_strings_of_their_own() {
    let out = put(
        ":local x 1\n:put \"$[:pick \"0123456789ABCDEF\" $x ($x+1)]!\"\n\
         :local n \"v\"\n:put \"$\"n\"-$[:len \"abc\"]\"",
    );
    assert_eq!(out, ["1!", "v-3"]);
}

#[test]
fn menus_may_be_abbreviated_where_the_abbreviation_is_unique() {
    let c = run("/ip fire mang add chain=prerouting action=accept comment=short\n/ip fire conn\n:put [:len [find]]")
        .config;
    assert_eq!(c.mangle.rules[0].comment.as_deref(), Some("short"));
    // `add` is a command of /ip address, not an abbreviation of a submenu.
    run("/ip address add address=10.0.0.1/24 interface=ether1");
}

/// An expression in RouterOS's own tree notation (as `:parse` prints it in the corpus's
/// `.parseil` files): `(OP a b)`, with a chain of `+` written as one `(+ a b c)`.
fn routeros_tree(e: &routeros::ast::Expr) -> String {
    use routeros::ast::{BinOp, Expr, StrPart, UnOp};
    let op = |op: BinOp| match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::Mod => "%",
        BinOp::Concat => ".",
        BinOp::Lt => "<",
        BinOp::Gt => ">",
        BinOp::Le => "<=",
        BinOp::Ge => ">=",
        BinOp::Eq => "=",
        BinOp::Ne => "!=",
        BinOp::And => "and",
        BinOp::Or => "or",
        BinOp::BitAnd => "&",
        BinOp::BitOr => "|",
        BinOp::BitXor => "^",
        BinOp::Shl => "<<",
        BinOp::Shr => ">>",
        BinOp::In => "in",
        BinOp::Regex => "~",
        BinOp::Index => "->",
        BinOp::Comma => ",",
        BinOp::Apply => "<%%",
    };
    match e {
        Expr::Word(w) => w.clone(),
        Expr::Var(name, _) => format!("${name}"),
        Expr::Str(parts) => parts
            .iter()
            .map(|p| match p {
                StrPart::Lit(s) => s.clone(),
                StrPart::Var(name, _) => format!("${name}"),
                _ => "…".into(),
            })
            .collect(),
        Expr::Binary(BinOp::Add, l, r, _) => {
            let left = routeros_tree(l);
            let inner = match &**l {
                Expr::Binary(BinOp::Add, ..) => left[3..left.len() - 1].to_string(),
                _ => left,
            };
            format!("(+ {inner} {})", routeros_tree(r))
        }
        Expr::Binary(o, l, r, _) => {
            format!("({} {} {})", op(*o), routeros_tree(l), routeros_tree(r))
        }
        Expr::Unary(u, x, _) => {
            let sym = match u {
                UnOp::Not => "!",
                UnOp::Neg => "-",
                UnOp::BitNot => "~",
                UnOp::Code => ">",
            };
            format!("({sym} {})", routeros_tree(x))
        }
        other => format!("{other:?}"),
    }
}

#[test]
fn expressions_group_as_routeros_own_parse_trees_show() {
    // Each source expression from the corpus, beside the tree RouterOS 7.22.1 made of it.
    let cases = [
        ("(8 - $pos + 1)", "(+ (- 8 $pos) 1)"),
        (
            "($lastkey > 48 && $lastkey < 57)",
            "(and (> $lastkey 48) (< $lastkey 57))",
        ),
        (
            "((($yyyy - 1970) * 365) + (($yyyy - 1968) / 4) + ($prMntDays->$M) + ($d - 1))",
            "(+ (* (- $yyyy 1970) 365) (/ (- $yyyy 1968) 4) (-> $prMntDays $M) (- $d 1))",
        ),
        (
            "($ArrayIN->\"networkSettings\"->\"connections\"->\"LAN\"->\"addresses\")",
            "(-> (-> (-> (-> $ArrayIN networkSettings) connections) LAN) addresses)",
        ),
        (
            "(($filelen + $addlen) > $maxlen)",
            "(> (+ $filelen $addlen) $maxlen)",
        ),
        (
            "(255.255.255.255 << (32 - $prefix))",
            "(<< 255.255.255.255 (- 32 $prefix))",
        ),
        ("($mkvlan <%% $x)", "(<%% $mkvlan $x)"),
    ];
    for (source, theirs) in cases {
        let script = routeros::parse::parse("e.rsc", &format!(":put {source}")).unwrap();
        let routeros::ast::Stmt::Script { args, .. } = &script.stmts[0] else {
            panic!("{source}: not a script command");
        };
        assert_eq!(routeros_tree(&args[0].value), theirs, "{source}");
    }
}

/// What `not_simulated` says of a configuration, as lines of text.
fn not_simulated(cfg: &pccsim::RouterConfig) -> Vec<String> {
    let rows = cfg.not_simulated.iter();
    rows.map(|n| format!("{} {:?}", n.menu, n.lines)).collect()
}

#[test]
fn an_export_wrapped_after_an_equals_sign_reads_as_one_value() {
    // `/export` breaks long lines after `=` and indents what follows.
    let c = run("/tool netwatch\nadd host=\\\n    10.2.2.2 interval=3s\n").config;
    let netwatch = c.stored_enabled("tool netwatch").next().expect("one entry");
    assert_eq!(netwatch.get("host"), Some("10.2.2.2"));
    assert_eq!(netwatch.get("interval"), Some("3s"));
    let c = run("/ip firewall mangle\nadd action=mark-connection chain=prerouting new-connection-mark=\\\n    WAN_1_conn\n").config;
    assert_eq!(c.connection_marks.name(1), "WAN_1_conn");
}

#[test]
fn the_export_header_counts_below_comments_people_add() {
    let header = "# my office router, exported before the upgrade\n#\n# jan/02/2023 10:00:00 by RouterOS 6.48.7\n# software id = ABCD-1234\n";
    assert_eq!(routeros::export_release(header), Some("6.48.7"));
    // The header decides the dialect, whatever the script uses.
    let c = run(&format!(
        "{header}/ip address\nadd address=10.0.0.1/24 interface=ether2\n"
    ))
    .config;
    assert_eq!(c.dialect, Dialect::V6);
    let v7 = header.replace("6.48.7", "7.14.3");
    assert_eq!(
        run(&format!(
            "{v7}/ip address\nadd address=10.0.0.1/24 interface=ether2\n"
        ))
        .config
        .dialect,
        Dialect::V7
    );
    // A header below the first command is not one.
    assert_eq!(
        routeros::export_release("/ip address print\n# x by RouterOS 6.49\n"),
        None
    );
}

#[test]
fn names_of_other_releases_and_devices_read_as_not_simulated_with_their_origin() {
    let c = run(concat!(
        "/ip route add dst-address=0.0.0.0/0 gateway=10.0.0.1 suppress-hw-offload=no\n",
        "/system ntp client set enabled=yes primary-ntp=10.0.0.9\n",
        "/interface ethernet set [ find default-name=ether5 ] poe-out=off\n",
        "/interface ethernet switch port set 0 default-vlan-id=10\n",
    ))
    .config;
    assert_eq!(c.routes.len(), 1, "the route is built without it");
    let notes = not_simulated(&c).join("\n");
    for expected in [
        "`suppress-hw-offload` of /ip route add (RouterOS 7.9.2 to 7.20.8) [1]",
        "`primary-ntp` of /system ntp client set (RouterOS 6) [2]",
        "`poe-out` of /interface ethernet set (RouterOS on devices with PoE) [3]",
        "/interface ethernet switch (RouterOS on devices with a switch chip) [4]",
    ] {
        assert!(notes.contains(expected), "{expected}\n{notes}");
    }
    // A name no RouterOS has, close to a simulated one, stays an error with its suggestion.
    let e = fails("/ip route add dst-address=0.0.0.0/0 gateway=10.0.0.1 suppress-hw-ofload=no\n");
    assert!(e.message.contains("suppress-hw-offload"), "{}", e.message);
    let e = fails("/ip firewall mangel add chain=prerouting action=accept\n");
    assert!(e.message.contains("did you mean `mangle`"), "{}", e.message);
    // `parse` judges as RouterOS 7.22.1 does and keeps refusing them.
    assert!(
        routeros::parse::parse("t.rsc", "/system ntp client set primary-ntp=10.0.0.9").is_err()
    );
}

#[test]
fn scripts_written_for_v6_and_published_in_markdown_read() {
    // v6's `:set $x`, and `:set` of a variable an outer block of a scheduler's code declared.
    let out = put(":local n 1\n:set $n 2\n:put $n\n");
    assert_eq!(out, ["2"]);
    run(
        "/system scheduler add name=x interval=1m on-event={\n  :local ok false\n  :if (true) do={ :set ok true }\n}\n",
    );
    // A README around the script: the fences' code is read, the prose and a shell block not.
    let md = "# Two WANs\nPaste this:\n```rsc\n/ip address\nadd address=10.0.0.1/24 interface=ether2\n```\nThen from your PC:\n```bash\nssh admin@10.0.0.1\n```\n";
    assert_eq!(run(md).config.addresses.len(), 1);
    // Prose in a script is read past, and `check` says where.
    let c = run("/ip address add address=10.0.0.1/24 interface=ether2\nStep 2: NAT\n/ip firewall nat add chain=srcnat action=masquerade\n").config;
    assert_eq!(c.nat.rules.len(), 1);
    let prose = &c.assumptions[0];
    assert_eq!((prose.id, prose.line), ("not-routeros-text", 2));
}

#[test]
fn arrays_of_arrays_declared_over_several_lines_index_by_key() {
    let out = put(
        ":global g {\n  addr={\"a\";\"b\"};\n  stat={};\n}\n:put [:len ($g->\"addr\")]\n:put ($g->\"addr\"->1)\n:put ($nothing->\"x\")\n",
    );
    assert_eq!(out, ["2", "b", ""]);
}
