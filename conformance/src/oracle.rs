//! The invariant oracle: the one place where every invariant of the visitor flow is written
//! down as code.
//!
//! `cobrowse check`, the property tests and the fuzz targets all judge with this module; no
//! invariant has a second copy anywhere.
//!
//! - Transcript-visible invariants (the contract's twelve and the spec's own) are judged by
//!   [`Oracle`], a streaming checker fed one trace line at a time: O(1) work per line and
//!   memory bounded by the (small, fixed) state it tracks plus the violations it found.
//! - Machine-level invariants, which a transcript cannot show, are small pure functions in
//!   [`machine`] that property tests and fuzz targets call with the values they hold.
//!
//! ## How a trace is read
//!
//! - **Refusals.** An `api` record is refused when the very next record is an `error` record or
//!   an `EventInvalidState` / `EventInvalidParameter` event of the same step; a `recv` record
//!   is refused when the very next record is an `error` record of the same step. Invariants
//!   judge only calls and frames that were not refused. (The same-step condition keeps an
//!   `error` that refuses the *next* scenario step from being read as the refusal of the last
//!   call of the step before, in a transcript without interleaved scenario lines.)
//! - **Causes.** When scenario lines are interleaved ([`TraceLine::Step`]), the cause of a
//!   record is the scenario line whose 0-based index (config line included) is its `step`.
//!   Invariants that need causes ([`Invariant::needs_scenario`]) are skipped, never guessed,
//!   for a trace without scenario lines. With scenario lines and no config line the contract's
//!   defaults apply (`custom_ui: true`).
//! - **Per-step judgements** ("leads to", "follows within its step") are made when a line of
//!   another step (a record with another `step`, or a new scenario line) arrives, or at
//!   [`Oracle::finish`].

use crate::transcript::{Observed, Record, Step, TraceLine};
use cobrowse_visitor_core::{ApiCall, StartKey, TermsStatus, TERMS_EVENT};
use cobrowse_visitor_core::{UiDirective, UiElement, UserIntent};
use std::fmt;

/// Which part of the spec an invariant belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InvariantKind {
    /// Named by the public contract (`../shared/contract/README.md`); `check` must know it.
    Contract,
    /// Defined by spec.md and visible in a transcript.
    Spec,
    /// Defined by spec.md about the machines' values; not visible in a transcript (see
    /// [`machine`]).
    Machine,
}

/// Every invariant the oracle knows, by its spec ID ([`Invariant::id`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Invariant {
    /// `INV-GROUP-STABLE`: every non-refused `init_visitor` carries the group id of the first
    /// non-refused one. Reason: the group id selects the customer's Glance account; switching
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
    /// consumes it); after `declined`, no such start for that request. Reason: a one-click
    /// session shares the customer's screen, which needs their explicit consent each time.
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
}

impl Invariant {
    /// Every invariant, contract IDs first, then spec-only, then machine-level.
    pub const ALL: [Invariant; 22] = [
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
        Invariant::RefusedUnchanged,
        Invariant::TimerNotEarly,
        Invariant::Deterministic,
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
            Invariant::RefusedUnchanged => "INV-REFUSED-UNCHANGED",
            Invariant::TimerNotEarly => "INV-TIMER-NOT-EARLY",
            Invariant::Deterministic => "INV-DETERMINISTIC",
        }
    }

    /// The invariant with this spec ID.
    pub fn from_id(id: &str) -> Option<Invariant> {
        Invariant::ALL.iter().copied().find(|i| i.id() == id)
    }

    /// What must hold, in one sentence.
    pub fn sentence(&self) -> &'static str {
        match self {
            Invariant::GroupStable => {
                "every init_visitor carries the group id of the first one"
            }
            Invariant::InitFirst => {
                "no start_session, presence_connect or shown cobrowse_button before the first EventVisitorInitialized"
            }
            Invariant::PresenceNeedsId => {
                "presence_connect only after an init_visitor with a visitor id"
            }
            Invariant::ManualRandom => {
                "a tap_cobrowse while the button is shown and no session is active leads to start_session with GLANCE_KEYTYPE_RANDOM"
            }
            Invariant::KeyShownManual => {
                "a session started with GLANCE_KEYTYPE_RANDOM shows its key before it ends"
            }
            Invariant::KeyHiddenPresence => {
                "a one-click session (no key, visitor id set) never shows a session_key"
            }
            Invariant::TermsOrder => {
                "terms displayed is signalled before accepted or declined, and each request gets at most one answer"
            }
            Invariant::Consent => {
                "a one-click start_session happens only after terms accepted for the pending request, never after declined"
            }
            Invariant::OneSession => {
                "no start_session while a session is starting, running or ending, and no second EventConnectedToSession before EventSessionEnded"
            }
            Invariant::NoDisconnectOnBackground => {
                "no presence_disconnect or presence_connect is caused by a lifecycle step"
            }
            Invariant::DisconnectOnLogout => {
                "logout and exit lead to presence_disconnect while presence is connected"
            }
            Invariant::CustomUi => {
                "with custom_ui, set_default_ui false follows the first EventVisitorInitialized before any start_session, and presence_set_default_ui false follows each presence_connect"
            }
            Invariant::RefusedNoEffect => {
                "a refused api call or recv frame causes no send"
            }
            Invariant::GuestsInSession => {
                "EventGuestCountChange only while a session is connected"
            }
            Invariant::SessionEndedPaired => {
                "EventSessionEnded only for a session that connected or was ending, at most once"
            }
            Invariant::WarningPaired => {
                "EventClearWarning only after an uncleared EventConnectionWarning, and no second warning before it is cleared"
            }
            Invariant::NoSendOffline => {
                "no send between EventConnectionWarning and EventClearWarning"
            }
            Invariant::KeyMatchesRequest => {
                "the session key is the visitor id, the custom key, or digits, as the start asked"
            }
            Invariant::ControllerCallsAccepted => {
                "without direct api steps, the SDK refuses none of the integration controller's calls"
            }
            Invariant::RefusedUnchanged => {
                "a refused input leaves the machine's state exactly as it was"
            }
            Invariant::TimerNotEarly => {
                "a timeout before the deadline changes nothing, and after a timeout the next deadline is later"
            }
            Invariant::Deterministic => "the same inputs give the same outputs",
        }
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
            | Invariant::ControllerCallsAccepted => InvariantKind::Spec,
            Invariant::RefusedUnchanged | Invariant::TimerNotEarly | Invariant::Deterministic => {
                InvariantKind::Machine
            }
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

/// The session as the transcript shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SessionPhase {
    Idle,
    Starting,
    Running,
    Ending,
}

impl SessionPhase {
    fn name(self) -> &'static str {
        match self {
            SessionPhase::Idle => "idle",
            SessionPhase::Starting => "starting",
            SessionPhase::Running => "running",
            SessionPhase::Ending => "ending",
        }
    }
}

/// The key the latest non-refused `start_session` asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum KeyAsked {
    /// `GLANCE_KEYTYPE_RANDOM`.
    Random,
    /// No key and no visitor id: a random key too.
    DefaultRandom,
    /// No key with this visitor id: one-click.
    VisitorId(String),
    /// The app's own key.
    Custom(String),
}

/// The one-click terms request, as the transcript shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TermsPhase {
    /// No `EventPresenceShowTerms` yet.
    NoRequest,
    /// `EventPresenceShowTerms` seen, `displayed` not yet signalled.
    Shown,
    /// `displayed` signalled.
    Displayed,
    /// Answered.
    Answered,
}

/// A manual (random-key) session that connected, waiting for its key to be shown.
#[derive(Clone, Debug)]
struct ManualKey {
    key: String,
    line: usize,
    shown: bool,
}

/// A per-step obligation: something that must happen before the step `step` ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Due {
    step: usize,
    line: usize,
}

/// `INV-CUSTOM-UI`'s first part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DefaultUiDuty {
    /// Not applicable (yet): no first `EventVisitorInitialized` with custom UI.
    None,
    /// The first `EventVisitorInitialized` came; `set_default_ui(false)` is due by the end of
    /// this step.
    Due(Due),
    /// Done, or reported.
    Settled,
}

/// Most refused controller calls remembered for `INV-CONTROLLER-CALLS-ACCEPTED` (which can
/// only be judged at the end); more are counted in one extra violation.
const MAX_HELD_REFUSALS: usize = 256;

/// The streaming invariant checker for transcripts.
///
/// Feed every line in order with [`Oracle::observe`] (or [`Oracle::observe_record`] /
/// [`Oracle::observe_step`]); read [`Oracle::violations`] at any time for what is certain so
/// far; call [`Oracle::finish`] at the end for the full list, including what only the end can
/// judge. Work per line is O(1); memory is a fixed state plus the violations found.
#[derive(Clone, Debug)]
pub struct Oracle {
    violations: Vec<Violation>,
    /// The latest `api` or `recv` record, until the next line tells whether it was refused.
    pending: Option<(usize, Record)>,

