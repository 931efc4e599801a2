//! Progress on a trace, in the trace's own time (spec.md §10.4): `LIVE-INIT` and
//! `LIVE-SESSION-RESOLVES`. Time is the sum of the `advance_ms` scenario lines, so these are
//! judged on interleaved traces only; an obligation is judged at the end of the first step
//! that takes the trace's time to its deadline (the SDK's own timer fires within that step).

use super::Check;
use crate::oracle::reader::{Judged, Reading, Seen};
use crate::oracle::{violation, Invariant, Violation};
use crate::transcript::Step;
use cobrowse_visitor_core::{ApiCall, UserIntent};

/// `init_timeout` (spec.md §7).
const INIT_BOUND_MS: u64 = 10_000;
/// `start_timeout`.
const START_BOUND_MS: u64 = 15_000;
/// `end_timeout`, with the link up.
const END_BOUND_MS: u64 = 5_000;
/// `session_grace` plus twice `end_timeout`: an end while the link is down, or lost
/// meanwhile. Worst case: the end is made offline, its timer finds the link down at +5 s
/// (S-T04b arms the grace: +65 s), the link comes back just before the grace ends and the
/// re-sent `end_session` waits its own `end_timeout` (S-N02, S-T04): +70 s.
const END_OFFLINE_BOUND_MS: u64 = 70_000;

/// An obligation: what must come by `deadline` (trace time), raised at `line`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pending {
    line: usize,
    deadline: u64,
}

/// The trace's clock: the sum of its `advance_ms` lines.
#[derive(Clone, Debug, Default)]
struct Clock {
    now: u64,
    /// Whether the step being read advanced the clock.
    advanced: bool,
    /// The index of the step being read.
    index: Option<usize>,
}

impl Clock {
    fn on_step(&mut self, index: usize, step: &Step) {
        self.index = Some(index);
        self.advanced = false;
        if let Step::AdvanceMs(ms) = step {
            self.now = self.now.saturating_add(*ms);
            self.advanced = true;
        }
    }
}

/// `LIVE-INIT`: an accepted `init_visitor` is followed by `EventVisitorInitialized` within
/// `init_timeout` of the latest `init_visitor` (a re-init before the answer restarts the
/// lookup, S-A03).
#[derive(Clone, Debug, Default)]
pub(super) struct InitCompletes {
    clock: Clock,
    pending: Option<Pending>,
}

impl Check for InitCompletes {
    fn on_step(
        &mut self,
        _ctx: &Reading,
        _line: usize,
        index: usize,
        step: &Step,
        _out: &mut Vec<Violation>,
    ) {
        self.clock.on_step(index, step);
        // an app that exits before the lookup answers is never initialised (S-L05)
        if matches!(step, Step::User(UserIntent::Exit)) {
            self.pending = None;
        }
    }

    fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, _out: &mut Vec<Violation>) {
        if !ctx.has_scenario() {
            return;
        }
        match rec.seen {
            Seen::Accepted(ApiCall::InitVisitor(_)) => {
                self.pending = Some(Pending {
                    line: rec.line,
                    deadline: self.clock.now.saturating_add(INIT_BOUND_MS),
                });
            }
            Seen::Event {
                code: "EventVisitorInitialized",
                ..
            } => self.pending = None,
            _ => {}
        }
    }

    fn on_step_end(&mut self, current: Option<usize>, out: &mut Vec<Violation>) {
        judge(
            &self.clock,
            current,
            &mut self.pending,
            Invariant::InitCompletes,
            "init_visitor was not followed by EventVisitorInitialized within init_timeout (10 s)",
            out,
        );
    }
}

/// `LIVE-SESSION-RESOLVES`: an accepted `start_session` is followed by
/// `EventConnectedToSession` or `EventStartSessionFailed` within `start_timeout`; an accepted
/// `end_session` by `EventSessionEnded` (or `EventStartSessionFailed`, for a start it
/// abandoned) within `end_timeout` with the link up, `session_grace` + 2 × `end_timeout` once the
/// link is down.
#[derive(Clone, Debug, Default)]
pub(super) struct SessionResolves {
    clock: Clock,
    start: Option<Pending>,
    end: Option<Pending>,
    /// An `EventConnectionWarning` not yet cleared.
    offline: bool,
}

impl Check for SessionResolves {
    fn on_step(
        &mut self,
        _ctx: &Reading,
        _line: usize,
        index: usize,
        step: &Step,
        _out: &mut Vec<Violation>,
    ) {
        self.clock.on_step(index, step);
    }

    fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, _out: &mut Vec<Violation>) {
        if !ctx.has_scenario() {
            return;
        }
        let now = self.clock.now;
        match rec.seen {
            Seen::Accepted(ApiCall::StartSession { .. }) => {
                self.start = Some(Pending {
                    line: rec.line,
                    deadline: now.saturating_add(START_BOUND_MS),
                });
            }
            Seen::Accepted(ApiCall::EndSession) => {
                // the end replaces the start it abandons (S-A31)
                self.start = None;
                let bound = if self.offline {
                    END_OFFLINE_BOUND_MS
                } else {
                    END_BOUND_MS
                };
                self.end = Some(Pending {
                    line: rec.line,
                    deadline: now.saturating_add(bound),
                });
            }
            Seen::Event { code, .. } => match code {
                "EventConnectedToSession" => self.start = None,
                "EventStartSessionFailed" => {
                    self.start = None;
                    self.end = None;
                }
                "EventSessionEnded" => self.end = None,
                "EventConnectionWarning" => {
                    self.offline = true;
                    // an end in flight now waits for the link or the grace (S-T04b, S-T05b)
                    if let Some(end) = &mut self.end {
                        end.deadline = end.deadline.max(now.saturating_add(END_OFFLINE_BOUND_MS));
                    }
                }
                "EventClearWarning" => self.offline = false,
                _ => {}
            },
            _ => {}
        }
    }

    fn on_step_end(&mut self, current: Option<usize>, out: &mut Vec<Violation>) {
        judge(
            &self.clock,
            current,
            &mut self.start,
            Invariant::SessionResolves,
            "start_session was not resolved (EventConnectedToSession or EventStartSessionFailed) within start_timeout (15 s)",
            out,
        );
        judge(
            &self.clock,
            current,
            &mut self.end,
            Invariant::SessionResolves,
            "end_session was not followed by EventSessionEnded within its bound (5 s online, 70 s offline)",
            out,
        );
    }
}

/// At the end of a step that moved the clock (a line of step `current` came, or the trace
/// ended): an obligation past its deadline is a violation, reported once, at the line that
/// raised it.
fn judge(
    clock: &Clock,
    current: Option<usize>,
    pending: &mut Option<Pending>,
    invariant: Invariant,
    message: &str,
    out: &mut Vec<Violation>,
) {
    if let Some(p) = *pending {
        if clock.advanced && current != clock.index && clock.now >= p.deadline {
            out.push(violation(invariant, p.line, message.to_owned()));
            *pending = None;
        }
    }
}
