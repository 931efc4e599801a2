//! Buggy integrations: the seed's app (the real [`Controller`]) with one deliberate,
//! realistic bug each, for measuring how accurately `cobrowse check` judges (the accuracy
//! suite, `tests/check_accuracy.rs`, and `ACCURACY.md`).
//!
//! A bug is an app that sits between the controller and the world ([`Hooks::app`],
//! [`Hooks::app_extra`]): it rewrites, drops or adds to what the controller hands on, and the
//! real SDK core and the simulated service answer it. Some bugs need an SDK core that accepts
//! what the real one refuses (a *lenient core*: the refusal of the bug's own calls is taken out
//! of the transcript, since the oracle only sees the transcript), and one is an SDK core that
//! delivers `EventConnectedToSession` twice (the record is doubled).
//!
//! [`Controller`]: cobrowse_visitor_core::Controller

use crate::oracle::Invariant;
use crate::sim::{Hooks, NotSettled, World, WorldOptions};
use crate::transcript::{EventRecord, Observed, Record, ScenarioConfig, Step, WireFrame};
use cobrowse_visitor_core::{
    ApiCall, CallName, ConsentPolicy, ControllerOutput, Event, InitParams, Lifecycle,
    NetworkChange, ServerFrame, StartKey, StartParams, TermsStatus, UiDirective, UiElement,
    UserIntent, TERMS_EVENT,
};
use cobrowse_visitor_core::{ClientFrame, KeyType};
use std::collections::{BTreeSet, VecDeque};
use std::convert::Infallible;

/// The group id of a test build (another Glance account).
pub const TEST_GROUP_ID: i32 = 20393;

/// One deliberate bug of an app team (or, where said, of an SDK core).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bug {
    /// After login the app re-inits with the group id of its test build (lenient core).
    TestGroupOnLogin,
    /// After logout the app re-inits with the group id of its test build (lenient core).
    TestGroupOnLogout,
    /// The app keeps the group id of a test build: every `init_visitor`, the first one too,
    /// carries it instead of the configured group's (the core accepts it: it is one group
    /// throughout).
    TestGroupKept,
    /// The app shows the cobrowse button as soon as it calls `init_visitor`.
    ButtonBeforeInit,
    /// The app starts a session right after its first `init_visitor` (lenient core).
    StartBeforeInit,
    /// The app connects presence at launch, anonymous (lenient core).
    PresenceAtLaunch,
    /// The app reconnects presence after the logout's anonymous re-init (lenient core).
    PresenceAfterLogout,
    /// A tap on the button starts `start_session()` (the one-click form).
    TapStartsOneClick,
    /// A tap on the button starts nothing.
    TapIgnored,
    /// The app never shows the key of a manual session.
    KeyNotShown,
    /// The app shows a stale key (a leading `0`) for a manual session.
    WrongKeyShown,
    /// The app shows the key when a one-click session connects.
    KeyShownOneClick,
    /// The app shows the visitor id as the key when it starts a one-click session.
    VisitorIdShownAtStart,
    /// The app never signals terms `displayed`.
    NoDisplayed,
    /// The app answers the terms twice (lenient core).
    DoubleAnswer,
    /// The app starts the one-click session as soon as the terms are requested.
    StartsOnShowTerms,
    /// The app starts the one-click session after the customer declined.
    StartsAfterDecline,
    /// Once the customer accepted, the app starts every later one-click request at once
    /// (consent reused).
    ReusesConsent,
    /// The app calls `start_session` twice for one request (lenient core).
    DoubleStart,
    /// An SDK core that delivers `EventConnectedToSession` twice.
    DoubleConnected,
    /// The app disconnects presence when it goes to the background.
    DisconnectOnBackground,
    /// The app connects presence when it comes back to the foreground.
    ConnectOnForeground,
    /// The app forgets `presence_disconnect` on logout.
    NoDisconnectOnLogout,
    /// The app forgets `presence_disconnect` on exit.
    NoDisconnectOnExit,
    /// The app re-enables the SDK's default UI (`set_default_ui(true)`).
    DefaultUiOn,
    /// The app forgets `presence_set_default_ui(false)` after `presence_connect`.
    PresenceDefaultUiKept,
    /// An SDK core that takes an agent's start without the terms dialog
    /// (`EventPresenceStartSession`) whatever the app's consent policy and the group's
    /// settings say (INV-CONSENT-POLICY).
    AgentStartIgnoresPolicy,
    /// An SDK core that loses count of `connect(maxAttempts: n)` when the link comes back:
    /// it makes n + 1 attempts in the restore's round (INV-CONNECT-ATTEMPTS).
    DoubleConnectOnRestore,
    /// The app connects presence again when it comes back to the foreground after
    /// `EventPresenceNotConfigured` (lenient core) (INV-NOT-CONFIGURED).
    ConnectAfterNotConfigured,
    /// An SDK core that does not send the visitor's presence data again when presence
    /// reconnects (S-F20) (INV-PRESENCE-DATA).
    NoDataOnReconnect,
    /// An SDK core whose `EventPresenceSendFail` always names `presence_signal_agent`, also
    /// for a refused `presence_signal_visibility` (INV-SEND-FAIL-REFUSES).
    SendFailNamesAgent,
    /// An SDK core that accepts `pause` without a running session (S-A101)
    /// (INV-PAUSE-RUNNING).
    PauseWithoutSession,
    /// The app leaves `session_paused` on screen when the session ends (C-E12)
    /// (INV-PAUSE-SHOWN).
    PausedNoticeKept,
    /// An SDK core that hands the app an agent's `user_message` that came with no session
    /// (S-F30) (INV-MESSAGE-IN-SESSION).
    MessageWithoutSession,
    /// The relaunched app shows a restored one-click session's key (C-R01)
    /// (INV-RESTORE-KEY-HIDDEN).
    KeyShownAfterRestore,
    /// A restored core announces itself with the test build's group id (§5.6)
    /// (INV-RESTORE-GROUP).
    RestoreWithTestGroup,
    /// An SDK core that sends `start_session` without the call's `max_guests` and `paused`
    /// (S-A20) (INV-START-OPTIONS).
    StartOptionsDropped,
    /// An SDK core whose snapshot keeps every running session, so the relaunched core
    /// resumes one started without `persist` (§5.6) (INV-PERSIST).
    ResumesNotPersisted,
}

