//! The systems under test: the crate's machines, seen through the model's eyes.
//!
//! Projections turn the crate's state types into the model's (so that the two can be compared
//! with `==`), and the harnesses drive the real [`World`], [`Sdk`] and [`Controller`] with the
//! same inputs as the model, checking after every input that they agree and that the one
//! invariant oracle ([`cobrowse_visitor_conformance::oracle`]) finds nothing.

use super::reference::{
    CApp, CIdentity, COrigin, CPhase, CPresence, CSession, MConfig, MCtl, MPhase, MPresence,
    MReady, MRequest, MSdk, MServer, MSession, MSrvSession, MTerms, MWorld, T,
};
pub use cobrowse_visitor_conformance::oracle::GroupChoice;
use cobrowse_visitor_conformance::oracle::{machine, Invariant, Oracle, Violation};
use cobrowse_visitor_conformance::sim::{DriveError, FedKind, Hooks, SdkFed, Server, World};
use cobrowse_visitor_conformance::transcript::{Observed, Record, Step};
use cobrowse_visitor_core::Timer;
use cobrowse_visitor_core::{
    AppVisibility, KeyRequest, Link, Lookup, Phase, Presence, Session, State, Terms,
};
use cobrowse_visitor_core::{Controller, ControllerError, Output, Sdk};
use cobrowse_visitor_core::{ControllerState, Identity, Origin, PresenceView, SessionView};
use serde_json::Value;

// ---- projections ------------------------------------------------------------------------------

fn timer(t: Timer) -> T {
    match t {
        Timer::InitLookup => T::InitLookup,
        Timer::SessionStart => T::SessionStart,
        Timer::SessionEnd => T::SessionEnd,
        Timer::SessionGrace => T::SessionGrace,
        Timer::PresenceConnect => T::PresenceConnect,
        Timer::PresenceRetry => T::PresenceRetry,
        Timer::PresenceSuspend => T::PresenceSuspend,
        Timer::Reconnect => T::Reconnect,
    }
}

/// The crate's SDK state as the model's, for a core with the default configuration.
pub fn sdk_state(s: &State) -> MSdk {
    sdk_state_with(s, MConfig::default())
}

/// The crate's SDK state as the model's, for a core configured as `cfg` (the state does not
/// carry the configuration; the harness knows it).
pub fn sdk_state_with(s: &State, cfg: MConfig) -> MSdk {
    let phase = match &s.phase {
        Phase::Uninitialized => MPhase::Uninitialized,
        Phase::Initializing { visitor } => MPhase::Initializing(visitor.clone()),
        Phase::Terminated => MPhase::Terminated,
        Phase::Ready(r) => MPhase::Ready(MReady {
            visitor: r.visitor.clone(),
            key_length: r.settings.key_length,
            loaded: r.settings.loaded,
            lookup_pending: r.lookup == Lookup::Pending,
            reattaching: r.lookup == Lookup::Reattaching,
            session: match &r.session {
                Session::Idle => MSession::Idle,
                Session::Starting { request, options } => MSession::Starting(
                    match request {
                        KeyRequest::Random => MRequest::Random,
                        KeyRequest::VisitorId(k) => MRequest::VisitorId(k.clone()),
                        KeyRequest::Custom(k) => MRequest::Custom(k.clone()),
                    },
                    *options,
                ),
                Session::Running {
                    key,
                    keytype,
                    guests,
                    paused,
                    user_state,
                    persist,
                } => MSession::Running {
                    key: key.clone(),
                    keytype: *keytype,
                    guests: *guests,
                    paused: *paused,
                    user_state: user_state.clone(),
                    persist: *persist,
                },
                Session::Ending { keytype } => MSession::Ending(*keytype),
            },
            presence: match &r.presence {
                Presence::Off => MPresence::Off,
                Presence::AwaitingLink => MPresence::AwaitingLink,
                Presence::Connecting { attempt } => MPresence::Connecting(*attempt),
                Presence::RetryWait { attempt } => MPresence::RetryWait(*attempt),
                Presence::Connected { terms } => MPresence::Connected(match terms {
                    Terms::None => MTerms::None,
                    Terms::Shown { request_id } => MTerms::Shown(*request_id),
                    Terms::Displayed { request_id } => MTerms::Displayed(*request_id),
                    Terms::Accepted { request_id } => MTerms::Accepted(*request_id),
                    Terms::AgentStart { request_id } => MTerms::AgentStart(*request_id),
                }),
                Presence::Blurred => MPresence::Blurred,
                Presence::Suspended => MPresence::Suspended,
                Presence::NotConfigured => MPresence::NotConfigured,
            },
            agent_start: r.settings.agent_start,
            max_attempts: r.max_attempts,
            presence_data: r.presence_data.clone(),
        }),
    };
    MSdk {
        phase,
        link_down: match s.link {
            Link::Up => None,
            Link::Down { attempt } => Some(attempt),
        },
        background: s.app == AppVisibility::Background,
        default_ui: s.default_ui,
        presence_default_ui: s.presence_default_ui,
        timers: s
            .timers
            .armed()
            .map(|(t, at)| (timer(t), at.as_millis()))
            .collect(),
        now: s.now.as_millis(),
        cfg,
    }
}

