//! `INV-CUSTOM-UI`: with `custom_ui`, the app switches the SDK's default UI off, after the
//! first `EventVisitorInitialized` and after each `presence_connect`.

use super::{Check, Due};
use crate::oracle::reader::{Judged, Reading, Seen};
use crate::oracle::{violation, Invariant, Violation};
use cobrowse_visitor_core::ApiCall;

/// `INV-CUSTOM-UI`'s first part: `set_default_ui(false)` after the first
/// `EventVisitorInitialized`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum DefaultUiDuty {
    /// Not applicable (yet): no first `EventVisitorInitialized` with custom UI.
    #[default]
    None,
    /// The first `EventVisitorInitialized` came; `set_default_ui(false)` is due by the end of
    /// this step, and before any non-refused `start_session`.
    Due(Due),
    /// Done, or reported.
    Settled,
}

/// `INV-CUSTOM-UI` (needs the config, i.e. scenario lines; `custom_ui` defaults to true).
#[derive(Clone, Debug, Default)]
pub(super) struct CustomUi {
    default_ui: DefaultUiDuty,
    /// A non-refused `presence_connect` whose `presence_set_default_ui(false)` is due by the
    /// end of its step.
    presence_ui_due: Option<Due>,
}

impl CustomUi {
    /// An obligation arising at `line` in the current step, if the config asks for custom UI
    /// (and there is a config to ask: scenario lines).
    fn due(ctx: &Reading, line: usize) -> Option<Due> {
        if !(ctx.has_scenario() && ctx.custom_ui()) {
            return None;
        }
        let step = ctx.current_step()?;
        Some(Due { step, line })
    }
}

impl Check for CustomUi {
    fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        match rec.seen {
            Seen::Event {
                code: "EventVisitorInitialized",
                ..
            } if !ctx.initialized() => {
                self.default_ui =
                    Self::due(ctx, rec.line).map_or(self.default_ui, DefaultUiDuty::Due);
            }
            Seen::Accepted(ApiCall::SetDefaultUi { enabled: false }) => {
                if let DefaultUiDuty::Due(_) = self.default_ui {
                    self.default_ui = DefaultUiDuty::Settled;
                }
            }
            Seen::Accepted(ApiCall::StartSession { .. }) => {
                if let DefaultUiDuty::Due(_) = self.default_ui {
                    self.default_ui = DefaultUiDuty::Settled;
                    out.push(violation(
                        Invariant::CustomUi,
                        rec.line,
                        "with custom_ui, start_session was accepted before set_default_ui(false)"
                            .to_owned(),
                    ));
                }
            }
            Seen::Accepted(ApiCall::PresenceConnect) if self.presence_ui_due.is_none() => {
                self.presence_ui_due = Self::due(ctx, rec.line);
            }
            Seen::Accepted(ApiCall::PresenceSetDefaultUi { enabled: false }) => {
                self.presence_ui_due = None;
            }
            _ => {}
        }
    }

    fn on_step_end(&mut self, current: Option<usize>, out: &mut Vec<Violation>) {
        if let DefaultUiDuty::Due(d) = self.default_ui {
            if d.ended(current) {
                self.default_ui = DefaultUiDuty::Settled;
                out.push(violation(
                    Invariant::CustomUi,
                    d.line,
                    "with custom_ui, set_default_ui(false) did not follow the first EventVisitorInitialized within its step".to_owned(),
                ));
            }
        }
        if let Some(d) = self.presence_ui_due.filter(|d| d.ended(current)) {
            self.presence_ui_due = None;
            out.push(violation(
                Invariant::CustomUi,
                d.line,
                "with custom_ui, presence_set_default_ui(false) did not follow this presence_connect within its step".to_owned(),
            ));
        }
    }
}
