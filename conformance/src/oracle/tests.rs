//! The oracle's unit tests: a passing and a violating trace per invariant.

use super::*;
use crate::transcript::parse_trace;

/// Whether a violation is one of the replay's: these unit tests write short traces by hand
/// (frames with only their `type`), which the SDK's rows would not write; each checker is
/// pinned here, the replay in its own tests.
fn replayed(v: &Violation) -> bool {
    matches!(
        v.invariant,
        Invariant::SdkReplay | Invariant::ControllerReplay
    )
}

/// The IDs of the violations of a trace given as lines (the replay's aside).
fn ids(lines: &[&str]) -> Vec<&'static str> {
    violations(lines).iter().map(|v| v.invariant.id()).collect()
}

fn violations(lines: &[&str]) -> Vec<Violation> {
    check_trace(&parse_trace(&lines.join("\n")).unwrap())
        .into_iter()
        .filter(|v| !replayed(v))
        .collect()
}

const NONE: [&str; 0] = [];

// An anonymous launch: records of step 1.
const LAUNCH: [&str; 6] = [
    r#"{"step":1,"api":{"call":"init_visitor","group_id":19921}}"#,
    r#"{"step":1,"send":{"type":"init"}}"#,
    r#"{"step":1,"recv":{"type":"settings"}}"#,
    r#"{"step":1,"event":{"code":"EventVisitorInitialized"}}"#,
    r#"{"step":1,"api":{"call":"set_default_ui","enabled":false}}"#,
    r#"{"step":1,"ui":{"show":"cobrowse_button"}}"#,
];

// A login with presence: records of step 2.
const LOGIN: [&str; 8] = [
    r#"{"step":2,"api":{"call":"init_visitor","group_id":19921,"visitor_id":"cust-42"}}"#,
    r#"{"step":2,"send":{"type":"init"}}"#,
    r#"{"step":2,"recv":{"type":"settings"}}"#,
    r#"{"step":2,"event":{"code":"EventVisitorInitialized"}}"#,
    r#"{"step":2,"api":{"call":"presence_connect"}}"#,
    r#"{"step":2,"api":{"call":"presence_set_default_ui","enabled":false}}"#,
    r#"{"step":2,"recv":{"type":"presence_connected"}}"#,
    r#"{"step":2,"event":{"code":"EventPresenceConnected"}}"#,
];

// A manual session at step 2 whose key 7463 is shown.
const MANUAL: [&str; 6] = [
    r#"{"step":2,"ui":{"hide":"cobrowse_button"}}"#,
    r#"{"step":2,"api":{"call":"start_session","key":"GLANCE_KEYTYPE_RANDOM"}}"#,
    r#"{"step":2,"send":{"type":"start_session"}}"#,
    r#"{"step":2,"recv":{"type":"session_started"}}"#,
    r#"{"step":2,"event":{"code":"EventConnectedToSession","properties":{"sessionkey":"7463"}}}"#,
    r#"{"step":2,"ui":{"show":"session_key","key":"7463"}}"#,
];

// The terms of request 1 displayed, at step 3.
const TERMS_SHOWN: [&str; 3] = [
    r#"{"step":3,"event":{"code":"EventPresenceShowTerms","properties":{"request_id":"1"}}}"#,
    r#"{"step":3,"ui":{"show":"terms"}}"#,
    r#"{"step":3,"api":{"call":"presence_signal_agent","event":"terms","map":{"status":"displayed"}}}"#,
];

const ACCEPT: &str = r#"{"step":4,"api":{"call":"presence_signal_agent","event":"terms","map":{"status":"accepted"}}}"#;
const DECLINE: &str = r#"{"step":4,"api":{"call":"presence_signal_agent","event":"terms","map":{"status":"declined"}}}"#;
const ONECLICK_START: &str = r#"{"step":4,"api":{"call":"start_session"}}"#;
const ONECLICK_CONNECTED: &str = r#"{"step":4,"event":{"code":"EventConnectedToSession","properties":{"sessionkey":"cust-42"}}}"#;

fn trace<'a>(parts: &[&[&'a str]]) -> Vec<&'a str> {
    parts.iter().flat_map(|p| p.iter().copied()).collect()
}

#[test]
fn ids_are_unique_and_round_trip() {
    let mut seen = std::collections::BTreeSet::new();
    for inv in Invariant::ALL {
        assert!(seen.insert(inv.id()), "{} twice", inv.id());
        assert_eq!(Invariant::from_id(inv.id()), Some(inv));
        assert!(
            inv.id()
                .starts_with(if inv.kind() == InvariantKind::Liveness {
                    "LIVE-"
                } else {
                    "INV-"
                }),
            "{inv}"
        );
        assert_eq!(inv.to_string(), inv.id());
    }
    let contract = Invariant::ALL
        .iter()
        .filter(|i| i.kind() == InvariantKind::Contract)
        .count();
    assert_eq!(contract, 12);
    assert_eq!(Invariant::from_id("INV-NOPE"), None);
}

#[test]
fn an_empty_trace_and_a_clean_launch_pass() {
    assert!(ids(&NONE).is_empty());
    assert!(ids(&LAUNCH).is_empty());
    assert!(ids(&trace(&[&LAUNCH, &LOGIN])).is_empty());
}