fn origin(o: Origin) -> COrigin {
    match o {
        Origin::Manual => COrigin::Manual,
        Origin::OneClick => COrigin::OneClick,
        Origin::External(k) => COrigin::External(k),
    }
}

/// The crate's controller as the model's.
pub fn ctl_state(c: &Controller) -> MCtl {
    let phase = match c.state() {
        ControllerState::NotLaunched => CPhase::NotLaunched,
        ControllerState::Exited => CPhase::Exited,
        ControllerState::Running(a) => CPhase::Running(CApp {
            initialized: a.initialized,
            identity: match &a.identity {
                Identity::Anonymous => CIdentity::Anonymous,
                Identity::LoggingIn(id) => CIdentity::LoggingIn(id.clone()),
                Identity::LoggedIn(id) => CIdentity::LoggedIn(id.clone()),
            },
            presence: match a.presence {
                PresenceView::Off => CPresence::Off,
                PresenceView::Connecting => CPresence::Connecting,
                PresenceView::Connected => CPresence::Connected,
                PresenceView::NotConfigured => CPresence::NotConfigured,
            },
            session: match a.session {
                SessionView::None => CSession::None,
                SessionView::Starting(o) => CSession::Starting(origin(o)),
                SessionView::Running(o) => CSession::Running(origin(o)),
                SessionView::Ending {
                    origin: o,
                    connected,
                } => CSession::Ending(origin(o), connected),
            },
            terms_shown: a.terms_shown,
            button_shown: a.button_shown,
            presence_data: a.presence_data.clone(),
            paused: a.paused,
            user_state: a.user_state.clone(),
        }),
    };
    MCtl {
        phase,
        group_id: c.config().group_id,
        custom_ui: c.config().custom_ui,
        limits: c.config().limits,
        start: c.config().start,
    }
}

