//! The reader: how a trace is read, apart from any one invariant.
//!
//! It holds an `api` or `recv` record back until the next line says whether it was refused
//! (the refusal lookahead), knows the scenario line each record belongs to (the causes), keeps
//! the few facts several invariants read ([`Reading`]: the session, the visitor id, …) and
//! calls every checker ([`Checks`]) at each judgement point:
//!
//! - a scenario line: the pending record is judged with no lookahead (never refused), the
//!   obligations of every other step are due ([`Check::on_step_end`]), then the step itself
//!   ([`Check::on_step`]);
//! - a record: the pending record is judged with this one as lookahead, the obligations of
//!   steps other than this record's are due, then the record itself ([`Check::on_record`]);
//! - the end: the pending record is judged, every obligation is due, then [`Check::finish`].
//!
//! Checkers see the facts as they were *before* the record they judge; the reader updates
//! them after every checker has seen it.
//!
//! [`Check`]: super::checks::Check
//! [`Check::on_step_end`]: super::checks::Check::on_step_end
//! [`Check::on_step`]: super::checks::Check::on_step
//! [`Check::on_record`]: super::checks::Check::on_record
//! [`Check::finish`]: super::checks::Check::finish

use super::checks::Checks;
use super::Violation;
use crate::transcript::{EventRecord, Observed, ReceivedFrame, Record, SentFrame, Step, TraceLine};
use cobrowse_visitor_core::{
    ApiCall, CallName, ConsentPolicy, ServerFrame, StartKey, StartOptions, StartParams, UiDirective,
};

/// The session as the transcript shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SessionPhase {
    Idle,
    Starting,
    Running,
    Ending,
}

impl SessionPhase {
    /// The phase's name in messages.
    pub(super) fn name(self) -> &'static str {
        match self {
            SessionPhase::Idle => "idle",
            SessionPhase::Starting => "starting",
            SessionPhase::Running => "running",
            SessionPhase::Ending => "ending",
        }
    }
}

/// The key a non-refused `start_session` asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum KeyAsked {
    /// `GLANCE_KEYTYPE_RANDOM`.
    Random,
    /// No key and no visitor id: a random key too.
    DefaultRandom,
    /// No key with this visitor id: one-click.
    VisitorId(String),
    /// The app's own key.
    Custom(String),
}

/// One record as the checkers see it: where it is and what it turned out to be.
#[derive(Clone, Copy, Debug)]
pub(super) struct Judged<'a> {
    /// The 1-based line of the record (for `Accepted` and `Refused…`: of the `api` / `recv`
    /// record judged, not of the lookahead that decided it).
    pub(super) line: usize,
    /// The record's `step`.
    pub(super) step: usize,
    /// What it is.
    pub(super) seen: Seen<'a>,
}