    // -- scenario lines
    /// Scenario lines seen (the next one's index).
    steps_seen: usize,
    /// The latest scenario line: its index and whether it is a `lifecycle` step.
    cur_step: Option<(usize, bool)>,
    custom_ui: bool,
    api_step_seen: bool,

    // -- init
    group: Option<u32>,
    visitor_id: Option<String>,
    initialized: bool,

    // -- ui
    button_shown: bool,

    // -- session
    session: SessionPhase,
    /// Set while the session's `EventConnectedToSession` came and its `EventSessionEnded` not.
    connected: bool,
    asked: Option<KeyAsked>,
    manual_key: Option<ManualKey>,
    oneclick: bool,

    // -- terms
    terms: TermsPhase,
    consent: bool,
    declined: bool,

    // -- presence and link
    presence_connected: bool,
    warning: bool,

    /// A refusal in this step: no `send` until the next `api`/`recv` or step.
    quiet: Option<usize>,

    // -- per-step obligations
    manual_due: Option<Due>,
    logout_due: Option<Due>,
    default_ui: DefaultUiDuty,
    presence_ui_due: Option<Due>,

    /// Refused api records, for `INV-CONTROLLER-CALLS-ACCEPTED` at the end.
    refused_calls: Vec<Violation>,
    refused_calls_dropped: usize,
}

impl Default for Oracle {
    fn default() -> Self {
        Oracle::new()
    }
}

fn violation(invariant: Invariant, line: usize, message: String) -> Violation {
    Violation {
        invariant,
        line,
        message,
    }
}

fn is_refusal_event(code: &str) -> bool {
    code == "EventInvalidState" || code == "EventInvalidParameter"
}

impl Oracle {
    /// A checker before the first line.
    pub fn new() -> Self {
        Oracle {
            violations: Vec::new(),
            pending: None,
            steps_seen: 0,
            cur_step: None,
            custom_ui: true,
            api_step_seen: false,
            group: None,
            visitor_id: None,
            initialized: false,
            button_shown: false,
            session: SessionPhase::Idle,
            connected: false,
            asked: None,
            manual_key: None,
            oneclick: false,
            terms: TermsPhase::NoRequest,
            consent: false,
            declined: false,
            presence_connected: false,
            warning: false,
            quiet: None,
            manual_due: None,
            logout_due: None,
            default_ui: DefaultUiDuty::None,
            presence_ui_due: None,
            refused_calls: Vec::new(),
            refused_calls_dropped: 0,
        }
    }

    /// The violations found so far (those that need the end of the trace come from
    /// [`Oracle::finish`]).
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// Feeds one trace line; `line` is its 1-based line number.
    pub fn observe(&mut self, line: usize, item: &TraceLine) {
        match item {
            TraceLine::Step(step) => self.observe_step(line, step),
            TraceLine::Record(record) => self.observe_record(line, record),
        }
    }

    /// Feeds one scenario line (the same as [`Oracle::observe`] with [`TraceLine::Step`]).
    pub fn observe_step(&mut self, line: usize, step: &Step) {
        let index = self.steps_seen;
        self.resolve_pending(None);
        self.close_steps(Some(index));
        self.steps_seen = self.steps_seen.saturating_add(1);
        if index == 0 {
            if let Step::Config(c) = step {
                self.custom_ui = c.custom_ui;
            }
        }
        self.cur_step = Some((index, matches!(step, Step::Lifecycle(_))));
        match step {
            Step::Api(_) => self.api_step_seen = true,
            Step::User(UserIntent::TapCobrowse)
                if self.button_shown && self.session == SessionPhase::Idle =>
            {
                self.manual_due = Some(Due { step: index, line });
            }
            Step::User(UserIntent::Logout | UserIntent::Exit) => {
                if self.presence_connected {
                    self.logout_due = Some(Due { step: index, line });
                }
                if matches!(step, Step::User(UserIntent::Exit)) {
                    // The app is gone, and with it everything it drew.
                    self.button_shown = false;
                }
            }
            _ => {}
        }
    }

    /// Feeds one transcript record (the same as [`Oracle::observe`] with
    /// [`TraceLine::Record`]).
    pub fn observe_record(&mut self, line: usize, record: &Record) {
        self.resolve_pending(Some(record));
        self.close_steps(Some(record.step));
        let step = record.step;
        match &record.observed {
            Observed::Api(call) => {
                self.quiet = None;
                self.api_seen(line, step, call);
                self.pending = Some((line, record.clone()));
            }
            Observed::Recv(_) => {
                self.quiet = None;
                self.pending = Some((line, record.clone()));
            }
            Observed::Send(_) => self.on_send(line, step),
            Observed::Event(e) => {
                let key = e.prop("sessionkey");
                self.on_event(line, &e.code, key);
            }
            Observed::Ui(ui) => self.on_ui(line, ui),
            Observed::Error(_) => {}
        }
    }

    /// Ends the trace: judges what only the end can judge and returns every violation, in
    /// line order.
    pub fn finish(mut self) -> Vec<Violation> {
        self.resolve_pending(None);
        self.close_steps(None);
        if let Some(m) = self.manual_key.take() {
            if !m.shown {
                self.push(
                    Invariant::KeyShownManual,
                    m.line,
                    format!(
                        "the random-key session connected with key {} here, but the trace ended without `ui show session_key` {}",
                        m.key, m.key
                    ),
                );
            }
        }
        if self.steps_seen > 0 && !self.api_step_seen {
            let mut held = std::mem::take(&mut self.refused_calls);
            self.violations.append(&mut held);
            if self.refused_calls_dropped > 0 {
                let line = self.violations.last().map_or(0, |v| v.line);
                self.push(
                    Invariant::ControllerCallsAccepted,
                    line,
                    format!(
                        "{} more refused controller calls not listed",
                        self.refused_calls_dropped
                    ),
                );
            }
        }
        self.violations.sort_by_key(|v| v.line);
        self.violations
    }

    fn push(&mut self, invariant: Invariant, line: usize, message: String) {
        self.violations.push(violation(invariant, line, message));
    }

    /// The cause of a record at step `step` is a `lifecycle` scenario line.
    fn caused_by_lifecycle(&self, step: usize) -> bool {
        matches!(self.cur_step, Some((index, true)) if index == step)
    }

    /// Decides whether the pending `api`/`recv` record was refused, with `next` (the next
    /// record, or `None` for a scenario line or the end) as lookahead, and applies it.
    fn resolve_pending(&mut self, next: Option<&Record>) {
        let Some((line, record)) = self.pending.take() else {
            return;
        };
        let refused = match next {
            Some(n) if n.step == record.step => match (&record.observed, &n.observed) {
                (_, Observed::Error(_)) => true,
                (Observed::Api(_), Observed::Event(e)) => is_refusal_event(&e.code),
                _ => false,
            },
            _ => false,
        };
        if refused {
            self.quiet = Some(record.step);
        }
        match &record.observed {
            Observed::Api(call) if refused => {
                if self.refused_calls.len() < MAX_HELD_REFUSALS {
                    self.refused_calls.push(violation(
                        Invariant::ControllerCallsAccepted,
                        line,
                        format!(
                            "the SDK refused `{}`, though no scenario step called the SDK directly",
                            call.name()
                        ),
                    ));
                } else {
                    self.refused_calls_dropped = self.refused_calls_dropped.saturating_add(1);
                }
            }
            Observed::Api(call) => self.api_accepted(line, call),
            // A recv, accepted or refused, changes nothing the oracle tracks: its effects are
            // the events that follow.
            _ => {}
        }
    }

    /// Judges the per-step obligations of steps other than `current` (all when `None`).
    fn close_steps(&mut self, current: Option<usize>) {
        if let Some(q) = self.quiet {
            if Some(q) != current {
                self.quiet = None;
            }
        }
        let ends = |d: &Option<Due>| matches!(d, Some(d) if Some(d.step) != current);
        if ends(&self.manual_due) {
            if let Some(d) = self.manual_due.take() {
                self.push(
                    Invariant::ManualRandom,
                    d.line,
                    "tap_cobrowse with the button shown and no session did not lead to start_session(GLANCE_KEYTYPE_RANDOM) within its step".to_owned(),
                );
            }
        }
        if ends(&self.logout_due) {
            if let Some(d) = self.logout_due.take() {
                self.push(
                    Invariant::DisconnectOnLogout,
                    d.line,
                    "logout/exit while presence was connected did not lead to presence_disconnect within its step".to_owned(),
                );
            }
        }
        if let DefaultUiDuty::Due(d) = self.default_ui {
            if Some(d.step) != current {
                self.default_ui = DefaultUiDuty::Settled;
                self.push(
                    Invariant::CustomUi,
                    d.line,
                    "with custom_ui, set_default_ui(false) did not follow the first EventVisitorInitialized within its step".to_owned(),
                );
            }
        }
        if ends(&self.presence_ui_due) {
            if let Some(d) = self.presence_ui_due.take() {
                self.push(
                    Invariant::CustomUi,
                    d.line,
                    "with custom_ui, presence_set_default_ui(false) did not follow this presence_connect within its step".to_owned(),
                );
            }
        }
    }

