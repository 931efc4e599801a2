//! The simulated world: a Glance-like server and an agent around the two machines, driven by
//! contract scenarios, writing contract transcripts. Deterministic from the scenario's `seed`;
//! time moves only by `advance_ms`.
//!
//! After each step the world settles (contract, "Scenario"): every frame in flight is
//! delivered, every event and call is handed on, every timer due at the current time fires,
//! until nothing moves.

use crate::transcript::{
    AgentAction, ErrorRecord, EventRecord, Observed, Record, ScenarioConfig, Step,
};
use cobrowse_visitor_core::ApiCall;
use cobrowse_visitor_core::Instant;
use cobrowse_visitor_core::{ClientFrame, ServerFrame, PROTOCOL_VERSION};
use cobrowse_visitor_core::{Controller, ControllerConfig, ControllerOutput};
use cobrowse_visitor_core::{Input, Lifecycle, NetworkChange, Output, Sdk, SdkConfig};
use std::collections::VecDeque;
use std::time::Duration;

/// Digits in the simulated group's random keys.
pub const SIM_KEY_LENGTH: u8 = 4;

/// Most moves one settle makes before it stops (a guard; a settle of a sane scenario makes
/// a few dozen).
const MAX_SETTLE_MOVES: usize = 10_000;

/// A small deterministic generator (SplitMix64) for the server's random keys.
#[derive(Clone, Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[derive(Clone, Debug)]
struct ServerSession {
    key: String,
    guests: u32,
    guests_sent: u32,
}

/// The simulated Glance service for one visitor: settings lookup, sessions and guests,
/// presence and one-click requests.
#[derive(Clone, Debug)]
pub struct Server {
    group_id: u32,
    key_length: u8,
    session_grace: Duration,
    rng: SplitMix64,
    visitor_id: Option<String>,
    session: Option<ServerSession>,
    presence: bool,
    next_request: u64,
    offline_since: Option<Instant>,
    out: VecDeque<ServerFrame>,
}

impl Server {
    /// A server that knows `group_id` (any other group's settings lookup fails).
    pub fn new(group_id: u32, seed: u64, session_grace: Duration) -> Self {
        Server {
            group_id,
            key_length: SIM_KEY_LENGTH,
            session_grace,
            rng: SplitMix64(seed),
            visitor_id: None,
            session: None,
            presence: false,
            next_request: 0,
            offline_since: None,
            out: VecDeque::new(),
        }
    }

    /// The next frame for the SDK.
    pub fn poll(&mut self) -> Option<ServerFrame> {
        self.out.pop_front()
    }

    /// The running session's key and guest count.
    pub fn session(&self) -> Option<(&str, u32)> {
        self.session.as_ref().map(|s| (s.key.as_str(), s.guests))
    }

    /// The visitor id of the latest `init` frame.
    pub fn visitor_id(&self) -> Option<&str> {
        self.visitor_id.as_deref()
    }

    /// Whether the visitor is present (connected to presence).
    pub fn presence(&self) -> bool {
        self.presence
    }

    /// The latest one-click request id (0 before the first).
    pub fn last_request(&self) -> u64 {
        self.next_request
    }

    /// Since when the visitor has been offline, if it is.
    pub fn offline_since(&self) -> Option<Instant> {
        self.offline_since
    }

    /// Frames queued for the SDK (empty once the world has settled).
    pub fn queued(&self) -> usize {
        self.out.len()
    }

    fn random_key(&mut self) -> String {
        (0..self.key_length)
            .map(|_| char::from(b'0' + (self.rng.next() % 10) as u8))
            .collect()
    }