#[test]
fn inv_group_stable() {
    // INV-GROUP-STABLE passes: the same group again, and a refused other group.
    let same = r#"{"step":2,"api":{"call":"init_visitor","group_id":19921,"visitor_id":"a"}}"#;
    let other = r#"{"step":2,"api":{"call":"init_visitor","group_id":20393}}"#;
    let refused = r#"{"step":2,"error":{"code":"group_id_mismatch","message":"no"}}"#;
    assert!(ids(&trace(&[&LAUNCH, &[same]])).is_empty());
    assert!(ids(&trace(&[&LAUNCH, &[other, refused]])).is_empty());
    let event = r#"{"step":2,"event":{"code":"EventInvalidParameter"}}"#;
    assert!(ids(&trace(&[&LAUNCH, &[other, event]])).is_empty());
    // INV-GROUP-STABLE violated: the other group accepted.
    let v = violations(&trace(&[&LAUNCH, &[other]]));
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].invariant.id(), "INV-GROUP-STABLE");
    assert_eq!(v[0].line, 7);
}

#[test]
fn inv_group_stable_with_a_config_line_judges_by_the_configs_group() {
    let config = |g: i32| format!(r#"{{"config":{{"group_id":{g},"custom_ui":true}}}}"#);
    let test_build: Vec<String> = LAUNCH.iter().map(|l| l.replace("19921", "20393")).collect();
    let test_build: Vec<&str> = test_build.iter().map(String::as_str).collect();
    // the config names the group: a first accepted init with another one is flagged
    let c = config(19921);
    let v = violations(&trace(&[&[c.as_str()], &test_build]));
    assert_eq!(v.len(), 1, "{v:#?}");
    assert_eq!(v[0].invariant.id(), "INV-GROUP-STABLE");
    assert_eq!(v[0].line, 2);
    assert_eq!(
        v[0].message,
        "init_visitor with group id 20393 was accepted, but the config's group id is 19921"
    );
    // ... and every later one with it too
    let again = r#"{"step":2,"api":{"call":"init_visitor","group_id":20393,"visitor_id":"a"}}"#;
    let right = r#"{"step":2,"api":{"call":"init_visitor","group_id":19921,"visitor_id":"a"}}"#;
    let v = violations(&trace(&[&[c.as_str()], &test_build, &[again]]));
    assert_eq!(v.iter().map(|v| v.line).collect::<Vec<_>>(), vec![2, 8]);
    // the same records judged against their own group, or without a config line, are clean
    let own = config(20393);
    assert!(ids(&trace(&[&[own.as_str()], &test_build, &[again]])).is_empty());
    assert!(ids(&trace(&[&test_build, &[again]])).is_empty());
    // a config line that names no group: the contract's default (19921) is the reference
    let bare = r#"{"config":{}}"#;
    assert_eq!(
        ids(&trace(&[&[bare], &test_build])),
        vec!["INV-GROUP-STABLE"]
    );
    assert!(ids(&trace(&[&[bare], &LAUNCH])).is_empty());
    // a first init with another group accepted, then one with the config's: both flagged
    // (the first against the config, the second against the first: the visitor was split)
    let v = violations(&trace(&[&[c.as_str()], &test_build, &[right]]));
    assert_eq!(v.iter().map(|v| v.line).collect::<Vec<_>>(), vec![2, 8]);
    assert_eq!(
        v[1].message,
        "init_visitor with group id 19921 was accepted after the first one's 20393"
    );
    // refused calls are not judged: a refused init with another group before the first
    // accepted one, then the config's group throughout
    let other = r#"{"step":1,"api":{"call":"init_visitor","group_id":20393}}"#;
    let refused = r#"{"step":1,"error":{"code":"invalid_parameter","message":"no"}}"#;
    let negative = r#"{"step":1,"api":{"call":"init_visitor","group_id":-5}}"#;
    let event = r#"{"step":1,"event":{"code":"EventInvalidParameter"}}"#;
    assert!(ids(&trace(&[
        &[c.as_str(), other, refused, negative, event],
        &LAUNCH
    ]))
    .is_empty());
    // interleaved: the config line is the reference too
    let launch = r#"{"user":"launch"}"#;
    let v = violations(&trace(&[&[c.as_str(), launch], &test_build]));
    assert_eq!(
        v.iter().map(|v| v.invariant.id()).collect::<Vec<_>>(),
        vec!["INV-GROUP-STABLE"]
    );
}

#[test]
fn inv_init_first() {
    // INV-INIT-FIRST passes in the normal order (LAUNCH shows the button after the event).
    assert!(ids(&LAUNCH).is_empty());
    // INV-INIT-FIRST violated: the button before the event.
    let early = [
        r#"{"step":1,"api":{"call":"init_visitor","group_id":19921}}"#,
        r#"{"step":1,"ui":{"show":"cobrowse_button"}}"#,
    ];
    assert_eq!(ids(&early), ["INV-INIT-FIRST"]);
    // INV-INIT-FIRST violated: an accepted start before the event.
    let start = [
        r#"{"step":1,"api":{"call":"init_visitor","group_id":19921}}"#,
        r#"{"step":1,"api":{"call":"start_session","key":"GLANCE_KEYTYPE_RANDOM"}}"#,
    ];
    assert_eq!(ids(&start), ["INV-INIT-FIRST"]);
    // ... but a refused one is fine.
    let refused = [
        start[0],
        start[1],
        r#"{"step":1,"event":{"code":"EventInvalidState"}}"#,
    ];
    assert!(ids(&refused).is_empty());
    // INV-INIT-FIRST violated: presence before the event.
    let presence = [
        r#"{"step":1,"api":{"call":"init_visitor","group_id":19921,"visitor_id":"a"}}"#,
        r#"{"step":1,"api":{"call":"presence_connect"}}"#,
    ];
    assert_eq!(ids(&presence), ["INV-INIT-FIRST"]);
}

#[test]
fn inv_presence_needs_id() {
    // INV-PRESENCE-NEEDS-ID passes after a login.
    assert!(ids(&trace(&[&LAUNCH, &LOGIN])).is_empty());
    // INV-PRESENCE-NEEDS-ID violated: anonymous presence accepted.
    let connect = r#"{"step":2,"api":{"call":"presence_connect"}}"#;
    assert_eq!(
        ids(&trace(&[&LAUNCH, &[connect]])),
        ["INV-PRESENCE-NEEDS-ID"]
    );
    // INV-PRESENCE-NEEDS-ID violated: after logging out (the latest init has no id).
    let logout = r#"{"step":3,"api":{"call":"init_visitor","group_id":19921}}"#;
    let again = r#"{"step":3,"api":{"call":"presence_connect"}}"#;
    assert_eq!(
        ids(&trace(&[&LAUNCH, &LOGIN, &[logout, again]])),
        ["INV-PRESENCE-NEEDS-ID"]
    );
}

#[test]
fn inv_manual_random() {
    let head = [r#"{"config":{}}"#, r#"{"user":"launch"}"#];
    let tap = r#"{"user":"tap_cobrowse"}"#;
    // INV-MANUAL-RANDOM passes: the tap leads to a random-key start.
    assert!(ids(&trace(&[&head, &LAUNCH, &[tap], &MANUAL])).is_empty());
    // INV-MANUAL-RANDOM violated: the tap starts with no key.
    let bare = [
        r#"{"step":2,"api":{"call":"start_session"}}"#,
        r#"{"step":2,"event":{"code":"EventConnectedToSession","properties":{"sessionkey":"1234"}}}"#,
    ];
    let v = violations(&trace(&[&head, &LAUNCH, &[tap], &bare]));
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].invariant.id(), "INV-MANUAL-RANDOM");
    assert_eq!(v[0].line, 9, "the tap's line");
    // INV-MANUAL-RANDOM violated: the tap does nothing (judged at the next step).
    assert_eq!(
        ids(&trace(&[&head, &LAUNCH, &[tap, r#"{"advance_ms":5}"#]])),
        ["INV-MANUAL-RANDOM"]
    );
    // INV-MANUAL-RANDOM not judged: the button was not shown.
    let hidden = &LAUNCH[..5];
    assert!(ids(&trace(&[&head, hidden, &[tap]])).is_empty());
    // INV-MANUAL-RANDOM not judged after the app exited.
    let exit = r#"{"user":"exit"}"#;
    assert!(ids(&trace(&[&head, &LAUNCH, &[exit, tap]])).is_empty());
    // INV-MANUAL-RANDOM not judged without scenario lines.
    assert!(ids(&trace(&[&LAUNCH, &bare])).is_empty());
}

#[test]
fn inv_key_shown_manual() {
    let ended = r#"{"step":3,"event":{"code":"EventSessionEnded"}}"#;
    // INV-KEY-SHOWN-MANUAL passes: the key is shown before the end.
    assert!(ids(&trace(&[&LAUNCH, &MANUAL, &[ended]])).is_empty());
    // INV-KEY-SHOWN-MANUAL violated: not shown before the end.
    let v = violations(&trace(&[&LAUNCH, &MANUAL[..5], &[ended]]));
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].invariant.id(), "INV-KEY-SHOWN-MANUAL");
    assert_eq!(v[0].line, 12);
    // INV-KEY-SHOWN-MANUAL violated: another key shown, and the trace ends.
    let wrong = r#"{"step":2,"ui":{"show":"session_key","key":"0000"}}"#;
    let v = violations(&trace(&[&LAUNCH, &MANUAL[..5], &[wrong]]));
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].invariant.id(), "INV-KEY-SHOWN-MANUAL");
    assert_eq!(v[0].line, 11, "the connect's line");
}

