//! One test per class of wrong verdict the accuracy issue reported (each fails on the code
//! before it): missed violations, silently judged traces, false alarms, messages.

use cobrowse_visitor_conformance::oracle::{read_trace, Invariant};
use cobrowse_visitor_conformance::transcript::{parse_scenario, parse_trace};
use std::collections::BTreeSet;

/// The invariants flagged on an interleaved or plain trace given as lines.
fn flagged(text: &str) -> BTreeSet<Invariant> {
    let lines = parse_trace(text).expect("readable");
    read_trace(&lines)
        .expect("usable")
        .into_iter()
        .map(|v| v.invariant)
        .collect()
}

/// The line and message of a trace the reading rules refuse.
fn unusable(text: &str) -> (usize, String) {
    match parse_trace(text) {
        Err(e) => (e.line, e.message),
        Ok(lines) => {
            let e = read_trace(&lines).expect_err("unusable");
            (e.line, e.message)
        }
    }
}

const INIT: &str = r#"{"user":"launch"}
{"step":0,"api":{"call":"init_visitor","group_id":19921,"visitor_id":null}}
{"step":0,"event":{"code":"EventVisitorInitialized","properties":{}}}
{"step":0,"api":{"call":"set_default_ui","enabled":false}}
{"user":"login","visitor_id":"cust-42"}
{"step":1,"api":{"call":"init_visitor","group_id":19921,"visitor_id":"cust-42"}}
{"step":1,"event":{"code":"EventVisitorInitialized","properties":{}}}
{"step":1,"api":{"call":"presence_connect"}}
{"step":1,"api":{"call":"presence_set_default_ui","enabled":false}}
{"step":1,"event":{"code":"EventPresenceConnected","properties":{}}}
{"agent":"start_presence_session"}
{"step":2,"event":{"code":"EventPresenceShowTerms","properties":{}}}
{"step":2,"api":{"call":"presence_signal_agent","event":"terms","map":{"status":"displayed"}}}
{"user":"accept_terms"}
{"step":3,"api":{"call":"presence_signal_agent","event":"terms","map":{"status":"accepted"}}}
"#;

#[test]
fn consent_does_not_outlive_its_presence_connection() {
    let disconnected = format!(
        "{INIT}{{\"step\":3,\"api\":{{\"call\":\"presence_disconnect\"}}}}\n{{\"step\":3,\"api\":{{\"call\":\"start_session\"}}}}\n"
    );
    assert!(flagged(&disconnected).contains(&Invariant::Consent));
    let other = format!(
        "{INIT}{{\"step\":3,\"api\":{{\"call\":\"init_visitor\",\"group_id\":19921,\"visitor_id\":\"cust-7\"}}}}\n{{\"step\":3,\"api\":{{\"call\":\"start_session\"}}}}\n"
    );
    assert!(flagged(&other).contains(&Invariant::Consent));
    let fine = format!("{INIT}{{\"step\":3,\"api\":{{\"call\":\"start_session\"}}}}\n");
    assert!(!flagged(&fine).contains(&Invariant::Consent));
}

#[test]
fn a_refused_disconnect_does_not_do_the_logout_duty() {
    let t = format!(
        "{INIT}{{\"user\":\"logout\"}}\n{{\"step\":4,\"api\":{{\"call\":\"presence_disconnect\"}}}}\n{{\"step\":4,\"error\":{{\"code\":\"invalid_state\",\"message\":\"no\"}}}}\n"
    );
    assert!(flagged(&t).contains(&Invariant::DisconnectOnLogout));
}

#[test]
fn a_one_click_session_is_not_lost_track_of() {
    let running = format!(
        "{INIT}{{\"step\":3,\"api\":{{\"call\":\"start_session\"}}}}\n{{\"step\":3,\"event\":{{\"code\":\"EventConnectedToSession\",\"properties\":{{\"sessionkey\":\"cust-42\"}}}}}}\n"
    );
    let stray = format!(
        "{running}{{\"step\":3,\"event\":{{\"code\":\"EventStartSessionFailed\",\"properties\":{{}}}}}}\n{{\"step\":3,\"ui\":{{\"show\":\"session_key\",\"key\":\"cust-42\"}}}}\n"
    );
    assert!(flagged(&stray).contains(&Invariant::KeyHiddenPresence));
    let second = format!(
        "{running}{{\"step\":3,\"api\":{{\"call\":\"start_session\",\"key\":\"GLANCE_KEYTYPE_RANDOM\"}}}}\n{{\"step\":3,\"ui\":{{\"show\":\"session_key\",\"key\":\"cust-42\"}}}}\n"
    );
    assert!(flagged(&second).contains(&Invariant::KeyHiddenPresence));
}

