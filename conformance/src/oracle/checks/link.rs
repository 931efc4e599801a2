//! The link to the service: `INV-WARNING-PAIRED`, `INV-NO-SEND-OFFLINE`.

use super::Check;
use crate::oracle::reader::{Judged, Reading, Seen};
use crate::oracle::{violation, Invariant, Violation};
use crate::transcript::Step;

/// `INV-WARNING-PAIRED`: `EventClearWarning` only after an uncleared `EventConnectionWarning`,
/// and no second warning before the clear.
#[derive(Clone, Debug, Default)]
pub(super) struct WarningPaired {
    /// An `EventConnectionWarning` not yet cleared.
    warning: bool,
}

impl Check for WarningPaired {
    /// A `relaunch` (§13.2) is a new process: the old one's banner went with it.
    fn on_step(&mut self, _: &Reading, _: usize, _: usize, step: &Step, _: &mut Vec<Violation>) {
        if let Step::Relaunch { .. } = step {
            self.warning = false;
        }
    }

    fn on_record(&mut self, _ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        let Seen::Event { code, .. } = rec.seen else {
            return;
        };
        match code {
            "EventConnectionWarning" => {
                if self.warning {
                    out.push(violation(
                        Invariant::WarningPaired,
                        rec.line,
                        "a second EventConnectionWarning before EventClearWarning".to_owned(),
                    ));
                }
                self.warning = true;
            }
            "EventClearWarning" => {
                if !self.warning {
                    out.push(violation(
                        Invariant::WarningPaired,
                        rec.line,
                        "EventClearWarning without an uncleared EventConnectionWarning".to_owned(),
                    ));
                }
                self.warning = false;
            }
            _ => {}
        }
    }
}

/// `INV-NO-SEND-OFFLINE`: no `send` between `EventConnectionWarning` and the next
/// `EventClearWarning`.
#[derive(Clone, Debug, Default)]
pub(super) struct NoSendOffline {
    /// Between an `EventConnectionWarning` and the next `EventClearWarning`.
    offline: bool,
}

impl Check for NoSendOffline {
    /// A `relaunch` (§13.2) is a new process: its own warning says whether its link is down.
    fn on_step(&mut self, _: &Reading, _: usize, _: usize, step: &Step, _: &mut Vec<Violation>) {
        if let Step::Relaunch { .. } = step {
            self.offline = false;
        }
    }

    fn on_record(&mut self, _ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        match rec.seen {
            Seen::Send(_) if self.offline => out.push(violation(
                Invariant::NoSendOffline,
                rec.line,
                "a frame was sent between EventConnectionWarning and EventClearWarning".to_owned(),
            )),
            Seen::Event {
                code: "EventConnectionWarning",
                ..
            } => self.offline = true,
            Seen::Event {
                code: "EventClearWarning",
                ..
            } => self.offline = false,
            _ => {}
        }
    }
}
