//! Refusals: `INV-REFUSED-NO-EFFECT`, `INV-CONTROLLER-CALLS-ACCEPTED`. Which records were
//! refused is the reader's lookahead ([`Seen::RefusedCall`], [`Seen::RefusedFrame`]).

use super::Check;
use crate::oracle::reader::{Judged, Reading, Seen};
use crate::oracle::{violation, Invariant, Violation};
use crate::transcript::Step;

/// `INV-REFUSED-NO-EFFECT`: no `send` after a refused call or frame, until the next `api` /
/// `recv` record or step.
#[derive(Clone, Debug, Default)]
pub(super) struct RefusedNoEffect {
    /// The step of a refusal: no `send` in it until the next `api` / `recv` record.
    quiet: Option<usize>,
}

impl Check for RefusedNoEffect {
    fn on_record(&mut self, _ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        match rec.seen {
            Seen::RefusedCall(_) | Seen::RefusedFrame => self.quiet = Some(rec.step),
            Seen::Asked(_) | Seen::Received(_) => self.quiet = None,
            Seen::Send(_) if self.quiet == Some(rec.step) => {
                self.quiet = None;
                out.push(violation(
                    Invariant::RefusedNoEffect,
                    rec.line,
                    "a frame was sent after a refused input, before the next api or recv record"
                        .to_owned(),
                ));
            }
            _ => {}
        }
    }

    fn on_step_end(&mut self, current: Option<usize>, _out: &mut Vec<Violation>) {
        if self.quiet.is_some() && self.quiet != current {
            self.quiet = None;
        }
    }
}

/// Most refused controller calls remembered for `INV-CONTROLLER-CALLS-ACCEPTED` (which can
/// only be judged at the end); more are counted in one extra violation.
const MAX_HELD_REFUSALS: usize = 256;

/// `INV-CONTROLLER-CALLS-ACCEPTED` (needs scenario lines): in a trace with no `api` scenario
/// steps, no api record is refused. Judged at the end, when it is known whether an `api`
/// step came.
#[derive(Clone, Debug, Default)]
pub(super) struct ControllerCallsAccepted {
    /// A scenario line called the SDK directly.
    api_step_seen: bool,
    /// The refused calls, each as the violation it is if no `api` step comes.
    held: Vec<Violation>,
    /// Refused calls beyond [`MAX_HELD_REFUSALS`].
    dropped: usize,
}

impl Check for ControllerCallsAccepted {
    fn on_step(
        &mut self,
        _ctx: &Reading,
        _line: usize,
        _index: usize,
        step: &Step,
        _out: &mut Vec<Violation>,
    ) {
        if let Step::Api(_) = step {
            self.api_step_seen = true;
        }
    }

    fn on_record(&mut self, _ctx: &Reading, rec: &Judged<'_>, _out: &mut Vec<Violation>) {
        let Seen::RefusedCall(call) = rec.seen else {
            return;
        };
        if self.held.len() < MAX_HELD_REFUSALS {
            self.held.push(violation(
                Invariant::ControllerCallsAccepted,
                rec.line,
                format!(
                    "the SDK refused `{}`, though no scenario step called the SDK directly",
                    call.name()
                ),
            ));
        } else {
            self.dropped = self.dropped.saturating_add(1);
        }
    }

    fn finish(&mut self, ctx: &Reading, out: &mut Vec<Violation>) {
        if !ctx.has_scenario() || self.api_step_seen {
            return;
        }
        out.append(&mut self.held);
        if self.dropped > 0 {
            let line = out.last().map_or(0, |v| v.line);
            out.push(violation(
                Invariant::ControllerCallsAccepted,
                line,
                format!("{} more refused controller calls not listed", self.dropped),
            ));
        }
    }
}
