//! The end-to-end harness: a contract scenario played over real WebSockets on 127.0.0.1.
//!
//! Three actors, as in a real deployment:
//! - the **app**: this harness's loop, running the [`Controller`] on the scenario's user,
//!   lifecycle and API steps and on the SDK events the driver hands it;
//! - the **driver** task ([`cobrowse_visitor_driver::driver`]): the core, the socket, the
//!   timers;
//! - the **loopback server** task: [`cobrowse_visitor_conformance::sim::Server`] behind a socket;
//!   agent steps and faults go to it through its control handle.
//!
//! The harness writes the same [`Record`] stream as [`World`] (api/send/recv/event/ui/error
//! with the scenario step index), so the two can be compared.
//!
//! **Settling.** A step settles before the next, as in the simulator, on an explicit
//! quiescence signal rather than a sleep: the driver and the server each publish a status
//! (frames written and read on the current connection, connections opened, connect in
//! progress, the core's next deadline, notifications published), and the world is quiet when
//! the app has consumed every published notification and has no controller output left, the
//! driver is not connecting and has no deadline due, both sides agree on the connection, and
//! every frame written by one side has been read by the other.
//!
//! **Time.** The driver and the server share a [`ManualClock`]; `advance_ms` winds it from
//! one core deadline to the next, as the simulator does, so every timer fires at the very
//! instant it would in the simulator, however loaded the machine is. No assertion depends on
//! wall-clock time; wall-clock time only bounds how long a test may wait.
//!
//! **Relaunch** (spec.md §13.2). The app process is killed: the harness takes the core's
//! snapshot from the driver ([`DriverHandle::snapshot`], the manual clock as the wall clock)
//! and the controller's, drops the driver (its task ends and its socket closes; the server
//! sees the connection drop, at the kill's time), lets `away_ms` pass on the clock with no
//! driver running (the dead process's timers do not fire), and starts a new driver
//! ([`spawn_with`]) around `Sdk::restore` of the snapshot, next to `Controller::restore`
//! (or around a new core and controller, as the simulator does), on the same server.
#![allow(dead_code)] // each test binary uses a part

pub mod proxy;
pub mod tls;

use cobrowse_visitor_conformance::oracle;
use cobrowse_visitor_conformance::sim::{World, RESTORE_REFUSED};
use cobrowse_visitor_conformance::transcript::{
    parse_scenario, ErrorRecord, EventRecord, Observed, Record, ScenarioConfig, Step, TraceLine,
    WireFrame,
};
use cobrowse_visitor_core::{ApiCall, Instant, Lifecycle, NetworkChange, Sdk, SdkConfig};
use cobrowse_visitor_core::{Controller, ControllerConfig, ControllerOutput, UserIntent};
use cobrowse_visitor_driver::{
    spawn, spawn_with, Clock, ConnectPhase, DriverConfig, DriverError, DriverHandle, DriverStatus,
    LoopbackServer, ManualClock, Notification, Reachability, Redaction, ServerConfig,
    ServerControl, ServerStatus,
};
use proxy::{Direction, FaultProxy, Shape};
use std::future::Future;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Longest wait for any one thing (a reply, a settle). Generous: a loaded 2-core machine
/// answers loopback traffic in milliseconds.
pub const WAIT: Duration = Duration::from_secs(10);
/// Longest a whole journey may take.
pub const JOURNEY_LIMIT: Duration = Duration::from_secs(30);

/// A fault the loopback server injects; the contract's scenario vocabulary has no word for
/// these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The server closes the socket without a close frame and keeps accepting: the driver
    /// notices, tells the core, and reconnects when the core asks.
    DropConnection,
    /// The server sends this text as one message, frame or not.
    SendRaw(String),
    /// The server stops answering: what it receives waits.
    Stall,
    /// The server answers what waited, in order.
    Resume,
    /// The fault proxy stops forwarding in this direction without closing anything (a
    /// half-open link); connections opened meanwhile stall. Needs [`Options::link`].
    Freeze(Direction),
    /// The fault proxy forwards again, and drops the connections that stalled.
    Heal,
    /// The fault proxy forwards this many more bytes from the server, then cuts the link.
    CutDownAfter(usize),
}

/// What one journey line does over the sockets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Act {
    /// A contract scenario step.
    Step(Step),
    /// A server fault.
    Fault(Fault),
}

