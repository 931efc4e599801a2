//! The session's life: `INV-ONE-SESSION`, `INV-SESSION-ENDED-PAIRED`,
//! `INV-GUESTS-IN-SESSION`. All three judge the session as the reader tracks it
//! ([`Reading::session`], [`Reading::connected`]) and keep no state of their own.

use super::Check;
use crate::oracle::reader::{Judged, Reading, Seen, SessionPhase};
use crate::oracle::{violation, Invariant, Violation};
use cobrowse_visitor_core::ApiCall;

/// `INV-ONE-SESSION`: no non-refused `start_session` while a session is starting, running or
/// ending; no `EventConnectedToSession` while the previous session is connected.
#[derive(Clone, Debug, Default)]
pub(super) struct OneSession;

impl Check for OneSession {
    fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        match rec.seen {
            Seen::Accepted(ApiCall::StartSession(_)) if ctx.session() != SessionPhase::Idle => {
                out.push(violation(
                    Invariant::OneSession,
                    rec.line,
                    format!(
                        "start_session was accepted while a session was {}",
                        ctx.session().name()
                    ),
                ));
            }
            Seen::Event {
                code: "EventConnectedToSession",
                ..
            } if ctx.connected() => out.push(violation(
                Invariant::OneSession,
                rec.line,
                "EventConnectedToSession while the previous session had not ended".to_owned(),
            )),
            _ => {}
        }
    }
}

/// `INV-SESSION-ENDED-PAIRED`: `EventSessionEnded` only for a session that connected or was
/// ending.
#[derive(Clone, Debug, Default)]
pub(super) struct SessionEndedPaired;

impl Check for SessionEndedPaired {
    fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        if matches!(
            rec.seen,
            Seen::Event {
                code: "EventSessionEnded",
                ..
            }
        ) && !matches!(ctx.session(), SessionPhase::Running | SessionPhase::Ending)
        {
            out.push(violation(
                Invariant::SessionEndedPaired,
                rec.line,
                format!(
                    "EventSessionEnded while no session was connected or ending (session {})",
                    ctx.session().name()
                ),
            ));
        }
    }
}

/// `INV-GUESTS-IN-SESSION`: `EventGuestCountChange` only while a session is running or
/// ending.
#[derive(Clone, Debug, Default)]
pub(super) struct GuestsInSession;

impl Check for GuestsInSession {
    fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        // spec.md §10.2: while a session is running or ending (S-F13 also accepts a guest
        // count while a start that never connected is being ended)
        if matches!(
            rec.seen,
            Seen::Event {
                code: "EventGuestCountChange",
                ..
            }
        ) && !ctx.connected()
            && ctx.session() != SessionPhase::Ending
        {
            out.push(violation(
                Invariant::GuestsInSession,
                rec.line,
                "EventGuestCountChange while no session was connected".to_owned(),
            ));
        }
    }
}