impl Bug {
    /// Issue 15's bugs, one per invariant of the rest of a session (spec.md §10.2), measured
    /// by `conformance/tests/session_extras_accuracy.rs` on worlds that pause, message and
    /// relaunch. Not in [`Bug::ALL`].
    pub const SESSION_EXTRAS: [Bug; 7] = [
        Bug::PauseWithoutSession,
        Bug::PausedNoticeKept,
        Bug::MessageWithoutSession,
        Bug::KeyShownAfterRestore,
        Bug::RestoreWithTestGroup,
        Bug::StartOptionsDropped,
        Bug::ResumesNotPersisted,
    ];

    /// Issue 14's bugs, one per invariant of the wider presence surface (spec.md §10.2), measured
    /// by `conformance/tests/presence_surface_accuracy.rs` on worlds that reach those paths
    /// (agent starts, groups without presence, presence data, direct presence calls). Not in
    /// [`Bug::ALL`]: `tests/check_accuracy.rs`'s worlds never reach them.
    pub const PRESENCE_SURFACE: [Bug; 5] = [
        Bug::AgentStartIgnoresPolicy,
        Bug::DoubleConnectOnRestore,
        Bug::ConnectAfterNotConfigured,
        Bug::NoDataOnReconnect,
        Bug::SendFailNamesAgent,
    ];