    /// Handles a frame from the SDK.
    pub fn receive(&mut self, frame: &ClientFrame) {
        match frame {
            ClientFrame::Init {
                group_id,
                visitor_id,
                ..
            } => {
                self.visitor_id = visitor_id.clone();
                self.out.push_back(if *group_id == self.group_id {
                    ServerFrame::Settings {
                        v: PROTOCOL_VERSION,
                        key_length: self.key_length,
                    }
                } else {
                    ServerFrame::InitFailed {
                        reason: "unknown_group".into(),
                    }
                });
            }
            ClientFrame::StartSession { key } => {
                let reply = match (&self.session, key) {
                    // a start sent again after a reconnect: the same session
                    (Some(s), None) => ServerFrame::SessionStarted {
                        sessionkey: s.key.clone(),
                    },
                    (Some(s), Some(k)) if *k == s.key => ServerFrame::SessionStarted {
                        sessionkey: s.key.clone(),
                    },
                    (Some(_), Some(_)) => ServerFrame::SessionRefused {
                        reason: "session_exists".into(),
                    },
                    (None, k) => {
                        let key = k.clone().unwrap_or_else(|| self.random_key());
                        self.session = Some(ServerSession {
                            key: key.clone(),
                            guests: 0,
                            guests_sent: 0,
                        });
                        ServerFrame::SessionStarted { sessionkey: key }
                    }
                };
                self.out.push_back(reply);
            }
            ClientFrame::EndSession {} => {
                if self.session.take().is_some() {
                    self.out.push_back(ServerFrame::SessionEnded {
                        reason: "visitor_ended".into(),
                    });
                }
            }
            ClientFrame::ResumeSession { sessionkey } => match &mut self.session {
                Some(s) if s.key == *sessionkey => {
                    if s.guests != s.guests_sent {
                        s.guests_sent = s.guests;
                        self.out.push_back(ServerFrame::GuestCount {
                            guestcount: s.guests,
                        });
                    }
                }
                _ => self.out.push_back(ServerFrame::SessionEnded {
                    reason: "expired".into(),
                }),
            },
            ClientFrame::PresenceConnect { visitor_id } => {
                if self.visitor_id.as_ref() == Some(visitor_id) {
                    self.presence = true;
                    self.out.push_back(ServerFrame::PresenceConnected {});
                } else {
                    self.out.push_back(ServerFrame::PresenceConnectFailed {
                        reason: "unknown_visitor".into(),
                    });
                }
            }
            ClientFrame::PresenceDisconnect {} => self.presence = false,
            ClientFrame::PresenceSignal { .. } | ClientFrame::AppState { .. } => {}
        }
    }

    /// The visitor's connection dropped.
    pub fn connection_lost(&mut self, now: Instant) {
        self.presence = false;
        self.offline_since = Some(now);
    }

    /// The visitor's connection is back; a session offline longer than the grace is gone.
    pub fn connection_restored(&mut self, now: Instant) {
        if let Some(since) = self.offline_since.take() {
            if now.saturating_since(since) >= self.session_grace {
                self.session = None;
            }
        }
    }

    /// An agent acts; `Err` when the action is not possible now.
    pub fn agent(&mut self, action: AgentAction) -> Result<(), AgentRefusal> {
        match action {
            AgentAction::Join => {
                let s = self.session.as_mut().ok_or(AgentRefusal::NoSession)?;
                s.guests += 1;
                s.guests_sent = s.guests;
                self.out.push_back(ServerFrame::GuestCount {
                    guestcount: s.guests,
                });
            }
            AgentAction::Leave => {
                let s = self.session.as_mut().ok_or(AgentRefusal::NoSession)?;
                if s.guests == 0 {
                    return Err(AgentRefusal::NoAgentInSession);
                }
                s.guests -= 1;
                s.guests_sent = s.guests;
                self.out.push_back(ServerFrame::GuestCount {
                    guestcount: s.guests,
                });
            }
            AgentAction::StartPresenceSession => {
                if !self.presence {
                    return Err(AgentRefusal::VisitorNotPresent);
                }
                self.next_request += 1;
                self.out.push_back(ServerFrame::PresenceShowTerms {
                    request_id: self.next_request,
                });
            }
            AgentAction::EndSession => {
                self.session.take().ok_or(AgentRefusal::NoSession)?;
                self.out.push_back(ServerFrame::SessionEnded {
                    reason: "agent_ended".into(),
                });
            }
        }
        Ok(())
    }
}

/// Why the simulated agent cannot act now (the transcript's `error.code`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AgentRefusal {
    /// `join`, `leave` or `end_session` with no session.
    NoSession,
    /// `leave` with no agent in the session.
    NoAgentInSession,
    /// `start_presence_session` while the visitor is not present.
    VisitorNotPresent,
}

impl AgentRefusal {
    /// The snake_case code.
    pub const fn code(self) -> &'static str {
        match self {
            AgentRefusal::NoSession => "no_session",
            AgentRefusal::NoAgentInSession => "no_agent_in_session",
            AgentRefusal::VisitorNotPresent => "visitor_not_present",
        }
    }
}

/// The whole simulated world: app (controller), SDK core, network, server, agent, clock.
#[derive(Clone, Debug)]
pub struct World {
    sdk: Sdk,
    controller: Controller,
    server: Server,
    now: Instant,
    network_up: bool,
    step: usize,
    transcript: Vec<Record>,
}

impl World {
    /// A world at time zero with the network up.
    pub fn new(config: &ScenarioConfig) -> Self {
        let sdk_config = SdkConfig::default();
        World {
            server: Server::new(config.group_id, config.seed, sdk_config.session_grace),
            sdk: Sdk::new(sdk_config),
            controller: Controller::new(ControllerConfig {
                group_id: config.group_id,
                custom_ui: config.custom_ui,
            }),
            now: Instant::ZERO,
            network_up: true,
            step: 0,
            transcript: Vec::new(),
        }
    }

    /// Plays a whole scenario (its first step may be a config) and returns the transcript.
    pub fn run(steps: &[Step]) -> Vec<Record> {
        let config = match steps.first() {
            Some(Step::Config(c)) => c.clone(),
            _ => ScenarioConfig::default(),
        };
        let mut world = World::new(&config);
        for (i, step) in steps.iter().enumerate() {
            world.apply(i, step);
        }
        world.transcript
    }