#[test]
fn misaligned_steps_are_unusable_naming_the_line() {
    let t = "{\"user\":\"launch\"}\n{\"lifecycle\":\"background\"}\n{\"step\":0,\"api\":{\"call\":\"presence_disconnect\"}}\n";
    let (line, message) = unusable(t);
    assert_eq!(line, 3);
    assert!(message.contains("latest scenario line"), "{message}");
    let later = "{\"user\":\"launch\"}\n{\"step\":1,\"api\":{\"call\":\"end_session\"}}\n";
    assert_eq!(unusable(later).0, 2);
}

#[test]
fn malformed_records_are_unusable() {
    let two = "{\"step\":0,\"api\":{\"call\":\"end_session\"},\"ui\":{\"show\":\"terms\"}}\n";
    let (line, message) = unusable(two);
    assert_eq!(line, 1);
    assert!(message.contains("two kinds"), "{message}");
    let extra = "{\"step\":0,\"ui\":{\"show\":\"terms\"},\"at\":5}\n";
    assert!(unusable(extra).1.contains("unexpected field `at`"));
    let config_late = "{\"user\":\"launch\"}\n{\"config\":{}}\n";
    let (line, message) = unusable(config_late);
    assert_eq!(line, 2);
    assert!(message.contains("first line"), "{message}");
    let extra_api = "{\"step\":0,\"api\":{\"call\":\"end_session\",\"key\":\"x\"}}\n";
    assert!(unusable(extra_api).1.contains("unexpected field `key`"));
}

#[test]
fn no_false_custom_ui_alarms() {
    // set_default_ui(false) right after the first init_visitor, before its event
    let t = "{\"user\":\"launch\"}\n{\"step\":0,\"api\":{\"call\":\"init_visitor\",\"group_id\":19921}}\n{\"step\":0,\"api\":{\"call\":\"set_default_ui\",\"enabled\":false}}\n{\"step\":0,\"event\":{\"code\":\"EventVisitorInitialized\",\"properties\":{}}}\n";
    assert!(flagged(t).is_empty(), "{:?}", flagged(t));
    // a plain transcript after one config line
    let plain = "{\"config\":{}}\n{\"step\":1,\"api\":{\"call\":\"init_visitor\",\"group_id\":19921}}\n{\"step\":1,\"event\":{\"code\":\"EventVisitorInitialized\",\"properties\":{}}}\n{\"step\":1,\"api\":{\"call\":\"set_default_ui\",\"enabled\":false}}\n{\"step\":2,\"api\":{\"call\":\"start_session\",\"key\":\"GLANCE_KEYTYPE_RANDOM\"}}\n";
    assert!(flagged(plain).is_empty(), "{:?}", flagged(plain));
    // and the config is used: without set_default_ui it is flagged
    let missing = "{\"config\":{}}\n{\"step\":1,\"api\":{\"call\":\"init_visitor\",\"group_id\":19921}}\n{\"step\":1,\"event\":{\"code\":\"EventVisitorInitialized\",\"properties\":{}}}\n{\"step\":2,\"api\":{\"call\":\"start_session\",\"key\":\"GLANCE_KEYTYPE_RANDOM\"}}\n";
    assert!(flagged(missing).contains(&Invariant::CustomUi));
}

#[test]
fn messages_name_what_is_wrong() {
    let bom = parse_trace("\u{feff}{\"user\":\"launch\"}\n").unwrap_err();
    assert!(bom.message.contains("byte order mark"), "{}", bom.message);
    let bad = parse_trace("{\"user\":\"launch\"}\n{\"step\": x}\n").unwrap_err();
    assert_eq!(bad.line, 2);
    assert!(!bad.message.contains("line 1"), "{}", bad.message);
    assert!(bad.message.contains("at column"), "{}", bad.message);
}

