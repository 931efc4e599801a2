//! Edges of issue 14's checks (spec.md §10.2: INV-CONSENT-POLICY, INV-CONNECT-ATTEMPTS,
//! INV-NOT-CONFIGURED, INV-PRESENCE-DATA, INV-SEND-FAIL-REFUSES, and INV-CONSENT's policy
//! grant) on hand-written plain traces: each test holds a rule at the place where a looser or
//! stricter reading would differ.

use cobrowse_visitor_conformance::oracle::{read_trace, Invariant, Violation};
use cobrowse_visitor_conformance::transcript::parse_trace;

fn violations(text: &str) -> Vec<Violation> {
    read_trace(&parse_trace(text).expect("readable")).expect("usable")
}

fn ids(text: &str) -> Vec<Invariant> {
    violations(text).iter().map(|v| v.invariant).collect()
}

/// Logged in and present (records of steps 0 and 1).
const PRESENT: &str = r#"{"step":0,"api":{"call":"init_visitor","group_id":19921,"visitor_id":"cust-42"}}
{"step":0,"recv":{"type":"settings","v":1,"key_length":4}}
{"step":0,"event":{"code":"EventVisitorInitialized","properties":{}}}
{"step":1,"api":{"call":"presence_connect"}}
{"step":1,"send":{"type":"presence_connect","visitor_id":"cust-42"}}
{"step":1,"event":{"code":"EventPresenceConnected","properties":{}}}
"#;

const AGENT_START: &str = r#"{"step":2,"event":{"code":"EventPresenceStartSession","properties":{"request_id":"1"}}}
"#;

const ONE_CLICK: &str = r#"{"step":3,"api":{"call":"start_session"}}
"#;

const POLICY: &str = r#"{"config":{"consent_policy":"agent_may_start","custom_ui":false}}
"#;

#[test]
fn the_policy_needs_both_sides_and_the_latest_settings() {
    // no config: the default policy
    let t = format!("{PRESENT}{AGENT_START}");
    assert_eq!(ids(&t), [Invariant::ConsentPolicy]);
    // the app opted in, the group did not say so
    assert_eq!(ids(&format!("{POLICY}{t}")), [Invariant::ConsentPolicy]);
    // both: allowed, and it grants one one-click start (INV-CONSENT)
    let both = PRESENT.replacen(
        "\"key_length\":4}",
        "\"key_length\":4,\"agent_start\":true}",
        1,
    );
    assert!(ids(&format!("{POLICY}{both}{AGENT_START}{ONE_CLICK}")).is_empty());
    // one only: a second start has no grant
    let second = ONE_CLICK.replace("\"step\":3", "\"step\":4");
    assert_eq!(
        ids(&format!("{POLICY}{both}{AGENT_START}{ONE_CLICK}{second}"))
            .into_iter()
            .filter(|i| *i == Invariant::Consent)
            .count(),
        1
    );
    // a later terms request replaces the grant
    let terms = "{\"step\":2,\"event\":{\"code\":\"EventPresenceShowTerms\",\"properties\":{\"request_id\":\"2\"}}}\n";
    assert_eq!(
        ids(&format!("{POLICY}{both}{AGENT_START}{terms}{ONE_CLICK}")),
        [Invariant::Consent]
    );
    // a settings frame the SDK refused says nothing: the group's latest accepted one counts
    let refused = "{\"step\":1,\"recv\":{\"type\":\"settings\",\"v\":1,\"key_length\":99,\"agent_start\":true}}\n{\"step\":1,\"error\":{\"code\":\"frame_field\",\"message\":\"key_length\"}}\n";
    assert_eq!(
        ids(&format!("{POLICY}{PRESENT}{refused}{AGENT_START}")),
        [Invariant::ConsentPolicy]
    );
    // a trace of calls and events only: the config alone decides
    let calls_only: String = format!("{POLICY}{PRESENT}{AGENT_START}")
        .lines()
        .filter(|l| !l.contains("\"recv\""))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(ids(&calls_only).is_empty(), "{:?}", violations(&calls_only));
}

const BOUNDED: &str = r#"{"step":0,"api":{"call":"init_visitor","group_id":19921,"visitor_id":"cust-42"}}
{"step":0,"event":{"code":"EventVisitorInitialized","properties":{}}}
{"step":1,"api":{"call":"presence_connect","max_attempts":1}}
{"step":1,"send":{"type":"presence_connect","visitor_id":"cust-42"}}
"#;

