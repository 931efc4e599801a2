//! `INV-MANUAL-RANDOM`: a tap on the shown cobrowse button with no session leads, within its
//! step, to `start_session(GLANCE_KEYTYPE_RANDOM)`.

use super::{Check, Due};
use crate::oracle::reader::{Judged, Reading, Seen, SessionPhase};
use crate::oracle::{violation, Invariant, Violation};
use crate::transcript::Step;
use cobrowse_visitor_core::{ApiCall, StartKey, StartParams, UiDirective, UiElement, UserIntent};

/// `INV-MANUAL-RANDOM` (needs scenario lines).
#[derive(Clone, Debug, Default)]
pub(super) struct ManualRandom {
    /// The cobrowse button's last ui directive was `show`, and no `exit` step came since.
    button_shown: bool,
    /// A `tap_cobrowse` step that must lead to a random-key start.
    due: Option<Due>,
}

impl Check for ManualRandom {
    fn on_step(
        &mut self,
        ctx: &Reading,
        line: usize,
        index: usize,
        step: &Step,
        _out: &mut Vec<Violation>,
    ) {
        match step {
            Step::User(UserIntent::TapCobrowse)
                if self.button_shown && ctx.session() == SessionPhase::Idle =>
            {
                self.due = Some(Due { step: index, line });
            }
            // The app is gone, and with it everything it drew.
            Step::User(UserIntent::Exit) => self.button_shown = false,
            // a relaunched process starts with an empty screen (§13.2); what it shows, it draws
            Step::Relaunch { .. } => self.button_shown = false,
            _ => {}
        }
    }

    fn on_record(&mut self, _ctx: &Reading, rec: &Judged<'_>, _out: &mut Vec<Violation>) {
        match rec.seen {
            // What the controller asked for counts, whether or not the SDK refused it.
            Seen::Asked(ApiCall::StartSession(StartParams {
                key: StartKey::Random,
                ..
            })) => {
                if matches!(self.due, Some(d) if d.step == rec.step) {
                    self.due = None;
                }
            }
            Seen::Ui(UiDirective::Show {
                element: UiElement::CobrowseButton,
                ..
            }) => self.button_shown = true,
            Seen::Ui(UiDirective::Hide {
                element: UiElement::CobrowseButton,
            }) => self.button_shown = false,
            _ => {}
        }
    }

    fn on_step_end(&mut self, current: Option<usize>, out: &mut Vec<Violation>) {
        if let Some(d) = self.due.filter(|d| d.ended(current)) {
            self.due = None;
            out.push(violation(
                Invariant::ManualRandom,
                d.line,
                "tap_cobrowse with the button shown and no session did not lead to start_session(GLANCE_KEYTYPE_RANDOM) within its step".to_owned(),
            ));
        }
    }
}