#[test]
fn inv_key_hidden_presence() {
    let oneclick = trace(&[
        &LAUNCH,
        &LOGIN,
        &TERMS_SHOWN,
        &[ACCEPT, ONECLICK_START, ONECLICK_CONNECTED],
    ]);
    // INV-KEY-HIDDEN-PRESENCE passes: no key shown.
    assert!(ids(&oneclick).is_empty());
    // INV-KEY-HIDDEN-PRESENCE violated: the visitor id shown as the key.
    let shown = r#"{"step":4,"ui":{"show":"session_key","key":"cust-42"}}"#;
    let mut bad = oneclick.clone();
    bad.push(shown);
    assert_eq!(ids(&bad), ["INV-KEY-HIDDEN-PRESENCE"]);
    // After the one-click session ended, a manual key may be shown again.
    let mut later = oneclick.clone();
    later.push(r#"{"step":5,"event":{"code":"EventSessionEnded"}}"#);
    later.push(r#"{"step":6,"api":{"call":"start_session","key":"GLANCE_KEYTYPE_RANDOM"}}"#);
    later.push(
        r#"{"step":6,"event":{"code":"EventConnectedToSession","properties":{"sessionkey":"99"}}}"#,
    );
    later.push(r#"{"step":6,"ui":{"show":"session_key","key":"99"}}"#);
    assert!(ids(&later).is_empty());
}

#[test]
fn inv_terms_order() {
    let base = trace(&[&LAUNCH, &LOGIN]);
    // INV-TERMS-ORDER passes: displayed, then one answer.
    assert!(ids(&trace(&[&base, &TERMS_SHOWN, &[DECLINE]])).is_empty());
    // INV-TERMS-ORDER violated: answered before displayed.
    let v = ids(&trace(&[&base, &TERMS_SHOWN[..2], &[DECLINE]]));
    assert_eq!(v, ["INV-TERMS-ORDER"]);
    // INV-TERMS-ORDER violated: answered twice.
    let v = ids(&trace(&[&base, &TERMS_SHOWN, &[DECLINE, DECLINE]]));
    assert_eq!(v, ["INV-TERMS-ORDER"]);
    // INV-TERMS-ORDER violated: an answer with no request at all.
    assert_eq!(ids(&trace(&[&base, &[DECLINE]])), ["INV-TERMS-ORDER"]);
    // A refused out-of-order answer is fine.
    let refused = r#"{"step":4,"error":{"code":"terms_out_of_order","message":"no"}}"#;
    assert!(ids(&trace(&[&base, &[DECLINE, refused]])).is_empty());
    // A new request starts over.
    let again = trace(&[&base, &TERMS_SHOWN, &[DECLINE], &TERMS_SHOWN, &[DECLINE]]);
    assert!(ids(&again).is_empty());
}

#[test]
fn inv_consent() {
    let base = trace(&[&LAUNCH, &LOGIN, &TERMS_SHOWN]);
    // INV-CONSENT passes: accepted, then one start.
    assert!(ids(&trace(&[&base, &[ACCEPT, ONECLICK_START]])).is_empty());
    // INV-CONSENT violated: a start without an answer.
    assert_eq!(ids(&trace(&[&base, &[ONECLICK_START]])), ["INV-CONSENT"]);
    // INV-CONSENT violated: a start after declined.
    assert_eq!(
        ids(&trace(&[&base, &[DECLINE, ONECLICK_START]])),
        ["INV-CONSENT"]
    );
    // INV-CONSENT violated: the consent is used up by the first session.
    let ended = r#"{"step":5,"event":{"code":"EventStartSessionFailed"}}"#;
    let second = r#"{"step":6,"api":{"call":"start_session"}}"#;
    assert_eq!(
        ids(&trace(&[&base, &[ACCEPT, ONECLICK_START, ended, second]])),
        ["INV-CONSENT"]
    );
    // INV-CONSENT violated: consent for an earlier request does not carry over.
    assert_eq!(
        ids(&trace(&[&base, &[ACCEPT], &TERMS_SHOWN, &[ONECLICK_START]])),
        ["INV-CONSENT"]
    );
    // A refused one-click start is fine; random-key starts need no consent.
    let refused = r#"{"step":4,"event":{"code":"EventInvalidState"}}"#;
    assert!(ids(&trace(&[&base, &[ONECLICK_START, refused]])).is_empty());
}

#[test]
fn inv_one_session() {
    let again = r#"{"step":3,"api":{"call":"start_session","key":"GLANCE_KEYTYPE_RANDOM"}}"#;
    let refused = r#"{"step":3,"error":{"code":"session_active","message":"no"}}"#;
    // INV-ONE-SESSION passes: the second start is refused.
    assert!(ids(&trace(&[&LAUNCH, &MANUAL, &[again, refused]])).is_empty());
    // INV-ONE-SESSION violated: the second start is accepted.
    assert_eq!(
        ids(&trace(&[&LAUNCH, &MANUAL, &[again]])),
        ["INV-ONE-SESSION"]
    );
    // INV-ONE-SESSION violated: a second connect before the first session ended.
    let connect =
        r#"{"step":3,"event":{"code":"EventConnectedToSession","properties":{"sessionkey":"1"}}}"#;
    assert_eq!(
        ids(&trace(&[&LAUNCH, &MANUAL, &[connect]])),
        ["INV-ONE-SESSION"]
    );
    // After the end, a new session is fine.
    let ended = r#"{"step":3,"event":{"code":"EventSessionEnded"}}"#;
    let new_start = r#"{"step":4,"api":{"call":"start_session","key":"GLANCE_KEYTYPE_RANDOM"}}"#;
    assert!(ids(&trace(&[&LAUNCH, &MANUAL, &[ended, new_start]])).is_empty());
}

#[test]
fn inv_no_disconnect_on_background() {
    let head = [r#"{"config":{"custom_ui":false}}"#, r#"{"user":"launch"}"#];
    let login = r#"{"user":"login","visitor_id":"cust-42"}"#;
    let background = r#"{"lifecycle":"background"}"#;
    let disconnect = r#"{"step":3,"api":{"call":"presence_disconnect"}}"#;
    // INV-NO-DISCONNECT-ON-BACKGROUND passes: the app does nothing on background.
    assert!(ids(&trace(&[&head, &LAUNCH, &[login], &LOGIN, &[background]])).is_empty());
    // INV-NO-DISCONNECT-ON-BACKGROUND violated: it disconnects.
    assert_eq!(
        ids(&trace(&[
            &head,
            &LAUNCH,
            &[login],
            &LOGIN,
            &[background, disconnect]
        ])),
        ["INV-NO-DISCONNECT-ON-BACKGROUND"]
    );
    // The same call caused by a logout is fine.
    let logout = r#"{"user":"logout"}"#;
    assert!(ids(&trace(&[
        &head,
        &LAUNCH,
        &[login],
        &LOGIN,
        &[logout, disconnect]
    ]))
    .is_empty());
    // Not judged without scenario lines.
    assert!(ids(&trace(&[&LAUNCH, &LOGIN, &[disconnect]])).is_empty());
}

#[test]
fn inv_disconnect_on_logout() {
    let head = [r#"{"config":{"custom_ui":false}}"#, r#"{"user":"launch"}"#];
    let login = r#"{"user":"login","visitor_id":"cust-42"}"#;
    let disconnect = r#"{"step":3,"api":{"call":"presence_disconnect"}}"#;
    for step in [r#"{"user":"logout"}"#, r#"{"user":"exit"}"#] {
        // INV-DISCONNECT-ON-LOGOUT passes: the step disconnects.
        let good = trace(&[&head, &LAUNCH, &[login], &LOGIN, &[step, disconnect]]);
        assert!(ids(&good).is_empty());
        // INV-DISCONNECT-ON-LOGOUT violated: it does not.
        let v = violations(&trace(&[&head, &LAUNCH, &[login], &LOGIN, &[step]]));
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].invariant.id(), "INV-DISCONNECT-ON-LOGOUT");
        assert_eq!(v[0].line, 18);
    }
    // Not due while presence is not connected.
    let logout = r#"{"user":"logout"}"#;
    assert!(ids(&trace(&[&head, &LAUNCH, &[login], &LOGIN[..4], &[logout]])).is_empty());
}

#[test]
fn inv_custom_ui() {
    let head = [r#"{"config":{"custom_ui":true}}"#, r#"{"user":"launch"}"#];
    // INV-CUSTOM-UI passes: default UI off in the first init's step.
    assert!(ids(&trace(&[&head, &LAUNCH, &[r#"{"advance_ms":1}"#]])).is_empty());
    // INV-CUSTOM-UI violated: never turned off (judged at the end).
    let no_ui = [LAUNCH[0], LAUNCH[1], LAUNCH[2], LAUNCH[3], LAUNCH[5]];
    assert_eq!(ids(&trace(&[&head, &no_ui])), ["INV-CUSTOM-UI"]);
    // INV-CUSTOM-UI violated: a start before it (reported once).
    let start = r#"{"step":1,"api":{"call":"start_session","key":"GLANCE_KEYTYPE_RANDOM"}}"#;
    let late = r#"{"step":1,"api":{"call":"set_default_ui","enabled":false}}"#;
    assert_eq!(
        ids(&trace(&[&head, &LAUNCH[..4], &[start, late]])),
        ["INV-CUSTOM-UI"]
    );
    // INV-CUSTOM-UI violated: a refused set_default_ui does not count (and the refusal
    // of a controller call is a violation of its own).
    let refused = r#"{"step":1,"error":{"code":"terminated","message":"no"}}"#;
    assert_eq!(
        ids(&trace(&[&head, &LAUNCH[..5], &[refused]])),
        ["INV-CUSTOM-UI", "INV-CONTROLLER-CALLS-ACCEPTED"]
    );
    // INV-CUSTOM-UI violated: presence_connect without presence_set_default_ui.
    let login = r#"{"user":"login","visitor_id":"cust-42"}"#;
    let no_presence_ui = [LOGIN[0], LOGIN[1], LOGIN[2], LOGIN[3], LOGIN[4], LOGIN[6]];
    assert_eq!(
        ids(&trace(&[&head, &LAUNCH, &[login], &no_presence_ui])),
        ["INV-CUSTOM-UI"]
    );
    assert!(ids(&trace(&[&head, &LAUNCH, &[login], &LOGIN])).is_empty());
    // Not judged with custom_ui false, nor without scenario lines.
    let off = [r#"{"config":{"custom_ui":false}}"#, r#"{"user":"launch"}"#];
    assert!(ids(&trace(&[&off, &no_ui])).is_empty());
    assert!(ids(&no_ui).is_empty());
    // Scenario lines without a config: custom_ui defaults to true.
    assert_eq!(
        ids(&trace(&[
            &[r#"{"advance_ms":0}"#, r#"{"user":"launch"}"#],
            &no_ui
        ])),
        ["INV-CUSTOM-UI"]
    );
}

#[test]
fn inv_refused_no_effect() {
    let call = r#"{"step":2,"api":{"call":"end_session"}}"#;
    let error = r#"{"step":2,"error":{"code":"no_session","message":"no"}}"#;
    let event = r#"{"step":2,"event":{"code":"EventInvalidState"}}"#;
    let send = r#"{"step":2,"send":{"type":"end_session"}}"#;
    // INV-REFUSED-NO-EFFECT passes: nothing sent after the refusal.
    assert!(ids(&trace(&[&LAUNCH, &[call, error, event]])).is_empty());
    // A send after the next api record belongs to that call.
    let next = r#"{"step":2,"api":{"call":"set_default_ui","enabled":false}}"#;
    assert!(ids(&trace(&[&LAUNCH, &[call, error, next, send]])).is_empty());
    // INV-REFUSED-NO-EFFECT violated.
    assert_eq!(
        ids(&trace(&[&LAUNCH, &[call, error, event, send]])),
        ["INV-REFUSED-NO-EFFECT"]
    );
    // INV-REFUSED-NO-EFFECT violated by a refused recv frame.
    let recv = r#"{"step":2,"recv":{"type":"guest_count","guestcount":1}}"#;
    assert_eq!(
        ids(&trace(&[&LAUNCH, &[recv, error, send]])),
        ["INV-REFUSED-NO-EFFECT"]
    );
    // The next step's send is not the refusal's.
    let later = r#"{"step":3,"send":{"type":"end_session"}}"#;
    assert!(ids(&trace(&[&LAUNCH, &[call, error, later]])).is_empty());
}

#[test]
fn refusal_needs_the_same_step() {
    // An api record that ends its step, followed by the next step's own refusal, was not
    // refused: the start below counts, so the later start breaks INV-ONE-SESSION.
    let start = r#"{"step":2,"api":{"call":"start_session","key":"GLANCE_KEYTYPE_RANDOM"}}"#;
    let step_refused = r#"{"step":3,"error":{"code":"button_not_shown","message":"no"}}"#;
    let again = r#"{"step":4,"api":{"call":"start_session","key":"GLANCE_KEYTYPE_RANDOM"}}"#;
    assert_eq!(
        ids(&trace(&[&LAUNCH, &[start, step_refused, again]])),
        ["INV-ONE-SESSION"]
    );
}

#[test]
fn inv_guests_in_session() {
    let guests =
        r#"{"step":3,"event":{"code":"EventGuestCountChange","properties":{"guestcount":1}}}"#;
    // INV-GUESTS-IN-SESSION passes inside a session.
    assert!(ids(&trace(&[&LAUNCH, &MANUAL, &[guests]])).is_empty());
    // INV-GUESTS-IN-SESSION violated outside one.
    assert_eq!(
        ids(&trace(&[&LAUNCH, &[guests]])),
        ["INV-GUESTS-IN-SESSION"]
    );
}

#[test]
fn inv_session_ended_paired() {
    let ended = r#"{"step":3,"event":{"code":"EventSessionEnded"}}"#;
    // INV-SESSION-ENDED-PAIRED passes for a connected session.
    assert!(ids(&trace(&[&LAUNCH, &MANUAL, &[ended]])).is_empty());
    // ... and for a start abandoned with end_session.
    let start = MANUAL[1];
    let end = r#"{"step":2,"api":{"call":"end_session"}}"#;
    assert!(ids(&trace(&[&LAUNCH, &[start, end, ended]])).is_empty());
    // INV-SESSION-ENDED-PAIRED violated: no session.
    assert_eq!(
        ids(&trace(&[&LAUNCH, &[ended]])),
        ["INV-SESSION-ENDED-PAIRED"]
    );
    // INV-SESSION-ENDED-PAIRED violated: a start that never connected.
    assert_eq!(
        ids(&trace(&[&LAUNCH, &[start, ended]])),
        ["INV-SESSION-ENDED-PAIRED"]
    );
    // INV-SESSION-ENDED-PAIRED violated: twice.
    assert_eq!(
        ids(&trace(&[&LAUNCH, &MANUAL, &[ended, ended]])),
        ["INV-SESSION-ENDED-PAIRED"]
    );
}

#[test]
fn inv_warning_paired() {
    let warn = r#"{"step":2,"event":{"code":"EventConnectionWarning"}}"#;
    let clear = r#"{"step":3,"event":{"code":"EventClearWarning"}}"#;
    // INV-WARNING-PAIRED passes.
    assert!(ids(&trace(&[&LAUNCH, &[warn, clear, warn, clear]])).is_empty());
    // INV-WARNING-PAIRED violated: a clear without a warning.
    assert_eq!(ids(&trace(&[&LAUNCH, &[clear]])), ["INV-WARNING-PAIRED"]);
    // INV-WARNING-PAIRED violated: two warnings.
    assert_eq!(
        ids(&trace(&[&LAUNCH, &[warn, warn, clear]])),
        ["INV-WARNING-PAIRED"]
    );
}

#[test]
fn inv_no_send_offline() {
    let warn = r#"{"step":2,"event":{"code":"EventConnectionWarning"}}"#;
    let clear = r#"{"step":3,"event":{"code":"EventClearWarning"}}"#;
    let send = r#"{"step":3,"send":{"type":"app_state","foreground":true}}"#;
    // INV-NO-SEND-OFFLINE passes: the send comes after the clear.
    assert!(ids(&trace(&[&LAUNCH, &[warn, clear, send]])).is_empty());
    // INV-NO-SEND-OFFLINE violated.
    assert_eq!(
        ids(&trace(&[&LAUNCH, &[warn, send, clear]])),
        ["INV-NO-SEND-OFFLINE"]
    );
}

#[test]
fn inv_key_matches_request() {
    let connected = |key: &str| {
        format!(
            r#"{{"step":2,"event":{{"code":"EventConnectedToSession","properties":{{"sessionkey":"{key}"}}}}}}"#
        )
    };
    let random = r#"{"step":2,"api":{"call":"start_session","key":"GLANCE_KEYTYPE_RANDOM"}}"#;
    let custom = r#"{"step":2,"api":{"call":"start_session","key":"mine"}}"#;
    let bare = r#"{"step":2,"api":{"call":"start_session"}}"#;
    let show = |key: &str| format!(r#"{{"step":2,"ui":{{"show":"session_key","key":"{key}"}}}}"#);
    // INV-KEY-MATCHES-REQUEST passes for each kind of start.
    assert!(ids(&trace(&[
        &LAUNCH,
        &[random, &connected("0042"), &show("0042")]
    ]))
    .is_empty());
    assert!(ids(&trace(&[&LAUNCH, &[custom, &connected("mine")]])).is_empty());
    assert!(ids(&trace(&[&LAUNCH, &[bare, &connected("981")]])).is_empty());
    let oneclick = trace(&[&LAUNCH, &LOGIN, &TERMS_SHOWN, &[ACCEPT, ONECLICK_START]]);
    assert!(ids(&trace(&[&oneclick, &[ONECLICK_CONNECTED]])).is_empty());
    // INV-KEY-MATCHES-REQUEST violated: a random key that is not digits.
    assert_eq!(
        ids(&trace(&[
            &LAUNCH,
            &[random, &connected("12a"), &show("12a")]
        ])),
        ["INV-KEY-MATCHES-REQUEST"]
    );
    assert_eq!(
        ids(&trace(&[&LAUNCH, &[bare, &connected("")]])),
        ["INV-KEY-MATCHES-REQUEST"]
    );
    // INV-KEY-MATCHES-REQUEST violated: not the custom key.
    assert_eq!(
        ids(&trace(&[&LAUNCH, &[custom, &connected("yours")]])),
        ["INV-KEY-MATCHES-REQUEST"]
    );
    // INV-KEY-MATCHES-REQUEST violated: not the visitor id.
    let wrong = r#"{"step":4,"event":{"code":"EventConnectedToSession","properties":{"sessionkey":"1234"}}}"#;
    assert_eq!(
        ids(&trace(&[&oneclick, &[wrong]])),
        ["INV-KEY-MATCHES-REQUEST"]
    );
}

#[test]
fn inv_controller_calls_accepted() {
    let head = [r#"{"config":{}}"#, r#"{"user":"launch"}"#];
    let end = r#"{"user":"end_session"}"#;
    let call = r#"{"step":2,"api":{"call":"end_session"}}"#;
    let refused = r#"{"step":2,"error":{"code":"no_session","message":"no"}}"#;
    // INV-CONTROLLER-CALLS-ACCEPTED passes: nothing refused.
    assert!(ids(&trace(&[&head, &LAUNCH])).is_empty());
    // INV-CONTROLLER-CALLS-ACCEPTED violated: the controller's call refused.
    let v = violations(&trace(&[&head, &LAUNCH, &[end, call, refused]]));
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].invariant.id(), "INV-CONTROLLER-CALLS-ACCEPTED");
    assert_eq!(v[0].line, 10);
    // Not judged when a scenario step calls the SDK directly (even later), nor without
    // scenario lines.
    let direct = r#"{"api":{"call":"end_session"}}"#;
    assert!(ids(&trace(&[&head, &LAUNCH, &[end, call, refused, direct]])).is_empty());
    assert!(ids(&trace(&[&LAUNCH, &[call, refused]])).is_empty());
}

#[test]
fn the_oracle_streams() {
    let mut oracle = Oracle::new();
    let lines = trace(&[
        &LAUNCH,
        &[r#"{"step":2,"event":{"code":"EventClearWarning"}}"#],
    ]);
    let parsed = parse_trace(&lines.join("\n")).unwrap();
    for (n, item) in &parsed {
        oracle.observe(*n, item);
    }
    assert_eq!(oracle.violations().len(), 1);
    assert_eq!(oracle.violations()[0].invariant, Invariant::WarningPaired);
    assert_eq!(oracle.finish().len(), 1);
}

#[test]
fn interleave_puts_each_step_before_its_records() {
    let steps = crate::transcript::parse_scenario(
        "{\"config\":{}}\n{\"user\":\"launch\"}\n{\"advance_ms\":1}\n{\"user\":\"tap_cobrowse\"}\n{\"advance_ms\":1}",
    )
    .unwrap();
    let records = crate::sim::World::run(&steps).expect("the world settles");
    let lines = interleave(&steps, &records);
    assert_eq!(lines.len(), steps.len() + records.len());
    let mut index = 0;
    for line in &lines {
        match line {
            TraceLine::Step(_) => index += 1,
            TraceLine::Record(r) => assert_eq!(r.step + 1, index),
        }
    }
    assert_eq!(index, steps.len());
    let numbered: Vec<_> = lines
        .into_iter()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .collect();
    assert!(check_trace(&numbered).is_empty());
    assert!(check_records(&records).is_empty());
}

mod machine_level {
    use super::super::machine::*;
    use cobrowse_visitor_core::Instant;
    use cobrowse_visitor_core::{ApiCall, InitParams};
    use cobrowse_visitor_core::{Controller, ControllerConfig, UserIntent};
    use cobrowse_visitor_core::{Input, Output, Sdk};

    fn drain(sdk: &mut Sdk) -> Vec<Output> {
        let mut out = Vec::new();
        loop {
            let o = sdk.poll_output();
            if let Output::Timeout(_) = o {
                return out;
            }
            out.push(o);
        }
    }

    #[test]
    fn inv_refused_unchanged() {
        // INV-REFUSED-UNCHANGED holds for the real core: end_session with no session.
        let mut sdk = Sdk::default();
        let before = sdk.state().clone();
        let result = sdk.handle_input(Instant::from_millis(5), Input::Api(ApiCall::EndSession));
        assert!(result.is_err());
        assert_eq!(refused_unchanged(&before, sdk.state(), &result), None);
        // INV-REFUSED-UNCHANGED violated: a state that moved on a refusal.
        let mut moved = before.clone();
        moved.now = Instant::from_millis(5);
        let v = refused_unchanged(&before, &moved, &result).unwrap();
        assert_eq!(v.invariant.id(), "INV-REFUSED-UNCHANGED");
        // An accepted input may change the state.
        assert_eq!(refused_unchanged(&before, &moved, &Ok(())), None);

        // The controller: tap_cobrowse before launch is refused and changes nothing.
        let mut c = Controller::new(ControllerConfig::default());
        let before = c.state().clone();
        let result = c.handle_user(UserIntent::TapCobrowse);
        assert!(result.is_err());
        assert_eq!(
            controller_refused_unchanged(&before, c.state(), &result),
            None
        );
        c.handle_user(UserIntent::Launch).unwrap();
        let v = controller_refused_unchanged(&before, c.state(), &result).unwrap();
        assert_eq!(v.invariant.id(), "INV-REFUSED-UNCHANGED");
    }

    #[test]
    fn inv_timer_not_early() {
        let mut sdk = Sdk::default();
        sdk.handle_input(
            Instant::from_millis(0),
            Input::Api(ApiCall::InitVisitor(InitParams::anonymous(19921))),
        )
        .unwrap();
        drain(&mut sdk);
        let deadline = sdk.poll_timeout().unwrap();
        // INV-TIMER-NOT-EARLY holds for the real core, early and on time.
        let before = sdk.state().clone();
        let early = Instant::from_millis(deadline.as_millis() - 1);
        sdk.handle_input(early, Input::Timeout).unwrap();
        let out = drain(&mut sdk);
        assert_eq!(timer_not_early(&before, early, sdk.state(), &out), None);
        let before = sdk.state().clone();
        sdk.handle_input(deadline, Input::Timeout).unwrap();
        let out = drain(&mut sdk);
        assert!(!out.is_empty(), "the init lookup timed out");
        assert_eq!(timer_not_early(&before, deadline, sdk.state(), &out), None);
        // INV-TIMER-NOT-EARLY violated: an early timeout with output.
        let mut fresh = Sdk::default();
        fresh
            .handle_input(
                Instant::from_millis(0),
                Input::Api(ApiCall::InitVisitor(InitParams::anonymous(19921))),
            )
            .unwrap();
        drain(&mut fresh);
        let s = fresh.state().clone();
        let noisy = [Output::Event(cobrowse_visitor_core::Event::ClearWarning)];
        let v = timer_not_early(
            &s,
            Instant::from_millis(1),
            &cobrowse_visitor_core::State {
                now: Instant::from_millis(1),
                ..s.clone()
            },
            &noisy,
        )
        .unwrap();
        assert_eq!(v.invariant.id(), "INV-TIMER-NOT-EARLY");
        // INV-TIMER-NOT-EARLY violated: an early timeout that changed the state.
        let changed = cobrowse_visitor_core::State {
            now: Instant::from_millis(1),
            default_ui: !s.default_ui,
            ..s.clone()
        };
        assert!(timer_not_early(&s, Instant::from_millis(1), &changed, &[]).is_some());
        // INV-TIMER-NOT-EARLY violated: a deadline left at or before `now`.
        let at = s.timers.next().unwrap();
        assert!(timer_not_early(
            &s,
            at,
            &cobrowse_visitor_core::State {
                now: at,
                ..s.clone()
            },
            &[]
        )
        .is_some());
    }

    #[test]
    fn inv_deterministic() {
        // INV-DETERMINISTIC holds for equal runs.
        assert_eq!(deterministic(&[1, 2, 3], &[1, 2, 3]), None);
        // INV-DETERMINISTIC violated: a different element, or a different length.
        let v = deterministic(&[1, 2, 3], &[1, 9, 3]).unwrap();
        assert_eq!(v.invariant.id(), "INV-DETERMINISTIC");
        assert_eq!(v.line, 2);
        assert_eq!(deterministic(&[1, 2], &[1, 2, 3]).unwrap().line, 3);
    }
}