/// The simulated server as the model's (queued frames and the key counter are not compared).
pub fn server_state(s: &Server, model: &MServer) -> MServer {
    MServer {
        group_id: model.group_id,
        visitor_id: s.visitor_id().map(str::to_owned),
        // the session the visitor is in (none while a new connection has not taken up the one
        // its last connection left, §13); what the visitor was told, the key its start asked
        // for and whether its answer reached it are not getters of the server: the model's own
        session: s.session().map(|(key, guests)| {
            let m = model.session.as_ref();
            MSrvSession {
                key: key.to_owned(),
                guests,
                told: m.map_or(0, |m| m.told),
                paused: s.paused(),
                user_state: s.user_state().cloned().unwrap_or_default(),
                asked: m.and_then(|m| m.asked.clone()),
                answered: m.is_some_and(|m| m.answered),
                left: m.is_some_and(|m| m.left),
                max_guests: s.max_guests(),
            }
        }),
        presence: s.presence(),
        last_request: s.last_request(),
        offline_since: s.offline_since().map(|i| i.as_millis()),
        keys_issued: model.keys_issued,
        announced: s.announced().map(|a| a.map(str::to_owned)),
        awaiting_claim: s.awaiting_claim(),
        ended_offline: model.ended_offline.clone(),
        out: model.out.clone(),
        // the group's settings are the model's (the config); the data is the server's getter
        agent_start: model.agent_start,
        presence_enabled: model.presence_enabled,
        presence_unavailable: s.presence_unavailable(),
        presence_data: s.presence_data().clone(),
        // the pending request is not a getter of the server: the model's own
        request: model.request,
        user_messages: s.user_messages().to_vec(),
    }
}

// ---- normalisation: the server's random keys --------------------------------------------------

/// A random session key (`SIM_KEY_LENGTH` digits from the simulated server): the model cannot
/// know the seed's digits, so every such key compares as `####`.
pub fn is_random_key(k: &str) -> bool {
    k.len() == usize::from(cobrowse_visitor_conformance::sim::SIM_KEY_LENGTH)
        && k.bytes().all(|b| b.is_ascii_digit())
}

fn norm_key(k: &mut String) {
    if is_random_key(k) {
        *k = "####".into();
    }
}

pub fn norm_sdk(mut m: MSdk) -> MSdk {
    if let MPhase::Ready(r) = &mut m.phase {
        if let MSession::Running { key, .. } = &mut r.session {
            norm_key(key);
        }
    }
    m
}

pub fn norm_server(mut s: MServer) -> MServer {
    // the session the visitor is in: the real server shows no other (§13)
    if s.awaiting_claim {
        s.session = None;
    }
    if let Some(sess) = &mut s.session {
        norm_key(&mut sess.key);
    }
    s.keys_issued = 0;
    s.out.clear();
    s
}

fn norm_json(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                match x {
                    Value::String(s) if (k == "sessionkey" || k == "key") && is_random_key(s) => {
                        *s = "####".into()
                    }
                    // error messages are prose; only the code is compared
                    Value::String(s) if k == "message" => s.clear(),
                    _ => norm_json(x),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(norm_json),
        _ => {}
    }
}

/// A transcript record's observation as comparable JSON.
pub fn norm_observed(o: &Observed) -> Value {
    let mut v = serde_json::to_value(o).expect("records serialize");
    norm_json(&mut v);
    v
}

// ---- the oracle, streaming --------------------------------------------------------------------

/// Invariants that are the integration's duties, not the SDK's: a trace with direct `api` steps
/// (the app bypassing the controller) may break them by design; raw SDK traces have no UI.
pub const APP_DUTIES: [Invariant; 6] = [
    Invariant::CustomUi,
    Invariant::DisconnectOnLogout,
    Invariant::NoDisconnectOnBackground,
    Invariant::ManualRandom,
    Invariant::KeyShownManual,
    Invariant::KeyHiddenPresence,
];

/// The streaming oracle over a trace with its scenario lines interleaved.
#[derive(Clone, Debug, Default)]
pub struct TraceCheck {
    oracle: Oracle,
    /// The group the app chose with direct `api` steps ([`GroupChoice`]).
    group_choice: GroupChoice,
    line: usize,
    /// Direct `api` steps were seen, or the trace is a raw SDK trace: the integration's duties
    /// are not judged.
    pub api_steps: bool,
    /// The lines (1-based, inclusive ranges) of steps that feed the core inputs no record
    /// shows: `exit` (the host's `Terminate`) and `advance_ms` (timers).
    hidden_inputs: Vec<(usize, usize)>,
}

