//! Edges of the consent and terms checks that the generated worlds never reach: signals that
//! are not the terms event, answers without a request. Each trace is what an app's own
//! integration could record; each test fails on a checker that reads the rule more loosely.

use cobrowse_visitor_conformance::oracle::{read_trace, Invariant, Violation};
use cobrowse_visitor_conformance::transcript::parse_trace;

fn violations(text: &str) -> Vec<Violation> {
    read_trace(&parse_trace(text).expect("readable")).expect("usable")
}

fn flagged(text: &str, invariant: Invariant) -> bool {
    violations(text).iter().any(|v| v.invariant == invariant)
}

/// Launched, logged in, presence connected (steps 0 and 1).
const PRESENT: &str = r#"{"user":"launch"}
{"step":0,"api":{"call":"init_visitor","group_id":19921,"visitor_id":null}}
{"step":0,"event":{"code":"EventVisitorInitialized","properties":{}}}
{"step":0,"api":{"call":"set_default_ui","enabled":false}}
{"user":"login","visitor_id":"cust-42"}
{"step":1,"api":{"call":"init_visitor","group_id":19921,"visitor_id":"cust-42"}}
{"step":1,"event":{"code":"EventVisitorInitialized","properties":{}}}
{"step":1,"api":{"call":"presence_connect"}}
{"step":1,"api":{"call":"presence_set_default_ui","enabled":false}}
{"step":1,"event":{"code":"EventPresenceConnected","properties":{}}}
"#;

/// A one-click request shown and displayed (step 2).
const SHOWN: &str = r#"{"agent":"start_presence_session"}
{"step":2,"event":{"code":"EventPresenceShowTerms","properties":{}}}
{"step":2,"api":{"call":"presence_signal_agent","event":"terms","map":{"status":"displayed"}}}
"#;

const ONE_CLICK_START: &str = "{\"step\":3,\"api\":{\"call\":\"start_session\"}}\n";

/// `accepted` signalled with another event than `terms` is no consent.
#[test]
fn an_accepted_status_on_another_event_is_no_consent() {
    let other = format!(
        "{PRESENT}{SHOWN}{{\"user\":\"accept_terms\"}}\n{{\"step\":3,\"api\":{{\"call\":\"presence_signal_agent\",\"event\":\"survey\",\"map\":{{\"status\":\"accepted\"}}}}}}\n{ONE_CLICK_START}"
    );
    assert!(flagged(&other, Invariant::Consent));
    let terms = other.replace("\"survey\"", "\"terms\"");
    assert!(
        !flagged(&terms, Invariant::Consent),
        "{:?}",
        violations(&terms)
    );
}

/// An `accepted` with no request shown is no consent, and a `declined` with none is not the
/// customer declining one.
#[test]
fn answers_without_a_request_count_for_nothing() {
    let unasked = format!(
        "{PRESENT}{{\"user\":\"accept_terms\"}}\n{{\"step\":2,\"api\":{{\"call\":\"presence_signal_agent\",\"event\":\"terms\",\"map\":{{\"status\":\"accepted\"}}}}}}\n{}",
        ONE_CLICK_START.replace("\"step\":3", "\"step\":2")
    );
    assert!(flagged(&unasked, Invariant::Consent));
    let declined = unasked.replace("\"accepted\"", "\"declined\"");
    let consent: Vec<Violation> = violations(&declined)
        .into_iter()
        .filter(|v| v.invariant == Invariant::Consent)
        .collect();
    assert_eq!(consent.len(), 1, "{consent:?}");
    assert!(
        consent[0].message.contains("no accepted terms answer"),
        "{}",
        consent[0].message
    );
}

/// INV-DISCONNECT-ON-LOGOUT across a `relaunch` (spec.md §13.2): the new process keeps no
/// presence (§5.6); until its own `EventPresenceConnected`, an `exit` owes no disconnect (here
/// the service said presence is not configured). Found by `drive_core` (a restored app whose
/// presence a hostile service refused). In the old process the same exit is flagged.
#[test]
fn a_relaunch_leaves_no_presence_to_disconnect() {
    let relaunched = format!(
        "{PRESENT}{}",
        r#"{"relaunch":{"away_ms":0}}
{"step":2,"api":{"call":"presence_connect"}}
{"step":2,"api":{"call":"presence_set_default_ui","enabled":false}}
{"step":2,"event":{"code":"EventPresenceNotConfigured","properties":{}}}
{"user":"exit"}
"#
    );
    assert!(
        !flagged(&relaunched, Invariant::DisconnectOnLogout),
        "{:?}",
        violations(&relaunched)
    );
    let same_process = format!(
        "{PRESENT}{}",
        r#"{"user":"exit"}
"#
    );
    assert!(flagged(&same_process, Invariant::DisconnectOnLogout));
    // connected again in the new process: the exit owes the disconnect again
    let reconnected = relaunched.replace("EventPresenceNotConfigured", "EventPresenceConnected");
    assert!(flagged(&reconnected, Invariant::DisconnectOnLogout));
}

/// INV-DISCONNECT-ON-LOGOUT when presence went off without a disconnect: the service said it
/// is not configured (S-F27, after the SDK reconnected it), or the last attempt of
/// `connect(maxAttempts)` failed (S-F21b: no `retry_ms`); the controller then calls no
/// disconnect (C-E28, C-E29) and the SDK would refuse one (S-A61). Found by `drive_core`
/// (crash-786a1cf1: suspended in the background, reconnected in front, not configured, then
/// logout). A failure with `retry_ms` leaves presence wanted, and the logout owes it.
#[test]
fn presence_gone_off_owes_no_disconnect() {
    let off = |event: &str| {
        format!(
            "{PRESENT}{{\"network\":\"lost\"}}\n{{\"step\":2,\"event\":{{\"code\":\"EventConnectionWarning\",\"properties\":{{}}}}}}\n{{\"network\":\"restored\"}}\n{{\"step\":3,\"event\":{{\"code\":\"EventClearWarning\",\"properties\":{{}}}}}}\n{{\"step\":3,\"event\":{event}}}\n{{\"user\":\"logout\"}}\n{{\"step\":4,\"api\":{{\"call\":\"init_visitor\",\"group_id\":19921,\"visitor_id\":null}}}}\n"
        )
    };
    for gone in [
        r#"{"code":"EventPresenceNotConfigured","properties":{}}"#,
        r#"{"code":"EventPresenceConnectFail","properties":{"reason":"unavailable"}}"#,
    ] {
        let trace = off(gone);
        assert!(
            !flagged(&trace, Invariant::DisconnectOnLogout),
            "{gone}: {:?}",
            violations(&trace)
        );
    }
    let retrying = off(
        r#"{"code":"EventPresenceConnectFail","properties":{"reason":"unavailable","retry_ms":"1000"}}"#,
    );
    assert!(flagged(&retrying, Invariant::DisconnectOnLogout));
}
