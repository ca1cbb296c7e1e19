//! Arbitrary and mutated input never panics the readers, and every rejection is located.

mod common;

use proptest::prelude::*;

/// Characters that matter to the RouterOS lexer and parser, for mutations that hit edges.
const SIGNIFICANT: &[char] = &[
    '"', '\\', '[', ']', '{', '}', '=', '!', '\n', '/', '#', '$', ' ', ';', ':', '~', '(', ')', 'é',
];

fn located(text: &str, line: u32, column: u32) -> bool {
    line >= 1 && column >= 1 && line as usize <= text.split('\n').count()
}

fn mutate(text: &str, edits: &[(usize, u8, usize)]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for &(at, op, pick) in edits {
        if chars.is_empty() {
            break;
        }
        let at = at % chars.len();
        let c = SIGNIFICANT[pick % SIGNIFICANT.len()];
        match op % 3 {
            0 => chars.insert(at, c),
            1 => {
                chars.remove(at);
            }
            _ => chars[at] = c,
        }
    }
    chars.into_iter().collect()
}

fn check_rsc(text: &str) -> Result<(), TestCaseError> {
    if let Err(e) = pccsim::routeros::load("fuzz.rsc", text) {
        prop_assert!(
            located(text, e.line, e.column),
            "{}:{} in {:?}",
            e.line,
            e.column,
            text
        );
    }
    Ok(())
}

/// Nesting of every kind, `depth` deep, around a value: `[`, `(`, `{` arrays, `do={` blocks,
/// `$[…]` inside strings, unary operators.
fn nested(kind: u8, depth: usize) -> String {
    let (prefix, open, close, suffix) = match kind % 7 {
        0 => (":put ", "[:put ", "]", ""),
        1 => (":put ", "(", ")", ""),
        2 => (":put ", "{", "}", ""),
        3 => ("", ":if (true) do={", "}", ""),
        4 => (":put \"", "$[", "]", "\""),
        5 => ("", "{", "}", ""),
        _ => (":put ", "!", "", ""),
    };
    format!(
        "{prefix}{}1{}{suffix}\n",
        open.repeat(depth),
        close.repeat(depth)
    )
}

/// Reading and running `text` on a test thread's small stack either works or fails with a
/// located error.
fn runs_or_is_refused(text: &str) -> Result<(), TestCaseError> {
    match pccsim::routeros::run("deep.rsc", text) {
        Ok(_) => Ok(()),
        Err(e) => {
            prop_assert!(located(text, e.line, e.column), "{}:{}", e.line, e.column);
            Ok(())
        }
    }
}

#[test]
fn deep_nesting_and_long_chains_are_errors_with_a_place_not_crashes() {
    for kind in 0..7 {
        for depth in [99, 101, 2_000, 20_000] {
            let text = nested(kind, depth);
            let result = pccsim::routeros::run("deep.rsc", &text);
            if depth > 100 && kind != 6 {
                let e = result
                    .err()
                    .unwrap_or_else(|| panic!("kind {kind} depth {depth}"));
                assert!(e.message.contains("more than 100"), "{}", e.message);
            }
        }
    }
    let sum = |n: usize| format!(":put ({})\n", vec!["1"; n].join("+"));
    let out = pccsim::routeros::run("sum.rsc", &sum(1_000))
        .unwrap()
        .output;
    assert_eq!(out, ["1000"]);
    let e = pccsim::routeros::run("sum.rsc", &sum(10_000))
        .err()
        .unwrap();
    assert!(
        e.message.contains("more than 1000 operators"),
        "{}",
        e.message
    );
    // A 50 MB line with an error in it: the message shows a window of it, not all of it.
    let big = format!("/ip route add gateway={}\"\n", "x".repeat(50_000_000));
    let e = pccsim::routeros::run("big.rsc", &big).err().unwrap();
    assert!(format!("{e:?}").len() < 10_000);
}