impl TraceCheck {
    /// A check for a raw SDK trace (no controller, no UI).
    pub fn raw() -> Self {
        TraceCheck {
            api_steps: true,
            ..TraceCheck::default()
        }
    }

    pub fn step(&mut self, step: &Step) {
        self.line += 1;
        self.api_steps |= matches!(step, Step::Api(_));
        self.oracle.observe_step(self.line, step);
        self.group_choice.observe_step(step);
        if matches!(
            step,
            Step::User(cobrowse_visitor_core::UserIntent::Exit) | Step::AdvanceMs(_)
        ) {
            self.hidden_inputs.push((self.line, usize::MAX));
        } else if let Some(last) = self.hidden_inputs.last_mut() {
            if last.1 == usize::MAX {
                last.1 = self.line - 1;
            }
        }
    }

    pub fn record(&mut self, r: &Record) {
        self.line += 1;
        self.oracle.observe_record(self.line, r);
        self.group_choice.observe_record(self.line, r);
    }

    /// The line of the last step or record observed.
    pub fn line(&self) -> usize {
        self.line
    }

    /// A refusal followed, in the same step, by a send that an input without a record caused
    /// (the host's `Terminate` after `exit`, a later timer of an `advance_ms`): the transcript
    /// cannot tell them apart, so with direct `api` steps (the only way a refusal happens in
    /// a simulated trace, INV-CONTROLLER-CALLS-ACCEPTED) the oracle's INV-REFUSED-NO-EFFECT is
    /// not judged there. The raw SDK test, where every input is its own step, judges it.
    fn hidden_cause(&self, v: &Violation) -> bool {
        self.api_steps
            && v.invariant == Invariant::RefusedNoEffect
            && self
                .hidden_inputs
                .iter()
                .any(|(from, to)| (*from..=*to).contains(&v.line))
    }

    /// Every violation so far, including what the end of the trace would judge now, minus the
    /// integration's duties when `api` steps bypassed the integration, and minus the group the
    /// app chose itself with them ([`GroupChoice`]).
    pub fn violations(&self) -> Vec<Violation> {
        let api = self.api_steps;
        self.oracle
            .clone()
            .finish()
            .into_iter()
            .filter(|v| {
                let duty = api && APP_DUTIES.contains(&v.invariant);
                let chosen = api && self.group_choice.excused(v);
                !(duty || chosen || self.hidden_cause(v))
            })
            .collect()
    }
}

/// Scenario lines as the contract's JSON Lines.
pub fn jsonl(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| s.to_json().to_string() + "\n")
        .collect()
}

// ---- the world harness ------------------------------------------------------------------------

/// The real world, checked against the model after every step.
pub struct WorldSut {
    pub world: World,
    pub check: TraceCheck,
    fed: usize,
}

/// The machine-level checks of every input the world's driver feeds: a refused SDK or
/// controller input leaves the state as it was, and no timer wakes early.
#[derive(Default)]
struct MachineChecks {
    sdk_before: Option<State>,
    ctl_before: Option<ControllerState>,
}

impl Hooks for MachineChecks {
    type Stop = Violation;

    fn before_sdk_input(&mut self, sdk: &Sdk) {
        self.sdk_before = Some(sdk.state().clone());
    }

    fn sdk_input(&mut self, fed: SdkFed<'_>) -> Result<(), Violation> {
        let Some(before) = self.sdk_before.take() else {
            return Ok(());
        };
        let after = fed.sdk.state();
        if let Some(v) = machine::refused_unchanged(&before, after, fed.result) {
            return Err(v);
        }
        if fed.kind == FedKind::Timeout {
            if let Some(v) = machine::timer_not_early(&before, fed.at, after, fed.outputs) {
                return Err(v);
            }
        }
        Ok(())
    }

    fn before_user(&mut self, controller: &Controller) {
        self.ctl_before = Some(controller.state().clone());
    }

