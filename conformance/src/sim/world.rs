//! The simulated world: the controller, the SDK core, the network, the server and the agent,
//! played step by step from a contract scenario (spec.md §13).

use super::server::Server;
use crate::transcript::{ErrorRecord, EventRecord, Observed, Record, ScenarioConfig, Step};
use cobrowse_visitor_core::ApiCall;
use cobrowse_visitor_core::Instant;
use cobrowse_visitor_core::{Controller, ControllerConfig, ControllerOutput};
use cobrowse_visitor_core::{Input, Lifecycle, NetworkChange, Output, Sdk, SdkConfig};
use std::time::Duration;

/// Most moves one settle makes before it stops (a guard; a settle of a sane scenario makes
/// a few dozen).
const MAX_SETTLE_MOVES: usize = 10_000;

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
