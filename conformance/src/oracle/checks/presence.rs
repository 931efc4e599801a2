//! Presence and the app's lifecycle: `INV-NO-DISCONNECT-ON-BACKGROUND`,
//! `INV-DISCONNECT-ON-LOGOUT`.

use super::{Check, Due};
use crate::oracle::reader::{Judged, Reading, Seen};
use crate::oracle::{violation, Invariant, Violation};
use crate::transcript::Step;
use cobrowse_visitor_core::{ApiCall, UserIntent};

/// `INV-NO-DISCONNECT-ON-BACKGROUND` (needs scenario lines): no `presence_disconnect` or
/// `presence_connect` api record caused by a `lifecycle` step.
#[derive(Clone, Debug, Default)]
pub(super) struct NoDisconnectOnBackground;

impl Check for NoDisconnectOnBackground {
    fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        let Seen::Asked(call @ (ApiCall::PresenceDisconnect | ApiCall::PresenceConnect { .. })) =
            rec.seen
        else {
            return;
        };
        if ctx.caused_by_lifecycle(rec.step) {
            out.push(violation(
                Invariant::NoDisconnectOnBackground,
                rec.line,
                format!(
                    "`{}` was called because of a lifecycle step; the SDK manages presence in the background itself",
                    call.name()
                ),
            ));
        }
    }
}

/// `INV-DISCONNECT-ON-LOGOUT` (needs scenario lines): a `logout` or `exit` step while presence
/// is connected leads, within that step, to a `presence_disconnect` the SDK accepted.
/// Presence goes off without a disconnect when the service says it is not configured, or the
/// last attempt of `connect(maxAttempts)` fails; a `relaunch` line starts a new process, whose
/// presence is off until it connects again.
#[derive(Clone, Debug, Default)]
pub(super) struct DisconnectOnLogout {
    /// `EventPresenceConnected` came, and neither `EventPresenceDisconnected` nor a
    /// non-refused `presence_disconnect` since.
    presence_connected: bool,
    /// A `logout` / `exit` step that must lead to `presence_disconnect`.
    due: Option<Due>,
}

impl Check for DisconnectOnLogout {
    fn on_step(
        &mut self,
        _ctx: &Reading,
        line: usize,
        index: usize,
        step: &Step,
        _out: &mut Vec<Violation>,
    ) {
        if matches!(step, Step::User(UserIntent::Logout | UserIntent::Exit))
            && self.presence_connected
        {
            self.due = Some(Due { step: index, line });
        }
        // a new process keeps no presence (§5.6, §13.2): connected again only by its own
        // EventPresenceConnected
        if let Step::Relaunch { .. } = step {
            self.presence_connected = false;
        }
    }

    fn on_record(&mut self, _ctx: &Reading, rec: &Judged<'_>, _out: &mut Vec<Violation>) {
        match rec.seen {
            // Only a call the SDK accepted does the duty (contract: a refused call neither
            // fulfils a duty nor breaks a rule).
            Seen::Accepted(ApiCall::PresenceDisconnect) => {
                if matches!(self.due, Some(d) if d.step == rec.step) {
                    self.due = None;
                }
                self.presence_connected = false;
            }
            Seen::Event { code, event, .. } => match code {
                "EventPresenceConnected" => self.presence_connected = true,
                // presence off: disconnected, not configured (S-F27), or the last attempt of
                // connect(maxAttempts) failed (S-F21b, S-T06c: no retry_ms)
                "EventPresenceDisconnected" | "EventPresenceNotConfigured" => {
                    self.presence_connected = false;
                }
                "EventPresenceConnectFail" if event.prop("retry_ms").is_none() => {
                    self.presence_connected = false;
                }
                _ => {}
            },
            _ => {}
        }
    }

    fn on_step_end(&mut self, current: Option<usize>, out: &mut Vec<Violation>) {
        if let Some(d) = self.due.filter(|d| d.ended(current)) {
            self.due = None;
            out.push(violation(
                Invariant::DisconnectOnLogout,
                d.line,
                "logout/exit while presence was connected did not lead to an accepted presence_disconnect within its step".to_owned(),
            ));
        }
    }
}