    /// What an `api` record shows whether or not it is refused: the controller asked for it.
    fn api_seen(&mut self, line: usize, step: usize, call: &ApiCall) {
        match call {
            ApiCall::StartSession {
                key: StartKey::Random,
            } => {
                if matches!(self.manual_due, Some(d) if d.step == step) {
                    self.manual_due = None;
                }
            }
            ApiCall::PresenceDisconnect | ApiCall::PresenceConnect => {
                if matches!(call, ApiCall::PresenceDisconnect)
                    && matches!(self.logout_due, Some(d) if d.step == step)
                {
                    self.logout_due = None;
                }
                if self.caused_by_lifecycle(step) {
                    self.push(
                        Invariant::NoDisconnectOnBackground,
                        line,
                        format!(
                            "`{}` was called because of a lifecycle step; the SDK manages presence in the background itself",
                            call.name()
                        ),
                    );
                }
            }
            _ => {}
        }
    }

    /// A non-refused `api` record.
    fn api_accepted(&mut self, line: usize, call: &ApiCall) {
        match call {
            ApiCall::InitVisitor(p) => {
                match self.group {
                    None => self.group = Some(p.group_id),
                    Some(g) if g != p.group_id => self.push(
                        Invariant::GroupStable,
                        line,
                        format!(
                            "init_visitor with group id {} was accepted after the first one's {g}",
                            p.group_id
                        ),
                    ),
                    Some(_) => {}
                }
                self.visitor_id = p.visitor_id.clone();
            }
            ApiCall::SetDefaultUi { enabled: false } => {
                if let DefaultUiDuty::Due(_) = self.default_ui {
                    self.default_ui = DefaultUiDuty::Settled;
                }
            }
            ApiCall::SetDefaultUi { enabled: true } => {}
            ApiCall::StartSession { key } => self.start_accepted(line, key),
            ApiCall::EndSession => {
                self.session = match self.session {
                    SessionPhase::Idle => SessionPhase::Idle,
                    _ => SessionPhase::Ending,
                };
            }
            ApiCall::PresenceConnect => {
                if !self.initialized {
                    self.push(
                        Invariant::InitFirst,
                        line,
                        "presence_connect was accepted before the first EventVisitorInitialized"
                            .to_owned(),
                    );
                }
                if self.visitor_id.is_none() {
                    self.push(
                        Invariant::PresenceNeedsId,
                        line,
                        "presence_connect was accepted though the latest init_visitor had no visitor id".to_owned(),
                    );
                }
                if self.steps_seen > 0 && self.custom_ui && self.presence_ui_due.is_none() {
                    if let Some((step, _)) = self.cur_step {
                        self.presence_ui_due = Some(Due { step, line });
                    }
                }
            }
            ApiCall::PresenceSetDefaultUi { enabled } => {
                if !enabled {
                    self.presence_ui_due = None;
                }
            }
            ApiCall::PresenceSignalAgent { event, map } => {
                if event == TERMS_EVENT {
                    if let Some(status) = map.get("status").and_then(|s| TermsStatus::parse(s)) {
                        self.terms_signal(line, status);
                    }
                }
            }
            ApiCall::PresenceDisconnect => self.presence_connected = false,
        }
    }

    fn start_accepted(&mut self, line: usize, key: &StartKey) {
        if !self.initialized {
            self.push(
                Invariant::InitFirst,
                line,
                "start_session was accepted before the first EventVisitorInitialized".to_owned(),
            );
        }
        if let DefaultUiDuty::Due(_) = self.default_ui {
            self.default_ui = DefaultUiDuty::Settled;
            self.push(
                Invariant::CustomUi,
                line,
                "with custom_ui, start_session was accepted before set_default_ui(false)"
                    .to_owned(),
            );
        }
        if self.session != SessionPhase::Idle {
            self.push(
                Invariant::OneSession,
                line,
                format!(
                    "start_session was accepted while a session was {}",
                    self.session.name()
                ),
            );
        }
        let asked = match key {
            StartKey::Random => KeyAsked::Random,
            StartKey::Custom(k) => KeyAsked::Custom(k.clone()),
            StartKey::VisitorId => match &self.visitor_id {
                None => KeyAsked::DefaultRandom,
                Some(id) => KeyAsked::VisitorId(id.clone()),
            },
        };
        self.oneclick = matches!(asked, KeyAsked::VisitorId(_));
        if self.oneclick {
            if self.consent {
                self.consent = false;
            } else {
                let why = if self.declined {
                    "the customer declined the latest request"
                } else {
                    "no accepted terms answer for the latest request is unconsumed"
                };
                self.push(
                    Invariant::Consent,
                    line,
                    format!("a one-click start_session was accepted but {why}"),
                );
            }
        }
        self.asked = Some(asked);
        self.session = SessionPhase::Starting;
    }

