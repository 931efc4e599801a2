//! A scenario step on the model world (spec.md §13, the contract's "Scenario"): the model
//! controller, the model SDK core and the model service, settled after each step — "every
//! frame in flight is delivered and every timer due at the current time fires, until nothing
//! moves; only `advance_ms` moves the clock" — and the records the step must leave.
//!
//! The order of the moves is the world's (the simulator's one driver): the SDK core's
//! outputs in order, then a due timer, then the controller's outputs, then the service's
//! frames; `exit` feeds `Lifecycle::Terminate` after the controller's calls (§13).

use super::{MCtl, MSdk, MServer};
use cobrowse_visitor_conformance::transcript::{
    ErrorRecord, EventRecord, Observed, Step, WireFrame,
};
use cobrowse_visitor_core::{
    ControllerOutput, Input, Lifecycle, NetworkChange, Output, UserIntent,
};
use std::collections::VecDeque;

/// Moves one settle may make before the model calls its world unsettled.
const MAX_MOVES: usize = 10_000;

/// The model world.
#[derive(Clone, Debug)]
pub struct MWorld {
    pub sdk: MSdk,
    /// The integration controller.
    pub ctl: MCtl,
    /// The simulated service.
    pub server: MServer,
    pub now: u64,
    pub network_up: bool,
    /// The records of the last step applied.
    pub records: Vec<Observed>,
    /// SDK outputs not yet handed on.
    pending: VecDeque<Output>,
    /// Controller outputs not yet handed on.
    ctl_out: VecDeque<ControllerOutput>,
}

impl MWorld {
    pub fn new(group_id: i32, custom_ui: bool) -> Self {
        MWorld {
            sdk: MSdk::default(),
            ctl: MCtl::new(group_id, custom_ui),
            server: MServer::new(group_id),
            now: 0,
            network_up: true,
            records: vec![],
            pending: VecDeque::new(),
            ctl_out: VecDeque::new(),
        }
    }

    fn record(&mut self, o: Observed) {
        self.records.push(o);
    }

    fn refuse(&mut self, code: &str) {
        self.record(Observed::Error(ErrorRecord {
            code: code.to_owned(),
            message: code.to_owned(),
        }));
    }

    fn sdk_input(&mut self, input: Input) {
        let step = self.sdk.input(self.now, &input);
        self.sdk = step.next;
        self.pending.extend(step.out);
        if let Err(code) = step.result {
            self.refuse(code.as_str());
        }
    }

    /// Applies scenario line `index` and settles; `records` are what it caused.
    pub fn apply(&mut self, index: usize, step: &Step) {
        self.records.clear();
        match step {
            Step::Config(_) => {
                if index != 0 {
                    self.refuse("config_not_first");
                }
            }
            Step::User(intent) => {
                let s = self.ctl.user(intent);
                self.ctl = s.next;
                self.ctl_out.extend(s.out);
                match s.result {
                    Err(code) => self.refuse(code.as_str()),
                    Ok(()) if *intent == UserIntent::Exit => {
                        self.settle();
                        self.sdk_input(Input::Lifecycle(Lifecycle::Terminate));
                    }
                    Ok(()) => {}
                }
            }
            Step::Lifecycle(l) => {
                self.sdk_input(Input::Lifecycle(*l));
                self.ctl = self.ctl.lifecycle().next;
            }
            Step::Network(n) => {
                let up = *n == NetworkChange::Restored;
                if self.network_up != up {
                    self.network_up = up;
                    if up {
                        self.server.restored(self.now);
                    } else {
                        self.server.lost(self.now);
                    }
                }
                self.sdk_input(Input::Network(*n));
            }
            Step::Agent(a) => {
                if let Err(code) = self.server.agent(*a) {
                    self.refuse(code);
                }
            }
            Step::AgentSignal { event, map } => {
                if let Err(code) = self.server.agent_signal(event, map) {
                    self.refuse(code);
                }
            }
            Step::AgentMessage { name, map } => {
                if let Err(code) = self.server.agent_message(name, map) {
                    self.refuse(code);
                }
            }
            Step::Relaunch { away_ms } => self.relaunch(*away_ms),
            Step::AdvanceMs(ms) => {
                let target = self.now.saturating_add(*ms);
                self.settle();
                // "firing each due timer at its deadline"
                while let Some(d) = self.sdk.next_deadline().filter(|d| *d <= target) {
                    self.now = self.now.max(d);
                    self.sdk_input(Input::Timeout);
                    self.settle();
                }
                self.now = self.now.max(target);
            }
            Step::Api(call) => {
                self.record(Observed::Api(call.clone()));
                self.sdk_input(Input::Api(call.clone()));
            }
        }
        self.settle();
    }