/// What a judged record is.
#[derive(Clone, Copy, Debug)]
pub(super) enum Seen<'a> {
    /// An `api` record as it arrives, before the next line tells whether it was refused: what
    /// the controller asked for.
    Asked(&'a ApiCall),
    /// A `recv` record as it arrives: the frame as written.
    Received(&'a ReceivedFrame),
    /// An earlier `api` record that was not refused.
    Accepted(&'a ApiCall),
    /// An earlier `api` record that was refused.
    RefusedCall(&'a ApiCall),
    /// An earlier `recv` record that was refused. (An accepted one is not shown to the
    /// checkers: its effects are the events that follow.)
    RefusedFrame,
    /// A `send` record: the frame as written.
    Send(&'a SentFrame),
    /// An `event` record, with its `sessionkey` property if it has one.
    Event {
        /// The event's code.
        code: &'a str,
        /// Its `sessionkey` property, as text.
        sessionkey: Option<&'a str>,
        /// The whole record, for its other properties.
        event: &'a EventRecord,
    },
    /// A `ui` record.
    Ui(&'a UiDirective),
    /// An `error` record that is the first record of its step: the scenario step itself was
    /// refused (an agent action with no session, an intent the controller refuses), so it
    /// changed nothing.
    StepRefused,
}

impl Seen<'_> {
    /// For a `send` record, its frame's `type`.
    pub(super) fn sent_type(&self) -> Option<&str> {
        match self {
            Seen::Send(frame) => frame.frame_type(),
            _ => None,
        }
    }
}

/// What the reader knows at a line: the scenario context, and the facts of the trace so far
/// that more than one invariant reads.
#[derive(Clone, Debug)]
pub(super) struct Reading {
    /// Scenario lines seen (the next one's index).
    steps_seen: usize,
    /// The latest scenario line: its index and whether it is a `lifecycle` step.
    cur_step: Option<(usize, bool)>,
    /// The config's `custom_ui` (the contract's default when there is no config line).
    custom_ui: bool,
    /// The trace's first line is a config line.
    config: bool,
    /// The config line's `group_id` (the contract's default when the line names none);
    /// `None` without a config line.
    config_group: Option<i32>,
    /// A scenario line other than the config came: the trace is interleaved.
    interleaved: bool,
    /// The `visitor_id` of the latest non-refused `init_visitor`.
    visitor_id: Option<String>,
    /// The first `EventVisitorInitialized` came.
    initialized: bool,
    session: SessionPhase,
    /// Set while the session's `EventConnectedToSession` came and its `EventSessionEnded` not.
    connected: bool,
    /// The key the latest start asked for, until that session connects, ends or fails.
    asked: Option<KeyAsked>,
    /// The options of the latest accepted `start_session` (§3.3): the session's.
    start_options: StartOptions,
    /// Relaunches whose snapshots were refused (`restore_refused`, §13.2): each began a new
    /// app, whose group is its own first accepted `init_visitor`'s when there is no config.
    new_apps: u32,
    /// The config's `consent_policy` (spec.md §3.3a; `terms_required` without one).
    consent_policy: ConsentPolicy,
    /// A `recv` record came (the trace records what the SDK received).
    recv_seen: bool,
    /// The latest `settings` the SDK received says `agent_start` `true`; with the value
    /// before that `recv` record, in case the next line refuses it.
    agent_start: bool,
    agent_start_before: bool,
}

impl Default for Reading {
    fn default() -> Self {
        Reading {
            steps_seen: 0,
            cur_step: None,
            custom_ui: true,
            config: false,
            config_group: None,
            interleaved: false,
            visitor_id: None,
            initialized: false,
            session: SessionPhase::Idle,
            connected: false,
            asked: None,
            start_options: StartOptions::default(),
            new_apps: 0,
            consent_policy: ConsentPolicy::TermsRequired,
            recv_seen: false,
            agent_start: false,
            agent_start_before: false,
        }
    }
}

impl Reading {
    /// Scenario lines are interleaved: a scenario line other than the config came. (A plain
    /// trace after a config line is not: its config only sets what is judged.)
    pub(super) fn has_scenario(&self) -> bool {
        self.interleaved
    }

    /// The trace has a config line (interleaved, or a plain trace after one): `custom_ui` is
    /// known.
    pub(super) fn has_config(&self) -> bool {
        self.config
    }

    /// The config's `custom_ui`.
    pub(super) fn custom_ui(&self) -> bool {
        self.custom_ui
    }

    /// The group id the config line names (the contract's default when it names none), or
    /// `None` when the trace has no config line.
    pub(super) fn config_group(&self) -> Option<i32> {
        self.config_group
    }

    /// The cause of a record at step `step` is a `lifecycle` scenario line.
    pub(super) fn caused_by_lifecycle(&self, step: usize) -> bool {
        matches!(self.cur_step, Some((index, true)) if index == step)
    }

    /// The `visitor_id` of the latest non-refused `init_visitor`.
    pub(super) fn visitor_id(&self) -> Option<&str> {
        self.visitor_id.as_deref()
    }

    /// The first `EventVisitorInitialized` came.
    pub(super) fn initialized(&self) -> bool {
        self.initialized
    }

    /// The session's phase.
    pub(super) fn session(&self) -> SessionPhase {
        self.session
    }

    /// How many relaunches came back as a new app (their snapshots refused, §13.2).
    pub(super) fn new_apps(&self) -> u32 {
        self.new_apps
    }

    /// The options of the latest accepted `start_session`: the current session's (§3.3).
    pub(super) fn start_options(&self) -> StartOptions {
        self.start_options
    }

    /// The session connected (`EventConnectedToSession`) and has not ended.
    pub(super) fn connected(&self) -> bool {
        self.connected
    }

    /// The key the starting session asked for (`None` unless a session is starting).
    pub(super) fn starting_key(&self) -> Option<&KeyAsked> {
        match self.session {
            SessionPhase::Starting => self.asked.as_ref(),
            _ => None,
        }
    }

    /// Whether an `EventPresenceStartSession` is allowed now (INV-CONSENT-POLICY, §3.3a): the
    /// config says `consent_policy` `agent_may_start`, and the latest `settings` the SDK
    /// received says `agent_start` `true` (a trace without `recv` records so far cannot show
    /// it: the config alone decides).
    pub(super) fn agent_start_allowed(&self) -> bool {
        self.agent_start_refusal().is_none()
    }

    /// Why an `EventPresenceStartSession` is not allowed now (`None` when it is): which side
    /// did not opt in (§3.3a).
    pub(super) fn agent_start_refusal(&self) -> Option<&'static str> {
        if self.consent_policy != ConsentPolicy::AgentMayStart {
            Some("the app's consent_policy is terms_required (the config line's, or the default)")
        } else if self.recv_seen && !self.agent_start {
            Some("the latest settings the SDK received do not say agent_start")
        } else {
            None
        }
    }

    /// What a `start_session` with `key` asks for now.
    pub(super) fn key_asked(&self, key: &StartKey) -> KeyAsked {
        match key {
            StartKey::Random => KeyAsked::Random,
            StartKey::Custom(k) => KeyAsked::Custom(k.clone()),
            StartKey::VisitorId => match &self.visitor_id {
                None => KeyAsked::DefaultRandom,
                Some(id) => KeyAsked::VisitorId(id.clone()),
            },
        }
    }

    /// A scenario line arrives: returns its index.
    fn begin_step(&mut self, step: &Step) -> usize {
        let index = self.steps_seen;
        self.steps_seen = self.steps_seen.saturating_add(1);
        match step {
            Step::Config(c) if index == 0 => {
                self.custom_ui = c.custom_ui;
                self.consent_policy = c.consent_policy;
                self.config = true;
                self.config_group = Some(c.group_id);
            }
            Step::Config(_) => {}
            _ => self.interleaved = true,
        }
        // a relaunch (§13.2) keeps a running or ending session (§5.6, S-R01, S-R04): a
        // starting one is gone with the old process, without an event
        if matches!(step, Step::Relaunch { .. }) && self.session == SessionPhase::Starting {
            self.session = SessionPhase::Idle;
            self.connected = false;
        }
        // a running session started without `persist` is kept as an ending one: the new
        // process ends it (§5.6, S-R04)
        if matches!(step, Step::Relaunch { .. })
            && self.session == SessionPhase::Running
            && !self.start_options.persist
        {
            self.session = SessionPhase::Ending;
        }
        self.cur_step = Some((index, matches!(step, Step::Lifecycle(_))));
        index
    }

    /// Updates the facts after every checker saw `rec`.
    fn apply(&mut self, rec: &Judged<'_>) {
        match rec.seen {
            Seen::Received(frame) => {
                self.recv_seen = true;
                self.agent_start_before = self.agent_start;
                if frame.frame_type() == Some("settings") {
                    self.agent_start = match frame.typed() {
                        Some(ServerFrame::Settings { agent_start, .. }) => *agent_start,
                        Some(_) => false,
                        None => {
                            frame.to_json().get("agent_start")
                                == Some(&serde_json::Value::Bool(true))
                        }
                    };
                }
            }
            // a refused frame changed nothing
            Seen::RefusedFrame => self.agent_start = self.agent_start_before,
            Seen::Accepted(ApiCall::InitVisitor(p)) => self.visitor_id = p.visitor_id.clone(),
            Seen::Accepted(ApiCall::StartSession(StartParams { key, options })) => {
                self.asked = Some(self.key_asked(key));
                self.session = SessionPhase::Starting;
                self.start_options = *options;
            }
            Seen::Accepted(ApiCall::EndSession) => {
                self.session = match self.session {
                    SessionPhase::Idle => SessionPhase::Idle,
                    _ => SessionPhase::Ending,
                };
            }
            Seen::Event { code, .. } => match code {
                "EventVisitorInitialized" => self.initialized = true,
                "EventConnectedToSession" => {
                    if self.session == SessionPhase::Starting {
                        self.asked = None;
                    }
                    self.connected = true;
                    self.session = SessionPhase::Running;
                }
                "EventSessionEnded" => {
                    self.session = SessionPhase::Idle;
                    self.connected = false;
                    self.asked = None;
                }
                "EventStartSessionFailed" => {
                    self.session = SessionPhase::Idle;
                    self.asked = None;
                }
                _ => {}
            },
            _ => {}
        }
    }
}

/// `code` is an event that refuses the `api` call `call` just before it: `EventInvalidState`
/// and `EventInvalidParameter` any call, `EventPresenceSendFail` the two presence messages
/// (spec.md §10, S-A58, S-A71).
pub(super) fn is_refusal_event(code: &str, call: &ApiCall) -> bool {
    code == "EventInvalidState"
        || code == "EventInvalidParameter"
        || (code == "EventPresenceSendFail" && sends_presence_message(call))
}

/// `presence_signal_agent` or `presence_signal_visibility`: the calls `EventPresenceSendFail`
/// refuses.
pub(super) fn sends_presence_message(call: &ApiCall) -> bool {
    matches!(
        call.name(),
        CallName::PresenceSignalAgent | CallName::PresenceSignalVisibility
    )
}

/// Whether `record` (an `api` or `recv` record) was refused, given the line after it: `next`
/// is the next record, or `None` for a scenario line or the end of the trace. A refusal is an
/// `error` record of the same step, or for an `api` record also an `EventInvalidState` /
/// `EventInvalidParameter` of the same step (or an `EventPresenceSendFail`, for the two
/// presence messages).
fn refused(record: &Record, next: Option<&Record>) -> bool {
    match next {
        Some(n) if n.step == record.step => match (&record.observed, &n.observed) {
            (_, Observed::Error(_)) => true,
            (Observed::Api(call), Observed::Event(e)) => is_refusal_event(e.code(), call),
            _ => false,
        },
        _ => false,
    }
}

/// Reads a trace line by line and has the checkers judge it.
#[derive(Clone, Debug, Default)]
pub(super) struct Reader {
    reading: Reading,
    /// The latest `api` or `recv` record, until the next line tells whether it was refused.
    pending: Option<(usize, Record)>,
    /// The step of the latest record (to tell the first record of a step).
    last_record_step: Option<usize>,
}

impl Reader {
    /// A scenario line at `line`.
    pub(super) fn step(
        &mut self,
        line: usize,
        step: &Step,
        checks: &mut Checks,
        out: &mut Vec<Violation>,
    ) {
        self.resolve_pending(None, checks, out);
        checks.on_step_end(Some(self.reading.steps_seen), out);
        let index = self.reading.begin_step(step);
        checks.on_step(&self.reading, line, index, step, out);
    }

    /// A transcript record at `line`.
    pub(super) fn record(
        &mut self,
        line: usize,
        record: &Record,
        checks: &mut Checks,
        out: &mut Vec<Violation>,
    ) {
        let had_pending = self.pending.is_some();
        let first_of_step = self.last_record_step != Some(record.step);
        self.last_record_step = Some(record.step);
        self.resolve_pending(Some(record), checks, out);
        checks.on_step_end(Some(record.step), out);
        let step = record.step;
        let judge = |seen| Judged { line, step, seen };
        match &record.observed {
            Observed::Api(call) => {
                self.judge(judge(Seen::Asked(call)), checks, out);
                self.pending = Some((line, record.clone()));
            }
            Observed::Recv(frame) => {
                self.judge(judge(Seen::Received(frame)), checks, out);
                self.pending = Some((line, record.clone()));
            }
            Observed::Send(frame) => self.judge(judge(Seen::Send(frame)), checks, out),
            Observed::Event(e) => {
                let sessionkey = e.prop("sessionkey");
                let seen = Seen::Event {
                    code: e.code(),
                    sessionkey: sessionkey.as_deref(),
                    event: e,
                };
                self.judge(judge(seen), checks, out);
            }
            Observed::Ui(ui) => self.judge(judge(Seen::Ui(ui)), checks, out),
            // a relaunch whose snapshots were refused (§13.2): the app came back new, and a
            // session that ran is gone with the old process
            Observed::Error(e) if e.code == crate::sim::RESTORE_REFUSED => {
                self.reading.session = SessionPhase::Idle;
                self.reading.connected = false;
                self.reading.new_apps = self.reading.new_apps.saturating_add(1);
            }
            // The lookahead of the record before it, or the refusal of the step itself.
            Observed::Error(_) if !had_pending && first_of_step => {
                self.judge(judge(Seen::StepRefused), checks, out)
            }
            Observed::Error(_) => {}
        }
    }

    /// The end of the trace.
    pub(super) fn finish(&mut self, checks: &mut Checks, out: &mut Vec<Violation>) {
        self.resolve_pending(None, checks, out);
        checks.on_step_end(None, out);
        checks.finish(&self.reading, out);
    }

    /// Judges the pending `api` / `recv` record with `next` as lookahead (see [`refused`]).
    fn resolve_pending(
        &mut self,
        next: Option<&Record>,
        checks: &mut Checks,
        out: &mut Vec<Violation>,
    ) {
        let Some((line, record)) = self.pending.take() else {
            return;
        };
        let refused = refused(&record, next);
        let seen = match &record.observed {
            Observed::Api(call) if refused => Seen::RefusedCall(call),
            Observed::Api(call) => Seen::Accepted(call),
            _ if refused => Seen::RefusedFrame,
            _ => return,
        };
        let judged = Judged {
            line,
            step: record.step,
            seen,
        };
        self.judge(judged, checks, out);
    }

    /// Every checker judges `rec`, then the facts take it in.
    fn judge(&mut self, rec: Judged<'_>, checks: &mut Checks, out: &mut Vec<Violation>) {
        checks.on_record(&self.reading, &rec, out);
        self.reading.apply(&rec);
    }
}

/// A trace that cannot be judged (contract, "Reading a trace"): the line that breaks a
/// reading rule, and what was expected there. `cobrowse check` exits 2 with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct Unusable {
    /// The 1-based line that breaks the rule.
    pub line: usize,
    /// The rule it breaks, and what was expected.
    pub message: String,
}

/// How far the trace's layout has been read (contract, "Reading a trace").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Layout {
    /// Nothing yet.
    #[default]
    Start,
    /// Only the config line, at line 1 of the trace's lines.
    Config,
    /// Records with no scenario line (after the config line, if any); the first record was
    /// at `first_record`.
    Plain {
        /// The line of the first record.
        first_record: usize,
    },
    /// Scenario lines interleaved: the latest is scenario line `index`, at `line`.
    Interleaved {
        /// Its 0-based index (config line included), the `step` its records carry.
        index: usize,
        /// Its line.
        line: usize,
    },
}

impl Layout {
    /// Takes the next line in, or says which reading rule it breaks.
    pub(super) fn admit(&mut self, line: usize, item: &TraceLine) -> Result<(), Unusable> {
        let unusable = |message: String| Err(Unusable { line, message });
        match (*self, item) {
            (Layout::Start, TraceLine::Step(Step::Config(_))) => *self = Layout::Config,
            (_, TraceLine::Step(Step::Config(_))) => {
                return unusable(
                    "a `config` line may only be the first line of a trace".to_owned(),
                )
            }
            (Layout::Start, TraceLine::Step(_)) => *self = Layout::Interleaved { index: 0, line },
            (Layout::Config, TraceLine::Step(_)) => *self = Layout::Interleaved { index: 1, line },
            (Layout::Interleaved { index, .. }, TraceLine::Step(_)) => {
                *self = Layout::Interleaved {
                    index: index.saturating_add(1),
                    line,
                }
            }
            (Layout::Plain { first_record }, TraceLine::Step(_)) => {
                return unusable(format!(
                    "a scenario line in a plain trace (the record at line {first_record} came before any scenario line); expected records only, or every scenario line in order, each followed by the records it caused"
                ))
            }
            (Layout::Start | Layout::Config, TraceLine::Record(_)) => {
                *self = Layout::Plain { first_record: line }
            }
            (Layout::Plain { .. }, TraceLine::Record(_)) => {}
            (Layout::Interleaved { index, line: at }, TraceLine::Record(r)) => {
                if r.step != index {
                    return unusable(format!(
                        "a record of step {} after scenario line {index} (line {at}); in an interleaved trace every record's `step` is the index of the latest scenario line before it",
                        r.step
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Where an `error` record may stand (contract: it refuses "the record just before it (an `api`
/// call, a `recv` frame) or the step itself"): right after an `api` or `recv` record of its
/// step, or as the first record of its step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct ErrorPlace {
    /// The previous record: its step, and whether it was an `api` or `recv` record. `None`
    /// after a scenario line or at the start.
    previous: Option<(usize, bool)>,
}

impl ErrorPlace {
    /// Takes the next line in, or says why an `error` record cannot stand there.
    pub(super) fn admit(&mut self, line: usize, item: &TraceLine) -> Result<(), Unusable> {
        let TraceLine::Record(r) = item else {
            self.previous = None;
            return Ok(());
        };
        let input = matches!(r.observed, Observed::Api(_) | Observed::Recv(_));
        if let Observed::Error(_) = r.observed {
            match self.previous {
                Some((step, true)) if step == r.step => {}
                Some((step, _)) if step == r.step => {
                    return Err(Unusable {
                        line,
                        message: "an `error` record that follows neither an `api` or `recv` record of its step nor its step's start; expected it right after the call or frame it refuses, or as the first record of a refused step".to_owned(),
                    })
                }
                _ => {}
            }
        }
        self.previous = Some((r.step, input));
        Ok(())
    }
}
