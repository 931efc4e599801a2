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

mod invariant;
pub mod machine;

use invariant::violation;
pub use invariant::{Invariant, InvariantKind, Violation};

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

#[cfg(test)]
mod differential;
#[cfg(test)]
mod old;
#[cfg(test)]
mod tests;