    /// The records so far.
    pub fn transcript(&self) -> &[Record] {
        &self.transcript
    }

    /// Takes the records so far, leaving none (an explorer that clones worlds by the
    /// thousand keeps them small).
    pub fn take_transcript(&mut self) -> Vec<Record> {
        std::mem::take(&mut self.transcript)
    }

    /// The SDK core.
    pub fn sdk(&self) -> &Sdk {
        &self.sdk
    }

    /// The controller.
    pub fn controller(&self) -> &Controller {
        &self.controller
    }

    /// The server.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The simulated clock.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Whether the simulated network is up.
    pub fn network_up(&self) -> bool {
        self.network_up
    }

    fn record(&mut self, observed: Observed) {
        self.transcript.push(Record {
            step: self.step,
            observed,
        });
    }

    fn refuse(&mut self, code: &str, message: String) {
        self.record(Observed::Error(ErrorRecord {
            code: code.to_owned(),
            message,
        }));
    }

    /// Applies scenario line `index` and lets the world settle.
    pub fn apply(&mut self, index: usize, step: &Step) {
        self.step = index;
        match step {
            Step::Config(_) => {
                if index != 0 {
                    self.refuse(
                        "config_not_first",
                        "a config step may only be the first line".into(),
                    );
                }
            }
            Step::User(intent) => {
                if let Err(e) = self.controller.handle_user(intent.clone()) {
                    self.refuse(e.code().as_str(), e.to_string());
                } else if let cobrowse_visitor_core::UserIntent::Exit = intent {
                    self.settle();
                    self.sdk_input(Input::Lifecycle(Lifecycle::Terminate));
                }
            }
            Step::Lifecycle(l) => {
                self.sdk_input(Input::Lifecycle(*l));
                self.controller.handle_lifecycle(*l);
            }
            Step::Network(NetworkChange::Lost) => {
                if self.network_up {
                    self.network_up = false;
                    self.server.connection_lost(self.now);
                }
                self.sdk_input(Input::Network(NetworkChange::Lost));
            }
            Step::Network(NetworkChange::Restored) => {
                if !self.network_up {
                    self.network_up = true;
                    self.server.connection_restored(self.now);
                }
                // The IO layer hears the network is back and reconnects at once.
                self.sdk_input(Input::Network(NetworkChange::Restored));
            }
            Step::Agent(action) => {
                if let Err(refusal) = self.server.agent(*action) {
                    self.refuse(refusal.code(), format!("the agent cannot {action:?} now"));
                }
            }
            Step::AdvanceMs(ms) => {
                let target = self.now.saturating_add(Duration::from_millis(*ms));
                self.settle();
                while let Some(t) = self.sdk.poll_timeout().filter(|t| *t <= target) {
                    self.now = self.now.max(t);
                    self.sdk_input(Input::Timeout);
                    self.settle();
                }
                self.now = target;
            }
            Step::Api(call) => self.call_sdk(call.clone()),
        }
        self.settle();
    }

    fn sdk_input(&mut self, input: Input) {
        if let Err(e) = self.sdk.handle_input(self.now, input) {
            self.refuse(e.code().as_str(), e.to_string());
        }
    }

    fn call_sdk(&mut self, call: ApiCall) {
        self.record(Observed::Api(call.clone()));
        self.sdk_input(Input::Api(call));
    }

    fn settle(&mut self) {
        for _ in 0..MAX_SETTLE_MOVES {
            match self.sdk.poll_output() {
                Output::Event(e) => {
                    self.record(Observed::Event(EventRecord::from(&e)));
                    self.controller.handle_event(&e);
                    continue;
                }
                Output::Transmit(f) => {
                    self.record(Observed::Send(serde_json::to_value(&f).unwrap_or_default()));
                    if self.network_up {
                        self.server.receive(&f);
                    }
                    continue;
                }
                Output::Connect => {
                    if self.network_up {
                        self.sdk_input(Input::Network(NetworkChange::Restored));
                    }
                    continue;
                }
                Output::Timeout(Some(t)) if t <= self.now => {
                    self.sdk_input(Input::Timeout);
                    continue;
                }
                Output::Timeout(_) => {}
            }
            if let Some(out) = self.controller.poll_output() {
                match out {
                    ControllerOutput::Call(call) => self.call_sdk(call),
                    ControllerOutput::Ui(ui) => self.record(Observed::Ui(ui)),
                }
                continue;
            }
            if let Some(frame) = self.server.poll() {
                if self.network_up {
                    self.record(Observed::Recv(
                        serde_json::to_value(&frame).unwrap_or_default(),
                    ));
                    self.sdk_input(Input::Frame(frame));
                }
                continue;
            }
            return;
        }
    }
}
