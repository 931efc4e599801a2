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
use super::{CheckOptions, Invariant, Violation};
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

/// Runs `$body` with `$c` bound to every checker of `$checks` in turn, statically (each
/// call is direct and may be inlined; a checker's empty default costs nothing).
///
/// The checkers are called in the order of this list. Violations found at one line are
/// listed in the order they were found, so this order is part of the output: `INV-INIT-FIRST`,
/// then `INV-CUSTOM-UI`, `INV-ONE-SESSION` and `INV-CONSENT` for an accepted
/// `start_session`; `INV-MANUAL-RANDOM`, `INV-DISCONNECT-ON-LOGOUT`, then `INV-CUSTOM-UI`
/// at the end of a step; `INV-ONE-SESSION` before `INV-KEY-MATCHES-REQUEST` at
/// `EventConnectedToSession`; `INV-SESSION-ENDED-PAIRED` before `INV-KEY-SHOWN-MANUAL` at
/// `EventSessionEnded`; `INV-NO-SEND-OFFLINE` before `INV-REFUSED-NO-EFFECT` at a `send`;
/// `INV-KEY-SHOWN-MANUAL` before `INV-CONTROLLER-CALLS-ACCEPTED` at the end; the progress
/// checks last, after the presence surface's (issue 14) and the rest of the session's
/// (issue 15).
macro_rules! each_check {
    ($checks:expr, $c:ident => $body:expr) => {{
        let checks = $checks;
        if checks.off & (1 << 0) == 0 {
            let $c = &mut checks.group_stable;
            $body;
        }
        if checks.off & (1 << 1) == 0 {
            let $c = &mut checks.init_first;
            $body;
        }
        if checks.off & (1 << 2) == 0 {
            let $c = &mut checks.presence_needs_id;
            $body;
        }
        if checks.off & (1 << 3) == 0 {
            let $c = &mut checks.manual_random;
            $body;
        }
        if checks.off & (1 << 4) == 0 {
            let $c = &mut checks.disconnect_on_logout;
            $body;
        }
        if checks.off & (1 << 5) == 0 {
            let $c = &mut checks.custom_ui;
            $body;
        }
        if checks.off & (1 << 6) == 0 {
            let $c = &mut checks.one_session;
            $body;
        }
        if checks.off & (1 << 7) == 0 {
            let $c = &mut checks.consent;
            $body;
        }
        if checks.off & (1 << 8) == 0 {
            let $c = &mut checks.terms_order;
            $body;
        }
        if checks.off & (1 << 9) == 0 {
            let $c = &mut checks.no_disconnect_on_background;
            $body;
        }
        if checks.off & (1 << 10) == 0 {
            let $c = &mut checks.key_matches_request;
            $body;
        }
        if checks.off & (1 << 11) == 0 {
            let $c = &mut checks.session_ended_paired;
            $body;
        }
        if checks.off & (1 << 12) == 0 {
            let $c = &mut checks.key_shown_manual;
            $body;
        }
        if checks.off & (1 << 13) == 0 {
            let $c = &mut checks.key_hidden_presence;
            $body;
        }
        if checks.off & (1 << 14) == 0 {
            let $c = &mut checks.guests_in_session;
            $body;
        }
        if checks.off & (1 << 15) == 0 {
            let $c = &mut checks.warning_paired;
            $body;
        }
        if checks.off & (1 << 16) == 0 {
            let $c = &mut checks.no_send_offline;
            $body;
        }
        if checks.off & (1 << 17) == 0 {
            let $c = &mut checks.refused_no_effect;
            $body;
        }
        if checks.off & (1 << 18) == 0 {
            let $c = &mut checks.controller_calls_accepted;
            $body;
        }
        if checks.off & (1 << 19) == 0 {
            let $c = &mut checks.replay;
            $body;
        }
        if checks.off & (1 << 20) == 0 {
            let $c = &mut checks.consent_policy;
            $body;
        }
        if checks.off & (1 << 21) == 0 {
            let $c = &mut checks.connect_attempts;
            $body;
        }
        if checks.off & (1 << 22) == 0 {
            let $c = &mut checks.not_configured;
            $body;
        }
        if checks.off & (1 << 23) == 0 {
            let $c = &mut checks.presence_data;
            $body;
        }
        if checks.off & (1 << 24) == 0 {
            let $c = &mut checks.send_fail_refuses;
            $body;
        }
        if checks.off & (1 << 25) == 0 {
            let $c = &mut checks.pause_running;
            $body;
        }
        if checks.off & (1 << 26) == 0 {
            let $c = &mut checks.pause_shown;
            $body;
        }
        if checks.off & (1 << 27) == 0 {
            let $c = &mut checks.message_in_session;
            $body;
        }
        if checks.off & (1 << 28) == 0 {
            let $c = &mut checks.restore_key_hidden;
            $body;
        }
        if checks.off & (1 << 29) == 0 {
            let $c = &mut checks.restore_group;
            $body;
        }
        if checks.off & (1 << 30) == 0 {
            let $c = &mut checks.start_options;
            $body;
        }
        if checks.off & (1 << 31) == 0 {
            let $c = &mut checks.persist;
            $body;
        }
        if checks.off & (1 << 32) == 0 {
            let $c = &mut checks.init_completes;
            $body;
        }
        if checks.off & (1 << 33) == 0 {
            let $c = &mut checks.presence_connects;
            $body;
        }
        if checks.off & (1 << 34) == 0 {
            let $c = &mut checks.session_resolves;
            $body;
        }
        if checks.off & (1 << 35) == 0 {
            let $c = &mut checks.guest_count_agrees;
            $body;
        }
        if checks.off & (1 << 36) == 0 {
            let $c = &mut checks.background_suspends;
            $body;
        }
    }};
}

