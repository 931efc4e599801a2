//! One checker per transcript-visible invariant, each owning only the state its invariant
//! needs, all behind one small trait ([`Check`]). The reader ([`super::reader`]) calls them at
//! the judgement points; [`Checks`] holds them and calls them in one fixed order.
//!
//! | invariant | checker |
//! | --- | --- |
//! | `INV-GROUP-STABLE` | [`init::GroupStable`] |
//! | `INV-INIT-FIRST` | [`init::InitFirst`] |
//! | `INV-PRESENCE-NEEDS-ID` | [`init::PresenceNeedsId`] |
//! | `INV-MANUAL-RANDOM` | [`manual_random::ManualRandom`] |
//! | `INV-KEY-SHOWN-MANUAL` | [`session_key::KeyShownManual`] |
//! | `INV-KEY-HIDDEN-PRESENCE` | [`session_key::KeyHiddenPresence`] |
//! | `INV-KEY-MATCHES-REQUEST` | [`session_key::KeyMatchesRequest`] |
//! | `INV-TERMS-ORDER` | [`terms::TermsOrder`] |
//! | `INV-CONSENT` | [`terms::Consent`] |
//! | `INV-ONE-SESSION` | [`session::OneSession`] |
//! | `INV-SESSION-ENDED-PAIRED` | [`session::SessionEndedPaired`] |
//! | `INV-GUESTS-IN-SESSION` | [`session::GuestsInSession`] |
//! | `INV-NO-DISCONNECT-ON-BACKGROUND` | [`presence::NoDisconnectOnBackground`] |
//! | `INV-DISCONNECT-ON-LOGOUT` | [`presence::DisconnectOnLogout`] |
//! | `INV-CUSTOM-UI` | [`custom_ui::CustomUi`] |
//! | `INV-WARNING-PAIRED` | [`link::WarningPaired`] |
//! | `INV-NO-SEND-OFFLINE` | [`link::NoSendOffline`] |
//! | `INV-REFUSED-NO-EFFECT` | [`refusals::RefusedNoEffect`] |
//! | `INV-CONTROLLER-CALLS-ACCEPTED` | [`refusals::ControllerCallsAccepted`] |
//! | `INV-SDK-REPLAY`, `INV-CONTROLLER-REPLAY` | [`replay::Replay`] |
//! | `INV-CONSENT-POLICY` | [`presence_surface::ConsentPolicy`] |
//! | `INV-CONNECT-ATTEMPTS` | [`presence_surface::ConnectAttempts`] |
//! | `INV-NOT-CONFIGURED` | [`presence_surface::NotConfigured`] |
//! | `INV-PRESENCE-DATA` | [`presence_surface::PresenceData`] |
//! | `INV-SEND-FAIL-REFUSES` | [`presence_surface::SendFailRefuses`] |
//! | `INV-PAUSE-RUNNING` | [`session_extras::PauseRunning`] |
//! | `INV-PAUSE-SHOWN` | [`session_extras::PauseShown`] |
//! | `INV-MESSAGE-IN-SESSION` | [`session_extras::MessageInSession`] |
//! | `INV-RESTORE-KEY-HIDDEN` | [`session_extras::RestoreKeyHidden`] |
//! | `INV-RESTORE-GROUP` | [`session_extras::RestoreGroup`] |
//! | `INV-START-OPTIONS` | [`session_extras::StartOptionsSent`] |
//! | `INV-PERSIST` | [`session_extras::Persist`] |
//! | `LIVE-INIT` | [`progress::InitCompletes`] |
//! | `LIVE-PRESENCE` | [`progress::PresenceConnects`] |
//! | `LIVE-SESSION-RESOLVES` | [`progress::SessionResolves`] |
//! | `LIVE-GUEST-COUNT` | [`progress::GuestCountAgrees`] |
//! | `LIVE-BACKGROUND-SUSPEND` | [`progress::BackgroundSuspends`] |

mod custom_ui;
mod init;
mod link;
mod manual_random;
mod presence;
mod presence_surface;
mod progress;
mod refusals;
mod replay;
mod session;
mod session_extras;
mod session_key;
mod terms;

use super::reader::{Judged, Reading};
use super::Violation;
use crate::transcript::Step;

/// A per-step obligation: something that must happen before the step `step` ends; `line` is
/// where it arose, and where it is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Due {
    step: usize,
    line: usize,
}

impl Due {
    /// The step it belongs to has ended: a line of step `current` came (`None`: the trace
    /// ended).
    fn ended(&self, current: Option<usize>) -> bool {
        Some(self.step) != current
    }
}

/// One invariant's checker. Every method has a default that does nothing, so a checker
/// implements only the judgement points it needs. The facts in `ctx` are those from before
/// the line being judged.
pub(super) trait Check {
    /// A scenario line at `line`, the `index`-th (0-based, config line included).
    fn on_step(
        &mut self,
        _ctx: &Reading,
        _line: usize,
        _index: usize,
        _step: &Step,
        _out: &mut Vec<Violation>,
    ) {
    }

