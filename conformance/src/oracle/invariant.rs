//! The invariants by ID, and a violation of one.

use std::fmt;

/// Which part of the spec an invariant belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InvariantKind {
    /// Named by the public contract (`../shared/contract/README.md`); `check` must know it.
    Contract,
    /// Defined by spec.md and visible in a transcript.
    Spec,
    /// Defined by spec.md about the machines' values; not visible in a transcript (see
    /// [`machine`](super::machine)).
    Machine,
    /// A progress property of spec.md §10.4 that a trace shows in its own time (the
    /// `advance_ms` lines); the rest of §10.4 is judged on the simulated world
    /// (`crate::liveness`).
    Liveness,
}

/// Every invariant the oracle knows, by its spec ID ([`Invariant::id`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Invariant {
    /// `INV-GROUP-STABLE`: every non-refused `init_visitor` carries the group id of the first
    /// non-refused one; when the trace starts with a config line, it carries the config's
    /// `group_id` too (the config says which group the app is for, so a first init with
    /// another one, an app that kept its test build's group id, is flagged). Refused calls
    /// are not judged. Reason: the group id selects the customer's Glance account; switching
    /// it mid-run would send the visitor to another company's agents.
    GroupStable,
    /// `INV-INIT-FIRST`: no non-refused `start_session`, no non-refused `presence_connect` and
    /// no `ui show cobrowse_button` before the first `EventVisitorInitialized`. Reason: until
    /// the settings lookup completes the SDK cannot start anything, so a button shown earlier
    /// would promise what a tap cannot deliver.
    InitFirst,
    /// `INV-PRESENCE-NEEDS-ID`: a non-refused `presence_connect` only when the latest
    /// non-refused `init_visitor` had a non-null `visitor_id`. Reason: presence announces an
    /// identified customer to the agent's CRM; an anonymous visitor has no record to light up.
    PresenceNeedsId,
    /// `INV-MANUAL-RANDOM` (needs scenario lines): a `{"user":"tap_cobrowse"}` step taken while
    /// the cobrowse button is shown (its last ui directive was `show`, and no `exit` step came
    /// since: an exited app shows nothing) and no session is
    /// starting, running or ending leads, within that step's records, to an `api`
    /// `start_session` with key `GLANCE_KEYTYPE_RANDOM`. Reason: the manual button is the
    /// fallback when the agent is on the wrong CRM record, so it must never start a one-click
    /// (visitor-id) session, logged in or not.
    ManualRandom,
    /// `INV-KEY-SHOWN-MANUAL`: a non-refused `start_session` with key `GLANCE_KEYTYPE_RANDOM`
    /// whose session connects (`EventConnectedToSession {sessionkey: k}`) shows
    /// `ui show session_key` with key `k` before that session's `EventSessionEnded` (or before
    /// the trace ends). Reason: in a manual session the agent can only join with the key the
    /// customer reads out.
    KeyShownManual,
    /// `INV-KEY-HIDDEN-PRESENCE`: for a session started by a non-refused `start_session`
    /// without `key` while a visitor id is set, no `ui show session_key` from that start until
    /// its `EventSessionEnded` / `EventStartSessionFailed`. Reason: a one-click session's key
    /// is the customer's visitor id, an identifier that must not be shown or read out.
    KeyHiddenPresence,
    /// `INV-TERMS-ORDER`: after `EventPresenceShowTerms`, a non-refused `presence_signal_agent`
    /// `terms` `displayed` comes before one with `accepted` or `declined`; each request gets
    /// at most one answer; an answer with no displayed request is a violation; a new
    /// `EventPresenceShowTerms` starts a new request. Reason: the agent's console shows the
    /// customer's progress through the terms and must never see an answer to terms the
    /// customer was not shown.
    TermsOrder,
    /// `INV-CONSENT`: a non-refused `start_session` without key while a visitor id is set
    /// happens only while an `accepted` answer for the latest request is unconsumed (the start
    /// consumes it); after `declined`, no such start for that request. The one other grant is
    /// the consent policy's: an `EventPresenceStartSession` that `INV-CONSENT-POLICY` allows
    /// grants one such start the same way (voided the same ways, and by a later
    /// `EventPresenceShowTerms`). Reason: a one-click session shares the customer's screen,
    /// which needs their explicit consent each time, unless the app and the group both let
    /// the agent start it.
    Consent,
    /// `INV-ONE-SESSION`: a non-refused `start_session` while a session is starting, running
    /// or ending is a violation, and so is an `EventConnectedToSession` while a previous
    /// session is connected and has not ended (`EventSessionEnded`). Reason: the visitor has
    /// one screen to share; two sessions would leave one agent watching a session nobody ends.
    OneSession,
    /// `INV-NO-DISCONNECT-ON-BACKGROUND` (needs scenario lines): no `presence_disconnect` or
    /// `presence_connect` api record whose step is a `lifecycle` step. Reason: the SDK manages
    /// presence across background and foreground itself; an app that does it too drops the
    /// customer from the agent's CRM every time they switch apps.
    NoDisconnectOnBackground,
    /// `INV-DISCONNECT-ON-LOGOUT` (needs scenario lines): a `logout` or `exit` user step taken
    /// while presence is connected (`EventPresenceConnected` seen, and neither
    /// `EventPresenceDisconnected` nor a non-refused `presence_disconnect` since) leads, within
    /// that step, to a `presence_disconnect` api record. Reason: otherwise the agent still sees
    /// a logged-out customer as present and may start a one-click session on the wrong person.
    DisconnectOnLogout,
    /// `INV-CUSTOM-UI` (needs the config, i.e. scenario lines; `custom_ui` defaults to true):
    /// with `custom_ui`, a non-refused `set_default_ui {enabled: false}` comes after the first
    /// `EventVisitorInitialized`, before any non-refused `start_session`, and by the end of the
    /// step in which that first `EventVisitorInitialized` arrived; each non-refused
    /// `presence_connect` is followed within its step by a non-refused
    /// `presence_set_default_ui {enabled: false}`. Reason: an app that draws its own UI must
    /// switch the SDK's off, or the customer sees two key dialogs and two terms dialogs.
    CustomUi,
    /// `INV-REFUSED-NO-EFFECT`: a refused api call or refused recv frame causes no `send`: no
    /// `send` record after it until the next `api` or `recv` record or the next step. Reason:
    /// a refused input must leave everything as it was, the server's view included.
    RefusedNoEffect,
    /// `INV-GUESTS-IN-SESSION`: `EventGuestCountChange` only while a session is running or
    /// ending (after `EventConnectedToSession` and before `EventSessionEnded`, or after a
    /// non-refused `end_session` of a session not yet ended). Reason: agents can
    /// only join a session that exists; a guest count outside one is a stale frame.
    GuestsInSession,
    /// `INV-SESSION-ENDED-PAIRED`: `EventSessionEnded` only for a session that connected or was
    /// ending (a non-refused `end_session` after it connected or while starting), and at most
    /// once per session. Reason: the app tears its session UI down on this event; a spurious
    /// or repeated one hides the UI of a session that is still running.
    SessionEndedPaired,
    /// `INV-WARNING-PAIRED`: `EventClearWarning` only after an uncleared
    /// `EventConnectionWarning`, and no second `EventConnectionWarning` before it is cleared.
    /// Reason: apps show and hide a "reconnecting" banner on these events; unpaired ones leave
    /// it stuck or flash it for nothing.
    WarningPaired,
    /// `INV-NO-SEND-OFFLINE`: no `send` record between an `EventConnectionWarning` and the next
    /// `EventClearWarning`. Reason: while the link is down frames go nowhere; what must survive
    /// the outage is sent again from the state when the link is back.
    NoSendOffline,
    /// `INV-KEY-MATCHES-REQUEST`: the `sessionkey` of `EventConnectedToSession` equals the
    /// visitor id after a one-click start (no key, visitor id set), equals the custom key after
    /// a custom-key start, and is all ASCII digits after a random start (key
    /// `GLANCE_KEYTYPE_RANDOM`, or no key without a visitor id). Reason: the agent joins by the
    /// key they expect; any other key connects the customer to a session nobody will join.
    KeyMatchesRequest,
    /// `INV-CONTROLLER-CALLS-ACCEPTED` (needs scenario lines): in a trace with no `api`
    /// scenario steps, no api record is refused. Reason: the integration controller must only
    /// ask for calls the SDK accepts in the state it is in; a refusal means the two disagree.
    ControllerCallsAccepted,
    /// `INV-SDK-REPLAY` (needs scenario lines): the SDK's records (every `send` and `event`,
    /// and which `api` / `recv` records are refused) are what the SDK core gives for the
    /// trace's inputs in the trace's order, drained at once. Reason: a record the SDK's rows
    /// cannot write (dropped, repeated, out of order, changed) is a broken SDK or a broken
    /// trace, whichever rule it happens to touch.
    SdkReplay,
    /// `INV-CONTROLLER-REPLAY` (needs scenario lines): the controller's records (every `ui`,
    /// every `api` that is not an `api` line's own call, which `user` lines are refused) are
    /// what the integration controller gives for the `user` and `lifecycle` lines and the
    /// events, in order. Reason: the same, for the app's side.
    ControllerReplay,
    /// `INV-CONSENT-POLICY`: `EventPresenceStartSession` only when the trace's config line
    /// says `consent_policy` `agent_may_start` (without one: the default, `terms_required`)
    /// and the latest `settings` the SDK received says `agent_start` `true` (a trace without
    /// `recv` records is judged by the config alone). Reason: an agent may skip the customer's
    /// consent only if both the app and the group opted in; under the default an agent's start
    /// is the terms flow (S-F25, S-F26).
    ConsentPolicy,
    /// `INV-CONNECT-ATTEMPTS`: after an accepted `presence_connect` with `max_attempts` n ≥ 1,
    /// at most n `send presence_connect` in one connect round (the round ends at
    /// `EventPresenceConnected`, `EventClearWarning`, `EventPresenceBlur` or a
    /// `send presence_disconnect`, each of which may start a new one); after an
    /// `EventPresenceConnectFail` without `retry_ms`, no `send presence_connect` until the
    /// next accepted `presence_connect`. Reason: `connect(maxAttempts)` bounds the attempts;
    /// a visitor who gave up must not keep knocking (S-F21b, S-T06c).
    ConnectAttempts,
    /// `INV-NOT-CONFIGURED`: after `EventPresenceNotConfigured`, no accepted
    /// `presence_connect` and no `send presence_connect` until an accepted `init_visitor`.
    /// Reason: presence is off for the group; retrying forever is the bug this replaces
    /// (S-F27, S-A46, S-A04).
    NotConfigured,
    /// `INV-PRESENCE-DATA`: by the end of the step of every `EventPresenceConnected`, and of
    /// every accepted `presence_data` while presence is up, the latest `send presence_data`
    /// since presence came up carries the merge of every accepted `presence_data` since the
    /// latest accepted `init_visitor` that changed the visitor id (none is owed while that
    /// merge is empty). Reason: the agent's view of the visitor must show the app's latest
    /// data, also after a reconnect (S-A80, S-F20).
    PresenceData,
    /// `INV-SEND-FAIL-REFUSES`: `EventPresenceSendFail` comes only right after an `api`
    /// record of `presence_signal_agent` or `presence_signal_visibility`, naming that call;
    /// the call then counts as refused (no `send presence_signal` / `presence_visibility` for
    /// it). Reason: a presence message that could not go out is an error the app must see,
    /// not a silent drop (S-A58, S-A71).
    SendFailRefuses,
    /// `INV-PAUSE-RUNNING`: an accepted `pause` only while a session runs, between its
    /// `EventConnectedToSession` and its end (`EventSessionEnded`, or an accepted
    /// `end_session`). Reason: only a running session can be paused (S-A101); a pause the SDK
    /// took otherwise would leave the app, the SDK and the service disagreeing.
    PauseRunning,
    /// `INV-PAUSE-SHOWN` (needs scenario lines; the crate's controller): at the end of every
    /// step, `session_paused` is shown exactly while the running session is paused by the
    /// app (its latest accepted `pause` said `true`), and hidden once the session ends; a
    /// `relaunch` empties the screen. Reason: the customer must see that the agent sees
    /// nothing, and never a paused notice for a session that is gone (C-U80, C-E12, C-R01).
    PauseShown,
    /// `INV-MESSAGE-IN-SESSION`: `EventMessageReceived` only while a session runs; an
    /// accepted `send_user_message` or `set_user_state` only while a session runs. Reason:
    /// user messages and states belong to a session's agents (S-F30, S-A111, S-A121).
    MessageInSession,
    /// `INV-RESTORE-KEY-HIDDEN` (needs scenario lines): a one-click session (`keytype`
    /// `visitor_id`) running at a `relaunch` never shows `session_key` from the relaunch until
    /// it ends. Reason: a restored one-click session's key is still the customer's visitor id
    /// (C-R01).
    RestoreKeyHidden,
    /// `INV-RESTORE-GROUP` (needs scenario lines): after a `relaunch`, every accepted
    /// `init_visitor` and every `send init` carries the reference group id, and the session
    /// running at the relaunch is resumed with its own key. Reason: a restore never changes
    /// the group id, nor the session it continues (§5.6).
    RestoreGroup,
    /// `INV-START-OPTIONS`: every `send start_session` for an accepted `start_session` (the
    /// first, and one sent again after a loss) carries that call's `max_guests` and `paused`.
    /// Reason: the service enforces them (§13.2); a start without them lets more agents in
    /// than the app allowed, or shows the screen the app wanted paused (S-A20, S-N02).
    StartOptions,
    /// `INV-PERSIST` (needs scenario lines): after a `relaunch` at which a session started
    /// without `persist` ran, no `send resume_session` carries its key; with the crate's
    /// controller, no `session_key`, `session_indicator` or `session_paused` is shown for it.
    /// Reason: a session the app asked not to keep must not outlive its process (§5.6, C-R01).
    Persist,
    /// `INV-REFUSED-UNCHANGED` (machine level): an input that returns `Err` leaves
    /// `Sdk::state()` exactly as it was, and a refused user intent leaves `Controller::state()`
    /// as it was. Reason: callers may retry or ignore a refusal only if it did nothing.
    RefusedUnchanged,
    /// `INV-TIMER-NOT-EARLY` (machine level): `Input::Timeout` at a `now` earlier than
    /// `poll_timeout()` changes nothing but `State::now` and produces no output; after
    /// `Input::Timeout` at `now`, `poll_timeout()` is `None` or later than `now`. Reason: an IO
    /// layer may wake early or spuriously, and must not busy-loop on a deadline already past.
    TimerNotEarly,
    /// `INV-DETERMINISTIC` (machine level): the same inputs give the same outputs. Reason:
    /// scenarios, transcripts and bug reports are only reproducible if the core is a function.
    Deterministic,
    /// `LIVE-INIT` (needs scenario lines, judged in the trace's time): an accepted
    /// `init_visitor` is followed by `EventVisitorInitialized` within `init_timeout` (10 s) of
    /// the latest one. Reason: the app shows the button and connects presence on that event.
    InitCompletes,
    /// `LIVE-PRESENCE` (needs scenario lines, judged in the trace's time): logged in with a
    /// visitor id, online, in front and presence configured, presence is up within
    /// `presence_connect_timeout` + the largest backoff (40 s). Reason: the customer must show
    /// as online, or one-click cannot work.
    PresenceConnects,
    /// `LIVE-SESSION-RESOLVES` (needs scenario lines, judged in the trace's time): an accepted
    /// `start_session` resolves within `start_timeout` (15 s), an accepted `end_session` within
    /// `end_timeout` (5 s) online or `session_grace` + 2 × `end_timeout` (70 s) once offline.
    /// Reason: the app's UI waits on these events.
    SessionResolves,
    /// `LIVE-GUEST-COUNT` (needs scenario lines): at the end of every step with the session
    /// running and the link up, the app's last `EventGuestCountChange` equals the agents the
    /// `agent` steps put in the session. Reason: an agent who joined while the visitor was
    /// offline must not be lost.
    GuestCountAgrees,
    /// `LIVE-BACKGROUND-SUSPEND` (needs scenario lines, judged in the trace's time): in the
    /// background with presence up and no terms dialog on screen, presence is suspended within
    /// `background_suspend` (60 s). Reason: a request the app never showed must not keep
    /// presence up forever.
    BackgroundSuspends,
}