/// One line of a journey: what happens over the sockets, and the simulator step it is
/// compared with (the same step, except for faults, which name their counterpart).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub real: Act,
    pub sim: Step,
}

impl Line {
    /// A contract step, played the same way on both sides.
    pub fn same(step: Step) -> Line {
        Line {
            real: Act::Step(step.clone()),
            sim: step,
        }
    }

    /// A fault, compared with the simulator step `sim`.
    pub fn fault(fault: Fault, sim: Step) -> Line {
        Line {
            real: Act::Fault(fault),
            sim,
        }
    }

    /// A step played as `real` over the sockets and as `sim` in the simulator.
    pub fn pair(real: Step, sim: Step) -> Line {
        Line {
            real: Act::Step(real),
            sim,
        }
    }
}

/// Reads a scenario file of the workspace (`scenarios/…` or `driver/tests/scenarios/…`).
pub fn scenario(path: &str) -> Vec<Line> {
    let full = format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"));
    parse_scenario(&text)
        .unwrap_or_else(|e| panic!("{full}: {e}"))
        .into_iter()
        .map(Line::same)
        .collect()
}

/// Reads scenario lines given inline.
pub fn steps(text: &str) -> Vec<Line> {
    parse_scenario(text)
        .unwrap_or_else(|e| panic!("inline scenario: {e}"))
        .into_iter()
        .map(Line::same)
        .collect()
}

/// How the server delivers its frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// One frame at a time, when all else is quiet: the simulator's exact order.
    Lockstep,
    /// As soon as produced, like a real server: the order between the app's calls and the
    /// server's frames within a step is a race.
    Free,
}

/// How the contract's `{"network": "lost"}` is played.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// The server drops the connection and refuses new ones until `restored`: the driver
    /// finds out from the socket.
    ServerBlackout,
    /// The platform reports the network gone ([`Reachability::Offline`]) and the server
    /// refuses new connections until `restored`.
    DeviceOffline,
}

/// Where the core's time comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Time {
    /// A manual clock wound by `advance_ms`.
    Manual,
    /// tokio's real clock (journeys without `advance_ms` only).
    Tokio,
}

/// How to play a journey.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    pub delivery: Delivery,
    pub loss: Loss,
    pub time: Time,
    /// `wss://` with a certificate from the test CA ([`tls::ca`]) instead of `ws://`.
    pub tls: bool,
    /// Put the fault proxy between the driver and the server, with this shape.
    pub link: Option<Shape>,
}

impl Options {
    pub const LOCKSTEP: Options = Options {
        delivery: Delivery::Lockstep,
        loss: Loss::ServerBlackout,
        time: Time::Manual,
        tls: false,
        link: None,
    };
    pub const FREE: Options = Options {
        delivery: Delivery::Free,
        loss: Loss::ServerBlackout,
        time: Time::Manual,
        tls: false,
        link: None,
    };

    /// The same over `wss://`.
    pub const fn over_tls(self) -> Options {
        Options { tls: true, ..self }
    }

    /// The same through the fault proxy.
    pub const fn through(self, shape: Shape) -> Options {
        Options {
            link: Some(shape),
            ..self
        }
    }
}

/// What the harness redacts in its records, the driver's default rule: the journeys'
/// transcripts are compared with the simulator's redacted by the same rule.
pub const REDACTION: Redaction = Redaction::ALL;

/// Awaits `f` for at most [`WAIT`].
pub async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(WAIT, f).await {
        Ok(t) => t,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// A transport notification, with the step and the driver's clock when the harness took it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportRecord {
    pub step: usize,
    pub now: Instant,
    pub note: Notification,
}

/// Plays `lines` over real sockets and returns the transcript; at most [`JOURNEY_LIMIT`].
/// With `E2E_PRINT` set, prints each transcript (run with `--nocapture`).
pub async fn play(lines: &[Line], options: Options) -> Vec<Record> {
    play_logged(lines, options).await.0
}