    fn terms_signal(&mut self, line: usize, status: TermsStatus) {
        match (status, self.terms) {
            (TermsStatus::Displayed, TermsPhase::Shown) => self.terms = TermsPhase::Displayed,
            (TermsStatus::Displayed, _) => {}
            (answer, phase) => {
                let problem = match phase {
                    TermsPhase::Displayed => None,
                    TermsPhase::Shown => Some("before terms `displayed` was signalled"),
                    TermsPhase::Answered => Some("but the request was already answered"),
                    TermsPhase::NoRequest => Some("with no terms request displayed"),
                };
                if let Some(problem) = problem {
                    self.push(
                        Invariant::TermsOrder,
                        line,
                        format!("terms `{}` was signalled {problem}", answer.as_str()),
                    );
                }
                if phase != TermsPhase::NoRequest {
                    self.terms = TermsPhase::Answered;
                    match answer {
                        TermsStatus::Accepted if !self.declined => self.consent = true,
                        TermsStatus::Declined => {
                            self.declined = true;
                            self.consent = false;
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    fn on_send(&mut self, line: usize, step: usize) {
        if self.warning {
            self.push(
                Invariant::NoSendOffline,
                line,
                "a frame was sent between EventConnectionWarning and EventClearWarning".to_owned(),
            );
        }
        if self.quiet == Some(step) {
            self.quiet = None;
            self.push(
                Invariant::RefusedNoEffect,
                line,
                "a frame was sent after a refused input, before the next api or recv record"
                    .to_owned(),
            );
        }
    }

    fn on_event(&mut self, line: usize, code: &str, sessionkey: Option<String>) {
        match code {
            "EventVisitorInitialized" if !self.initialized => {
                self.initialized = true;
                if self.steps_seen > 0 && self.custom_ui {
                    if let Some((step, _)) = self.cur_step {
                        self.default_ui = DefaultUiDuty::Due(Due { step, line });
                    }
                }
            }
            "EventConnectedToSession" => self.on_connected(line, sessionkey.unwrap_or_default()),
            "EventSessionEnded" => {
                if !matches!(self.session, SessionPhase::Running | SessionPhase::Ending) {
                    self.push(
                        Invariant::SessionEndedPaired,
                        line,
                        format!(
                            "EventSessionEnded while no session was connected or ending (session {})",
                            self.session.name()
                        ),
                    );
                }
                if let Some(m) = self.manual_key.take() {
                    if !m.shown {
                        self.push(
                            Invariant::KeyShownManual,
                            line,
                            format!(
                                "the random-key session {} ended without `ui show session_key` {}",
                                m.key, m.key
                            ),
                        );
                    }
                }
                self.session = SessionPhase::Idle;
                self.connected = false;
                self.oneclick = false;
                self.asked = None;
            }
            "EventStartSessionFailed" => {
                self.session = SessionPhase::Idle;
                self.oneclick = false;
                self.asked = None;
            }
            // spec.md §10.2: while a session is running or ending (S-F13 also accepts a guest
            // count while a start that never connected is being ended)
            "EventGuestCountChange" if !self.connected && self.session != SessionPhase::Ending => {
                self.push(
                    Invariant::GuestsInSession,
                    line,
                    "EventGuestCountChange while no session was connected".to_owned(),
                );
            }
            "EventPresenceConnected" => self.presence_connected = true,
            "EventPresenceDisconnected" => self.presence_connected = false,
            "EventPresenceShowTerms" => {
                self.terms = TermsPhase::Shown;
                self.consent = false;
                self.declined = false;
            }
            "EventConnectionWarning" => {
                if self.warning {
                    self.push(
                        Invariant::WarningPaired,
                        line,
                        "a second EventConnectionWarning before EventClearWarning".to_owned(),
                    );
                }
                self.warning = true;
            }
            "EventClearWarning" => {
                if !self.warning {
                    self.push(
                        Invariant::WarningPaired,
                        line,
                        "EventClearWarning without an uncleared EventConnectionWarning".to_owned(),
                    );
                }
                self.warning = false;
            }
            _ => {}
        }
    }

    fn on_connected(&mut self, line: usize, key: String) {
        if self.connected {
            self.push(
                Invariant::OneSession,
                line,
                "EventConnectedToSession while the previous session had not ended".to_owned(),
            );
        }
        let asked = if self.session == SessionPhase::Starting {
            self.asked.take()
        } else {
            None
        };
        let mismatch = match &asked {
            Some(KeyAsked::Random | KeyAsked::DefaultRandom) => (key.is_empty()
                || !key.bytes().all(|b| b.is_ascii_digit()))
            .then(|| "a random key must be ASCII digits".to_owned()),
            Some(KeyAsked::VisitorId(id)) => (key != *id)
                .then(|| format!("a one-click session's key must be the visitor id {id}")),
            Some(KeyAsked::Custom(k)) => {
                (key != *k).then(|| format!("the session was started with the custom key {k}"))
            }
            None => None,
        };
        if let Some(why) = mismatch {
            self.push(
                Invariant::KeyMatchesRequest,
                line,
                format!("EventConnectedToSession with sessionkey {key:?}, but {why}"),
            );
        }
        self.manual_key = match asked {
            Some(KeyAsked::Random) => Some(ManualKey {
                key,
                line,
                shown: false,
            }),
            _ => None,
        };
        self.connected = true;
        self.session = SessionPhase::Running;
    }

    fn on_ui(&mut self, line: usize, ui: &UiDirective) {
        match ui {
            UiDirective::Show {
                element: UiElement::CobrowseButton,
                ..
            } => {
                if !self.initialized {
                    self.push(
                        Invariant::InitFirst,
                        line,
                        "the cobrowse button was shown before the first EventVisitorInitialized"
                            .to_owned(),
                    );
                }
                self.button_shown = true;
            }
            UiDirective::Hide {
                element: UiElement::CobrowseButton,
            } => self.button_shown = false,
            UiDirective::Show {
                element: UiElement::SessionKey,
                key,
            } => {
                if self.oneclick {
                    self.push(
                        Invariant::KeyHiddenPresence,
                        line,
                        "a session key was shown during a one-click session".to_owned(),
                    );
                }
                if let Some(m) = &mut self.manual_key {
                    if key.as_deref() == Some(m.key.as_str()) {
                        m.shown = true;
                    }
                }
            }
            _ => {}
        }
    }
}

/// Checks transcript records produced in memory; a violation's line is the record's 1-based
/// index in `records`.
pub fn check_records(records: &[Record]) -> Vec<Violation> {
    let mut oracle = Oracle::new();
    for (i, r) in records.iter().enumerate() {
        oracle.observe_record(i.saturating_add(1), r);
    }
    oracle.finish()
}

/// Checks a parsed trace ([`crate::transcript::parse_trace`]'s output: lines with their
/// 1-based numbers).
pub fn check_trace(lines: &[(usize, TraceLine)]) -> Vec<Violation> {
    let mut oracle = Oracle::new();
    for (n, item) in lines {
        oracle.observe(*n, item);
    }
    oracle.finish()
}

/// Interleaves a scenario with its transcript: each scenario line comes just before the
/// first record it caused (and scenario lines that caused nothing stay in order), as
/// `cobrowse run --interleave` prints them.
pub fn interleave(steps: &[Step], records: &[Record]) -> Vec<TraceLine> {
    let mut out = Vec::with_capacity(steps.len().saturating_add(records.len()));
    let mut next_step = 0;
    for r in records {
        while next_step <= r.step {
            let Some(s) = steps.get(next_step) else {
                break;
            };
            out.push(TraceLine::Step(s.clone()));
            next_step = next_step.saturating_add(1);
        }
        out.push(TraceLine::Record(r.clone()));
    }
    out.extend(
        steps
            .iter()
            .skip(next_step)
            .map(|s| TraceLine::Step(s.clone())),
    );
    out
}

pub mod machine {
    //! Machine-level invariants: not visible in a transcript, judged on the values a property
    //! test or fuzz target holds. Each function returns the violation, if any; its `line` is
    //! 0 except where stated.

    use super::{violation, Invariant, Violation};
    use cobrowse_visitor_core::Error;
    use cobrowse_visitor_core::Instant;
    use cobrowse_visitor_core::{ControllerError, ControllerState};
    use cobrowse_visitor_core::{Output, State};
    use std::fmt::Debug;

    /// `INV-REFUSED-UNCHANGED` for the SDK core: `result` is what `Sdk::handle_input` returned,
    /// `before` and `after` are `Sdk::state()` around the call.
    pub fn refused_unchanged(
        before: &State,
        after: &State,
        result: &Result<(), Error>,
    ) -> Option<Violation> {
        match result {
            Err(e) if before != after => Some(violation(
                Invariant::RefusedUnchanged,
                0,
                format!(
                    "the SDK refused an input ({}) but its state changed",
                    e.code()
                ),
            )),
            _ => None,
        }
    }

    /// `INV-REFUSED-UNCHANGED` for the integration controller: `result` is what
    /// `Controller::handle_user` returned, `before` and `after` are `Controller::state()`
    /// around the call.
    pub fn controller_refused_unchanged(
        before: &ControllerState,
        after: &ControllerState,
        result: &Result<(), ControllerError>,
    ) -> Option<Violation> {
        match result {
            Err(e) if before != after => Some(violation(
                Invariant::RefusedUnchanged,
                0,
                format!(
                    "the controller refused a user intent ({}) but its state changed",
                    e.code()
                ),
            )),
            _ => None,
        }
    }

    /// `INV-TIMER-NOT-EARLY`: `before` and `after` are `Sdk::state()` around
    /// `handle_input(now, Input::Timeout)`, and `outputs` everything `poll_output` gave after
    /// it (`Output::Timeout` entries are ignored). An input refused because time went
    /// backwards (`now` before `before.now`) is [`refused_unchanged`]'s to judge.
    pub fn timer_not_early(
        before: &State,
        now: Instant,
        after: &State,
        outputs: &[Output],
    ) -> Option<Violation> {
        if now < before.now {
            return None;
        }
        let early = match before.timers.next() {
            Some(deadline) => now < deadline,
            None => true,
        };
        if early {
            let expected = State {
                now,
                ..before.clone()
            };
            if *after != expected {
                return Some(violation(
                    Invariant::TimerNotEarly,
                    0,
                    format!("Input::Timeout at {now}, before the next deadline, changed the state"),
                ));
            }
            if let Some(o) = outputs.iter().find(|o| !matches!(o, Output::Timeout(_))) {
                return Some(violation(
                    Invariant::TimerNotEarly,
                    0,
                    format!(
                        "Input::Timeout at {now}, before the next deadline, produced output {o:?}"
                    ),
                ));
            }
        }
        match after.timers.next() {
            Some(next) if next <= now => Some(violation(
                Invariant::TimerNotEarly,
                0,
                format!("after Input::Timeout at {now} the next deadline is {next}, not later"),
            )),
            _ => None,
        }
    }

    /// `INV-DETERMINISTIC`: two runs of the same inputs (outputs, transcripts, …) must be equal;
    /// the violation's line is the 1-based index of the first difference.
    pub fn deterministic<T: PartialEq + Debug>(first: &[T], second: &[T]) -> Option<Violation> {
        let differ = first
            .iter()
            .zip(second)
            .position(|(a, b)| a != b)
            .or_else(|| (first.len() != second.len()).then(|| first.len().min(second.len())))?;
        let show = |s: &[T]| {
            s.get(differ)
                .map_or_else(|| "nothing".to_owned(), |x| format!("{x:?}"))
        };
        Some(violation(
            Invariant::Deterministic,
            differ.saturating_add(1),
            format!(
                "the same inputs gave {} then {} at position {}",
                show(first),
                show(second),
                differ.saturating_add(1)
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::parse_trace;

    /// The IDs of the violations of a trace given as lines.
    fn ids(lines: &[&str]) -> Vec<&'static str> {
        let text = lines.join("\n");
        let trace = parse_trace(&text).unwrap();
        check_trace(&trace)
            .iter()
            .map(|v| v.invariant.id())
            .collect()
    }

    fn violations(lines: &[&str]) -> Vec<Violation> {
        check_trace(&parse_trace(&lines.join("\n")).unwrap())
    }

    const NONE: [&str; 0] = [];

    // An anonymous launch: records of step 1.
    const LAUNCH: [&str; 6] = [
        r#"{"step":1,"api":{"call":"init_visitor","group_id":19921}}"#,
        r#"{"step":1,"send":{"type":"init"}}"#,
        r#"{"step":1,"recv":{"type":"settings"}}"#,
        r#"{"step":1,"event":{"code":"EventVisitorInitialized"}}"#,
        r#"{"step":1,"api":{"call":"set_default_ui","enabled":false}}"#,
        r#"{"step":1,"ui":{"show":"cobrowse_button"}}"#,
    ];

    // A login with presence: records of step 2.
    const LOGIN: [&str; 8] = [
        r#"{"step":2,"api":{"call":"init_visitor","group_id":19921,"visitor_id":"cust-42"}}"#,
        r#"{"step":2,"send":{"type":"init"}}"#,
        r#"{"step":2,"recv":{"type":"settings"}}"#,
        r#"{"step":2,"event":{"code":"EventVisitorInitialized"}}"#,
        r#"{"step":2,"api":{"call":"presence_connect"}}"#,
        r#"{"step":2,"api":{"call":"presence_set_default_ui","enabled":false}}"#,
        r#"{"step":2,"recv":{"type":"presence_connected"}}"#,
        r#"{"step":2,"event":{"code":"EventPresenceConnected"}}"#,
    ];

    // A manual session at step 2 whose key 7463 is shown.
    const MANUAL: [&str; 6] = [
        r#"{"step":2,"ui":{"hide":"cobrowse_button"}}"#,
        r#"{"step":2,"api":{"call":"start_session","key":"GLANCE_KEYTYPE_RANDOM"}}"#,
        r#"{"step":2,"send":{"type":"start_session"}}"#,
        r#"{"step":2,"recv":{"type":"session_started"}}"#,
        r#"{"step":2,"event":{"code":"EventConnectedToSession","properties":{"sessionkey":"7463"}}}"#,
        r#"{"step":2,"ui":{"show":"session_key","key":"7463"}}"#,
    ];

    // The terms of request 1 displayed, at step 3.
    const TERMS_SHOWN: [&str; 3] = [
        r#"{"step":3,"event":{"code":"EventPresenceShowTerms","properties":{"request_id":"1"}}}"#,
        r#"{"step":3,"ui":{"show":"terms"}}"#,
        r#"{"step":3,"api":{"call":"presence_signal_agent","event":"terms","map":{"status":"displayed"}}}"#,
    ];

    const ACCEPT: &str = r#"{"step":4,"api":{"call":"presence_signal_agent","event":"terms","map":{"status":"accepted"}}}"#;
    const DECLINE: &str = r#"{"step":4,"api":{"call":"presence_signal_agent","event":"terms","map":{"status":"declined"}}}"#;
    const ONECLICK_START: &str = r#"{"step":4,"api":{"call":"start_session"}}"#;
    const ONECLICK_CONNECTED: &str = r#"{"step":4,"event":{"code":"EventConnectedToSession","properties":{"sessionkey":"cust-42"}}}"#;

    fn trace<'a>(parts: &[&[&'a str]]) -> Vec<&'a str> {
        parts.iter().flat_map(|p| p.iter().copied()).collect()
    }

    #[test]
    fn ids_are_unique_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for inv in Invariant::ALL {
            assert!(seen.insert(inv.id()), "{} twice", inv.id());
            assert_eq!(Invariant::from_id(inv.id()), Some(inv));
            assert!(inv.id().starts_with("INV-"));
            assert!(!inv.sentence().is_empty());
            assert_eq!(inv.to_string(), inv.id());
        }
        let contract = Invariant::ALL
            .iter()
            .filter(|i| i.kind() == InvariantKind::Contract)
            .count();
        assert_eq!(contract, 12);
        assert_eq!(Invariant::from_id("INV-NOPE"), None);
    }

    #[test]
    fn an_empty_trace_and_a_clean_launch_pass() {
        assert!(ids(&NONE).is_empty());
        assert!(ids(&LAUNCH).is_empty());
        assert!(ids(&trace(&[&LAUNCH, &LOGIN])).is_empty());
    }

    #[test]
    fn inv_group_stable() {
        // INV-GROUP-STABLE passes: the same group again, and a refused other group.
        let same = r#"{"step":2,"api":{"call":"init_visitor","group_id":19921,"visitor_id":"a"}}"#;
        let other = r#"{"step":2,"api":{"call":"init_visitor","group_id":20393}}"#;
        let refused = r#"{"step":2,"error":{"code":"group_id_mismatch","message":"no"}}"#;
        assert!(ids(&trace(&[&LAUNCH, &[same]])).is_empty());
        assert!(ids(&trace(&[&LAUNCH, &[other, refused]])).is_empty());
        let event = r#"{"step":2,"event":{"code":"EventInvalidParameter"}}"#;
        assert!(ids(&trace(&[&LAUNCH, &[other, event]])).is_empty());
        // INV-GROUP-STABLE violated: the other group accepted.
        let v = violations(&trace(&[&LAUNCH, &[other]]));
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].invariant.id(), "INV-GROUP-STABLE");
        assert_eq!(v[0].line, 7);
    }

    #[test]
    fn inv_init_first() {
        // INV-INIT-FIRST passes in the normal order (LAUNCH shows the button after the event).
        assert!(ids(&LAUNCH).is_empty());
        // INV-INIT-FIRST violated: the button before the event.
        let early = [
            r#"{"step":1,"api":{"call":"init_visitor","group_id":19921}}"#,
            r#"{"step":1,"ui":{"show":"cobrowse_button"}}"#,
        ];
        assert_eq!(ids(&early), ["INV-INIT-FIRST"]);
        // INV-INIT-FIRST violated: an accepted start before the event.
        let start = [
            r#"{"step":1,"api":{"call":"init_visitor","group_id":19921}}"#,
            r#"{"step":1,"api":{"call":"start_session","key":"GLANCE_KEYTYPE_RANDOM"}}"#,
        ];
        assert_eq!(ids(&start), ["INV-INIT-FIRST"]);
        // ... but a refused one is fine.
        let refused = [
            start[0],
            start[1],
            r#"{"step":1,"event":{"code":"EventInvalidState"}}"#,
        ];
        assert!(ids(&refused).is_empty());
        // INV-INIT-FIRST violated: presence before the event.
        let presence = [
            r#"{"step":1,"api":{"call":"init_visitor","group_id":19921,"visitor_id":"a"}}"#,
            r#"{"step":1,"api":{"call":"presence_connect"}}"#,
        ];
        assert_eq!(ids(&presence), ["INV-INIT-FIRST"]);
    }

    #[test]
    fn inv_presence_needs_id() {
        // INV-PRESENCE-NEEDS-ID passes after a login.
        assert!(ids(&trace(&[&LAUNCH, &LOGIN])).is_empty());
        // INV-PRESENCE-NEEDS-ID violated: anonymous presence accepted.
        let connect = r#"{"step":2,"api":{"call":"presence_connect"}}"#;
        assert_eq!(
            ids(&trace(&[&LAUNCH, &[connect]])),
            ["INV-PRESENCE-NEEDS-ID"]
        );
        // INV-PRESENCE-NEEDS-ID violated: after logging out (the latest init has no id).
        let logout = r#"{"step":3,"api":{"call":"init_visitor","group_id":19921}}"#;
        let again = r#"{"step":3,"api":{"call":"presence_connect"}}"#;
        assert_eq!(
            ids(&trace(&[&LAUNCH, &LOGIN, &[logout, again]])),
            ["INV-PRESENCE-NEEDS-ID"]
        );
    }

    #[test]
    fn inv_manual_random() {
        let head = [r#"{"config":{}}"#, r#"{"user":"launch"}"#];
        let tap = r#"{"user":"tap_cobrowse"}"#;
        // INV-MANUAL-RANDOM passes: the tap leads to a random-key start.
        assert!(ids(&trace(&[&head, &LAUNCH, &[tap], &MANUAL])).is_empty());
        // INV-MANUAL-RANDOM violated: the tap starts with no key.
        let bare = [
            r#"{"step":2,"api":{"call":"start_session"}}"#,
            r#"{"step":2,"event":{"code":"EventConnectedToSession","properties":{"sessionkey":"1234"}}}"#,
        ];
        let v = violations(&trace(&[&head, &LAUNCH, &[tap], &bare]));
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].invariant.id(), "INV-MANUAL-RANDOM");
        assert_eq!(v[0].line, 9, "the tap's line");
        // INV-MANUAL-RANDOM violated: the tap does nothing (judged at the next step).
        assert_eq!(
            ids(&trace(&[&head, &LAUNCH, &[tap, r#"{"advance_ms":5}"#]])),
            ["INV-MANUAL-RANDOM"]
        );
        // INV-MANUAL-RANDOM not judged: the button was not shown.
        let hidden = &LAUNCH[..5];
        assert!(ids(&trace(&[&head, hidden, &[tap]])).is_empty());
        // INV-MANUAL-RANDOM not judged after the app exited.
        let exit = r#"{"user":"exit"}"#;
        assert!(ids(&trace(&[&head, &LAUNCH, &[exit, tap]])).is_empty());
        // INV-MANUAL-RANDOM not judged without scenario lines.
        assert!(ids(&trace(&[&LAUNCH, &bare])).is_empty());
    }

    #[test]
    fn inv_key_shown_manual() {
        let ended = r#"{"step":3,"event":{"code":"EventSessionEnded"}}"#;
        // INV-KEY-SHOWN-MANUAL passes: the key is shown before the end.
        assert!(ids(&trace(&[&LAUNCH, &MANUAL, &[ended]])).is_empty());
        // INV-KEY-SHOWN-MANUAL violated: not shown before the end.
        let v = violations(&trace(&[&LAUNCH, &MANUAL[..5], &[ended]]));
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].invariant.id(), "INV-KEY-SHOWN-MANUAL");
        assert_eq!(v[0].line, 12);
        // INV-KEY-SHOWN-MANUAL violated: another key shown, and the trace ends.
        let wrong = r#"{"step":2,"ui":{"show":"session_key","key":"0000"}}"#;
        let v = violations(&trace(&[&LAUNCH, &MANUAL[..5], &[wrong]]));
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].invariant.id(), "INV-KEY-SHOWN-MANUAL");
        assert_eq!(v[0].line, 11, "the connect's line");
    }

    #[test]
    fn inv_key_hidden_presence() {
        let oneclick = trace(&[
            &LAUNCH,
            &LOGIN,
            &TERMS_SHOWN,
            &[ACCEPT, ONECLICK_START, ONECLICK_CONNECTED],
        ]);
        // INV-KEY-HIDDEN-PRESENCE passes: no key shown.
        assert!(ids(&oneclick).is_empty());
        // INV-KEY-HIDDEN-PRESENCE violated: the visitor id shown as the key.
        let shown = r#"{"step":4,"ui":{"show":"session_key","key":"cust-42"}}"#;
        let mut bad = oneclick.clone();
        bad.push(shown);
        assert_eq!(ids(&bad), ["INV-KEY-HIDDEN-PRESENCE"]);
        // After the one-click session ended, a manual key may be shown again.
        let mut later = oneclick.clone();
        later.push(r#"{"step":5,"event":{"code":"EventSessionEnded"}}"#);
        later.push(r#"{"step":6,"api":{"call":"start_session","key":"GLANCE_KEYTYPE_RANDOM"}}"#);
        later.push(r#"{"step":6,"event":{"code":"EventConnectedToSession","properties":{"sessionkey":"99"}}}"#);
        later.push(r#"{"step":6,"ui":{"show":"session_key","key":"99"}}"#);
        assert!(ids(&later).is_empty());
    }

    #[test]
    fn inv_terms_order() {
        let base = trace(&[&LAUNCH, &LOGIN]);
        // INV-TERMS-ORDER passes: displayed, then one answer.
        assert!(ids(&trace(&[&base, &TERMS_SHOWN, &[DECLINE]])).is_empty());
        // INV-TERMS-ORDER violated: answered before displayed.
        let v = ids(&trace(&[&base, &TERMS_SHOWN[..2], &[DECLINE]]));
        assert_eq!(v, ["INV-TERMS-ORDER"]);
        // INV-TERMS-ORDER violated: answered twice.
        let v = ids(&trace(&[&base, &TERMS_SHOWN, &[DECLINE, DECLINE]]));
        assert_eq!(v, ["INV-TERMS-ORDER"]);
        // INV-TERMS-ORDER violated: an answer with no request at all.
        assert_eq!(ids(&trace(&[&base, &[DECLINE]])), ["INV-TERMS-ORDER"]);
        // A refused out-of-order answer is fine.
        let refused = r#"{"step":4,"error":{"code":"terms_out_of_order","message":"no"}}"#;
        assert!(ids(&trace(&[&base, &[DECLINE, refused]])).is_empty());
        // A new request starts over.
        let again = trace(&[&base, &TERMS_SHOWN, &[DECLINE], &TERMS_SHOWN, &[DECLINE]]);
        assert!(ids(&again).is_empty());
    }

    #[test]
    fn inv_consent() {
        let base = trace(&[&LAUNCH, &LOGIN, &TERMS_SHOWN]);
        // INV-CONSENT passes: accepted, then one start.
        assert!(ids(&trace(&[&base, &[ACCEPT, ONECLICK_START]])).is_empty());
        // INV-CONSENT violated: a start without an answer.
        assert_eq!(ids(&trace(&[&base, &[ONECLICK_START]])), ["INV-CONSENT"]);
        // INV-CONSENT violated: a start after declined.
        assert_eq!(
            ids(&trace(&[&base, &[DECLINE, ONECLICK_START]])),
            ["INV-CONSENT"]
        );
        // INV-CONSENT violated: the consent is used up by the first session.
        let ended = r#"{"step":5,"event":{"code":"EventStartSessionFailed"}}"#;
        let second = r#"{"step":6,"api":{"call":"start_session"}}"#;
        assert_eq!(
            ids(&trace(&[&base, &[ACCEPT, ONECLICK_START, ended, second]])),
            ["INV-CONSENT"]
        );
        // INV-CONSENT violated: consent for an earlier request does not carry over.
        assert_eq!(
            ids(&trace(&[&base, &[ACCEPT], &TERMS_SHOWN, &[ONECLICK_START]])),
            ["INV-CONSENT"]
        );
        // A refused one-click start is fine; random-key starts need no consent.
        let refused = r#"{"step":4,"event":{"code":"EventInvalidState"}}"#;
        assert!(ids(&trace(&[&base, &[ONECLICK_START, refused]])).is_empty());
    }

    #[test]
    fn inv_one_session() {
        let again = r#"{"step":3,"api":{"call":"start_session","key":"GLANCE_KEYTYPE_RANDOM"}}"#;
        let refused = r#"{"step":3,"error":{"code":"session_active","message":"no"}}"#;
        // INV-ONE-SESSION passes: the second start is refused.
        assert!(ids(&trace(&[&LAUNCH, &MANUAL, &[again, refused]])).is_empty());
        // INV-ONE-SESSION violated: the second start is accepted.
        assert_eq!(
            ids(&trace(&[&LAUNCH, &MANUAL, &[again]])),
            ["INV-ONE-SESSION"]
        );
        // INV-ONE-SESSION violated: a second connect before the first session ended.
        let connect = r#"{"step":3,"event":{"code":"EventConnectedToSession","properties":{"sessionkey":"1"}}}"#;
        assert_eq!(
            ids(&trace(&[&LAUNCH, &MANUAL, &[connect]])),
            ["INV-ONE-SESSION"]
        );
        // After the end, a new session is fine.
        let ended = r#"{"step":3,"event":{"code":"EventSessionEnded"}}"#;
        let new_start =
            r#"{"step":4,"api":{"call":"start_session","key":"GLANCE_KEYTYPE_RANDOM"}}"#;
        assert!(ids(&trace(&[&LAUNCH, &MANUAL, &[ended, new_start]])).is_empty());
    }

    #[test]
    fn inv_no_disconnect_on_background() {
        let head = [r#"{"config":{"custom_ui":false}}"#, r#"{"user":"launch"}"#];
        let login = r#"{"user":"login","visitor_id":"cust-42"}"#;
        let background = r#"{"lifecycle":"background"}"#;
        let disconnect = r#"{"step":3,"api":{"call":"presence_disconnect"}}"#;
        // INV-NO-DISCONNECT-ON-BACKGROUND passes: the app does nothing on background.
        assert!(ids(&trace(&[&head, &LAUNCH, &[login], &LOGIN, &[background]])).is_empty());
        // INV-NO-DISCONNECT-ON-BACKGROUND violated: it disconnects.
        assert_eq!(
            ids(&trace(&[
                &head,
                &LAUNCH,
                &[login],
                &LOGIN,
                &[background, disconnect]
            ])),
            ["INV-NO-DISCONNECT-ON-BACKGROUND"]
        );
        // The same call caused by a logout is fine.
        let logout = r#"{"user":"logout"}"#;
        assert!(ids(&trace(&[
            &head,
            &LAUNCH,
            &[login],
            &LOGIN,
            &[logout, disconnect]
        ]))
        .is_empty());
        // Not judged without scenario lines.
        assert!(ids(&trace(&[&LAUNCH, &LOGIN, &[disconnect]])).is_empty());
    }

    #[test]
    fn inv_disconnect_on_logout() {
        let head = [r#"{"config":{"custom_ui":false}}"#, r#"{"user":"launch"}"#];
        let login = r#"{"user":"login","visitor_id":"cust-42"}"#;
        let disconnect = r#"{"step":3,"api":{"call":"presence_disconnect"}}"#;
        for step in [r#"{"user":"logout"}"#, r#"{"user":"exit"}"#] {
            // INV-DISCONNECT-ON-LOGOUT passes: the step disconnects.
            let good = trace(&[&head, &LAUNCH, &[login], &LOGIN, &[step, disconnect]]);
            assert!(ids(&good).is_empty());
            // INV-DISCONNECT-ON-LOGOUT violated: it does not.
            let v = violations(&trace(&[&head, &LAUNCH, &[login], &LOGIN, &[step]]));
            assert_eq!(v.len(), 1);
            assert_eq!(v[0].invariant.id(), "INV-DISCONNECT-ON-LOGOUT");
            assert_eq!(v[0].line, 18);
        }
        // Not due while presence is not connected.
        let logout = r#"{"user":"logout"}"#;
        assert!(ids(&trace(&[&head, &LAUNCH, &[login], &LOGIN[..4], &[logout]])).is_empty());
    }

    #[test]
    fn inv_custom_ui() {
        let head = [r#"{"config":{"custom_ui":true}}"#, r#"{"user":"launch"}"#];
        // INV-CUSTOM-UI passes: default UI off in the first init's step.
        assert!(ids(&trace(&[&head, &LAUNCH, &[r#"{"advance_ms":1}"#]])).is_empty());
        // INV-CUSTOM-UI violated: never turned off (judged at the end).
        let no_ui = [LAUNCH[0], LAUNCH[1], LAUNCH[2], LAUNCH[3], LAUNCH[5]];
        assert_eq!(ids(&trace(&[&head, &no_ui])), ["INV-CUSTOM-UI"]);
        // INV-CUSTOM-UI violated: a start before it (reported once).
        let start = r#"{"step":1,"api":{"call":"start_session","key":"GLANCE_KEYTYPE_RANDOM"}}"#;
        let late = r#"{"step":1,"api":{"call":"set_default_ui","enabled":false}}"#;
        assert_eq!(
            ids(&trace(&[&head, &LAUNCH[..4], &[start, late]])),
            ["INV-CUSTOM-UI"]
        );
        // INV-CUSTOM-UI violated: a refused set_default_ui does not count (and the refusal
        // of a controller call is a violation of its own).
        let refused = r#"{"step":1,"error":{"code":"terminated","message":"no"}}"#;
        assert_eq!(
            ids(&trace(&[&head, &LAUNCH[..5], &[refused]])),
            ["INV-CUSTOM-UI", "INV-CONTROLLER-CALLS-ACCEPTED"]
        );
        // INV-CUSTOM-UI violated: presence_connect without presence_set_default_ui.
        let login = r#"{"user":"login","visitor_id":"cust-42"}"#;
        let no_presence_ui = [LOGIN[0], LOGIN[1], LOGIN[2], LOGIN[3], LOGIN[4], LOGIN[6]];
        assert_eq!(
            ids(&trace(&[&head, &LAUNCH, &[login], &no_presence_ui])),
            ["INV-CUSTOM-UI"]
        );
        assert!(ids(&trace(&[&head, &LAUNCH, &[login], &LOGIN])).is_empty());
        // Not judged with custom_ui false, nor without scenario lines.
        let off = [r#"{"config":{"custom_ui":false}}"#, r#"{"user":"launch"}"#];
        assert!(ids(&trace(&[&off, &no_ui])).is_empty());
        assert!(ids(&no_ui).is_empty());
        // Scenario lines without a config: custom_ui defaults to true.
        assert_eq!(
            ids(&trace(&[
                &[r#"{"advance_ms":0}"#, r#"{"user":"launch"}"#],
                &no_ui
            ])),
            ["INV-CUSTOM-UI"]
        );
    }

    #[test]
    fn inv_refused_no_effect() {
        let call = r#"{"step":2,"api":{"call":"end_session"}}"#;
        let error = r#"{"step":2,"error":{"code":"no_session","message":"no"}}"#;
        let event = r#"{"step":2,"event":{"code":"EventInvalidState"}}"#;
        let send = r#"{"step":2,"send":{"type":"end_session"}}"#;
        // INV-REFUSED-NO-EFFECT passes: nothing sent after the refusal.
        assert!(ids(&trace(&[&LAUNCH, &[call, error, event]])).is_empty());
        // A send after the next api record belongs to that call.
        let next = r#"{"step":2,"api":{"call":"set_default_ui","enabled":false}}"#;
        assert!(ids(&trace(&[&LAUNCH, &[call, error, next, send]])).is_empty());
        // INV-REFUSED-NO-EFFECT violated.
        assert_eq!(
            ids(&trace(&[&LAUNCH, &[call, error, event, send]])),
            ["INV-REFUSED-NO-EFFECT"]
        );
        // INV-REFUSED-NO-EFFECT violated by a refused recv frame.
        let recv = r#"{"step":2,"recv":{"type":"guest_count","guestcount":1}}"#;
        assert_eq!(
            ids(&trace(&[&LAUNCH, &[recv, error, send]])),
            ["INV-REFUSED-NO-EFFECT"]
        );
        // The next step's send is not the refusal's.
        let later = r#"{"step":3,"send":{"type":"end_session"}}"#;
        assert!(ids(&trace(&[&LAUNCH, &[call, error, later]])).is_empty());
    }

    #[test]
    fn refusal_needs_the_same_step() {
        // An api record that ends its step, followed by the next step's own refusal, was not
        // refused: the start below counts, so the later start breaks INV-ONE-SESSION.
        let start = r#"{"step":2,"api":{"call":"start_session","key":"GLANCE_KEYTYPE_RANDOM"}}"#;
        let step_refused = r#"{"step":3,"error":{"code":"button_not_shown","message":"no"}}"#;
        let again = r#"{"step":4,"api":{"call":"start_session","key":"GLANCE_KEYTYPE_RANDOM"}}"#;
        assert_eq!(
            ids(&trace(&[&LAUNCH, &[start, step_refused, again]])),
            ["INV-ONE-SESSION"]
        );
    }

    #[test]
    fn inv_guests_in_session() {
        let guests =
            r#"{"step":3,"event":{"code":"EventGuestCountChange","properties":{"guestcount":1}}}"#;
        // INV-GUESTS-IN-SESSION passes inside a session.
        assert!(ids(&trace(&[&LAUNCH, &MANUAL, &[guests]])).is_empty());
        // INV-GUESTS-IN-SESSION violated outside one.
        assert_eq!(
            ids(&trace(&[&LAUNCH, &[guests]])),
            ["INV-GUESTS-IN-SESSION"]
        );
    }

    #[test]
    fn inv_session_ended_paired() {
        let ended = r#"{"step":3,"event":{"code":"EventSessionEnded"}}"#;
        // INV-SESSION-ENDED-PAIRED passes for a connected session.
        assert!(ids(&trace(&[&LAUNCH, &MANUAL, &[ended]])).is_empty());
        // ... and for a start abandoned with end_session.
        let start = MANUAL[1];
        let end = r#"{"step":2,"api":{"call":"end_session"}}"#;
        assert!(ids(&trace(&[&LAUNCH, &[start, end, ended]])).is_empty());
        // INV-SESSION-ENDED-PAIRED violated: no session.
        assert_eq!(
            ids(&trace(&[&LAUNCH, &[ended]])),
            ["INV-SESSION-ENDED-PAIRED"]
        );
        // INV-SESSION-ENDED-PAIRED violated: a start that never connected.
        assert_eq!(
            ids(&trace(&[&LAUNCH, &[start, ended]])),
            ["INV-SESSION-ENDED-PAIRED"]
        );
        // INV-SESSION-ENDED-PAIRED violated: twice.
        assert_eq!(
            ids(&trace(&[&LAUNCH, &MANUAL, &[ended, ended]])),
            ["INV-SESSION-ENDED-PAIRED"]
        );
    }

    #[test]
    fn inv_warning_paired() {
        let warn = r#"{"step":2,"event":{"code":"EventConnectionWarning"}}"#;
        let clear = r#"{"step":3,"event":{"code":"EventClearWarning"}}"#;
        // INV-WARNING-PAIRED passes.
        assert!(ids(&trace(&[&LAUNCH, &[warn, clear, warn, clear]])).is_empty());
        // INV-WARNING-PAIRED violated: a clear without a warning.
        assert_eq!(ids(&trace(&[&LAUNCH, &[clear]])), ["INV-WARNING-PAIRED"]);
        // INV-WARNING-PAIRED violated: two warnings.
        assert_eq!(
            ids(&trace(&[&LAUNCH, &[warn, warn, clear]])),
            ["INV-WARNING-PAIRED"]
        );
    }

    #[test]
    fn inv_no_send_offline() {
        let warn = r#"{"step":2,"event":{"code":"EventConnectionWarning"}}"#;
        let clear = r#"{"step":3,"event":{"code":"EventClearWarning"}}"#;
        let send = r#"{"step":3,"send":{"type":"app_state","foreground":true}}"#;
        // INV-NO-SEND-OFFLINE passes: the send comes after the clear.
        assert!(ids(&trace(&[&LAUNCH, &[warn, clear, send]])).is_empty());
        // INV-NO-SEND-OFFLINE violated.
        assert_eq!(
            ids(&trace(&[&LAUNCH, &[warn, send, clear]])),
            ["INV-NO-SEND-OFFLINE"]
        );
    }

    #[test]
    fn inv_key_matches_request() {
        let connected = |key: &str| {
            format!(
                r#"{{"step":2,"event":{{"code":"EventConnectedToSession","properties":{{"sessionkey":"{key}"}}}}}}"#
            )
        };
        let random = r#"{"step":2,"api":{"call":"start_session","key":"GLANCE_KEYTYPE_RANDOM"}}"#;
        let custom = r#"{"step":2,"api":{"call":"start_session","key":"mine"}}"#;
        let bare = r#"{"step":2,"api":{"call":"start_session"}}"#;
        let show =
            |key: &str| format!(r#"{{"step":2,"ui":{{"show":"session_key","key":"{key}"}}}}"#);
        // INV-KEY-MATCHES-REQUEST passes for each kind of start.
        assert!(ids(&trace(&[
            &LAUNCH,
            &[random, &connected("0042"), &show("0042")]
        ]))
        .is_empty());
        assert!(ids(&trace(&[&LAUNCH, &[custom, &connected("mine")]])).is_empty());
        assert!(ids(&trace(&[&LAUNCH, &[bare, &connected("981")]])).is_empty());
        let oneclick = trace(&[&LAUNCH, &LOGIN, &TERMS_SHOWN, &[ACCEPT, ONECLICK_START]]);
        assert!(ids(&trace(&[&oneclick, &[ONECLICK_CONNECTED]])).is_empty());
        // INV-KEY-MATCHES-REQUEST violated: a random key that is not digits.
        assert_eq!(
            ids(&trace(&[
                &LAUNCH,
                &[random, &connected("12a"), &show("12a")]
            ])),
            ["INV-KEY-MATCHES-REQUEST"]
        );
        assert_eq!(
            ids(&trace(&[&LAUNCH, &[bare, &connected("")]])),
            ["INV-KEY-MATCHES-REQUEST"]
        );
        // INV-KEY-MATCHES-REQUEST violated: not the custom key.
        assert_eq!(
            ids(&trace(&[&LAUNCH, &[custom, &connected("yours")]])),
            ["INV-KEY-MATCHES-REQUEST"]
        );
        // INV-KEY-MATCHES-REQUEST violated: not the visitor id.
        let wrong = r#"{"step":4,"event":{"code":"EventConnectedToSession","properties":{"sessionkey":"1234"}}}"#;
        assert_eq!(
            ids(&trace(&[&oneclick, &[wrong]])),
            ["INV-KEY-MATCHES-REQUEST"]
        );
    }

    #[test]
    fn inv_controller_calls_accepted() {
        let head = [r#"{"config":{}}"#, r#"{"user":"launch"}"#];
        let end = r#"{"user":"end_session"}"#;
        let call = r#"{"step":2,"api":{"call":"end_session"}}"#;
        let refused = r#"{"step":2,"error":{"code":"no_session","message":"no"}}"#;
        // INV-CONTROLLER-CALLS-ACCEPTED passes: nothing refused.
        assert!(ids(&trace(&[&head, &LAUNCH])).is_empty());
        // INV-CONTROLLER-CALLS-ACCEPTED violated: the controller's call refused.
        let v = violations(&trace(&[&head, &LAUNCH, &[end, call, refused]]));
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].invariant.id(), "INV-CONTROLLER-CALLS-ACCEPTED");
        assert_eq!(v[0].line, 10);
        // Not judged when a scenario step calls the SDK directly (even later), nor without
        // scenario lines.
        let direct = r#"{"api":{"call":"end_session"}}"#;
        assert!(ids(&trace(&[&head, &LAUNCH, &[end, call, refused, direct]])).is_empty());
        assert!(ids(&trace(&[&LAUNCH, &[call, refused]])).is_empty());
    }

    #[test]
    fn the_oracle_streams() {
        let mut oracle = Oracle::new();
        let lines = trace(&[
            &LAUNCH,
            &[r#"{"step":2,"event":{"code":"EventClearWarning"}}"#],
        ]);
        let parsed = parse_trace(&lines.join("\n")).unwrap();
        for (n, item) in &parsed {
            oracle.observe(*n, item);
        }
        assert_eq!(oracle.violations().len(), 1);
        assert_eq!(oracle.violations()[0].invariant, Invariant::WarningPaired);
        assert_eq!(oracle.finish().len(), 1);
    }

    #[test]
    fn interleave_puts_each_step_before_its_records() {
        let steps = crate::transcript::parse_scenario(
            "{\"config\":{}}\n{\"user\":\"launch\"}\n{\"advance_ms\":1}\n{\"user\":\"tap_cobrowse\"}\n{\"advance_ms\":1}",
        )
        .unwrap();
        let records = crate::sim::World::run(&steps).expect("the world settles");
        let lines = interleave(&steps, &records);
        assert_eq!(lines.len(), steps.len() + records.len());
        let mut index = 0;
        for line in &lines {
            match line {
                TraceLine::Step(_) => index += 1,
                TraceLine::Record(r) => assert_eq!(r.step + 1, index),
            }
        }
        assert_eq!(index, steps.len());
        let numbered: Vec<_> = lines
            .into_iter()
            .enumerate()
            .map(|(i, l)| (i + 1, l))
            .collect();
        assert!(check_trace(&numbered).is_empty());
        assert!(check_records(&records).is_empty());
    }

    mod machine_level {
        use super::super::machine::*;
        use cobrowse_visitor_core::Instant;
        use cobrowse_visitor_core::{ApiCall, InitParams};
        use cobrowse_visitor_core::{Controller, ControllerConfig, UserIntent};
        use cobrowse_visitor_core::{Input, Output, Sdk};

        fn drain(sdk: &mut Sdk) -> Vec<Output> {
            let mut out = Vec::new();
            loop {
                let o = sdk.poll_output();
                if let Output::Timeout(_) = o {
                    return out;
                }
                out.push(o);
            }
        }

        #[test]
        fn inv_refused_unchanged() {
            // INV-REFUSED-UNCHANGED holds for the real core: end_session with no session.
            let mut sdk = Sdk::default();
            let before = sdk.state().clone();
            let result = sdk.handle_input(Instant::from_millis(5), Input::Api(ApiCall::EndSession));
            assert!(result.is_err());
            assert_eq!(refused_unchanged(&before, sdk.state(), &result), None);
            // INV-REFUSED-UNCHANGED violated: a state that moved on a refusal.
            let mut moved = before.clone();
            moved.now = Instant::from_millis(5);
            let v = refused_unchanged(&before, &moved, &result).unwrap();
            assert_eq!(v.invariant.id(), "INV-REFUSED-UNCHANGED");
            // An accepted input may change the state.
            assert_eq!(refused_unchanged(&before, &moved, &Ok(())), None);

            // The controller: tap_cobrowse before launch is refused and changes nothing.
            let mut c = Controller::new(ControllerConfig::default());
            let before = c.state().clone();
            let result = c.handle_user(UserIntent::TapCobrowse);
            assert!(result.is_err());
            assert_eq!(
                controller_refused_unchanged(&before, c.state(), &result),
                None
            );
            c.handle_user(UserIntent::Launch).unwrap();
            let v = controller_refused_unchanged(&before, c.state(), &result).unwrap();
            assert_eq!(v.invariant.id(), "INV-REFUSED-UNCHANGED");
        }

        #[test]
        fn inv_timer_not_early() {
            let mut sdk = Sdk::default();
            sdk.handle_input(
                Instant::from_millis(0),
                Input::Api(ApiCall::InitVisitor(InitParams::anonymous(19921))),
            )
            .unwrap();
            drain(&mut sdk);
            let deadline = sdk.poll_timeout().unwrap();
            // INV-TIMER-NOT-EARLY holds for the real core, early and on time.
            let before = sdk.state().clone();
            let early = Instant::from_millis(deadline.as_millis() - 1);
            sdk.handle_input(early, Input::Timeout).unwrap();
            let out = drain(&mut sdk);
            assert_eq!(timer_not_early(&before, early, sdk.state(), &out), None);
            let before = sdk.state().clone();
            sdk.handle_input(deadline, Input::Timeout).unwrap();
            let out = drain(&mut sdk);
            assert!(!out.is_empty(), "the init lookup timed out");
            assert_eq!(timer_not_early(&before, deadline, sdk.state(), &out), None);
            // INV-TIMER-NOT-EARLY violated: an early timeout with output.
            let mut fresh = Sdk::default();
            fresh
                .handle_input(
                    Instant::from_millis(0),
                    Input::Api(ApiCall::InitVisitor(InitParams::anonymous(19921))),
                )
                .unwrap();
            drain(&mut fresh);
            let s = fresh.state().clone();
            let noisy = [Output::Event(cobrowse_visitor_core::Event::ClearWarning)];
            let v = timer_not_early(
                &s,
                Instant::from_millis(1),
                &cobrowse_visitor_core::State {
                    now: Instant::from_millis(1),
                    ..s.clone()
                },
                &noisy,
            )
            .unwrap();
            assert_eq!(v.invariant.id(), "INV-TIMER-NOT-EARLY");
            // INV-TIMER-NOT-EARLY violated: an early timeout that changed the state.
            let changed = cobrowse_visitor_core::State {
                now: Instant::from_millis(1),
                default_ui: !s.default_ui,
                ..s.clone()
            };
            assert!(timer_not_early(&s, Instant::from_millis(1), &changed, &[]).is_some());
            // INV-TIMER-NOT-EARLY violated: a deadline left at or before `now`.
            let at = s.timers.next().unwrap();
            assert!(timer_not_early(
                &s,
                at,
                &cobrowse_visitor_core::State {
                    now: at,
                    ..s.clone()
                },
                &[]
            )
            .is_some());
        }

        #[test]
        fn inv_deterministic() {
            // INV-DETERMINISTIC holds for equal runs.
            assert_eq!(deterministic(&[1, 2, 3], &[1, 2, 3]), None);
            // INV-DETERMINISTIC violated: a different element, or a different length.
            let v = deterministic(&[1, 2, 3], &[1, 9, 3]).unwrap();
            assert_eq!(v.invariant.id(), "INV-DETERMINISTIC");
            assert_eq!(v.line, 2);
            assert_eq!(deterministic(&[1, 2], &[1, 2, 3]).unwrap().line, 3);
        }
    }
}
