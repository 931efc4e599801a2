//! A frozen copy of the oracle as it was before the cut into a reader and one checker per
//! invariant (test-only): the differential test in `differential.rs` feeds every trace
//! through both and asserts identical violations. Machine-level checks and unit tests are
//! left out; nothing here is used outside that test.
#![allow(dead_code)]

use crate::transcript::{Observed, Record, Step, TraceLine};
use cobrowse_visitor_core::{ApiCall, StartKey, StartParams, TermsStatus, TERMS_EVENT};
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
    group: Option<i32>,
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
                let key = e.prop("sessionkey").map(|k| k.into_owned());
                self.on_event(line, e.code(), key);
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
                (Observed::Api(_), Observed::Event(e)) => is_refusal_event(e.code()),
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
            ApiCall::StartSession(StartParams {
                key: StartKey::Random,
                ..
            }) => {
                if matches!(self.manual_due, Some(d) if d.step == step) {
                    self.manual_due = None;
                }
            }
            ApiCall::PresenceDisconnect | ApiCall::PresenceConnect { .. } => {
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
            ApiCall::StartSession(StartParams { key, .. }) => self.start_accepted(line, key),
            ApiCall::EndSession => {
                self.session = match self.session {
                    SessionPhase::Idle => SessionPhase::Idle,
                    _ => SessionPhase::Ending,
                };
            }
            ApiCall::PresenceConnect { .. } => {
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
            // calls the frozen oracle predates: nothing it judges
            ApiCall::PresenceData { .. }
            | ApiCall::PresenceSignalVisibility { .. }
            | ApiCall::Pause { .. }
            | ApiCall::SendUserMessage { .. }
            | ApiCall::SetUserState { .. } => {}
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