    /// Every bug of the contract's invariants (those `tests/check_accuracy.rs` measures;
    /// issue 14's are [`Bug::PRESENCE_SURFACE`]).
    pub const ALL: [Bug; 26] = [
        Bug::TestGroupOnLogin,
        Bug::TestGroupOnLogout,
        Bug::TestGroupKept,
        Bug::ButtonBeforeInit,
        Bug::StartBeforeInit,
        Bug::PresenceAtLaunch,
        Bug::PresenceAfterLogout,
        Bug::TapStartsOneClick,
        Bug::TapIgnored,
        Bug::KeyNotShown,
        Bug::WrongKeyShown,
        Bug::KeyShownOneClick,
        Bug::VisitorIdShownAtStart,
        Bug::NoDisplayed,
        Bug::DoubleAnswer,
        Bug::StartsOnShowTerms,
        Bug::StartsAfterDecline,
        Bug::ReusesConsent,
        Bug::DoubleStart,
        Bug::DoubleConnected,
        Bug::DisconnectOnBackground,
        Bug::ConnectOnForeground,
        Bug::NoDisconnectOnLogout,
        Bug::NoDisconnectOnExit,
        Bug::DefaultUiOn,
        Bug::PresenceDefaultUiKept,
    ];

    /// The contract invariant the bug breaks.
    pub fn target(self) -> Invariant {
        match self {
            Bug::TestGroupOnLogin | Bug::TestGroupOnLogout | Bug::TestGroupKept => {
                Invariant::GroupStable
            }
            Bug::ButtonBeforeInit | Bug::StartBeforeInit => Invariant::InitFirst,
            Bug::PresenceAtLaunch | Bug::PresenceAfterLogout => Invariant::PresenceNeedsId,
            Bug::TapStartsOneClick | Bug::TapIgnored => Invariant::ManualRandom,
            Bug::KeyNotShown | Bug::WrongKeyShown => Invariant::KeyShownManual,
            Bug::KeyShownOneClick | Bug::VisitorIdShownAtStart => Invariant::KeyHiddenPresence,
            Bug::NoDisplayed | Bug::DoubleAnswer => Invariant::TermsOrder,
            Bug::StartsOnShowTerms | Bug::StartsAfterDecline | Bug::ReusesConsent => {
                Invariant::Consent
            }
            Bug::DoubleStart | Bug::DoubleConnected => Invariant::OneSession,
            Bug::DisconnectOnBackground | Bug::ConnectOnForeground => {
                Invariant::NoDisconnectOnBackground
            }
            Bug::NoDisconnectOnLogout | Bug::NoDisconnectOnExit => Invariant::DisconnectOnLogout,
            Bug::DefaultUiOn | Bug::PresenceDefaultUiKept => Invariant::CustomUi,
            Bug::AgentStartIgnoresPolicy => Invariant::ConsentPolicy,
            Bug::DoubleConnectOnRestore => Invariant::ConnectAttempts,
            Bug::ConnectAfterNotConfigured => Invariant::NotConfigured,
            Bug::NoDataOnReconnect => Invariant::PresenceData,
            Bug::SendFailNamesAgent => Invariant::SendFailRefuses,
            Bug::PauseWithoutSession => Invariant::PauseRunning,
            Bug::PausedNoticeKept => Invariant::PauseShown,
            Bug::MessageWithoutSession => Invariant::MessageInSession,
            Bug::KeyShownAfterRestore => Invariant::RestoreKeyHidden,
            Bug::RestoreWithTestGroup => Invariant::RestoreGroup,
            Bug::StartOptionsDropped => Invariant::StartOptions,
            Bug::ResumesNotPersisted => Invariant::Persist,
        }
    }

    /// Whether the bug needs an SDK core that accepts the bug's own calls (their refusals are
    /// taken out of the transcript).
    pub fn lenient_core(self) -> bool {
        matches!(
            self,
            Bug::TestGroupOnLogin
                | Bug::TestGroupOnLogout
                | Bug::StartBeforeInit
                | Bug::PresenceAtLaunch
                | Bug::PresenceAfterLogout
                | Bug::DoubleAnswer
                | Bug::DoubleStart
                | Bug::NoDisplayed
                | Bug::StartsOnShowTerms
                | Bug::StartsAfterDecline
                | Bug::ReusesConsent
                | Bug::ConnectAfterNotConfigured
        )
    }