#[test]
fn attempts_count_per_round() {
    let again =
        "{\"step\":2,\"send\":{\"type\":\"presence_connect\",\"visitor_id\":\"cust-42\"}}\n";
    assert_eq!(
        ids(&format!("{BOUNDED}{again}")),
        [Invariant::ConnectAttempts]
    );
    // a restored link starts a new round
    let warn = "{\"step\":2,\"event\":{\"code\":\"EventConnectionWarning\",\"properties\":{}}}\n{\"step\":3,\"event\":{\"code\":\"EventClearWarning\",\"properties\":{}}}\n";
    let restored = again.replace("\"step\":2", "\"step\":3");
    assert!(ids(&format!("{BOUNDED}{warn}{restored}")).is_empty());
    // a refused bound keeps the accepted one
    let zero = "{\"step\":2,\"api\":{\"call\":\"presence_connect\",\"max_attempts\":0}}\n{\"step\":2,\"event\":{\"code\":\"EventInvalidParameter\",\"properties\":{\"call\":\"presence_connect\",\"error\":\"invalid_parameter\"}}}\n";
    let third = again.replace("\"step\":2", "\"step\":3");
    assert_eq!(
        ids(&format!("{BOUNDED}{zero}{third}")),
        [Invariant::ConnectAttempts]
    );
    // forever: no bound; but after giving up, no attempt until the app connects again
    let forever = BOUNDED.replace(",\"max_attempts\":1", "");
    assert!(ids(&format!("{forever}{again}")).is_empty());
    let gave_up = "{\"step\":2,\"event\":{\"code\":\"EventPresenceConnectFail\",\"properties\":{\"reason\":\"timeout\"}}}\n";
    assert_eq!(
        ids(&format!("{forever}{gave_up}{restored}")),
        [Invariant::ConnectAttempts]
    );
    let reconnect = "{\"step\":3,\"api\":{\"call\":\"presence_connect\"}}\n";
    assert!(ids(&format!("{forever}{gave_up}{reconnect}{restored}")).is_empty());
}

#[test]
fn not_configured_holds_until_an_accepted_init() {
    let nc = "{\"step\":1,\"event\":{\"code\":\"EventPresenceNotConfigured\",\"properties\":{}}}\n";
    let connect = "{\"step\":2,\"api\":{\"call\":\"presence_connect\"}}\n";
    let base = &PRESENT[..PRESENT
        .find("{\"step\":1,\"event\"")
        .unwrap_or(PRESENT.len())];
    assert_eq!(
        ids(&format!("{base}{nc}{connect}")),
        [Invariant::NotConfigured]
    );
    // refused: no violation (S-A46 refuses it)
    let refused = "{\"step\":2,\"event\":{\"code\":\"EventInvalidState\",\"properties\":{\"call\":\"presence_connect\",\"error\":\"presence_not_configured\"}}}\n";
    assert!(ids(&format!("{base}{nc}{connect}{refused}")).is_empty());
    // a refused re-init does not look again; an accepted one does
    let init = "{\"step\":2,\"api\":{\"call\":\"init_visitor\",\"group_id\":5,\"visitor_id\":\"cust-42\"}}\n";
    let mismatch = "{\"step\":2,\"event\":{\"code\":\"EventInvalidParameter\",\"properties\":{\"call\":\"init_visitor\",\"error\":\"group_id_mismatch\"}}}\n";
    let later = connect.replace("\"step\":2", "\"step\":3");
    assert!(ids(&format!("{base}{nc}{init}{mismatch}{later}")).contains(&Invariant::NotConfigured));
    let same_group = init.replace("\"group_id\":5", "\"group_id\":19921");
    assert!(!ids(&format!("{base}{nc}{same_group}{later}")).contains(&Invariant::NotConfigured));
}