proptest! {
    // PROPTEST_CASES=100000 for a long fuzzing run; CI runs the default.
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512)
    ))]

    #[test]
    fn arbitrary_text_never_panics_the_routeros_reader(text in "\\PC{0,400}") {
        check_rsc(&text)?;
    }

    #[test]
    fn reading_a_command_at_a_time_sees_the_tokens_of_the_whole_text(
        file in prop::sample::select(vec!["dual_wan.rsc", "weighted_5_2.rsc", "three_wan.rsc", "small_business.rsc"]),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<usize>()), 0..6),
    ) {
        // `pccsim parse` lexes a top-level command at a time; together the pieces must be the
        // tokens of the whole text, up to the same error.
        use pccsim::routeros::lexer::{Lexer, tokenize_until_error};
        let text = mutate(&common::read(&common::root().join("scenarios").join(file)), &edits);
        let (whole, error) = tokenize_until_error("t.rsc", &text);
        let mut lexer = Lexer::new("t.rsc", &text);
        let (mut pieces, mut chunk) = (Vec::new(), Vec::new());
        let chunked_error = loop {
            let r = lexer.next_command(&mut chunk);
            let at_end = chunk.is_empty();
            pieces.append(&mut chunk);
            match r {
                Err(e) => break Some(e),
                Ok(()) if at_end => break None,
                Ok(()) => prop_assert!(pieces.len() <= whole.len()),
            }
        };
        prop_assert_eq!(&pieces, &whole);
        prop_assert_eq!(chunked_error.map(|e| (e.line, e.column)), error.map(|e| (e.line, e.column)));
    }

    #[test]
    fn any_nesting_reads_and_runs_or_is_refused_with_its_place(
        kinds in prop::collection::vec(0u8..7, 1..4),
        depth in 0usize..400,
    ) {
        let text: String = kinds.iter().map(|&k| nested(k, depth)).collect();
        runs_or_is_refused(&text)?;
    }

    #[test]
    fn mutated_configs_are_read_or_rejected_with_a_location(
        file in prop::sample::select(vec!["dual_wan.rsc", "weighted_5_2.rsc", "three_wan.rsc", "small_business.rsc"]),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<usize>()), 1..6),
    ) {
        let text = common::read(&common::root().join("scenarios").join(file));
        check_rsc(&mutate(&text, &edits))?;
    }

    #[test]
    fn mutated_real_configurations_are_read_or_rejected_with_a_location_and_init_never_panics(
        file in prop::sample::select(vec![
            "06_tmaskpl-v711-export-2wan-pcc.rsc",
            "08_sujirou-v7-hotspot-pcc-cake.rsc",
            "14_rz3n-failover-v3.rsc",
            "16_finlaydag33k-lte-wg-pbr.rsc",
        ]),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<usize>()), 1..6),
    ) {
        // Exports wrapped after `=`, scripts, Markdown around them: the lenient reading too must
        // point at the text it refuses, and a world guessed from whatever reads must build or
        // say why.
        let dir = common::root().join("tests/data/real-configs");
        let text = mutate(&common::read(&dir.join(file)), &edits);
        check_rsc(&text)?;
        if let Ok(cfg) = pccsim::routeros::load("t.rsc", &text)
            && let Ok(guess) = pccsim::init::init(&cfg, "t", "t.rsc")
        {
            prop_assert!(pccsim::scenario::parse("init.ron", &guess.ron).is_ok(), "{}", guess.ron);
        }
    }

    #[test]
    fn markdown_keeps_every_line_and_byte_where_it_was(text in "(```[a-z]{0,4}\n|[^`]{0,20}\n|`){0,30}") {
        if let Some(p) = pccsim::routeros::markdown::script_of(&text) {
            prop_assert_eq!(p.text.len(), text.len());
            prop_assert_eq!(p.text.matches('\n').count(), text.matches('\n').count());
        }
    }

    #[test]
    fn mutated_scenarios_are_read_or_rejected_with_a_location(
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<usize>()), 1..6),
    ) {
        let text = mutate(&common::read(&common::root().join("scenarios/dual_wan.ron")), &edits);
        let config_text = common::read(&common::root().join("scenarios/dual_wan.rsc"));
        match pccsim::scenario::parse("fuzz.ron", &text) {
            Err(e) => prop_assert!(located(&text, e.line, e.column), "{}:{}", e.line, e.column),
            Ok(sc) => {
                let config = pccsim::routeros::load("dual_wan.rsc", &config_text).unwrap();
                let _ = pccsim::scenario::check(sc, config, "fuzz.ron", &text, "dual_wan.rsc", &config_text);
            }
        }
    }
}
