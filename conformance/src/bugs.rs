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
use crate::transcript::{Observed, Record, ScenarioConfig, Step};
use cobrowse_visitor_core::{
    ApiCall, ControllerOutput, InitParams, Lifecycle, StartKey, TermsStatus, UiDirective,
    UiElement, UserIntent, TERMS_EVENT,
};
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
}

impl Bug {
    /// Every bug.
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
                ApiCall::StartSession {
                    key: StartKey::VisitorId
                }
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
        let mut world = World::with_options(&config, WorldOptions::default());
        let mut app = BuggyApp::new(self);
        for (i, step) in steps.iter().enumerate() {
            world
                .apply_with(i, step, &mut app)
                .map_err(|e| e.not_settled())?;
        }
        let records = world.take_transcript();
        Ok(app.rewrite(records))
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
            mark_next: false,
            extra: false,
            marked: BTreeSet::new(),
        }
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

fn terms_status(call: &ApiCall) -> Option<TermsStatus> {
    match call {
        ApiCall::PresenceSignalAgent { event, map } if event == TERMS_EVENT => {
            map.get("status").and_then(|s| TermsStatus::parse(s))
        }
        _ => None,
    }
}

fn start(key: StartKey) -> ApiCall {
    ApiCall::StartSession { key }
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
                }
                if terms_status(call) == Some(TermsStatus::Accepted) {
                    self.accepted_before = true;
                }
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
                ApiCall::StartSession {
                    key: StartKey::Random,
                },
            ) if self.in_step(&UserIntent::TapCobrowse) => {
                vec![ControllerOutput::Call(start(StartKey::VisitorId))]
            }
            (
                Bug::TapIgnored,
                ApiCall::StartSession {
                    key: StartKey::Random,
                },
            ) if self.in_step(&UserIntent::TapCobrowse) => Vec::new(),
            (
                Bug::VisitorIdShownAtStart,
                ApiCall::StartSession {
                    key: StartKey::VisitorId,
                },
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
            (Bug::DoubleStart, c @ ApiCall::StartSession { .. }) => {
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