    /// Calls of the controller's own that the bug's lenient core accepts too (besides the
    /// bug's own calls): the terms answers without `displayed`, one-click starts without
    /// consent.
    fn lenient_for(self, call: &ApiCall) -> bool {
        match self {
            Bug::NoDisplayed => matches!(
                terms_status(call),
                Some(TermsStatus::Accepted | TermsStatus::Declined)
            ),
            Bug::StartsOnShowTerms | Bug::StartsAfterDecline | Bug::ReusesConsent => matches!(
                call,
                ApiCall::StartSession(StartParams {
                    key: StartKey::VisitorId,
                    ..
                })
            ),
            _ => false,
        }
    }

    /// Plays `steps` with this bug: the transcript the buggy integration records.
    pub fn run(self, steps: &[Step]) -> Result<Vec<Record>, NotSettled> {
        let config = match steps.first() {
            Some(Step::Config(c)) => c.clone(),
            _ => ScenarioConfig::default(),
        };
        // the SDK core that takes every agent start: as if both sides had opted in
        let played = match self {
            Bug::AgentStartIgnoresPolicy => ScenarioConfig {
                consent_policy: ConsentPolicy::AgentMayStart,
                agent_start: true,
                ..config.clone()
            },
            _ => config.clone(),
        };
        let mut world = World::with_options(&played, WorldOptions::default());
        let mut app = BuggyApp::new(self);
        for (i, step) in steps.iter().enumerate() {
            world
                .apply_with(i, step, &mut app)
                .map_err(|e| e.not_settled())?;
        }
        let records = world.take_transcript();
        let records = app.rewrite_sdk(app.rewrite(records), steps, &config);
        Ok(session_extras(self, records, steps))
    }
}

/// The buggy app: what it has seen, and what it is about to add.
#[derive(Debug)]
struct BuggyApp {
    bug: Bug,
    /// The scenario line being played.
    step: Option<Step>,
    /// Records made so far.
    records: usize,
    /// The visitor id of the latest `init_visitor` call.
    visitor_id: Option<String>,
    /// `init_visitor` calls made.
    inits: usize,
    /// The customer accepted the terms once.
    accepted_before: bool,
    /// Outputs the app makes on its own, in order.
    queue: VecDeque<ControllerOutput>,
    /// `EventPresenceNotConfigured` came since the latest `init_visitor`.
    not_configured: bool,
    /// The next `api` record is the bug's own call.
    mark_next: bool,
    /// The output being handed on is the app's own (not the controller's): passed as is.
    extra: bool,
    /// Indices of the bug's own `api` records.
    marked: BTreeSet<usize>,
}

impl BuggyApp {
    fn new(bug: Bug) -> Self {
        BuggyApp {
            bug,
            step: None,
            records: 0,
            visitor_id: None,
            inits: 0,
            accepted_before: false,
            queue: VecDeque::new(),
            not_configured: false,
            mark_next: false,
            extra: false,
            marked: BTreeSet::new(),
        }
    }