#[test]
fn presence_data_is_owed_whole_while_up() {
    let data = "{\"step\":2,\"api\":{\"call\":\"presence_data\",\"map\":{\"page\":\"cart\"}}}\n";
    let sent = "{\"step\":2,\"send\":{\"type\":\"presence_data\",\"map\":{\"page\":\"cart\"}}}\n";
    assert_eq!(ids(&format!("{PRESENT}{data}")), [Invariant::PresenceData]);
    assert!(ids(&format!("{PRESENT}{data}{sent}")).is_empty());
    // merged: the second call owes both entries
    let more = "{\"step\":3,\"api\":{\"call\":\"presence_data\",\"map\":{\"items\":\"2\"}}}\n";
    let only_new = "{\"step\":3,\"send\":{\"type\":\"presence_data\",\"map\":{\"items\":\"2\"}}}\n";
    let whole = "{\"step\":3,\"send\":{\"type\":\"presence_data\",\"map\":{\"items\":\"2\",\"page\":\"cart\"}}}\n";
    assert_eq!(
        ids(&format!("{PRESENT}{data}{sent}{more}{only_new}")),
        [Invariant::PresenceData]
    );
    assert!(ids(&format!("{PRESENT}{data}{sent}{more}{whole}")).is_empty());
    // while presence is down nothing is owed; a reconnect owes the merge again
    let blur = "{\"step\":3,\"event\":{\"code\":\"EventPresenceBlur\",\"properties\":{}}}\n";
    let blurred_data = more.replace("\"step\":3", "\"step\":4");
    assert!(ids(&format!("{PRESENT}{data}{sent}{blur}{blurred_data}")).is_empty());
    let reconnected = "{\"step\":5,\"send\":{\"type\":\"presence_connect\",\"visitor_id\":\"cust-42\"}}\n{\"step\":5,\"event\":{\"code\":\"EventPresenceConnected\",\"properties\":{}}}\n";
    assert_eq!(
        ids(&format!(
            "{PRESENT}{data}{sent}{blur}{blurred_data}{reconnected}"
        )),
        [Invariant::PresenceData]
    );
    // a re-init with another visitor id starts from empty; with the same one it keeps the data
    let other = "{\"step\":3,\"api\":{\"call\":\"init_visitor\",\"group_id\":19921,\"visitor_id\":\"cust-7\"}}\n";
    let down =
        "{\"step\":3,\"event\":{\"code\":\"EventPresenceDisconnected\",\"properties\":{}}}\n";
    let up_again = reconnected.replace("\"step\":5", "\"step\":4");
    assert!(ids(&format!("{PRESENT}{data}{sent}{down}{other}{up_again}")).is_empty());
    let same = other.replace("cust-7", "cust-42");
    assert_eq!(
        ids(&format!("{PRESENT}{data}{sent}{down}{same}{up_again}")),
        [Invariant::PresenceData]
    );
}

#[test]
fn send_fail_refuses_only_the_two_presence_messages() {
    let fail = |call: &str| {
        format!("{{\"step\":2,\"event\":{{\"code\":\"EventPresenceSendFail\",\"properties\":{{\"call\":\"{call}\",\"error\":\"presence_send_fail\"}}}}}}\n")
    };
    let visibility =
        "{\"step\":2,\"api\":{\"call\":\"presence_signal_visibility\",\"visible\":true}}\n";
    assert!(ids(&format!(
        "{PRESENT}{visibility}{}",
        fail("presence_signal_visibility")
    ))
    .is_empty());
    // a send for the refused call
    let sent = "{\"step\":2,\"send\":{\"type\":\"presence_visibility\",\"visible\":true}}\n";
    let found = ids(&format!(
        "{PRESENT}{visibility}{}{sent}",
        fail("presence_signal_visibility")
    ));
    assert!(found.contains(&Invariant::SendFailRefuses), "{found:?}");
    // after another call it is no refusal, and breaks the rule
    let disconnect = "{\"step\":2,\"api\":{\"call\":\"presence_disconnect\"}}\n";
    let found = ids(&format!(
        "{PRESENT}{disconnect}{}",
        fail("presence_disconnect")
    ));
    assert!(found.contains(&Invariant::SendFailRefuses), "{found:?}");
    // not right after its call (another record in between)
    let found = ids(&format!(
        "{PRESENT}{visibility}{sent}{}",
        fail("presence_signal_visibility")
    ));
    assert!(found.contains(&Invariant::SendFailRefuses), "{found:?}");
    // with no call at all
    assert_eq!(
        ids(&format!("{PRESENT}{}", fail("presence_signal_agent"))),
        [Invariant::SendFailRefuses]
    );
}