#[test]
fn run_input_reads_api_steps_by_one_rule() {
    for text in [
        "{\"api\":{\"call\":\"end_session\",\"extra\":1}}",
        "{\"api\":{\"call\":\"init_visitor\",\"group_id\":19921,\"extra\":1}}",
        "{\"api\":{\"call\":\"presence_connect\",\"extra\":1}}",
    ] {
        let e = parse_scenario(text).unwrap_err();
        assert!(
            e.message.contains("unexpected field `extra`"),
            "{text}: {}",
            e.message
        );
    }
    let big = parse_scenario("{\"api\":{\"call\":\"init_visitor\",\"group_id\":2147483648}}")
        .unwrap_err();
    assert!(big.message.contains("Int32"), "{}", big.message);
    let big = parse_scenario("{\"config\":{\"group_id\":3000000000}}").unwrap_err();
    assert!(big.message.contains("Int32"), "{}", big.message);
}

/// An `api` step's group id is any `Int32` (the seed's type): a negative one is read and
/// reaches the core, which refuses it; one outside the range is refused when read, naming
/// the line and the range. The config's group id is the app's own: 1..=2147483647.
#[test]
fn group_ids_are_read_as_the_seeds_int32() {
    use cobrowse_visitor_conformance::transcript::Step;
    use cobrowse_visitor_core::{ApiCall, InitParams};
    for g in [-5, -1, 0, i32::MIN, i32::MAX] {
        let text = format!(
            "{{\"user\":\"launch\"}}\n{{\"api\":{{\"call\":\"init_visitor\",\"group_id\":{g}}}}}\n"
        );
        let steps = parse_scenario(&text).unwrap_or_else(|e| panic!("{g}: {e}"));
        assert_eq!(
            steps[1],
            Step::Api(ApiCall::InitVisitor(InitParams::anonymous(g)))
        );
    }
    for (g, line) in [
        ("2147483648", 2),
        ("-2147483649", 3),
        ("18446744073709551616", 2),
    ] {
        let blank = if line == 3 { "\n" } else { "" };
        let text = format!("{{\"user\":\"launch\"}}\n{blank}{{\"api\":{{\"call\":\"init_visitor\",\"group_id\":{g}}}}}\n");
        let e = parse_scenario(&text).unwrap_err();
        assert_eq!(e.line, line, "{g}");
        assert!(
            e.message.contains(&format!(
                "group_id {g} is outside the seed's Int32 range (-2147483648..=2147483647)"
            )),
            "{g}: {}",
            e.message
        );
        // the same record in a trace is refused by the same rule
        let record =
            format!("{{\"step\":1,\"api\":{{\"call\":\"init_visitor\",\"group_id\":{g}}}}}");
        assert!(parse_trace(&record).is_err(), "{g}");
    }
    for g in ["-1", "0", "-2147483648", "2147483648"] {
        let e = parse_scenario(&format!("{{\"config\":{{\"group_id\":{g}}}}}")).unwrap_err();
        assert_eq!(e.line, 1);
        assert!(
            e.message
                .starts_with(&format!("bad config: group_id {g} must be 1..=2147483647")),
            "{g}: {}",
            e.message
        );
    }
    let max = parse_scenario("{\"config\":{\"group_id\":2147483647}}").unwrap();
    assert!(matches!(&max[0], Step::Config(c) if c.group_id == i32::MAX));
}

#[test]
fn agent_refusals_speak_the_contract() {
    use cobrowse_visitor_conformance::sim::World;
    use cobrowse_visitor_conformance::transcript::Observed;
    let steps =
        parse_scenario("{\"user\":\"launch\"}\n{\"agent\":\"start_presence_session\"}\n").unwrap();
    let records = World::run(&steps).unwrap();
    let messages: Vec<&str> = records
        .iter()
        .filter_map(|r| match &r.observed {
            Observed::Error(e) => Some(e.message.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        messages.contains(&"the agent cannot start_presence_session now"),
        "{messages:?}"
    );
}