impl Invariant {
    /// Every invariant, contract IDs first, then spec-only, then machine-level.
    pub const ALL: [Invariant; 41] = [
        Invariant::GroupStable,
        Invariant::InitFirst,
        Invariant::PresenceNeedsId,
        Invariant::ManualRandom,
        Invariant::KeyShownManual,
        Invariant::KeyHiddenPresence,
        Invariant::TermsOrder,
        Invariant::Consent,
        Invariant::OneSession,
        Invariant::NoDisconnectOnBackground,
        Invariant::DisconnectOnLogout,
        Invariant::CustomUi,
        Invariant::RefusedNoEffect,
        Invariant::GuestsInSession,
        Invariant::SessionEndedPaired,
        Invariant::WarningPaired,
        Invariant::NoSendOffline,
        Invariant::KeyMatchesRequest,
        Invariant::ControllerCallsAccepted,
        Invariant::SdkReplay,
        Invariant::ControllerReplay,
        Invariant::ConsentPolicy,
        Invariant::ConnectAttempts,
        Invariant::NotConfigured,
        Invariant::PresenceData,
        Invariant::SendFailRefuses,
        Invariant::PauseRunning,
        Invariant::PauseShown,
        Invariant::MessageInSession,
        Invariant::RestoreKeyHidden,
        Invariant::RestoreGroup,
        Invariant::StartOptions,
        Invariant::Persist,
        Invariant::RefusedUnchanged,
        Invariant::TimerNotEarly,
        Invariant::Deterministic,
        Invariant::InitCompletes,
        Invariant::PresenceConnects,
        Invariant::SessionResolves,
        Invariant::GuestCountAgrees,
        Invariant::BackgroundSuspends,
    ];

