//! The oracle's public surface held against spec.md and against what a caller relies on:
//! which invariants need scenario lines (spec.md §10's *steps* marker), how a violation
//! prints, when a trace counts as interleaved, and `INV-TIMER-NOT-EARLY` at the deadline.

use cobrowse_visitor_conformance::oracle::{machine, Invariant, Oracle, Violation};
use cobrowse_visitor_conformance::transcript::parse_trace;
use cobrowse_visitor_core::{ApiCall, InitParams, Input, Instant, Output, Sdk, SdkConfig};

/// spec.md's §10 rows: `(ID, marked *steps*)` for every `INV-…` and `LIVE-…` row.
fn spec_rows() -> Vec<(String, bool)> {
    let spec = include_str!("../../spec.md");
    let start = spec.find("## 10. Invariants").expect("spec.md has §10");
    let end = spec[start..]
        .find("\n## 11.")
        .map_or(spec.len(), |e| start + e);
    spec[start..end]
        .lines()
        .filter_map(|l| {
            let cell = l.strip_prefix("| ")?.split(" |").next()?;
            let id = cell.split_whitespace().next()?;
            (id.starts_with("INV-") || id.starts_with("LIVE-"))
                .then(|| (id.to_owned(), cell.contains("*steps*")))
        })
        .collect()
}

/// `needs_scenario` is spec.md's *steps* marker for every transcript invariant, and true for
/// every `LIVE-…` one (§10.4: judged on interleaved traces, in the trace's own time).
#[test]
fn needs_scenario_is_the_specs_steps_marker() {
    let rows = spec_rows();
    let mut judged = 0;
    for inv in Invariant::ALL {
        let Some((_, marked)) = rows.iter().find(|(id, _)| id == inv.id()) else {
            panic!("{} has no row in spec.md §10", inv.id());
        };
        let expected = *marked || inv.id().starts_with("LIVE-");
        assert_eq!(inv.needs_scenario(), expected, "{}", inv.id());
        judged += 1;
    }
    assert_eq!(judged, Invariant::ALL.len());
    // both answers occur, so neither constant can pass
    assert!(Invariant::ALL.iter().any(Invariant::needs_scenario));
    assert!(!Invariant::ALL.iter().all(Invariant::needs_scenario));
}

/// `cobrowse check` prints `FILE:LINE: ID: message`; the part after the file is the
/// violation's own `Display`.
#[test]
fn a_violation_prints_line_id_and_message() {
    let v = Violation {
        invariant: Invariant::Consent,
        line: 12,
        message: "a one-click start without consent".to_owned(),
    };
    assert_eq!(
        v.to_string(),
        "12: INV-CONSENT: a one-click start without consent"
    );
}

/// A trace is interleaved once a scenario line other than the config came; a config line
/// and records alone are a plain trace.
#[test]
fn interleaved_means_a_scenario_line_beyond_the_config() {
    let read = |text: &str| {
        let mut oracle = Oracle::new();
        for (n, line) in parse_trace(text).expect("readable") {
            oracle.read(n, &line).expect("usable");
        }
        oracle.interleaved()
    };
    let config = r#"{"config":{"group_id":19921,"custom_ui":true,"seed":7}}"#;
    let record = r#"{"step":1,"api":{"call":"init_visitor","group_id":19921,"visitor_id":null}}"#;
    assert!(!read(record));
    assert!(!read(&format!("{config}\n{record}")));
    assert!(read(&format!(
        "{config}\n{{\"user\":\"launch\"}}\n{record}"
    )));
}

/// A fresh SDK after `init_visitor` with no answer: its init lookup is the next deadline.
fn waiting_for_settings() -> (Sdk, Instant) {
    let mut sdk = Sdk::new(SdkConfig::default());
    sdk.handle_input(
        Instant::ZERO,
        Input::Api(ApiCall::InitVisitor(InitParams::anonymous(19921))),
    )
    .expect("accepted");
    while !matches!(sdk.poll_output(), Output::Timeout(_)) {}
    let deadline = sdk.state().timers.next().expect("the lookup is armed");
    (sdk, deadline)
}

/// What `Input::Timeout` at `now` leaves, and what it gives.
fn fire(sdk: &Sdk, now: Instant) -> (Sdk, Vec<Output>) {
    let mut after = sdk.clone();
    after.handle_input(now, Input::Timeout).expect("accepted");
    let mut outputs = Vec::new();
    loop {
        let o = after.poll_output();
        let end = matches!(o, Output::Timeout(_));
        outputs.push(o);
        if end {
            return (after, outputs);
        }
    }
}

/// Firing at the deadline is on time; a machine that fired the same way a millisecond
/// before it was early, and one that did nothing then was not.
#[test]
fn timer_not_early_at_and_before_the_deadline() {
    let (sdk, deadline) = waiting_for_settings();
    let before = sdk.state();
    let (fired, outputs) = fire(&sdk, deadline);
    assert_ne!(fired.state(), before, "the lookup timer does something");
    assert_eq!(
        machine::timer_not_early(before, deadline, fired.state(), &outputs),
        None
    );
    let early = Instant::from_millis(deadline.as_millis() - 1);
    let flagged = machine::timer_not_early(before, early, fired.state(), &outputs)
        .expect("a change before the deadline is early");
    assert_eq!(flagged.invariant, Invariant::TimerNotEarly);
    let (idle, idle_outputs) = fire(&sdk, early);
    assert_eq!(
        machine::timer_not_early(before, early, idle.state(), &idle_outputs),
        None
    );
}