    fn user(
        &mut self,
        controller: &Controller,
        result: &Result<(), ControllerError>,
    ) -> Result<(), Violation> {
        match self.ctl_before.take() {
            Some(before) => {
                match machine::controller_refused_unchanged(&before, controller.state(), result) {
                    Some(v) => Err(v),
                    None => Ok(()),
                }
            }
            None => Ok(()),
        }
    }
}

impl WorldSut {
    pub fn new(steps: &[Step]) -> Self {
        let config = match steps.first() {
            Some(Step::Config(c)) => c.clone(),
            _ => Default::default(),
        };
        let mut sut = WorldSut {
            world: World::new(&config),
            check: TraceCheck::default(),
            fed: 0,
        };
        if let Some(first @ Step::Config(_)) = steps.first() {
            if let Err(e) = sut
                .world
                .apply_with(0, first, &mut MachineChecks::default())
            {
                panic!("the config line: {e}");
            }
            sut.check.step(first);
        }
        sut
    }

    /// Plays the model's last step on the real world and compares; `steps` is the scenario
    /// so far (for the failure message), `model` the model after the step.
    pub fn step(&mut self, steps: &[Step], model: &MWorld) {
        let index = steps.len() - 1;
        let step = &steps[index];
        let fail = |what: String| -> ! {
            panic!(
                "{what}\n-- scenario so far (contract JSON Lines):\n{}",
                jsonl(steps)
            )
        };
        match self
            .world
            .apply_with(index, step, &mut MachineChecks::default())
        {
            Ok(()) => {}
            Err(DriveError::Stopped(v)) => fail(format!("step {index}: {v}")),
            Err(DriveError::NotSettled(e)) => fail(e.to_string()),
        }
        self.check.step(step);
        let records = &self.world.transcript()[self.fed..];
        self.fed = self.world.transcript().len();
        for r in records {
            if r.step != index {
                fail(format!("record {r:?} carries step {}, not {index}", r.step));
            }
            self.check.record(r);
        }
        if let Err(why) = compare(&self.world, records, model) {
            fail(format!("step {index} {}: {why}", step.to_json()));
        }
        let v = self.check.violations();
        if !v.is_empty() {
            let list: String = v.iter().map(|v| format!("  {v}\n")).collect();
            fail(format!(
                "step {index}: the oracle found violations:\n{list}"
            ));
        }
    }
}

/// Compares a settled world and the records of its last step with the model's.
pub fn compare(world: &World, records: &[Record], model: &MWorld) -> Result<(), String> {
    let got: Vec<Value> = records.iter().map(|r| norm_observed(&r.observed)).collect();
    let want: Vec<Value> = model.records.iter().map(norm_observed).collect();
    if got != want {
        let show = |v: &[Value]| v.iter().map(|x| format!("  {x}\n")).collect::<String>();
        return Err(format!(
            "the records differ from the model's\n-- real:\n{}-- model:\n{}",
            show(&got),
            show(&want)
        ));
    }
    let sdk = norm_sdk(sdk_state(world.sdk().state()));
    if sdk != norm_sdk(model.sdk.clone()) {
        return Err(format!(
            "SDK state differs\n-- real:  {sdk:?}\n-- model: {:?}",
            model.sdk
        ));
    }
    let ctl = ctl_state(world.controller());
    if ctl != model.ctl {
        return Err(format!(
            "controller state differs\n-- real:  {ctl:?}\n-- model: {:?}",
            model.ctl
        ));
    }
    let server = norm_server(server_state(world.server(), &model.server));
    if server != norm_server(model.server.clone()) {
        return Err(format!(
            "server state differs\n-- real:  {server:?}\n-- model: {:?}",
            model.server
        ));
    }
    if world.now().as_millis() != model.now || world.network_up() != model.network_up {
        return Err("clock or network differs".into());
    }
    Ok(())
}

/// What one raw SDK input did on the real core.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdkEffect {
    pub result: Result<(), &'static str>,
    pub out: Vec<Output>,
    pub rows: Vec<&'static str>,
}
