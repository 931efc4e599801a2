//! The oracle on hand-written traces at the edges the generated ones never reach (they are
//! correct by construction, so they only show that the oracle stays quiet): that it still
//! speaks up there. Each test names the invariant whose detection it pins down.

use cobrowse_visitor_conformance::oracle::{check_trace, Invariant, Violation};
use cobrowse_visitor_conformance::transcript::parse_trace;

fn check(lines: &[&str]) -> Vec<Violation> {
    check_trace(&parse_trace(&lines.join("\n")).expect("a well-formed trace"))
}

fn count(v: &[Violation], inv: Invariant) -> usize {
    v.iter().filter(|v| v.invariant == inv).count()
}

/// Step 0 (`launch`): an anonymous visitor initialised, the button shown.
const LAUNCH: [&str; 5] = [
    r#"{"user":"launch"}"#,
    r#"{"step":0,"api":{"call":"init_visitor","group_id":19921}}"#,
    r#"{"step":0,"event":{"code":"EventVisitorInitialized"}}"#,
    r#"{"step":0,"api":{"call":"set_default_ui","enabled":false}}"#,
    r#"{"step":0,"ui":{"show":"cobrowse_button"}}"#,
];

/// Step 1 (`login`): presence connected for cust-42.
const LOGIN: [&str; 6] = [
    r#"{"user":"login","visitor_id":"cust-42"}"#,
    r#"{"step":1,"api":{"call":"init_visitor","group_id":19921,"visitor_id":"cust-42"}}"#,
    r#"{"step":1,"event":{"code":"EventVisitorInitialized"}}"#,
    r#"{"step":1,"api":{"call":"presence_connect"}}"#,
    r#"{"step":1,"api":{"call":"presence_set_default_ui","enabled":false}}"#,
    r#"{"step":1,"event":{"code":"EventPresenceConnected"}}"#,
];

fn trace(parts: &[&[&str]]) -> Vec<Violation> {
    check(&parts.concat())
}