/// Each checker's bit in [`Checks::off`] (in the order of [`each_check!`]) and the
/// invariants it judges: a checker runs when one of them is judged.
const CHECKERS: [(u32, &[Invariant]); 37] = [
    (0, &[Invariant::GroupStable]),
    (1, &[Invariant::InitFirst]),
    (2, &[Invariant::PresenceNeedsId]),
    (3, &[Invariant::ManualRandom]),
    (4, &[Invariant::DisconnectOnLogout]),
    (5, &[Invariant::CustomUi]),
    (6, &[Invariant::OneSession]),
    (7, &[Invariant::Consent]),
    (8, &[Invariant::TermsOrder]),
    (9, &[Invariant::NoDisconnectOnBackground]),
    (10, &[Invariant::KeyMatchesRequest]),
    (11, &[Invariant::SessionEndedPaired]),
    (12, &[Invariant::KeyShownManual]),
    (13, &[Invariant::KeyHiddenPresence]),
    (14, &[Invariant::GuestsInSession]),
    (15, &[Invariant::WarningPaired]),
    (16, &[Invariant::NoSendOffline]),
    (17, &[Invariant::RefusedNoEffect]),
    (18, &[Invariant::ControllerCallsAccepted]),
    (19, &[Invariant::SdkReplay, Invariant::ControllerReplay]),
    (20, &[Invariant::ConsentPolicy]),
    (21, &[Invariant::ConnectAttempts]),
    (22, &[Invariant::NotConfigured]),
    (23, &[Invariant::PresenceData]),
    (24, &[Invariant::SendFailRefuses]),
    (25, &[Invariant::PauseRunning]),
    (26, &[Invariant::PauseShown]),
    (27, &[Invariant::MessageInSession]),
    (28, &[Invariant::RestoreKeyHidden]),
    (29, &[Invariant::RestoreGroup]),
    (30, &[Invariant::StartOptions]),
    (31, &[Invariant::Persist]),
    (32, &[Invariant::InitCompletes]),
    (33, &[Invariant::PresenceConnects]),
    (34, &[Invariant::SessionResolves]),
    (35, &[Invariant::GuestCountAgrees]),
    (36, &[Invariant::BackgroundSuspends]),
];

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
    /// Which checkers do not run (none by default): bit `k` for the `k`-th of
    /// [`each_check!`] ([`CHECKERS`]).
    off: u64,
    /// The options, when a checker that runs judges an invariant they skip (the replay
    /// judges two): its verdicts on that one are dropped as they come.
    partial: Option<CheckOptions>,
}

impl Checks {
    /// The checkers of the invariants `options` judges, the controller's replay on or off
    /// (`INV-CONTROLLER-REPLAY`).
    pub(super) fn new(options: CheckOptions) -> Self {
        let reference_controller = options.reference_controller;
        let off = CHECKERS
            .iter()
            .filter(|(_, judges)| !judges.iter().any(|i| options.judges(*i)))
            .fold(0, |off, (bit, _)| off | 1 << bit);
        let partial = CHECKERS
            .iter()
            .any(|(_, judges)| {
                judges.iter().any(|i| options.judges(*i))
                    && !judges.iter().all(|i| options.judges(*i))
            })
            .then_some(options);
        Checks {
            off,
            partial,
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

    /// [`Check::on_step`] for every checker.
    pub(super) fn on_step(
        &mut self,
        ctx: &Reading,
        line: usize,
        index: usize,
        step: &Step,
        out: &mut Vec<Violation>,
    ) {
        let from = out.len();
        each_check!(&mut *self, c => c.on_step(ctx, line, index, step, out));
        self.drop_skipped(from, out);
    }

    /// [`Check::on_record`] for every checker.
    pub(super) fn on_record(&mut self, ctx: &Reading, rec: &Judged<'_>, out: &mut Vec<Violation>) {
        let from = out.len();
        each_check!(&mut *self, c => c.on_record(ctx, rec, out));
        self.drop_skipped(from, out);
    }

    /// [`Check::on_step_end`] for every checker.
    pub(super) fn on_step_end(&mut self, current: Option<usize>, out: &mut Vec<Violation>) {
        let from = out.len();
        each_check!(&mut *self, c => c.on_step_end(current, out));
        self.drop_skipped(from, out);
    }

    /// [`Check::finish`] for every checker.
    pub(super) fn finish(&mut self, ctx: &Reading, out: &mut Vec<Violation>) {
        let from = out.len();
        each_check!(&mut *self, c => c.finish(ctx, out));
        self.drop_skipped(from, out);
    }

    /// Drops what the checkers just added (`out[from..]`) about an invariant the options
    /// skip ([`Checks::partial`]).
    fn drop_skipped(&self, from: usize, out: &mut Vec<Violation>) {
        if let Some(options) = &self.partial {
            let mut k = 0;
            out.retain(|v| {
                k += 1;
                k <= from || options.judges(v.invariant)
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::InvariantKind;

    /// Every invariant a transcript can show has exactly one checker in [`CHECKERS`], each
    /// checker its own bit, in the order of [`each_check!`].
    #[test]
    fn checkers_cover_each_transcript_invariant_once() {
        assert!(CHECKERS.len() <= 64);
        for (k, (bit, _)) in CHECKERS.iter().enumerate() {
            assert_eq!(*bit as usize, k);
        }
        let mut judged: Vec<Invariant> = CHECKERS
            .iter()
            .flat_map(|(_, i)| i.iter().copied())
            .collect();
        judged.sort();
        let mut want: Vec<Invariant> = Invariant::ALL
            .iter()
            .copied()
            .filter(|i| i.kind() != InvariantKind::Machine)
            .collect();
        want.sort();
        assert_eq!(judged, want);
    }
}