    /// The transcript as the bug's SDK core would have written it, for the SDK cores of
    /// [`Bug::PRESENCE_SURFACE`]; `config` is the scenario's (the service's settings as the
    /// group has them).
    fn rewrite_sdk(
        &self,
        records: Vec<Record>,
        steps: &[Step],
        config: &ScenarioConfig,
    ) -> Vec<Record> {
        let mut out: Vec<Record> = Vec::with_capacity(records.len());
        let restored = |r: &Record| {
            matches!(
                steps.get(r.step),
                Some(Step::Network(NetworkChange::Restored))
            )
        };
        let code = |r: Option<&Record>| match r.map(|r| &r.observed) {
            Some(Observed::Event(e)) => Some(e.code().to_owned()),
            _ => None,
        };
        // the bound of the latest accepted `presence_connect` (0: forever)
        let mut bound = 0u32;
        for (i, r) in records.iter().enumerate() {
            if let Observed::Api(ApiCall::PresenceConnect { max_attempts }) = &r.observed {
                let refused = matches!(
                    records.get(i + 1).map(|n| &n.observed),
                    Some(Observed::Error(_))
                ) || code(records.get(i + 1))
                    .is_some_and(|c| c.starts_with("EventInvalid"));
                if !refused {
                    bound = u32::try_from(*max_attempts).unwrap_or(0);
                }
            }
            match (self.bug, &r.observed) {
                // the service's settings as the group has them
                (Bug::AgentStartIgnoresPolicy, Observed::Recv(f)) => {
                    if let Some(ServerFrame::Settings { v, key_length, .. }) = f.typed() {
                        out.push(Record {
                            step: r.step,
                            observed: Observed::Recv(WireFrame::Typed(ServerFrame::Settings {
                                v: *v,
                                key_length: *key_length,
                                agent_start: config.agent_start,
                            })),
                        });
                        continue;
                    }
                }
                (Bug::DoubleConnectOnRestore, Observed::Send(f))
                    if f.frame_type() == Some("presence_connect") && restored(r) =>
                {
                    for _ in 0..bound {
                        out.push(r.clone());
                    }
                }
                (Bug::NoDataOnReconnect, Observed::Send(f))
                    if f.frame_type() == Some("presence_data")
                        && code(records.get(i + 1)).as_deref()
                            == Some("EventPresenceConnected") =>
                {
                    continue;
                }
                (
                    Bug::SendFailNamesAgent,
                    Observed::Event(EventRecord::Typed(Event::PresenceSendFail { code, .. })),
                ) => {
                    out.push(Record {
                        step: r.step,
                        observed: Observed::Event(EventRecord::Typed(Event::PresenceSendFail {
                            call: CallName::PresenceSignalAgent,
                            code: *code,
                        })),
                    });
                    continue;
                }
                _ => {}
            }
            out.push(r.clone());
        }
        out
    }

    fn in_step(&self, intent: &UserIntent) -> bool {
        matches!(&self.step, Some(Step::User(u)) if std::mem::discriminant(u) == std::mem::discriminant(intent))
    }

    /// Makes `call` the bug's own: queued, made when the controller has nothing to hand on,
    /// and marked (its refusal is what a lenient core would not write).
    fn own(&mut self, call: ApiCall) {
        self.queue.push_back(ControllerOutput::Call(call));
    }

    /// The transcript as the bug's SDK core would have written it.
    fn rewrite(&self, records: Vec<Record>) -> Vec<Record> {
        let mut out = Vec::with_capacity(records.len());
        let mut drop_refusal = false;
        for (i, r) in records.into_iter().enumerate() {
            let refusal = match &r.observed {
                Observed::Error(_) => true,
                Observed::Event(e) => {
                    e.code() == "EventInvalidState" || e.code() == "EventInvalidParameter"
                }
                _ => false,
            };
            if drop_refusal && refusal {
                continue;
            }
            drop_refusal = self.bug.lenient_core() && self.marked.contains(&i);
            let doubled = self.bug == Bug::DoubleConnected
                && matches!(&r.observed, Observed::Event(e) if e.code() == "EventConnectedToSession");
            if doubled {
                out.push(r.clone());
            }
            out.push(r);
        }
        out
    }
}

