//! `INV-CUSTOM-UI`: with `custom_ui`, the app switches the SDK's default UI off after the
//! first `init_visitor` (before or after its `EventVisitorInitialized`, by the end of the
//! step of that event, before any `start_session`) and after each `presence_connect` (within
//! its step). Judged on interleaved traces (the contract's default `custom_ui: true` without
//! a config line) and on plain traces after a config line; a step is a record's `step`.

use super::{Check, Due};
use crate::oracle::reader::{Judged, Reading, Seen};
use crate::oracle::{violation, Invariant, Violation};
use cobrowse_visitor_core::ApiCall;

/// `INV-CUSTOM-UI`'s first part: `set_default_ui(false)` after the first
/// `EventVisitorInitialized`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum DefaultUiDuty {
    /// Not applicable (yet): no first `init_visitor` or `EventVisitorInitialized` with custom
    /// UI.
    #[default]
    None,
    /// The first `init_visitor` was accepted; `set_default_ui(false)` may come from now on
    /// (before or after its `EventVisitorInitialized`), and before any `start_session`.
    Armed,
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
    /// The first accepted `init_visitor` came.
    init_seen: bool,
    /// A non-refused `presence_connect` whose `presence_set_default_ui(false)` is due by the
    /// end of its step.
    presence_ui_due: Option<Due>,
}

impl CustomUi {
    /// Whether the trace says the app draws its own UI: a config line with `custom_ui`, or
    /// scenario lines with the contract's default.
    fn judged(ctx: &Reading) -> bool {
        (ctx.has_scenario() || ctx.has_config()) && ctx.custom_ui()
    }

    /// An obligation arising at the record `rec`, due by the end of its step, if the app
    /// draws its own UI.
    fn due(ctx: &Reading, rec: &Judged<'_>) -> Option<Due> {
        Self::judged(ctx).then_some(Due {
            step: rec.step,
            line: rec.line,
        })
    }

    /// The `set_default_ui(false)` duty is open.
    fn open(&self) -> bool {
        matches!(
            self.default_ui,
            DefaultUiDuty::Armed | DefaultUiDuty::Due(_)
        )
    }
}

impl Check for CustomUi {
    fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        match rec.seen {
            Seen::Event {
                code: "EventVisitorInitialized",
                ..
            } if !ctx.initialized() => {
                if matches!(self.default_ui, DefaultUiDuty::None | DefaultUiDuty::Armed) {
                    self.default_ui =
                        Self::due(ctx, rec).map_or(self.default_ui, DefaultUiDuty::Due);
                }
            }
            Seen::Accepted(ApiCall::InitVisitor(_)) if !self.init_seen => {
                self.init_seen = true;
                if self.default_ui == DefaultUiDuty::None && Self::judged(ctx) {
                    self.default_ui = DefaultUiDuty::Armed;
                }
            }
            Seen::Accepted(ApiCall::SetDefaultUi { enabled: false }) if self.open() => {
                self.default_ui = DefaultUiDuty::Settled;
            }
            Seen::Accepted(ApiCall::StartSession(_)) if self.open() => {
                self.default_ui = DefaultUiDuty::Settled;
                out.push(violation(
                    Invariant::CustomUi,
                    rec.line,
                    "with custom_ui, start_session was accepted before set_default_ui(false)"
                        .to_owned(),
                ));
            }
            Seen::Accepted(ApiCall::PresenceConnect { .. }) if self.presence_ui_due.is_none() => {
                self.presence_ui_due = Self::due(ctx, rec);
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