/// [`play`], and the transport notifications (connected, disconnected and why, connect
/// failures and why), which are not part of a transcript.
pub async fn play_logged(lines: &[Line], options: Options) -> (Vec<Record>, Vec<TransportRecord>) {
    match tokio::time::timeout(JOURNEY_LIMIT, play_unbounded(lines, options)).await {
        Ok(records) => {
            if std::env::var_os("E2E_PRINT").is_some() {
                println!("--- {options:?}\n{}", jsonl(&records.0));
            }
            records
        }
        Err(_) => panic!("the journey did not end within {JOURNEY_LIMIT:?}"),
    }
}

async fn play_unbounded(lines: &[Line], options: Options) -> (Vec<Record>, Vec<TransportRecord>) {
    let config = match lines.first().map(|l| &l.sim) {
        Some(Step::Config(c)) => c.clone(),
        _ => ScenarioConfig::default(),
    };
    let manual = ManualClock::new();
    let clock = match options.time {
        Time::Manual => Clock::manual(&manual),
        Time::Tokio => Clock::tokio(),
    };
    // the app's consent policy and limits are the SDK's configuration (spec.md §13.1)
    let sdk = SdkConfig {
        consent_policy: config.consent_policy,
        limits: config.limits,
        ..SdkConfig::default()
    };

    let mut server_config = ServerConfig::new(config.group_id, config.seed);
    server_config.session_grace = sdk.session_grace;
    server_config.clock = clock.clone();
    server_config.lockstep = options.delivery == Delivery::Lockstep;
    server_config.agent_start = config.agent_start;
    server_config.presence = config.presence;
    server_config.presence_unavailable = config.presence_unavailable;
    if options.tls {
        server_config.tls = Some(tls::loopback_server());
    }
    let server = within("the server to bind", LoopbackServer::start(server_config))
        .await
        .expect("the loopback server binds 127.0.0.1:0");
    assert!(server.addr().ip().is_loopback());

    let (url, proxy) = match options.link {
        Some(shape) => {
            let proxy = FaultProxy::start(server.addr(), shape).await;
            let scheme = if options.tls { "wss" } else { "ws" };
            (format!("{scheme}://{}/", proxy.addr()), Some(proxy))
        }
        None => (server.url(), None),
    };
    let mut driver_config = DriverConfig::new(url);
    if options.tls {
        assert!(driver_config.url.starts_with("wss://"));
        driver_config.roots = tls::ca().roots();
    }
    driver_config.redaction = REDACTION;
    driver_config.sdk = sdk;
    driver_config.clock = clock.clone();
    driver_config.trace = true;
    let (driver, notes) = spawn(driver_config.clone());

    let control = server.control();
    let controller_config = ControllerConfig {
        group_id: config.group_id,
        custom_ui: config.custom_ui,
        limits: config.limits,
        start: config.start_options,
    };
    let mut app = App {
        options,
        manual,
        clock,
        controller: Controller::new(controller_config.clone()),
        controller_config,
        driver_config,
        dstatus: driver.status(),
        driver: Some(driver),
        notes,
        network_up: true,
        connections_before: 0,
        tcp_connects_before: 0,
        sstatus: control.status(),
        server: control,
        proxy,
        frozen: false,
        transport: Vec::new(),
        consumed: 0,
        step: 0,
        records: Vec::new(),
    };
    // The driver's first connection.
    app.settle().await;
    assert_eq!(app.dstatus.borrow().connections, 1, "the first connection");

    for (i, line) in lines.iter().enumerate() {
        app.apply(i, &line.real).await;
    }

    within("the driver to stop", app.driver().shutdown())
        .await
        .expect("the driver runs until shut down");
    within("the server to stop", app.server.shutdown())
        .await
        .expect("the server runs until shut down");
    if let Some(proxy) = &app.proxy {
        proxy.shutdown();
    }
    (app.records, app.transport)
}

struct App {
    options: Options,
    manual: ManualClock,
    clock: Clock,
    controller: Controller,
    /// The app's controller configuration, for a relaunched process.
    controller_config: ControllerConfig,
    /// The driver's configuration (its `sdk` is the core's), for a relaunched process.
    driver_config: DriverConfig,
    /// The running process's driver; `None` only while a relaunch has killed it.
    driver: Option<DriverHandle>,
    notes: mpsc::UnboundedReceiver<Notification>,
    dstatus: watch::Receiver<DriverStatus>,
    /// The network as the scenario left it (`network lost` / `restored`).
    network_up: bool,
    /// Connections the server accepted from the drivers of earlier processes (a driver counts
    /// its own from 0).
    connections_before: u64,
    /// TCP connections the drivers of earlier processes made.
    tcp_connects_before: u64,
    server: ServerControl,
    sstatus: watch::Receiver<ServerStatus>,
    proxy: Option<FaultProxy>,
    /// The proxy holds a link frozen: the server's view is not the driver's, and a ping may
    /// go unanswered.
    frozen: bool,
    transport: Vec<TransportRecord>,
    /// Notifications taken from the channel.
    consumed: u64,
    step: usize,
    records: Vec<Record>,
}