/// The transcript as the integrations of [`Bug::SESSION_EXTRAS`] would have written it.
fn session_extras(bug: Bug, records: Vec<Record>, steps: &[Step]) -> Vec<Record> {
    let mut out: Vec<Record> = Vec::with_capacity(records.len());
    // the running session's key and whether it is one-click
    let mut session: Option<(String, bool)> = None;
    // the latest accepted start's `persist`; the session running now was started so, and
    // is not ending (no accepted `end_session`)
    let mut persist = true;
    let mut session_persist = true;
    let mut ending = false;
    let mut skip_refusal = false;
    for r in records {
        if let Observed::Api(ApiCall::StartSession(p)) = &r.observed {
            persist = p.options.persist;
        }
        if let Observed::Api(ApiCall::EndSession) = &r.observed {
            ending = session.is_some();
        }
        let step = steps.get(r.step);
        let refusal = match &r.observed {
            Observed::Error(_) => true,
            Observed::Event(e) => e.code() == "EventInvalidState",
            _ => false,
        };
        if skip_refusal && refusal {
            continue;
        }
        skip_refusal = false;
        if let Observed::Event(EventRecord::Typed(e)) = &r.observed {
            match e {
                Event::ConnectedToSession {
                    sessionkey,
                    keytype,
                } => {
                    session = Some((sessionkey.clone(), *keytype == KeyType::VisitorId));
                    session_persist = persist;
                    ending = false;
                }
                Event::SessionEnded { .. } => {
                    session = None;
                    ending = false;
                }
                _ => {}
            }
        }
        match (bug, &r.observed, step) {
            // the lenient core: the pause's refusal is not written, the frame is sent
            (Bug::PauseWithoutSession, Observed::Api(ApiCall::Pause { paused }), _)
                if session.is_none() =>
            {
                out.push(r.clone());
                out.push(Record {
                    step: r.step,
                    observed: Observed::Send(WireFrame::Typed(ClientFrame::Pause {
                        paused: *paused,
                    })),
                });
                skip_refusal = true;
                continue;
            }
            (
                Bug::PausedNoticeKept,
                Observed::Ui(UiDirective::Hide {
                    element: UiElement::SessionPaused,
                }),
                _,
            ) => continue,
            // the service relays a late message and the core hands it on
            (
                Bug::MessageWithoutSession,
                Observed::Error(_),
                Some(Step::AgentMessage { name, map }),
            ) => {
                out.push(Record {
                    step: r.step,
                    observed: Observed::Recv(WireFrame::Typed(ServerFrame::UserMessage {
                        name: name.clone(),
                        map: map.clone(),
                    })),
                });
                out.push(Record {
                    step: r.step,
                    observed: Observed::Event(EventRecord::Typed(Event::MessageReceived {
                        name: name.clone(),
                        map: map.clone(),
                    })),
                });
                continue;
            }
            (
                Bug::KeyShownAfterRestore,
                Observed::Ui(UiDirective::Show {
                    element: UiElement::SessionIndicator,
                    ..
                }),
                Some(Step::Relaunch { .. }),
            ) => {
                out.push(r.clone());
                if let Some((key, true)) = &session {
                    out.push(Record {
                        step: r.step,
                        observed: Observed::Ui(UiDirective::Show {
                            element: UiElement::SessionKey,
                            key: Some(key.clone()),
                        }),
                    });
                }
                continue;
            }
            (Bug::StartOptionsDropped, Observed::Send(f), _) => {
                if let Some(ClientFrame::StartSession { key, .. }) = f.typed() {
                    out.push(Record {
                        step: r.step,
                        observed: Observed::Send(WireFrame::Typed(ClientFrame::StartSession {
                            key: key.clone(),
                            max_guests: None,
                            paused: false,
                        })),
                    });
                    continue;
                }
            }
            // the restored core resumes the session (its end is never sent)
            (Bug::ResumesNotPersisted, Observed::Send(f), Some(Step::Relaunch { .. }))
                if !session_persist && !ending =>
            {
                if let (Some(ClientFrame::EndSession {}), Some((key, _))) = (f.typed(), &session) {
                    out.push(Record {
                        step: r.step,
                        observed: Observed::Send(WireFrame::Typed(ClientFrame::ResumeSession {
                            sessionkey: key.clone(),
                        })),
                    });
                    continue;
                }
            }
            (Bug::RestoreWithTestGroup, Observed::Send(f), Some(Step::Relaunch { .. })) => {
                if let Some(ClientFrame::Init { .. }) = f.typed() {
                    let mut frame = f.typed().cloned();
                    if let Some(ClientFrame::Init { group_id, .. }) = &mut frame {
                        *group_id = TEST_GROUP_ID;
                    }
                    if let Some(frame) = frame {
                        out.push(Record {
                            step: r.step,
                            observed: Observed::Send(WireFrame::Typed(frame)),
                        });
                        continue;
                    }
                }
            }
            _ => {}
        }
        out.push(r);
    }
    out
}

