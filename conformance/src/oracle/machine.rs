//! Machine-level invariants: not visible in a transcript, judged on the values a property
//! test or fuzz target holds. Each function returns the violation, if any; its `line` is
//! 0 except where stated.

use super::{violation, Invariant, Violation};
use cobrowse_visitor_core::Error;
use cobrowse_visitor_core::Instant;
use cobrowse_visitor_core::{ControllerError, ControllerState};
use cobrowse_visitor_core::{Output, State};
use std::fmt::Debug;

/// `INV-REFUSED-UNCHANGED` for the SDK core: `result` is what `Sdk::handle_input` returned,
/// `before` and `after` are `Sdk::state()` around the call.
pub fn refused_unchanged(
    before: &State,
    after: &State,
    result: &Result<(), Error>,
) -> Option<Violation> {
    match result {
        Err(e) if before != after => Some(violation(
            Invariant::RefusedUnchanged,
            0,
            format!(
                "the SDK refused an input ({}) but its state changed",
                e.code()
            ),
        )),
        _ => None,
    }
}

/// `INV-REFUSED-UNCHANGED` for the integration controller: `result` is what
/// `Controller::handle_user` returned, `before` and `after` are `Controller::state()`
/// around the call.
pub fn controller_refused_unchanged(
    before: &ControllerState,
    after: &ControllerState,
    result: &Result<(), ControllerError>,
) -> Option<Violation> {
    match result {
        Err(e) if before != after => Some(violation(
            Invariant::RefusedUnchanged,
            0,
            format!(
                "the controller refused a user intent ({}) but its state changed",
                e.code()
            ),
        )),
        _ => None,
    }
}

/// `INV-TIMER-NOT-EARLY`: `before` and `after` are `Sdk::state()` around
/// `handle_input(now, Input::Timeout)`, and `outputs` everything `poll_output` gave after
/// it (`Output::Timeout` entries are ignored). An input refused because time went
/// backwards (`now` before `before.now`) is [`refused_unchanged`]'s to judge.
pub fn timer_not_early(
    before: &State,
    now: Instant,
    after: &State,
    outputs: &[Output],
) -> Option<Violation> {
    if now < before.now {
        return None;
    }
    let early = match before.timers.next() {
        Some(deadline) => now < deadline,
        None => true,
    };
    if early {
        let expected = State {
            now,
            ..before.clone()
        };
        if *after != expected {
            return Some(violation(
                Invariant::TimerNotEarly,
                0,
                format!("Input::Timeout at {now}, before the next deadline, changed the state"),
            ));
        }
        if let Some(o) = outputs.iter().find(|o| !matches!(o, Output::Timeout(_))) {
            return Some(violation(
                Invariant::TimerNotEarly,
                0,
                format!("Input::Timeout at {now}, before the next deadline, produced output {o:?}"),
            ));
        }
    }
    match after.timers.next() {
        Some(next) if next <= now => Some(violation(
            Invariant::TimerNotEarly,
            0,
            format!("after Input::Timeout at {now} the next deadline is {next}, not later"),
        )),
        _ => None,
    }
}

/// `INV-DETERMINISTIC`: two runs of the same inputs (outputs, transcripts, …) must be equal;
/// the violation's line is the 1-based index of the first difference.
pub fn deterministic<T: PartialEq + Debug>(first: &[T], second: &[T]) -> Option<Violation> {
    let differ = first
        .iter()
        .zip(second)
        .position(|(a, b)| a != b)
        .or_else(|| (first.len() != second.len()).then(|| first.len().min(second.len())))?;
    let show = |s: &[T]| {
        s.get(differ)
            .map_or_else(|| "nothing".to_owned(), |x| format!("{x:?}"))
    };
    Some(violation(
        Invariant::Deterministic,
        differ.saturating_add(1),
        format!(
            "the same inputs gave {} then {} at position {}",
            show(first),
            show(second),
            differ.saturating_add(1)
        ),
    ))
}