    /// The spec ID, e.g. `INV-GROUP-STABLE`.
    pub fn id(&self) -> &'static str {
        match self {
            Invariant::GroupStable => "INV-GROUP-STABLE",
            Invariant::InitFirst => "INV-INIT-FIRST",
            Invariant::PresenceNeedsId => "INV-PRESENCE-NEEDS-ID",
            Invariant::ManualRandom => "INV-MANUAL-RANDOM",
            Invariant::KeyShownManual => "INV-KEY-SHOWN-MANUAL",
            Invariant::KeyHiddenPresence => "INV-KEY-HIDDEN-PRESENCE",
            Invariant::TermsOrder => "INV-TERMS-ORDER",
            Invariant::Consent => "INV-CONSENT",
            Invariant::OneSession => "INV-ONE-SESSION",
            Invariant::NoDisconnectOnBackground => "INV-NO-DISCONNECT-ON-BACKGROUND",
            Invariant::DisconnectOnLogout => "INV-DISCONNECT-ON-LOGOUT",
            Invariant::CustomUi => "INV-CUSTOM-UI",
            Invariant::RefusedNoEffect => "INV-REFUSED-NO-EFFECT",
            Invariant::GuestsInSession => "INV-GUESTS-IN-SESSION",
            Invariant::SessionEndedPaired => "INV-SESSION-ENDED-PAIRED",
            Invariant::WarningPaired => "INV-WARNING-PAIRED",
            Invariant::NoSendOffline => "INV-NO-SEND-OFFLINE",
            Invariant::KeyMatchesRequest => "INV-KEY-MATCHES-REQUEST",
            Invariant::ControllerCallsAccepted => "INV-CONTROLLER-CALLS-ACCEPTED",
            Invariant::SdkReplay => "INV-SDK-REPLAY",
            Invariant::ControllerReplay => "INV-CONTROLLER-REPLAY",
            Invariant::ConsentPolicy => "INV-CONSENT-POLICY",
            Invariant::ConnectAttempts => "INV-CONNECT-ATTEMPTS",
            Invariant::NotConfigured => "INV-NOT-CONFIGURED",
            Invariant::PresenceData => "INV-PRESENCE-DATA",
            Invariant::SendFailRefuses => "INV-SEND-FAIL-REFUSES",
            Invariant::PauseRunning => "INV-PAUSE-RUNNING",
            Invariant::PauseShown => "INV-PAUSE-SHOWN",
            Invariant::MessageInSession => "INV-MESSAGE-IN-SESSION",
            Invariant::RestoreKeyHidden => "INV-RESTORE-KEY-HIDDEN",
            Invariant::RestoreGroup => "INV-RESTORE-GROUP",
            Invariant::StartOptions => "INV-START-OPTIONS",
            Invariant::Persist => "INV-PERSIST",
            Invariant::RefusedUnchanged => "INV-REFUSED-UNCHANGED",
            Invariant::TimerNotEarly => "INV-TIMER-NOT-EARLY",
            Invariant::Deterministic => "INV-DETERMINISTIC",
            Invariant::InitCompletes => "LIVE-INIT",
            Invariant::PresenceConnects => "LIVE-PRESENCE",
            Invariant::SessionResolves => "LIVE-SESSION-RESOLVES",
            Invariant::GuestCountAgrees => "LIVE-GUEST-COUNT",
            Invariant::BackgroundSuspends => "LIVE-BACKGROUND-SUSPEND",
        }
    }

    /// The invariant with this spec ID.
    pub fn from_id(id: &str) -> Option<Invariant> {
        Invariant::ALL.iter().copied().find(|i| i.id() == id)
    }

    /// Which part of the spec it belongs to.
    pub fn kind(&self) -> InvariantKind {
        match self {
            Invariant::GroupStable
            | Invariant::InitFirst
            | Invariant::PresenceNeedsId
            | Invariant::ManualRandom
            | Invariant::KeyShownManual
            | Invariant::KeyHiddenPresence
            | Invariant::TermsOrder
            | Invariant::Consent
            | Invariant::OneSession
            | Invariant::NoDisconnectOnBackground
            | Invariant::DisconnectOnLogout
            | Invariant::CustomUi => InvariantKind::Contract,
            Invariant::RefusedNoEffect
            | Invariant::GuestsInSession
            | Invariant::SessionEndedPaired
            | Invariant::WarningPaired
            | Invariant::NoSendOffline
            | Invariant::KeyMatchesRequest
            | Invariant::ControllerCallsAccepted
            | Invariant::SdkReplay
            | Invariant::ControllerReplay
            | Invariant::ConsentPolicy
            | Invariant::ConnectAttempts
            | Invariant::NotConfigured
            | Invariant::PresenceData
            | Invariant::SendFailRefuses
            | Invariant::PauseRunning
            | Invariant::PauseShown
            | Invariant::MessageInSession
            | Invariant::RestoreKeyHidden
            | Invariant::RestoreGroup
            | Invariant::StartOptions
            | Invariant::Persist => InvariantKind::Spec,
            Invariant::RefusedUnchanged | Invariant::TimerNotEarly | Invariant::Deterministic => {
                InvariantKind::Machine
            }
            Invariant::InitCompletes
            | Invariant::PresenceConnects
            | Invariant::SessionResolves
            | Invariant::GuestCountAgrees
            | Invariant::BackgroundSuspends => InvariantKind::Liveness,
        }
    }

    /// Whether judging it needs the scenario lines interleaved in the trace (the causes, or
    /// the config). Without them the oracle skips it.
    pub fn needs_scenario(&self) -> bool {
        matches!(
            self,
            Invariant::ManualRandom
                | Invariant::NoDisconnectOnBackground
                | Invariant::DisconnectOnLogout
                | Invariant::CustomUi
                | Invariant::ControllerCallsAccepted
                | Invariant::SdkReplay
                | Invariant::ControllerReplay
                | Invariant::PauseShown
                | Invariant::RestoreKeyHidden
                | Invariant::RestoreGroup
                | Invariant::Persist
                | Invariant::InitCompletes
                | Invariant::PresenceConnects
                | Invariant::SessionResolves
                | Invariant::GuestCountAgrees
                | Invariant::BackgroundSuspends
        )
    }
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// One broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Which invariant.
    pub invariant: Invariant,
    /// 1-based line number of the record or scenario step that shows it (for records produced
    /// in memory, the 1-based index in the sequence fed; 0 for machine-level violations that
    /// belong to no line).
    pub line: usize,
    /// What happened, in one sentence.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {}",
            self.line,
            self.invariant.id(),
            self.message
        )
    }
}

/// A violation of `invariant` at `line`.
pub(super) fn violation(invariant: Invariant, line: usize, message: String) -> Violation {
    Violation {
        invariant,
        line,
        message,
    }
}