fn terms_status(call: &ApiCall) -> Option<TermsStatus> {
    match call {
        ApiCall::PresenceSignalAgent { event, map } if event == TERMS_EVENT => {
            map.get("status").and_then(|s| TermsStatus::parse(s))
        }
        _ => None,
    }
}

fn start(key: StartKey) -> ApiCall {
    ApiCall::start_session(key)
}

impl Hooks for BuggyApp {
    type Stop = Infallible;

    fn line(&mut self, _index: usize, step: &Step) -> Result<(), Infallible> {
        self.step = Some(step.clone());
        let logged_in = self.visitor_id.is_some();
        match (self.bug, step) {
            (Bug::DisconnectOnBackground, Step::Lifecycle(Lifecycle::Background)) if logged_in => {
                self.own(ApiCall::PresenceDisconnect);
            }
            (Bug::ConnectOnForeground, Step::Lifecycle(Lifecycle::Foreground)) if logged_in => {
                self.own(ApiCall::presence_connect());
            }
            (Bug::ConnectAfterNotConfigured, Step::Lifecycle(Lifecycle::Foreground))
                if logged_in && self.not_configured =>
            {
                self.own(ApiCall::presence_connect());
            }
            _ => {}
        }
        Ok(())
    }

    fn record(&mut self, record: &Record) -> Result<(), Infallible> {
        let index = self.records;
        self.records = self.records.saturating_add(1);
        match &record.observed {
            Observed::Api(call) => {
                if std::mem::take(&mut self.mark_next) || self.bug.lenient_for(call) {
                    self.marked.insert(index);
                }
                if let ApiCall::InitVisitor(p) = call {
                    self.visitor_id = p.visitor_id.clone();
                    self.inits = self.inits.saturating_add(1);
                    self.not_configured = false;
                }
                if terms_status(call) == Some(TermsStatus::Accepted) {
                    self.accepted_before = true;
                }
            }
            Observed::Event(e) if e.code() == "EventPresenceNotConfigured" => {
                self.not_configured = true;
            }
            Observed::Event(e) => match (self.bug, e.code()) {
                (Bug::KeyShownOneClick, "EventConnectedToSession") => {
                    let key = e.prop("sessionkey").map(|k| k.into_owned());
                    if key.is_some() && key == self.visitor_id {
                        self.queue
                            .push_back(ControllerOutput::Ui(UiDirective::Show {
                                element: UiElement::SessionKey,
                                key,
                            }));
                    }
                }
                (Bug::StartsOnShowTerms, "EventPresenceShowTerms") => {
                    self.own(start(StartKey::VisitorId));
                }
                (Bug::ReusesConsent, "EventPresenceShowTerms") if self.accepted_before => {
                    self.own(start(StartKey::VisitorId));
                }
                _ => {}
            },
            _ => {}
        }
        Ok(())
    }

