//! INV-SDK-REPLAY and INV-CONTROLLER-REPLAY (spec.md §10.2) at their edges: a simulated
//! transcript replays clean; each kind of record the machines cannot write is flagged with
//! the right ID; what the rules leave free (the order across channels, a trace without frames,
//! an app's own integration) is not.

use cobrowse_visitor_conformance::oracle::{
    check_trace_with, interleave, CheckOptions, Invariant, Violation,
};
use cobrowse_visitor_conformance::sim::World;
use cobrowse_visitor_conformance::transcript::{
    parse_scenario, EventRecord, Observed, Record, TraceLine,
};

const JOURNEY: &str = r#"{"config": {"group_id": 19921, "custom_ui": true, "seed": 7}}
{"user": "launch"}
{"user": "tap_cobrowse"}
{"agent": "join"}
{"network": "lost"}
{"advance_ms": 3000}
{"network": "restored"}
{"user": "end_session"}
{"user": "exit"}"#;

fn check(records: &[Record], reference: bool) -> Vec<Violation> {
    check_journey(JOURNEY, records, reference)
}

fn check_journey(journey: &str, records: &[Record], reference: bool) -> Vec<Violation> {
    let steps = parse_scenario(journey).expect("parses");
    let lines: Vec<(usize, TraceLine)> = interleave(&steps, records)
        .into_iter()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .collect();
    check_trace_with(
        &lines,
        CheckOptions::default().with_reference_controller(reference),
    )
}

fn ids(v: &[Violation]) -> Vec<&'static str> {
    v.iter().map(|v| v.invariant.id()).collect()
}

fn records() -> Vec<Record> {
    World::run(&parse_scenario(JOURNEY).expect("parses")).expect("settles")
}

fn position(records: &[Record], f: impl Fn(&Observed) -> bool) -> usize {
    records
        .iter()
        .position(|r| f(&r.observed))
        .expect("the record is there")
}

fn frame(o: &Observed, kind: &str) -> bool {
    matches!(o, Observed::Send(v) if v.frame_type() == Some(kind))
        || matches!(o, Observed::Recv(v) if v.frame_type() == Some(kind))
}

#[test]
fn a_simulated_transcript_replays_clean() {
    assert_eq!(ids(&check(&records(), false)), Vec::<&str>::new());
    assert_eq!(ids(&check(&records(), true)), Vec::<&str>::new());
}

#[test]
fn records_the_sdk_cannot_write_are_inv_sdk_replay() {
    let base = records();
    // a dropped `send`, a repeated `recv`, a changed event, a frame before its request
    let mut dropped = base.clone();
    dropped.remove(position(&base, |o| frame(o, "resume_session")));
    let mut repeated = base.clone();
    let at = position(&base, |o| frame(o, "guest_count"));
    repeated.insert(at, base[at].clone());
    let mut changed = base.clone();
    let at = position(
        &base,
        |o| matches!(o, Observed::Event(e) if e.code() == "EventGuestCountChange"),
    );
    if let Observed::Event(e) = &mut changed[at].observed {
        let mut properties = e.properties();
        properties.insert("guestcount".into(), serde_json::json!("7"));
        *e = EventRecord::from_parts(e.code().to_owned(), properties);
    }
    let mut early = base.clone();
    let at = position(&base, |o| frame(o, "session_started"));
    early.swap(at - 1, at);
    for (what, records) in [
        ("dropped send", dropped),
        ("repeated recv", repeated),
        ("changed event", changed),
        ("answer before its request", early),
    ] {
        let found = check(&records, false);
        assert!(
            found.iter().any(|v| v.invariant == Invariant::SdkReplay),
            "{what}: {found:?}"
        );
    }
}

/// The first two neighbouring records of one step that `pair` accepts.
fn neighbours(records: &[Record], pair: impl Fn(&Observed, &Observed) -> bool) -> usize {
    (0..records.len() - 1)
        .find(|&i| {
            records[i].step == records[i + 1].step
                && pair(&records[i].observed, &records[i + 1].observed)
        })
        .expect("such neighbours")
}

#[test]
fn records_the_controller_cannot_write_are_inv_controller_replay_with_the_option_only() {
    let base = records();
    // the session indicator and the key shown in the other order
    let at = neighbours(&base, |a, b| {
        matches!((a, b), (Observed::Ui(_), Observed::Ui(_)))
    });
    let mut swapped = base.clone();
    swapped.swap(at, at + 1);
    assert_eq!(ids(&check(&swapped, true)), ["INV-CONTROLLER-REPLAY"]);
    assert_eq!(ids(&check(&swapped, false)), Vec::<&str>::new());
    // a directive shown twice
    let mut doubled = base.clone();
    doubled.insert(at, base[at].clone());
    assert_eq!(ids(&check(&doubled, true)), ["INV-CONTROLLER-REPLAY"]);
}

#[test]
fn what_the_rules_leave_free_is_not_flagged() {
    let base = records();
    // an app's own integration: its directives' order against the SDK's records is its own
    let at = neighbours(&base, |a, b| {
        matches!((a, b), (Observed::Event(_), Observed::Ui(_)))
    });
    let mut across = base.clone();
    across.swap(at, at + 1);
    assert_eq!(ids(&check(&across, false)), Vec::<&str>::new());
    // a trace of calls and events only: no frames to replay
    let no_wire: Vec<Record> = base
        .iter()
        .filter(|r| !matches!(r.observed, Observed::Send(_) | Observed::Recv(_)))
        .cloned()
        .collect();
    assert!(
        !ids(&check(&no_wire, false)).contains(&"INV-SDK-REPLAY"),
        "{:?}",
        check(&no_wire, false)
    );
}

/// A long `advance_ms` offline wakes the backing-off presence connect once per backoff
/// (about 11,000 times in 91 hours at 30 s): each wake-up moves the clock, so the replay
/// follows them all (its cap is on wake-ups at one instant). Found by `drive_scenario` in CI.
#[test]
fn a_long_offline_advance_replays_every_backoff() {
    let journey = r#"{"config": {"group_id": 19921, "custom_ui": true, "seed": 0}}
{"user": "launch"}
{"user": "login", "visitor_id": "cust-42"}
{"network": "lost"}
{"lifecycle": "background"}
{"lifecycle": "foreground"}
{"advance_ms": 327745531}
{"network": "restored"}"#;
    let records = World::run(&parse_scenario(journey).expect("parses")).expect("settles");
    assert_eq!(
        ids(&check_journey(journey, &records, true)),
        Vec::<&str>::new()
    );
}
