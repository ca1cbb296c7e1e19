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
    fn mutated_configs_are_read_or_rejected_with_a_location(
        file in prop::sample::select(vec!["dual_wan.rsc", "weighted_5_2.rsc", "three_wan.rsc", "small_business.rsc"]),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<usize>()), 1..6),
    ) {
        let text = common::read(&common::root().join("scenarios").join(file));
        check_rsc(&mutate(&text, &edits))?;
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