    fn app(&mut self, out: ControllerOutput) -> Vec<ControllerOutput> {
        if std::mem::take(&mut self.extra) {
            return vec![out];
        }
        let first_init = self.inits == 0;
        let ControllerOutput::Call(call) = out else {
            let ControllerOutput::Ui(ui) = out else {
                return Vec::new();
            };
            return match (self.bug, ui) {
                (
                    Bug::KeyNotShown,
                    UiDirective::Show {
                        element: UiElement::SessionKey,
                        ..
                    },
                ) => Vec::new(),
                (
                    Bug::WrongKeyShown,
                    UiDirective::Show {
                        element: UiElement::SessionKey,
                        key: Some(k),
                    },
                ) => vec![ControllerOutput::Ui(UiDirective::Show {
                    element: UiElement::SessionKey,
                    key: Some(format!("0{k}")),
                })],
                (_, ui) => vec![ControllerOutput::Ui(ui)],
            };
        };
        let keep = ControllerOutput::Call(call.clone());
        match (self.bug, call) {
            (Bug::TestGroupOnLogin, ApiCall::InitVisitor(p)) if p.visitor_id.is_some() => {
                self.own(ApiCall::InitVisitor(InitParams {
                    group_id: TEST_GROUP_ID,
                    ..p
                }));
                Vec::new()
            }
            (Bug::TestGroupOnLogout, ApiCall::InitVisitor(p))
                if p.visitor_id.is_none() && !first_init =>
            {
                self.own(ApiCall::InitVisitor(InitParams {
                    group_id: TEST_GROUP_ID,
                    ..p
                }));
                Vec::new()
            }
            (Bug::TestGroupKept, ApiCall::InitVisitor(p)) => {
                vec![ControllerOutput::Call(ApiCall::InitVisitor(InitParams {
                    group_id: TEST_GROUP_ID,
                    ..p
                }))]
            }
            (Bug::ButtonBeforeInit, ApiCall::InitVisitor(_)) if first_init => vec![
                keep,
                ControllerOutput::Ui(UiDirective::Show {
                    element: UiElement::CobrowseButton,
                    key: None,
                }),
            ],
            (Bug::StartBeforeInit, ApiCall::InitVisitor(_)) if first_init => {
                self.own(start(StartKey::Random));
                vec![keep]
            }
            (Bug::PresenceAtLaunch, ApiCall::InitVisitor(_)) if first_init => {
                self.own(ApiCall::presence_connect());
                vec![keep]
            }
            (Bug::PresenceAfterLogout, ApiCall::InitVisitor(p))
                if p.visitor_id.is_none() && !first_init =>
            {
                self.own(ApiCall::presence_connect());
                vec![keep]
            }
            (
                Bug::TapStartsOneClick,
                ApiCall::StartSession(StartParams {
                    key: StartKey::Random,
                    ..
                }),
            ) if self.in_step(&UserIntent::TapCobrowse) => {
                vec![ControllerOutput::Call(start(StartKey::VisitorId))]
            }
            (
                Bug::TapIgnored,
                ApiCall::StartSession(StartParams {
                    key: StartKey::Random,
                    ..
                }),
            ) if self.in_step(&UserIntent::TapCobrowse) => Vec::new(),
            (
                Bug::VisitorIdShownAtStart,
                ApiCall::StartSession(StartParams {
                    key: StartKey::VisitorId,
                    ..
                }),
            ) if self.visitor_id.is_some() => {
                vec![
                    keep,
                    ControllerOutput::Ui(UiDirective::Show {
                        element: UiElement::SessionKey,
                        key: self.visitor_id.clone(),
                    }),
                ]
            }
            (Bug::NoDisplayed, c) if terms_status(&c) == Some(TermsStatus::Displayed) => Vec::new(),
            (Bug::DoubleAnswer, c)
                if matches!(
                    terms_status(&c),
                    Some(TermsStatus::Accepted | TermsStatus::Declined)
                ) =>
            {
                self.own(c);
                vec![keep]
            }
            (Bug::StartsAfterDecline, c) if terms_status(&c) == Some(TermsStatus::Declined) => {
                self.own(start(StartKey::VisitorId));
                vec![keep]
            }
            (Bug::DoubleStart, c @ ApiCall::StartSession(_)) => {
                self.own(c);
                vec![keep]
            }
            (Bug::NoDisconnectOnLogout, ApiCall::PresenceDisconnect)
                if self.in_step(&UserIntent::Logout) =>
            {
                Vec::new()
            }
            (Bug::NoDisconnectOnExit, ApiCall::PresenceDisconnect)
                if self.in_step(&UserIntent::Exit) =>
            {
                Vec::new()
            }
            (Bug::DefaultUiOn, ApiCall::SetDefaultUi { enabled: false }) => {
                vec![ControllerOutput::Call(ApiCall::SetDefaultUi {
                    enabled: true,
                })]
            }
            (Bug::PresenceDefaultUiKept, ApiCall::PresenceSetDefaultUi { enabled: false }) => {
                Vec::new()
            }
            _ => vec![keep],
        }
    }

    fn app_extra(&mut self) -> Option<ControllerOutput> {
        let out = self.queue.pop_front()?;
        self.extra = true;
        self.mark_next = matches!(out, ControllerOutput::Call(_));
        Some(out)
    }
}