/// INV-CONTROLLER-CALLS-ACCEPTED: past the 256 refusals it lists, the oracle counts the rest
/// in one more violation.
#[test]
fn inv_controller_calls_accepted_counts_refusals_past_its_list() {
    let mut lines = LAUNCH.to_vec();
    for _ in 0..300 {
        lines.push(r#"{"step":0,"api":{"call":"end_session"}}"#);
        lines.push(r#"{"step":0,"error":{"code":"no_session","message":"no session"}}"#);
    }
    let v = check(&lines);
    assert_eq!(count(&v, Invariant::ControllerCallsAccepted), 257, "{v:?}");
    assert!(v.iter().any(|v| v.message.starts_with("44 more refused")));
}

/// INV-DISCONNECT-ON-LOGOUT: a `presence_connect` in the logout step is not the
/// `presence_disconnect` it owes.
#[test]
fn inv_disconnect_on_logout_wants_a_disconnect() {
    let logout = [
        r#"{"user":"logout"}"#,
        r#"{"step":2,"api":{"call":"presence_connect"}}"#,
        r#"{"step":2,"api":{"call":"init_visitor","group_id":19921}}"#,
    ];
    let v = trace(&[&LAUNCH, &LOGIN, &logout]);
    assert_eq!(count(&v, Invariant::DisconnectOnLogout), 1, "{v:?}");
    // with the disconnect, nothing
    let logout = [
        r#"{"user":"logout"}"#,
        r#"{"step":2,"api":{"call":"presence_disconnect"}}"#,
        r#"{"step":2,"event":{"code":"EventPresenceDisconnected"}}"#,
        r#"{"step":2,"api":{"call":"init_visitor","group_id":19921}}"#,
    ];
    assert_eq!(trace(&[&LAUNCH, &LOGIN, &logout]), vec![]);
}

/// INV-DISCONNECT-ON-LOGOUT: presence that the SDK reports disconnected (no call needed)
/// owes no disconnect at logout.
#[test]
fn inv_disconnect_on_logout_follows_presence_events() {
    let dropped = [
        r#"{"network":"lost"}"#,
        r#"{"step":2,"event":{"code":"EventPresenceDisconnected"}}"#,
    ];
    let logout = [
        r#"{"user":"logout"}"#,
        r#"{"step":3,"api":{"call":"init_visitor","group_id":19921}}"#,
    ];
    let v = trace(&[&LAUNCH, &LOGIN, &dropped, &logout]);
    assert_eq!(count(&v, Invariant::DisconnectOnLogout), 0, "{v:?}");
}

/// INV-CONSENT: a request the customer declined stays declined, even if an `accepted`
/// follows (which INV-TERMS-ORDER reports on its own).
#[test]
fn inv_consent_declined_stays_declined() {
    let terms = [
        r#"{"agent":"start_presence_session"}"#,
        r#"{"step":2,"event":{"code":"EventPresenceShowTerms","properties":{"request_id":"1"}}}"#,
        r#"{"step":2,"api":{"call":"presence_signal_agent","event":"terms","map":{"status":"displayed"}}}"#,
        r#"{"user":"decline_terms"}"#,
        r#"{"step":3,"api":{"call":"presence_signal_agent","event":"terms","map":{"status":"declined"}}}"#,
        r#"{"api":{"call":"presence_signal_agent","event":"terms","map":{"status":"accepted"}}}"#,
        r#"{"step":4,"api":{"call":"presence_signal_agent","event":"terms","map":{"status":"accepted"}}}"#,
        r#"{"api":{"call":"start_session"}}"#,
        r#"{"step":5,"api":{"call":"start_session"}}"#,
    ];
    let v = trace(&[&LAUNCH, &LOGIN, &terms]);
    assert_eq!(count(&v, Invariant::TermsOrder), 1, "{v:?}");
    assert_eq!(count(&v, Invariant::Consent), 1, "{v:?}");
    assert!(v.iter().any(|v| v.message.contains("declined")), "{v:?}");
}

/// INV-ONE-SESSION: the message names the state the session was in.
#[test]
fn inv_one_session_names_the_session_state() {
    let session = [
        r#"{"user":"tap_cobrowse"}"#,
        r#"{"step":1,"api":{"call":"start_session","key":"GLANCE_KEYTYPE_RANDOM"}}"#,
        r#"{"step":1,"event":{"code":"EventConnectedToSession","properties":{"sessionkey":"7463"}}}"#,
        r#"{"step":1,"ui":{"show":"session_key","key":"7463"}}"#,
        r#"{"api":{"call":"start_session","key":"abc"}}"#,
        r#"{"step":2,"api":{"call":"start_session","key":"abc"}}"#,
    ];
    let v = trace(&[&LAUNCH, &session]);
    let one: Vec<_> = v
        .iter()
        .filter(|v| v.invariant == Invariant::OneSession)
        .collect();
    assert_eq!(one.len(), 1, "{v:?}");
    assert!(
        one[0].message.ends_with("while a session was running"),
        "{one:?}"
    );
}

/// INV-GUESTS-IN-SESSION through `check_records` (records produced in memory, no scenario
/// lines): a guest count outside a session is reported at its 1-based record index.
#[test]
fn inv_guests_in_session_through_check_records() {
    use cobrowse_visitor_conformance::oracle::check_records;
    use cobrowse_visitor_conformance::transcript::{EventRecord, Observed, Record};
    let guests = Record {
        step: 1,
        observed: Observed::Event(EventRecord::from(
            &cobrowse_visitor_core::Event::GuestCountChange { guestcount: 1 },
        )),
    };
    let v = check_records(&[guests]);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!((v[0].invariant, v[0].line), (Invariant::GuestsInSession, 1));
}

/// INV-TIMER-NOT-EARLY: a timeout at the very instant of the last input, before any
/// deadline, must change nothing either.
#[test]
fn inv_timer_not_early_judges_a_timeout_at_the_same_instant() {
    use cobrowse_visitor_conformance::oracle::machine;
    use cobrowse_visitor_core::{Instant, Sdk};
    let before = Sdk::default().state().clone();
    let mut after = before.clone();
    after.default_ui = false;
    let v = machine::timer_not_early(&before, before.now, &after, &[]);
    assert_eq!(v.map(|v| v.invariant), Some(Invariant::TimerNotEarly));
    // only `now` moves: fine
    let mut later = before.clone();
    later.now = Instant::from_millis(before.now.as_millis() + 5);
    assert_eq!(
        machine::timer_not_early(&before, later.now, &later, &[]),
        None
    );
}

/// INV-GROUP-STABLE with direct `api` steps: an app that inits with another group than the
/// config's before launch makes the SDK hold to that group (S-A02 refuses the controller's
/// config group). The oracle flags the app's inits against the config; the model harness
/// (`sut::TraceCheck`, `sut::GroupChoice`) excuses exactly those, as the app's own choice, and
/// still reports an SDK that accepted the config's group after it (the visitor split).
#[test]
fn inv_group_stable_the_apps_own_group_is_excused_an_sdks_split_is_not() {
    use cobrowse_visitor_conformance::oracle::interleave;
    use cobrowse_visitor_conformance::sim::World;
    use cobrowse_visitor_conformance::transcript::{parse_scenario, Observed};
    use cobrowse_visitor_testkit::sut::TraceCheck;
    let steps = parse_scenario(
        r#"{"config":{"group_id":19921,"custom_ui":true,"seed":0}}
{"api":{"call":"init_visitor","group_id":20393,"visitor_id":null}}
{"user":"launch"}
{"api":{"call":"init_visitor","group_id":20393,"visitor_id":"cust-42"}}"#,
    )
    .unwrap();
    let records = World::run(&steps).unwrap();
    let judged = |records: &[cobrowse_visitor_conformance::transcript::Record]| {
        let lines = interleave(&steps, records);
        let found: Vec<usize> = check_trace(
            &lines
                .iter()
                .cloned()
                .enumerate()
                .map(|(i, l)| (i + 1, l))
                .collect::<Vec<_>>(),
        )
        .into_iter()
        .filter(|v| v.invariant == Invariant::GroupStable)
        .map(|v| v.line)
        .collect();
        let mut check = TraceCheck::default();
        for l in &lines {
            match l {
                cobrowse_visitor_conformance::transcript::TraceLine::Step(s) => check.step(s),
                cobrowse_visitor_conformance::transcript::TraceLine::Record(r) => check.record(r),
            }
        }
        let kept: Vec<usize> = check
            .violations()
            .into_iter()
            .filter(|v| v.invariant == Invariant::GroupStable)
            .map(|v| v.line)
            .collect();
        (found, kept)
    };
    // the real world: the app's two inits flagged by the oracle, both excused
    let (found, kept) = judged(&records);
    assert_eq!(found.len(), 2, "{records:#?}");
    assert!(kept.is_empty(), "{kept:?}");
    // an SDK that accepted the controller's config group after the app's: not excused
    let split: Vec<_> = records
        .iter()
        .filter(|r| {
            let refusal = match &r.observed {
                Observed::Error(_) => true,
                Observed::Event(e) => e.code() == "EventInvalidParameter",
                _ => false,
            };
            !(r.step == 2 && refusal)
        })
        .cloned()
        .collect();
    assert!(split.len() < records.len());
    let (found, kept) = judged(&split);
    assert_eq!(found.len(), 3, "{split:#?}");
    assert_eq!(kept.len(), 1, "{kept:?}");
}