impl App {
    fn record(&mut self, observed: Observed) {
        self.records.push(Record {
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

    /// Plays journey line `index` and lets the world settle (the simulator's `World::apply`).
    async fn apply(&mut self, index: usize, act: &Act) {
        self.step = index;
        match act {
            Act::Step(Step::Config(_)) => {
                if index != 0 {
                    self.refuse(
                        "config_not_first",
                        "a config step may only be the first line".into(),
                    );
                }
            }
            Act::Step(Step::User(intent)) => {
                if let Err(e) = self.controller.handle_user(intent.clone()) {
                    self.refuse(e.code().as_str(), e.to_string());
                } else if let UserIntent::Exit = intent {
                    self.settle().await;
                    self.lifecycle(Lifecycle::Terminate).await;
                }
            }
            Act::Step(Step::Lifecycle(change)) => {
                self.lifecycle(*change).await;
                self.controller.handle_lifecycle(*change);
            }
            Act::Step(Step::Network(NetworkChange::Lost)) => {
                self.network_up = false;
                if self.options.loss == Loss::DeviceOffline {
                    self.reachability(Reachability::Offline).await;
                }
                within("the server", self.server.set_network(false))
                    .await
                    .expect("server running");
            }
            Act::Step(Step::Network(NetworkChange::Restored)) => {
                self.network_up = true;
                within("the server", self.server.set_network(true))
                    .await
                    .expect("server running");
                self.reachability(Reachability::Online).await;
            }
            Act::Step(Step::Agent(action)) => {
                let result = within("the agent", self.server.agent(*action))
                    .await
                    .expect("server running");
                if let Err(code) = result {
                    self.refuse(code, format!("the agent cannot {} now", action.name()));
                }
            }
            Act::Step(Step::AgentSignal { event, map }) => {
                let result = within(
                    "the agent",
                    self.server.agent_signal(event.clone(), map.clone()),
                )
                .await
                .expect("server running");
                if let Err(code) = result {
                    self.refuse(code, "the agent cannot signal now".to_owned());
                }
            }
            Act::Step(Step::AgentMessage { name, map }) => {
                let result = within(
                    "the agent",
                    self.server.agent_message(name.clone(), map.clone()),
                )
                .await
                .expect("server running");
                if let Err(code) = result {
                    self.refuse(code, "the agent cannot send a message now".to_owned());
                }
            }
            Act::Step(Step::Relaunch { away_ms }) => self.relaunch(*away_ms).await,
            Act::Step(Step::AdvanceMs(ms)) => self.advance(*ms).await,
            Act::Step(Step::Api(call)) => self.call_sdk(call.clone()).await,
            Act::Fault(fault) => {
                let server = self.server.clone();
                let done = match fault {
                    Fault::DropConnection => within("the server", server.drop_connection()).await,
                    Fault::SendRaw(text) => {
                        within("the server", server.send_raw(text.clone())).await
                    }
                    Fault::Stall => within("the server", server.stall()).await,
                    Fault::Resume => within("the server", server.resume()).await,
                    Fault::Freeze(dir) => {
                        self.proxy().freeze(*dir);
                        self.frozen = true;
                        Ok(())
                    }
                    Fault::Heal => {
                        // Every TCP connection the driver made is the proxy's, and known
                        // to be born frozen, before the network heals.
                        let made = self.tcp_connects_before + self.dstatus.borrow().tcp_connects;
                        within("the proxy's accepts", self.proxy().accepted(made)).await;
                        self.proxy().heal();
                        self.frozen = false;
                        Ok(())
                    }
                    Fault::CutDownAfter(bytes) => {
                        self.proxy().cut_down_after(*bytes);
                        Ok(())
                    }
                };
                done.expect("server running");
            }
        }
        self.settle().await;
    }

    fn driver(&self) -> &DriverHandle {
        self.driver
            .as_ref()
            .expect("a driver runs except inside a relaunch")
    }

    /// `relaunch` (spec.md §13.2), after the previous step settled: the process is killed
    /// (its driver, its socket and its controller are gone; the server sees the connection
    /// drop now), `away_ms` pass for the server only, and the app comes back with
    /// `Sdk::restore` and `Controller::restore` of the snapshots taken at the kill, or new
    /// and unlaunched without both (the simulator's `World::relaunch`, record for record).
    async fn relaunch(&mut self, away_ms: u64) {
        assert_eq!(
            self.options.time,
            Time::Manual,
            "a relaunch needs the manual clock"
        );
        self.settle().await;
        let killed_at = self.clock.now().as_millis();
        let (sdk_snapshot, had_session) = within(
            "the driver",
            self.driver()
                .inspect(move |sdk| (sdk.snapshot(killed_at), sdk.is_session_active())),
        )
        .await
        .expect("driver running");
        let controller_snapshot = self.controller.snapshot();
        self.kill().await;

        // the dead process's timers do not fire: no driver runs while the clock moves
        self.manual.set(
            self.manual
                .now()
                .saturating_add(Duration::from_millis(away_ms)),
        );
        let now = self.clock.now();
        let sdk_config = self.driver_config.sdk.clone();
        let had_snapshots = sdk_snapshot.is_some() && controller_snapshot.is_some();
        let restored = match (sdk_snapshot, controller_snapshot) {
            (Some(s), Some(c)) => Sdk::restore(
                sdk_config.clone(),
                s,
                self.controller_config.group_id,
                now,
                now.as_millis(),
            )
            .ok()
            .and_then(|sdk| {
                Controller::restore(self.controller_config.clone(), c, &sdk)
                    .ok()
                    .map(|controller| (sdk, controller))
            }),
            _ => None,
        };
        let new = restored.is_none();
        let (sdk, controller) = restored.unwrap_or_else(|| {
            (
                Sdk::new(sdk_config),
                Controller::new(self.controller_config.clone()),
            )
        });
        if new && (had_snapshots || had_session) {
            self.refuse(
                RESTORE_REFUSED,
                "no snapshot restored; the app comes back new and its session is gone".to_owned(),
            );
        }
        self.controller = controller;
        let (driver, notes) = spawn_with(self.driver_config.clone(), sdk);
        self.dstatus = driver.status();
        self.driver = Some(driver);
        self.notes = notes;
        self.consumed = 0;
        // a new process's platform says at once that the network is down
        if new && !self.network_up && self.options.loss == Loss::DeviceOffline {
            self.reachability(Reachability::Offline).await;
        }
        // The new core's queued outputs and its first connection come before the restored
        // controller's outputs (the simulator hands the core's queue on first).
        self.settle_driver().await;
    }

    /// Kills the running process's driver: every handle dropped, so its task ends and its
    /// socket closes, and nothing of it is left. (A dropped driver still sends the courtesy
    /// close frame a killed process would not; the server takes a close frame and a vanished
    /// connection alike, as a lost connection.) Returns once the driver has stopped and the
    /// server has seen the connection go, so that the server hears the loss at the kill's
    /// time, before the clock moves.
    async fn kill(&mut self) {
        let mut dstatus = self.dstatus.clone();
        let status = *dstatus.borrow();
        self.connections_before += status.connections;
        self.tcp_connects_before += status.tcp_connects;
        drop(self.driver.take());
        within("the killed driver to stop", async {
            while !dstatus.borrow_and_update().stopped {
                if dstatus.changed().await.is_err() {
                    break;
                }
            }
        })
        .await;
        let mut sstatus = self.sstatus.clone();
        within("the server to see the connection drop", async {
            while sstatus.borrow_and_update().open {
                sstatus.changed().await.expect("server running");
            }
        })
        .await;
    }

    fn proxy(&self) -> &FaultProxy {
        self.proxy
            .as_ref()
            .expect("a proxy fault needs Options::link")
    }

    /// Winds the clock to each core deadline up to `ms` from now, settling at each, as the
    /// simulator's `advance_ms` does.
    async fn advance(&mut self, ms: u64) {
        assert_eq!(
            self.options.time,
            Time::Manual,
            "advance_ms needs the manual clock"
        );
        let target = self.manual.now().saturating_add(Duration::from_millis(ms));
        self.settle().await;
        loop {
            let d = *self.dstatus.borrow();
            let next = match (d.next_deadline, d.transport_deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let Some(t) = next.filter(|t| *t <= target) else {
                break;
            };
            self.manual.set(t);
            self.settle().await;
        }
        self.manual.set(target);
    }

    async fn lifecycle(&mut self, change: Lifecycle) {
        match within("the driver", self.driver().lifecycle(change)).await {
            Ok(()) => {}
            Err(DriverError::Refused(e)) => self.refuse(e.code().as_str(), e.to_string()),
            Err(e) => panic!("lifecycle {change:?}: {e}"),
        }
    }

    async fn reachability(&mut self, change: Reachability) {
        within("the driver", self.driver().reachability(change))
            .await
            .expect("driver running");
    }

    async fn call_sdk(&mut self, call: ApiCall) {
        self.record(Observed::Api(REDACTION.redact_call(&call)));
        match within("the driver", self.driver().call(call)).await {
            Ok(()) => {}
            Err(DriverError::Refused(e)) => self.refuse(e.code().as_str(), e.to_string()),
            Err(e) => panic!("api call: {e}"),
        }
    }

    fn on_notification(&mut self, n: Notification) {
        match n {
            Notification::Event(e) => {
                self.record(Observed::Event(EventRecord::from(&e)));
                self.controller.handle_event(&e);
            }
            Notification::Sent(f) => self.record(Observed::Send(WireFrame::Typed(f.clone()))),
            Notification::Received(f) => self.record(Observed::Recv(WireFrame::Typed(f.clone()))),
            Notification::FrameRefused(e) => self.refuse(e.code().as_str(), e.to_string()),
            note @ (Notification::Connected
            | Notification::Disconnected(_)
            | Notification::ConnectFailed(_)) => self.transport.push(TransportRecord {
                step: self.step,
                now: self.clock.now(),
                note,
            }),
        }
    }

    /// Lets everything settle, in the simulator's order: the core's drained outputs first
    /// (as published by the driver), then one controller output, then — when nothing else
    /// moves — one server frame (lockstep), until the world is quiet.
    async fn settle(&mut self) {
        self.settle_moving(true).await;
    }

    /// Lets the driver settle alone: its published outputs taken (events handed to the
    /// controller, whose outputs wait), its connect attempt ended and the server agreeing,
    /// no held server frame released. A relaunched process's core hands on its queue (and
    /// its first connection's frames) before the restored controller's outputs, as in the
    /// simulator.
    async fn settle_driver(&mut self) {
        self.settle_moving(false).await;
    }

    /// [`App::settle`], or with `app: false` [`App::settle_driver`].
    async fn settle_moving(&mut self, app: bool) {
        let give_up = tokio::time::Instant::now() + WAIT;
        loop {
            // One snapshot of each side per turn, marked seen: every decision below is taken
            // on it, and any later change wakes the wait in 4.
            let d = *self.dstatus.borrow_and_update();
            let s = *self.sstatus.borrow_and_update();
            // 1. Outputs the driver has drained and published. Only published ones: a batch
            //    still being drained must be taken whole before the app acts again.
            if self.consumed < d.notifications {
                let n = within("a published notification", self.notes.recv())
                    .await
                    .expect("the driver published it");
                self.consumed += 1;
                self.on_notification(n);
                continue;
            }
            // 2. One controller output.
            if let Some(out) = app.then(|| self.controller.poll_output()).flatten() {
                match out {
                    ControllerOutput::Call(call) => self.call_sdk(call).await,
                    ControllerOutput::Ui(ui) => self.record(Observed::Ui(ui)),
                    // the app's own business; the transcript has the event
                    ControllerOutput::AgentSignal { .. }
                    | ControllerOutput::AgentMessage { .. } => {}
                }
                continue;
            }
            // 3. Quiet? Then one held server frame, or done.
            let settled = if self.frozen {
                quiet_frozen(&d, self.clock.now())
            } else {
                quiet(&d, &s, self.clock.now(), self.connections_before)
            };
            if settled {
                if app && s.held > 0 {
                    let released = within("the server", self.server.release())
                        .await
                        .expect("server running");
                    assert!(released, "a held frame to release");
                    continue;
                }
                return;
            }
            // 4. Wait for the driver or the server to move.
            let moved = tokio::time::timeout_at(give_up, async {
                tokio::select! {
                    r = self.dstatus.changed() => r,
                    r = self.sstatus.changed() => r,
                }
            })
            .await;
            match moved {
                Ok(Ok(())) => {}
                Ok(Err(_)) => panic!("a task stopped while settling step {}", self.step),
                Err(_) => panic!(
                    "step {} did not settle within {WAIT:?}: consumed {}, driver {d:?}, server {s:?}",
                    self.step, self.consumed
                ),
            }
        }
    }
}

/// Driver and server agree that nothing is in flight and nothing is due; `before`: the
/// connections the server accepted from earlier processes' drivers.
fn quiet(d: &DriverStatus, s: &ServerStatus, now: Instant, before: u64) -> bool {
    !d.connecting
        && d.next_deadline.is_none_or(|t| t > now)
        && d.transport_deadline.is_none_or(|t| t > now)
        && !d.awaiting_pong
        && before + d.connections == s.accepted
        && d.connected == s.open
        && (!d.connected || (d.sent == s.received && s.sent == d.received))
}

/// With a frozen link: the driver has nothing due, and no connect attempt is still making
/// its TCP connection. The server's view and the driver's differ (frames and pings stuck in
/// the proxy, a connection the driver has given up on), and a connect attempt may be stalled
/// in its TLS or WebSocket handshake until that phase's deadline. But one still in its TCP
/// phase reaches the proxy at any moment without being counted in `tcp_connects`: a heal
/// taken then would not wait for it, and the proxy would take it for a link born healed
/// (a reconnect one step early, seen free-running over TLS).
fn quiet_frozen(d: &DriverStatus, now: Instant) -> bool {
    d.next_deadline.is_none_or(|t| t > now)
        && d.transport_deadline.is_none_or(|t| t > now)
        && d.connect_phase != Some(ConnectPhase::Tcp)
}

// ---- Comparing and checking transcripts -------------------------------------------------

/// The simulator's steps for `lines`.
pub fn sim_steps(lines: &[Line]) -> Vec<Step> {
    lines.iter().map(|l| l.sim.clone()).collect()
}

/// The simulator's transcript for `lines`, redacted by [`REDACTION`] as the driver's trace
/// and the harness's records are.
pub fn simulate(lines: &[Line]) -> Vec<Record> {
    World::run(&sim_steps(lines))
        .expect("the world settles")
        .into_iter()
        .map(|r| Record {
            step: r.step,
            observed: redact(r.observed),
        })
        .collect()
}

fn redact(observed: Observed) -> Observed {
    match observed {
        Observed::Api(call) => Observed::Api(REDACTION.redact_call(&call)),
        Observed::Send(frame) => {
            let frame = frame
                .typed()
                .expect("the simulator's frames are the core's")
                .clone();
            Observed::Send(WireFrame::Typed(REDACTION.redact_frame(&frame)))
        }
        other => other,
    }
}

/// Records as JSON Lines.
pub fn jsonl(records: &[Record]) -> String {
    records
        .iter()
        .map(|r| serde_json::to_string(r).expect("records serialize"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn show_difference(what: &str, real: &[Record], sim: &[Record]) -> String {
    let at = real
        .iter()
        .zip(sim)
        .position(|(a, b)| a != b)
        .unwrap_or(real.len().min(sim.len()));
    format!(
        "{what}: first difference at record {at}\n--- over sockets ({} records)\n{}\n--- simulator ({} records)\n{}",
        real.len(),
        jsonl(real),
        sim.len(),
        jsonl(sim)
    )
}

/// The two transcripts are equal, record for record.
pub fn assert_same(real: &[Record], sim: &[Record]) {
    assert!(
        real == sim,
        "{}",
        show_difference("transcripts differ", real, sim)
    );
}

/// Equal apart from step indices: the same records in the same order, each possibly caused
/// by another step (a slow server answers a later step).
pub fn assert_same_apart_from_steps(real: &[Record], sim: &[Record]) {
    let strip = |rs: &[Record]| -> Vec<Record> {
        rs.iter()
            .map(|r| Record {
                step: 0,
                observed: r.observed.clone(),
            })
            .collect()
    };
    let (a, b) = (strip(real), strip(sim));
    assert!(
        a == b,
        "{}",
        show_difference("transcripts differ apart from steps", real, sim)
    );
}

/// Who produces a record, for [`assert_same_apart_from_interleaving`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Channel {
    /// The app: its API calls, what it shows, and refusals of both or of the step.
    App,
    /// Frames the core sends.
    Send,
    /// Frames the core receives, and their refusals.
    Recv,
    /// Events the core delivers.
    Event,
}

/// Sorts each step's records by channel, keeping each channel's order.
fn by_channel(records: &[Record]) -> Vec<Record> {
    let mut keyed: Vec<(usize, Channel, Record)> = Vec::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        let channel = match &r.observed {
            Observed::Api(_) | Observed::Ui(_) => Channel::App,
            Observed::Send(_) => Channel::Send,
            Observed::Recv(_) => Channel::Recv,
            Observed::Event(_) => Channel::Event,
            // A refusal belongs with what it refuses, the record just before it.
            Observed::Error(_) => match i.checked_sub(1).map(|p| &records[p]) {
                Some(prev) if prev.step == r.step => match prev.observed {
                    Observed::Recv(_) => Channel::Recv,
                    _ => Channel::App,
                },
                _ => Channel::App,
            },
        };
        keyed.push((r.step, channel, r.clone()));
    }
    keyed.sort_by_key(|(step, channel, _)| (*step, *channel)); // stable
    keyed.into_iter().map(|(_, _, r)| r).collect()
}

/// Equal apart from how the concurrent actors interleave within a step.
///
/// Over a real socket with a free-running server, three actors run at once: the app (API
/// calls, UI), the driver (frames out, events), the server (frames in). Within one step the
/// order *between* them is a race the simulator does not have: e.g. after `presence_connect`
/// the server's `presence_connected` may arrive before or after the app's next call,
/// `presence_set_default_ui`. The order *within* each of them is causal and must match: the
/// app's calls and UI in order, frames sent in order, frames received in order, events in
/// order; and every record stays at the step that caused it. So both transcripts are
/// compared step by step, channel by channel.
pub fn assert_same_apart_from_interleaving(real: &[Record], sim: &[Record]) {
    let (a, b) = (by_channel(real), by_channel(sim));
    assert!(
        a == b,
        "{}",
        show_difference(
            "transcripts differ apart from interleaving (sorted by step and channel)",
            &a,
            &b
        )
    );
}

/// The invariant checker finds no violation, on the records alone and interleaved with the
/// scenario lines (the simulator counterparts of fault lines).
pub fn assert_no_violation(lines: &[Line], records: &[Record]) {
    // the plain trace, as `cobrowse run` prints it: after the config line when that sets a
    // key of spec.md §13.1 (what INV-CONSENT-POLICY judges by)
    let plain: Vec<(usize, TraceLine)> = oracle::plain(&sim_steps(lines), records)
        .into_iter()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .collect();
    let violations = oracle::check_trace(&plain);
    assert!(
        violations.is_empty(),
        "invariant violations:\n{}\n--- transcript\n{}",
        violations
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
        jsonl(records)
    );
    let trace: Vec<(usize, TraceLine)> = oracle::interleave(&sim_steps(lines), records)
        .into_iter()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .collect();
    // A fault or a paired line is played one way over the sockets and stands for another
    // simulator step in the interleaved trace (a cut noticed a step later, a reconnect at the
    // backoff for `network restored`): the records are the simulator's, their steps only
    // approximately. INV-SDK-REPLAY, which holds every record to its step's inputs, is judged
    // on such a trace only where every line is played the same on both sides.
    let approximate = lines
        .iter()
        .any(|l| !matches!(&l.real, Act::Step(s) if *s == l.sim));
    let violations: Vec<_> = oracle::check_trace(&trace)
        .into_iter()
        .filter(|v| !(approximate && v.invariant == oracle::Invariant::SdkReplay))
        .collect();
    assert!(
        violations.is_empty(),
        "invariant violations in the interleaved trace:\n{}\n--- transcript\n{}",
        violations
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
        jsonl(records)
    );
}