    /// §13.2 `relaunch`: "the world takes `Sdk::snapshot` […] and `Controller::snapshot`;
    /// the service sees the connection drop as on a network loss; `away_ms` pass for the
    /// service only […]; then the app comes back with `Sdk::restore` and
    /// `Controller::restore` (the config's group id) and the world settles". "Without the
    /// core's snapshot […] the relaunched app is new and unlaunched"; "a core's snapshot
    /// without the controller's […] restores the core next to a new, unlaunched controller";
    /// a refused restore is an `error` `restore_refused` when a snapshot or a session was
    /// lost; a new process with the network down hears `Network(Lost)` at once.
    fn relaunch(&mut self, away_ms: u64) {
        self.settle();
        let had_snapshot = self.sdk.has_snapshot();
        let had_session = self
            .sdk
            .ready()
            .is_some_and(|r| r.session != super::MSession::Idle);
        self.pending.clear();
        self.ctl_out.clear();
        if self.network_up {
            self.server.lost(self.now);
        }
        self.now = self.now.saturating_add(away_ms);
        if self.network_up {
            self.server.restored(self.now);
        }
        let restored = self.sdk.restored(self.ctl.group_id, self.now, away_ms);
        let new = restored.is_none();
        let unlaunched = MCtl {
            phase: super::CPhase::NotLaunched,
            ..self.ctl.clone()
        };
        match restored {
            Some((sdk, out)) => {
                match self.ctl.restored(&sdk) {
                    Some((ctl, ctl_out)) => {
                        self.ctl = ctl;
                        self.ctl_out.extend(ctl_out);
                    }
                    None => self.ctl = unlaunched,
                }
                self.sdk = sdk;
                self.pending.extend(out);
            }
            None => {
                let cfg = self.sdk.cfg;
                self.sdk = MSdk::with_config(cfg);
                self.ctl = unlaunched;
            }
        }
        if new && (had_snapshot || had_session) {
            self.refuse("restore_refused");
        }
        if new && !self.network_up {
            self.sdk_input(Input::Network(NetworkChange::Lost));
        }
    }

    fn settle(&mut self) {
        for _ in 0..=MAX_MOVES {
            if !self.move_once() {
                return;
            }
        }
        panic!("the model world did not settle within {MAX_MOVES} moves");
    }

    fn move_once(&mut self) -> bool {
        if let Some(out) = self.pending.pop_front() {
            match out {
                Output::Event(e) => {
                    self.record(Observed::Event(EventRecord::from(&e)));
                    let s = self.ctl.event(&e);
                    self.ctl = s.next;
                    self.ctl_out.extend(s.out);
                }
                Output::Transmit(f) => {
                    self.record(Observed::Send(WireFrame::Typed(f.clone())));
                    if self.network_up {
                        self.server.receive(&f);
                    }
                }
                Output::Connect => {
                    // the IO layer opens a transport; it is up at once while the network is
                    if self.network_up {
                        self.sdk_input(Input::Network(NetworkChange::Restored));
                    }
                }
                Output::Timeout(_) => {}
            }
            return true;
        }
        if self.sdk.next_deadline().is_some_and(|d| d <= self.now) {
            self.sdk_input(Input::Timeout);
            return true;
        }
        if let Some(out) = self.ctl_out.pop_front() {
            match out {
                ControllerOutput::Call(call) => {
                    self.record(Observed::Api(call.clone()));
                    self.sdk_input(Input::Api(call));
                }
                ControllerOutput::Ui(ui) => self.record(Observed::Ui(ui)),
                // §3.4: handed to the app's own code, not a transcript record (the event is)
                ControllerOutput::AgentSignal { .. } | ControllerOutput::AgentMessage { .. } => {}
            }
            return true;
        }
        if let Some(f) = self.server.out.pop_front() {
            if self.network_up {
                self.server.delivered(&f);
                self.record(Observed::Recv(WireFrame::Typed(f.clone())));
                self.sdk_input(Input::Frame(f));
            }
            return true;
        }
        false
    }
}