    /// A record: as it arrives, or (an `api` / `recv` record) once the next line told whether
    /// it was refused.
    fn on_record(&mut self, _ctx: &Reading, _rec: &Judged<'_>, _out: &mut Vec<Violation>) {}

    /// A line of step `current` came (`None`: the trace ended): every obligation of another
    /// step is judged now.
    fn on_step_end(&mut self, _current: Option<usize>, _out: &mut Vec<Violation>) {}

    /// The trace ended (after [`Check::on_step_end`] with `None`).
    fn finish(&mut self, _ctx: &Reading, _out: &mut Vec<Violation>) {}
}

/// Every checker.
#[derive(Clone, Debug, Default)]
pub(super) struct Checks {
    group_stable: init::GroupStable,
    init_first: init::InitFirst,
    presence_needs_id: init::PresenceNeedsId,
    manual_random: manual_random::ManualRandom,
    disconnect_on_logout: presence::DisconnectOnLogout,
    custom_ui: custom_ui::CustomUi,
    one_session: session::OneSession,
    consent: terms::Consent,
    terms_order: terms::TermsOrder,
    no_disconnect_on_background: presence::NoDisconnectOnBackground,
    key_matches_request: session_key::KeyMatchesRequest,
    session_ended_paired: session::SessionEndedPaired,
    key_shown_manual: session_key::KeyShownManual,
    key_hidden_presence: session_key::KeyHiddenPresence,
    guests_in_session: session::GuestsInSession,
    warning_paired: link::WarningPaired,
    no_send_offline: link::NoSendOffline,
    refused_no_effect: refusals::RefusedNoEffect,
    controller_calls_accepted: refusals::ControllerCallsAccepted,
    replay: replay::Replay,
    consent_policy: presence_surface::ConsentPolicy,
    connect_attempts: presence_surface::ConnectAttempts,
    not_configured: presence_surface::NotConfigured,
    presence_data: presence_surface::PresenceData,
    send_fail_refuses: presence_surface::SendFailRefuses,
    pause_running: session_extras::PauseRunning,
    pause_shown: session_extras::PauseShown,
    message_in_session: session_extras::MessageInSession,
    restore_key_hidden: session_extras::RestoreKeyHidden,
    restore_group: session_extras::RestoreGroup,
    start_options: session_extras::StartOptionsSent,
    persist: session_extras::Persist,
    init_completes: progress::InitCompletes,
    presence_connects: progress::PresenceConnects,
    session_resolves: progress::SessionResolves,
    guest_count_agrees: progress::GuestCountAgrees,
    background_suspends: progress::BackgroundSuspends,
}

impl Checks {
    /// Every checker, the controller's replay on or off (`INV-CONTROLLER-REPLAY`).
    pub(super) fn new(reference_controller: bool) -> Self {
        Checks {
            replay: if reference_controller {
                replay::Replay::with_reference_controller()
            } else {
                replay::Replay::default()
            },
            pause_shown: session_extras::PauseShown::for_reference_controller(reference_controller),
            persist: session_extras::Persist::for_reference_controller(reference_controller),
            ..Checks::default()
        }
    }

    /// Every checker, in the order they are called. Violations found at one line are listed
    /// in the order they were found, so this order is part of the output: `INV-INIT-FIRST`,
    /// then `INV-CUSTOM-UI`, `INV-ONE-SESSION` and `INV-CONSENT` for an accepted
    /// `start_session`; `INV-MANUAL-RANDOM`, `INV-DISCONNECT-ON-LOGOUT`, then `INV-CUSTOM-UI`
    /// at the end of a step; `INV-ONE-SESSION` before `INV-KEY-MATCHES-REQUEST` at
    /// `EventConnectedToSession`; `INV-SESSION-ENDED-PAIRED` before `INV-KEY-SHOWN-MANUAL` at
    /// `EventSessionEnded`; `INV-NO-SEND-OFFLINE` before `INV-REFUSED-NO-EFFECT` at a `send`;
    /// `INV-KEY-SHOWN-MANUAL` before `INV-CONTROLLER-CALLS-ACCEPTED` at the end; the progress
    /// checks last, after the presence surface's (issue 14) and the rest of the session's
    /// (issue 15).
    fn all(&mut self) -> [&mut dyn Check; 37] {
        [
            &mut self.group_stable,
            &mut self.init_first,
            &mut self.presence_needs_id,
            &mut self.manual_random,
            &mut self.disconnect_on_logout,
            &mut self.custom_ui,
            &mut self.one_session,
            &mut self.consent,
            &mut self.terms_order,
            &mut self.no_disconnect_on_background,
            &mut self.key_matches_request,
            &mut self.session_ended_paired,
            &mut self.key_shown_manual,
            &mut self.key_hidden_presence,
            &mut self.guests_in_session,
            &mut self.warning_paired,
            &mut self.no_send_offline,
            &mut self.refused_no_effect,
            &mut self.controller_calls_accepted,
            &mut self.replay,
            &mut self.consent_policy,
            &mut self.connect_attempts,
            &mut self.not_configured,
            &mut self.presence_data,
            &mut self.send_fail_refuses,
            &mut self.pause_running,
            &mut self.pause_shown,
            &mut self.message_in_session,
            &mut self.restore_key_hidden,
            &mut self.restore_group,
            &mut self.start_options,
            &mut self.persist,
            &mut self.init_completes,
            &mut self.presence_connects,
            &mut self.session_resolves,
            &mut self.guest_count_agrees,
            &mut self.background_suspends,
        ]
    }

    /// [`Check::on_step`] for every checker.
    pub(super) fn on_step(
        &mut self,
        ctx: &Reading,
        line: usize,
        index: usize,
        step: &Step,
        out: &mut Vec<Violation>,
    ) {
        for c in self.all() {
            c.on_step(ctx, line, index, step, out);
        }
    }

    /// [`Check::on_record`] for every checker.
    pub(super) fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        for c in self.all() {
            c.on_record(ctx, rec, out);
        }
    }

    /// [`Check::on_step_end`] for every checker.
    pub(super) fn on_step_end(&mut self, current: Option<usize>, out: &mut Vec<Violation>) {
        for c in self.all() {
            c.on_step_end(current, out);
        }
    }

    /// [`Check::finish`] for every checker.
    pub(super) fn finish(&mut self, ctx: &Reading, out: &mut Vec<Violation>) {
        for c in self.all() {
            c.finish(ctx, out);
        }
    }
}
