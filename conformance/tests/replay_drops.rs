//! The replay checks (spec.md §10.2: INV-SDK-REPLAY, INV-CONTROLLER-REPLAY) name their own
//! ID for what only they can see: every `send` record dropped from a seed journey's
//! transcript is one the SDK core's rows write (INV-SDK-REPLAY), every `ui` record one the
//! controller's rows write (INV-CONTROLLER-REPLAY, with `--reference-controller`), every
//! `event` one of the two (the replay stops at its first disagreement, which may be the call
//! the event would have caused), and a controller call changed is one it did not make. Other invariants may flag the same
//! mutant; these tests ask for the replay's own ID, so that a weaker replay cannot hide
//! behind them.

use cobrowse_visitor_conformance::oracle::{check_trace_with, interleave, CheckOptions, Invariant};
use cobrowse_visitor_conformance::sim::World;
use cobrowse_visitor_conformance::transcript::{
    parse_scenario, parse_trace, Observed, Record, Step, TraceLine,
};
use std::collections::BTreeSet;

const JOURNEYS: [&str; 5] = [
    include_str!("../../scenarios/prelogin_manual.jsonl"),
    include_str!("../../scenarios/oneclick_accepted.jsonl"),
    include_str!("../../scenarios/logout_and_exit.jsonl"),
    include_str!("../../scenarios/background_presence_and_session.jsonl"),
    include_str!("../../scenarios/network_loss_and_recovery.jsonl"),
];

fn verdict(steps: &[Step], records: &[Record]) -> BTreeSet<Invariant> {
    let lines: Vec<(usize, TraceLine)> = interleave(steps, records)
        .into_iter()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .collect();
    check_trace_with(
        &lines,
        CheckOptions::default().with_reference_controller(true),
    )
    .into_iter()
    .map(|v| v.invariant)
    .collect()
}

/// Every journey: clean as written; each `send`, `event` and `ui` record dropped is flagged
/// with the replay of its machine.
#[test]
fn each_dropped_output_is_flagged_by_its_machines_replay() {
    let mut judged = 0;
    for journey in JOURNEYS {
        let steps = parse_scenario(journey).expect("parses");
        let records = World::run(&steps).expect("settles");
        assert_eq!(verdict(&steps, &records), BTreeSet::new(), "{journey}");
        for i in 0..records.len() {
            // the replay stops at its first disagreement: an event the app never heard may
            // show first as the controller's call that the event would have caused
            let expected: &[Invariant] = match records[i].observed {
                Observed::Send(_) => &[Invariant::SdkReplay],
                Observed::Event(_) => &[Invariant::SdkReplay, Invariant::ControllerReplay],
                Observed::Ui(_) => &[Invariant::ControllerReplay],
                _ => continue,
            };
            let mut dropped = records.clone();
            let gone = dropped.remove(i);
            let found = verdict(&steps, &dropped);
            assert!(
                expected.iter().any(|e| found.contains(e)),
                "{journey}\ndropped {gone:?}: {found:?}"
            );
            judged += 1;
        }
    }
    assert!(judged > 100, "{judged} drops");
}

/// A controller call the trace changed (`set_default_ui(true)` for its `false`, a random
/// start for a one-click one) is one the controller did not make.
#[test]
fn a_changed_controller_call_is_flagged() {
    for (journey, from, to) in [
        (
            JOURNEYS[0],
            r#""call":"set_default_ui","enabled":false"#,
            r#""call":"set_default_ui","enabled":true"#,
        ),
        (
            JOURNEYS[1],
            r#"{"call":"start_session"}"#,
            r#"{"call":"start_session","key":"GLANCE_KEYTYPE_RANDOM"}"#,
        ),
    ] {
        let steps = parse_scenario(journey).expect("parses");
        let records = World::run(&steps).expect("settles");
        let mut text = String::new();
        for r in &records {
            text.push_str(&serde_json::to_string(r).expect("serializes"));
            text.push('\n');
        }
        assert!(text.contains(from), "{from}");
        let changed: Vec<Record> = parse_trace(&text.replacen(from, to, 1))
            .expect("readable")
            .into_iter()
            .filter_map(|(_, l)| match l {
                TraceLine::Record(r) => Some(r),
                TraceLine::Step(_) => None,
            })
            .collect();
        let found = verdict(&steps, &changed);
        assert!(
            found.contains(&Invariant::ControllerReplay),
            "{to}: {found:?}"
        );
    }
}
