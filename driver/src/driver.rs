//! The IO driver: one tokio task that owns the WebSocket, the clock and the core's timer, and
//! does nothing else.
//!
//! Each loop turn waits for the first of: a command from the app ([`DriverHandle`]), a
//! message on the socket, the end of a connect attempt, the core's deadline. It turns that
//! into one [`Input`] at [`Clock::now`], then drains [`Sdk::poll_output`] until
//! [`Output::Timeout`] (the core's single-mutation rule):
//!
//! | core output | what the driver does |
//! | --- | --- |
//! | [`Output::Event`] | [`Notification::Event`] to the app |
//! | [`Output::Transmit`] | writes the frame's JSON as a text message |
//! | [`Output::Connect`] | opens a new WebSocket, unless one is open or opening |
//! | [`Output::Timeout`] | remembers the deadline; feeds [`Input::Timeout`] when it comes |
//!
//! and the other way:
//!
//! | IO fact | core input |
//! | --- | --- |
//! | a text or binary message | [`Input::Frame`] (decoded with [`ServerFrame::decode`]) |
//! | the socket closed or failed, or the first connect attempt failed | [`Input::Network`]`(`[`NetworkChange::Lost`]`)` |
//! | a connect attempt after a loss succeeded | [`Input::Network`]`(`[`NetworkChange::Restored`]`)` |
//! | the deadline passed | [`Input::Timeout`] |
//! | [`DriverHandle::call`], [`DriverHandle::lifecycle`] | [`Input::Api`], [`Input::Lifecycle`] |
//!
//! No protocol rule lives here: which frames to send, when to reconnect and what an outage
//! means for a session are the core's decisions. A failed reconnect attempt is not an input:
//! the core already has its next reconnect deadline armed. A new core believes the link is
//! up, so the first socket is opened at once and the core hears nothing unless that fails
//! (see [`spawn`]); a core restored after an app restart ([`Sdk::restore`], spec.md §5.6)
//! knows its link is down and asks for the socket itself (see [`spawn_with`]).

use crate::clock::Clock;
use crate::connect::{self, ConnectError, ConnectPhase, Deadlines, Roots, Socket, Target};
use crate::redact::{redact_url, Redaction};
use cobrowse_visitor_core::MAX_FRAME_BYTES;
use cobrowse_visitor_core::{
    ApiCall, ClientFrame, Error, Event, Input, Instant, Lifecycle, Link, NetworkChange, Output,
    ProtocolError, Sdk, SdkConfig, ServerFrame, Snapshot,
};
use futures_util::{SinkExt, StreamExt};
use rustls::ClientConfig;
use std::future::Future;
use std::ops::ControlFlow;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::error::CapacityError;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

type Connecting = Pin<Box<dyn Future<Output = Result<Socket, ConnectError>> + Send>>;
type WsError = tokio_tungstenite::tungstenite::Error;

/// How much tungstenite reads from the socket at a time. With
/// [`DriverConfig::max_message_bytes`] it bounds what one connection can make the driver
/// buffer: one message up to the limit, plus one read.
pub const READ_BUFFER_BYTES: usize = 8 * 1024;

/// How to reach the service, with what clock, deadlines, TLS roots and core configuration.
///
/// Every time-based value is measured on [`DriverConfig::clock`]. The defaults fit a mobile
/// SDK and a core whose session grace is 60 s (spec.md §7):
///
/// | field | default | why |
/// | --- | --- | --- |
/// | [`connect_timeout`](Self::connect_timeout) | 10 s | a TCP connect on a poor mobile link takes seconds, not tens of seconds; a SYN that gets no answer for 10 s will not get one |
/// | [`tls_timeout`](Self::tls_timeout) | 10 s | two round trips and a certificate chain; anything slower is a stalled proxy |
/// | [`handshake_timeout`](Self::handshake_timeout) | 10 s | one round trip; a captive portal or a stalled proxy answers never |
/// | [`ping_interval`](Self::ping_interval) | 10 s | well under the idle timeout of mobile NATs and carrier proxies (often 30–60 s), so the pings also keep the mapping alive; one small frame every 10 s is a negligible cost in battery and data |
/// | [`pong_timeout`](Self::pong_timeout) | 10 s | a dead link is found at most 20 s after the last traffic, a third of the 60 s session grace: the core's reconnect backoff (1, 2, 4, 8 s …) then has about 40 s to resume the session; a healthy but slow link (a 3G round trip of 1–2 s, a congested cell) answers a ping well within 10 s |
///
/// An attempt's total is at most the sum of its three phase deadlines (30 s by default); the
/// core's reconnect deadlines go on meanwhile, and a `Connect` while an attempt is under way
/// changes nothing.
#[derive(Clone)]
pub struct DriverConfig {
    /// The service's WebSocket URL, e.g. `wss://cobrowse.example/visitor`. `ws://` only to a
    /// loopback host, unless [`DriverConfig::allow_plain`].
    pub url: String,
    /// The core's timer durations.
    pub sdk: SdkConfig,
    /// Where `now` comes from.
    pub clock: Clock,
    /// The CAs a `wss://` server's certificate must chain to. Default: the platform's store.
    pub roots: Roots,
    /// Also allow plain `ws://` to hosts that are not loopback (default: off; a loopback
    /// host is always allowed, for tests and local development).
    pub allow_plain: bool,
    /// How long the TCP connect (name resolution included) may take before the attempt fails
    /// with [`ConnectError::TcpTimeout`].
    pub connect_timeout: Duration,
    /// How long the TLS handshake may take before the attempt fails with
    /// [`ConnectError::TlsTimeout`].
    pub tls_timeout: Duration,
    /// How long the WebSocket upgrade may take before the attempt fails with
    /// [`ConnectError::HandshakeTimeout`].
    pub handshake_timeout: Duration,
    /// After this long without hearing anything on the open WebSocket, the driver sends a
    /// WebSocket ping.
    pub ping_interval: Duration,
    /// After a ping, how long the driver waits for any traffic (the pong, or anything else)
    /// before it declares the link dead ([`LinkError::Silent`]), drops it and tells the core
    /// [`NetworkChange::Lost`]. Also the longest a write may block. A link silent for
    /// `ping_interval + pong_timeout` is dead.
    pub pong_timeout: Duration,
    /// Largest WebSocket message accepted, a memory guard for the transport. Larger messages
    /// (or frames whose header announces more) fail the connection
    /// ([`LinkError::TooLarge`]) before their payload is buffered; it is above the core's own
    /// frame limit ([`MAX_FRAME_BYTES`]), so that frames the core must refuse as too large
    /// reach it.
    pub max_message_bytes: usize,
    /// Which of the visitor's secrets to hide in [`Notification::Sent`] (and in this
    /// configuration's `Debug`). Default: [`Redaction::ALL`].
    pub redaction: Redaction,
    /// Also report the wire ([`Notification::Sent`], [`Notification::Received`],
    /// [`Notification::FrameRefused`]), for logs and transcripts.
    pub trace: bool,
}

impl std::fmt::Debug for DriverConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = if self.redaction.is_on() {
            redact_url(&self.url)
        } else {
            self.url.clone()
        };
        f.debug_struct("DriverConfig")
            .field("url", &url)
            .field("sdk", &self.sdk)
            .field("clock", &self.clock)
            .field("roots", &self.roots)
            .field("allow_plain", &self.allow_plain)
            .field("connect_timeout", &self.connect_timeout)
            .field("tls_timeout", &self.tls_timeout)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("ping_interval", &self.ping_interval)
            .field("pong_timeout", &self.pong_timeout)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("redaction", &self.redaction)
            .field("trace", &self.trace)
            .finish()
    }
}

impl DriverConfig {
    /// Defaults (see the table above): the core's default timers, tokio's clock from now,
    /// the platform's roots, no plain `ws://` beyond loopback, 10 s for each connect phase,
    /// a ping after 10 s of silence and death 10 s later, messages up to 4 ×
    /// [`MAX_FRAME_BYTES`], every secret redacted, no wire trace.
    pub fn new(url: impl Into<String>) -> DriverConfig {
        DriverConfig {
            url: url.into(),
            sdk: SdkConfig::default(),
            clock: Clock::tokio(),
            roots: Roots::default(),
            allow_plain: false,
            connect_timeout: Duration::from_secs(10),
            tls_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(10),
            pong_timeout: Duration::from_secs(10),
            max_message_bytes: 4 * MAX_FRAME_BYTES,
            redaction: Redaction::default(),
            trace: false,
        }
    }
}

/// Why an open WebSocket is gone. The core hears [`NetworkChange::Lost`] for every one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The server sent a close frame.
    #[error("closed by the server ({code}{})", if reason.is_empty() { String::new() } else { format!(": {reason}") })]
    Closed {
        /// The close code (1005 when the frame had none).
        code: u16,
        /// The server's reason text.
        reason: String,
    },
    /// The connection ended without a close frame.
    #[error("the connection ended")]
    Ended,
    /// Reading or writing failed (reset, broken pipe, a protocol violation, a TLS error).
    #[error("the connection failed: {0}")]
    Failed(String),
    /// Nothing was heard for too long, not even the answer to a ping: the link is dead
    /// (a half-open TCP connection, a network that vanished without a reset).
    #[error("no traffic for {silent_ms} ms: the link is dead")]
    Silent {
        /// How long nothing was heard, on the driver's clock.
        silent_ms: u64,
    },
    /// A write did not complete within [`DriverConfig::pong_timeout`].
    #[error("a write did not complete within {0:?}")]
    WriteStalled(Duration),
    /// The server sent a message (or announced a frame) larger than
    /// [`DriverConfig::max_message_bytes`].
    #[error("the server sent a message over the {limit}-byte limit")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The platform reported the network gone ([`Reachability::Offline`]).
    #[error("the network is unreachable")]
    Offline,
}

/// What the driver hands the app, in the order it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notification {
    /// An SDK event for the app (`EventConnectedToSession`, …).
    Event(Event),
    /// Trace: the core sent this frame (before it was written to the socket).
    Sent(ClientFrame),
    /// Trace: this frame arrived and was fed to the core.
    Received(ServerFrame),
    /// Trace: the core refused the frame just [`Notification::Received`], or bytes that are
    /// not a frame at all (then without a `Received` before it). Nothing changed.
    FrameRefused(Error),
    /// Transport: a WebSocket is open (the core was told [`NetworkChange::Restored`], except
    /// for the first one: a new core already believes the link is up). Transport
    /// notifications are handed out whether or not [`DriverConfig::trace`] is on.
    Connected,
    /// Transport: the WebSocket closed, failed or went silent (why); the core was told
    /// [`NetworkChange::Lost`].
    Disconnected(LinkError),
    /// Transport: a connect attempt failed (why: a typed [`ConnectError`], e.g. a
    /// certificate from an unknown CA, for the wrong host or expired). The core asks again on
    /// its own schedule, or, after a failed first attempt, was told [`NetworkChange::Lost`].
    ConnectFailed(ConnectError),
}

/// The network as the platform reports it (reachability), a hint for the transport only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reachability {
    /// The network is back: if no WebSocket is open or opening, open one now rather than at
    /// the core's next reconnect deadline (the simulator's "the IO layer hears the network is
    /// back and reconnects at once").
    Online,
    /// The network is gone: close the WebSocket now rather than wait for TCP to notice.
    Offline,
}

/// Why a command to the driver failed.
#[derive(Debug, Error)]
pub enum DriverError {
    /// The core refused the input (an API call misused, or not allowed now); its state is
    /// unchanged, and for API calls the app also gets `EventInvalidParameter` or
    /// `EventInvalidState`.
    #[error(transparent)]
    Refused(#[from] Error),
    /// The driver task has stopped.
    #[error("the driver has stopped")]
    Stopped,
}

/// A snapshot of the driver, published after every input has been drained and after every
/// change of the transport: what a test needs to know that everything has settled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DriverStatus {
    /// The clock when this was published.
    pub now: Instant,
    /// The core's next deadline.
    pub next_deadline: Option<Instant>,
    /// A WebSocket is open.
    pub connected: bool,
    /// A connect attempt is under way.
    pub connecting: bool,
    /// The phase of the connect attempt under way, if any. While it is
    /// [`ConnectPhase::Tcp`], a TCP connection may be made at any moment that
    /// [`DriverStatus::tcp_connects`] does not count yet.
    pub connect_phase: Option<ConnectPhase>,
    /// The next deadline of the transport itself, on the driver's clock: the current
    /// connect phase's, or, with a WebSocket open, the next ping or the moment the link is
    /// declared dead. Not a core deadline; a test that winds a manual clock winds to it too.
    pub transport_deadline: Option<Instant>,
    /// A ping was sent on the current WebSocket and nothing has been heard since.
    pub awaiting_pong: bool,
    /// WebSockets opened so far.
    pub connections: u64,
    /// TCP connections made so far (by attempts that went on to TLS or the WebSocket
    /// handshake, whether or not that succeeded).
    pub tcp_connects: u64,
    /// Frames written on the current WebSocket.
    pub sent: u64,
    /// Messages read on the current WebSocket (frames or not).
    pub received: u64,
    /// Notifications handed to the app so far. Every one counted here is already in the
    /// channel: a reader that has taken this many has seen every drained output.
    pub notifications: u64,
    /// The driver task has ended.
    pub stopped: bool,
}

enum Command {
    Api(ApiCall, oneshot::Sender<Result<(), Error>>),
    Lifecycle(Lifecycle, oneshot::Sender<Result<(), Error>>),
    Reachability(Reachability, oneshot::Sender<()>),
    /// Runs on the core between two inputs; the closure replies itself.
    Inspect(Box<dyn FnOnce(&Sdk) + Send>),
    Shutdown(oneshot::Sender<()>),
}

/// The app's side of a running driver. Cheap to clone.
#[derive(Clone, Debug)]
pub struct DriverHandle {
    commands: mpsc::UnboundedSender<Command>,
    status: watch::Receiver<DriverStatus>,
}

impl DriverHandle {
    /// Makes an SDK API call. Returns once the core has handled it and its outputs have been
    /// sent and notified; `Err(Refused)` when the core refused it.
    pub async fn call(&self, call: ApiCall) -> Result<(), DriverError> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Api(call, tx))?;
        rx.await.map_err(|_| DriverError::Stopped)??;
        Ok(())
    }

    /// Reports an app lifecycle change (background, foreground, terminate).
    pub async fn lifecycle(&self, change: Lifecycle) -> Result<(), DriverError> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Lifecycle(change, tx))?;
        rx.await.map_err(|_| DriverError::Stopped)??;
        Ok(())
    }

    /// Reports what the platform knows about the network.
    pub async fn reachability(&self, change: Reachability) -> Result<(), DriverError> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Reachability(change, tx))?;
        rx.await.map_err(|_| DriverError::Stopped)
    }

    /// A snapshot of what must survive an app restart (spec.md §5.6, [`Sdk::snapshot`]), at
    /// wall-clock `unix_ms`; `None` before the first `EventVisitorInitialized` and after
    /// terminate. The OS kills an app without warning, so an app keeps the latest one in its
    /// storage (taken after each event, or when it goes to the background) and on its next
    /// launch gives [`spawn_with`] the core [`Sdk::restore`] makes of it.
    pub async fn snapshot(&self, unix_ms: u64) -> Result<Option<Snapshot>, DriverError> {
        self.inspect(move |sdk| sdk.snapshot(unix_ms)).await
    }

    /// Runs `f` on the core between two inputs and returns what it returns: a read of the
    /// core's state ([`Sdk::state`], [`Sdk::is_session_active`], …) that no input can
    /// interleave with. The core cannot be changed through it. `f` runs on the driver's task,
    /// which waits for it: keep it short.
    pub async fn inspect<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Sdk) -> R + Send + 'static,
    ) -> Result<R, DriverError> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Inspect(Box::new(move |sdk| {
            // a caller that stopped waiting does not want the answer
            let _ = tx.send(f(sdk));
        })))?;
        rx.await.map_err(|_| DriverError::Stopped)
    }

    /// Closes the WebSocket (with a close frame) and ends the driver task. Events already
    /// notified stay in the channel.
    pub async fn shutdown(&self) -> Result<(), DriverError> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Shutdown(tx))?;
        rx.await.map_err(|_| DriverError::Stopped)
    }

    /// The driver's status, updated after every drained input and transport change.
    pub fn status(&self) -> watch::Receiver<DriverStatus> {
        self.status.clone()
    }

    fn send(&self, command: Command) -> Result<(), DriverError> {
        self.commands
            .send(command)
            .map_err(|_| DriverError::Stopped)
    }
}

/// Starts a driver task on the current tokio runtime and returns its handle and the channel
/// of [`Notification`]s.
///
/// A new core believes the link is up, so the driver opens the first WebSocket at once
/// without telling the core anything; frames the core sends before it is open wait for it.
/// If that first attempt fails, the waiting frames are dropped (like frames written into a
/// socket that died) and the core is told [`NetworkChange::Lost`]: from then on the core
/// decides when to try again, and resends what must survive an outage when the link is back.
/// The task ends on [`DriverHandle::shutdown`] or when every handle is dropped.
pub fn spawn(config: DriverConfig) -> (DriverHandle, mpsc::UnboundedReceiver<Notification>) {
    let sdk = Sdk::new(config.sdk.clone());
    spawn_with(config, sdk)
}

/// [`spawn`] around a given core instead of a new one: on an app's next launch, the core
/// [`Sdk::restore`] made of the snapshot the previous process kept ([`DriverHandle::snapshot`],
/// spec.md §5.6). [`DriverConfig::sdk`] is not used: the core has its configuration.
///
/// What the core queued is handed on before this returns, as after any input: its events are
/// in the channel, and its [`Output::Connect`] opens the first socket. A restored core knows
/// its link is down (S-R01–S-R04): it is told [`NetworkChange::Restored`] when that socket is
/// open, and its new link sends `init` and resumes a running session (`resume_session`). If
/// that attempt fails, the core is told nothing: its reconnect deadline is armed. A core whose
/// link is up (a new one) gets its first socket as in [`spawn`].
///
/// The integration controller is the app's, not the driver's: the app restores it next to
/// the core with `Controller::restore(config, snapshot, &sdk)` before handing the core over,
/// and drains it after the core's first events.
pub fn spawn_with(
    config: DriverConfig,
    sdk: Sdk,
) -> (DriverHandle, mpsc::UnboundedReceiver<Notification>) {
    let (commands_tx, commands) = mpsc::unbounded_channel();
    let (notes_tx, notes) = mpsc::unbounded_channel();
    let (status_tx, status) = watch::channel(DriverStatus::default());
    let now = config.clock.now();
    let target = Target::parse(&config.url, config.allow_plain);
    // The TLS configuration once: loading the platform's roots is not free.
    let tls = match &target {
        Ok(t) if t.is_tls() => Some(config.roots.client_config()),
        _ => None,
    };
    let link_up = sdk.state().link == Link::Up;
    // a restored core was made at its own `now`: never feed it an earlier one
    let last_now = now.max(sdk.state().now);
    let mut task = Task {
        sdk,
        last_now,
        clock: config.clock.clone(),
        target,
        tls,
        config,
        socket: None,
        connecting: None,
        phase: None,
        // a core whose link is up believes frames flow from the start; one whose link is
        // down asks for a socket and hears `Restored` when it is open
        first: link_up.then(Vec::new),
        broken: None,
        deadline: None,
        last_heard: now,
        ping_sent: None,
        commands,
        notes: notes_tx,
        status: status_tx,
        connections: 0,
        tcp_connects: Arc::new(AtomicU64::new(0)),
        sent: 0,
        received: 0,
        notifications: 0,
    };
    task.prime();
    tokio::spawn(task.run());
    (
        DriverHandle {
            commands: commands_tx,
            status,
        },
        notes,
    )
}

struct Task {
    sdk: Sdk,
    clock: Clock,
    config: DriverConfig,
    /// The URL, checked against the policy once.
    target: Result<Target, ConnectError>,
    /// For a `wss://` target: the rustls configuration, or why there is none.
    tls: Option<Result<Arc<ClientConfig>, ConnectError>>,
    /// The latest `now` given to the core (so that a clock that steps back cannot make the
    /// core refuse an input).
    last_now: Instant,
    socket: Option<Socket>,
    connecting: Option<Connecting>,
    /// While connecting: the attempt's current phase and its deadline.
    phase: Option<watch::Receiver<(ConnectPhase, Instant)>>,
    /// `Some` until the first connect attempt ends: the frames the core sent meanwhile.
    first: Option<Vec<ClientFrame>>,
    /// A write failed during the drain: the socket is gone, to be reported after the drain.
    broken: Option<LinkError>,
    deadline: Option<Instant>,
    /// When anything was last read on the open socket (or it opened).
    last_heard: Instant,
    /// When the unanswered ping was sent, if one is.
    ping_sent: Option<Instant>,
    commands: mpsc::UnboundedReceiver<Command>,
    notes: mpsc::UnboundedSender<Notification>,
    status: watch::Sender<DriverStatus>,
    connections: u64,
    /// Shared with the connect attempts.
    tcp_connects: Arc<AtomicU64>,
    sent: u64,
    received: u64,
    notifications: u64,
}

/// What woke the loop.
enum Wake {
    Command(Option<Command>),
    Connected(Result<Box<Socket>, ConnectError>),
    /// The connect attempt moved to its next phase (a new deadline to publish).
    Phase,
    Deadline,
    Keepalive,
    Message(Option<Result<Message, WsError>>),
}

impl Task {
    /// Before the task runs: open the first socket (a core whose link is up), and hand on
    /// what the core queued (a restored core's events and its `Connect`; frames wait for the
    /// first socket while the core believes the link is up, and a core whose link is down
    /// sends none). Done before [`spawn`] returns, so that the first status already says
    /// "connecting" and the core's first events are in the channel.
    fn prime(&mut self) {
        if self.first.is_some() {
            self.start_connect();
        }
        let frames = self.collect();
        if let Some(waiting) = self.first.as_mut() {
            waiting.extend(frames);
        }
        self.publish(false);
    }

    async fn run(mut self) {
        loop {
            self.publish(false);
            let keepalive = self.keepalive_deadline();
            // `biased`: the app's commands first, so that a call is answered however chatty
            // the socket; then the transport's own events; the core's deadline and the
            // keepalive before the next message, so that a flood of frames cannot starve
            // the core's timers or hide a dead link (each is ready only once it is due).
            let wake = tokio::select! {
                biased;
                command = self.commands.recv() => Wake::Command(command),
                result = until_connected(&mut self.connecting) => Wake::Connected(result),
                () = phase_moved(&mut self.phase) => Wake::Phase,
                () = self.clock.sleep_until_opt(self.deadline) => Wake::Deadline,
                () = self.clock.sleep_until_opt(keepalive) => Wake::Keepalive,
                message = next_message(&mut self.socket) => Wake::Message(message),
            };
            match wake {
                // Every handle is gone: nobody to drive for.
                Wake::Command(None) => {
                    self.close().await;
                    break;
                }
                Wake::Command(Some(command)) => {
                    if self.on_command(command).await.is_break() {
                        break;
                    }
                }
                Wake::Connected(result) => {
                    self.connecting = None;
                    self.phase = None;
                    self.on_connect_result(result).await;
                }
                Wake::Phase => {}
                Wake::Deadline => self.feed(Input::Timeout).await,
                Wake::Keepalive => self.on_keepalive().await,
                Wake::Message(message) => self.on_message(message).await,
            }
        }
        self.publish(true);
    }

    async fn on_command(&mut self, command: Command) -> ControlFlow<()> {
        match command {
            Command::Api(call, reply) => {
                let result = self.input(Input::Api(call));
                self.settle().await;
                let _ = reply.send(result);
            }
            Command::Lifecycle(change, reply) => {
                let result = self.input(Input::Lifecycle(change));
                self.settle().await;
                let _ = reply.send(result);
            }
            Command::Reachability(Reachability::Online, reply) => {
                self.start_connect();
                self.publish(false);
                let _ = reply.send(());
            }
            Command::Reachability(Reachability::Offline, reply) => {
                if self.connecting.take().is_some() {
                    self.phase = None;
                    self.notify(Notification::ConnectFailed(ConnectError::Abandoned));
                }
                if self.socket.take().is_some() {
                    self.lost(LinkError::Offline).await;
                } else if self.first.take().is_some() {
                    // The first attempt is abandoned; the core believed the link was up.
                    self.feed(Input::Network(NetworkChange::Lost)).await;
                }
                self.publish(false);
                let _ = reply.send(());
            }
            Command::Inspect(f) => f(&self.sdk),
            Command::Shutdown(reply) => {
                self.close().await;
                self.publish(true);
                let _ = reply.send(());
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }

    async fn on_connect_result(&mut self, result: Result<Box<Socket>, ConnectError>) {
        let first = self.first.take();
        match (result, first) {
            (Ok(socket), first) => {
                self.socket = Some(*socket);
                self.connections += 1;
                self.sent = 0;
                self.received = 0;
                self.last_heard = self.clock.now();
                self.ping_sent = None;
                self.notify(Notification::Connected);
                match first {
                    // The core already believes the link is up: just send what waited.
                    Some(waiting) => {
                        for frame in waiting {
                            self.write(&frame).await;
                        }
                        self.settle().await;
                    }
                    None => self.feed(Input::Network(NetworkChange::Restored)).await,
                }
            }
            (Err(why), Some(_dropped)) => {
                // The core believed the link was up: it is not.
                self.notify(Notification::ConnectFailed(why));
                self.feed(Input::Network(NetworkChange::Lost)).await;
            }
            (Err(why), None) => {
                self.notify(Notification::ConnectFailed(why));
                self.publish(false);
            }
        }
    }

    /// The next keepalive deadline with a socket open: the ping's, or the dead link's.
    fn keepalive_deadline(&self) -> Option<Instant> {
        self.socket.as_ref()?;
        Some(match self.ping_sent {
            Some(at) => at.saturating_add(self.config.pong_timeout),
            None => self.last_heard.saturating_add(self.config.ping_interval),
        })
    }

    /// Sends a ping after [`DriverConfig::ping_interval`] of silence; declares the link dead
    /// after [`DriverConfig::pong_timeout`] more. A ping's deadline counts from when it was
    /// sent, on the driver's clock: however far the clock jumps, a link is declared dead
    /// only after a ping has had a whole `pong_timeout` to be answered.
    async fn on_keepalive(&mut self) {
        let now = self.clock.now();
        match self.ping_sent {
            Some(at) if now >= at.saturating_add(self.config.pong_timeout) => {
                let silent_ms = u64::try_from(now.saturating_since(self.last_heard).as_millis())
                    .unwrap_or(u64::MAX);
                self.socket = None;
                self.ping_sent = None;
                self.lost(LinkError::Silent { silent_ms }).await;
            }
            None if now >= self.last_heard.saturating_add(self.config.ping_interval) => {
                let limit = self.config.pong_timeout;
                let result = match self.socket.as_mut() {
                    Some(socket) => {
                        let give_up = now.saturating_add(limit);
                        let ping = socket.send(Message::Ping(Default::default()));
                        tokio::select! {
                            r = ping => r.map_err(|e| link_error(&e, self.config.max_message_bytes)),
                            () = self.clock.sleep_until(give_up) => Err(LinkError::WriteStalled(limit)),
                        }
                    }
                    None => return,
                };
                match result {
                    Ok(()) => self.ping_sent = Some(now),
                    Err(why) => {
                        self.socket = None;
                        self.lost(why).await;
                    }
                }
            }
            // Woken early (the clock is shared): nothing due yet.
            _ => {}
        }
    }

    async fn on_message(&mut self, message: Option<Result<Message, WsError>>) {
        if message.is_some() {
            self.last_heard = self.clock.now().max(self.last_heard);
            self.ping_sent = None;
        }
        let bytes = match message {
            Some(Ok(Message::Text(text))) => text.as_bytes().to_vec(),
            Some(Ok(Message::Binary(bytes))) => bytes.to_vec(),
            // tungstenite answers pings itself; a pong (or a ping) is traffic, nothing more;
            // raw frames are never read.
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => return,
            Some(Ok(Message::Close(frame))) => {
                let why = frame.map_or(
                    LinkError::Closed {
                        code: 1005,
                        reason: String::new(),
                    },
                    |f| LinkError::Closed {
                        code: f.code.into(),
                        reason: f.reason.to_string(),
                    },
                );
                self.socket = None;
                self.lost(why).await;
                return;
            }
            Some(Err(e)) => {
                self.socket = None;
                self.lost(link_error(&e, self.config.max_message_bytes))
                    .await;
                return;
            }
            None => {
                self.socket = None;
                self.lost(LinkError::Ended).await;
                return;
            }
        };
        self.received += 1;
        // `Sdk::handle_bytes` in two halves, so that the decoded frame can be traced before
        // the core sees it, and a refusal after.
        let result = match ServerFrame::decode(&bytes) {
            Ok(frame) => {
                if self.config.trace {
                    self.notify(Notification::Received(frame.clone()));
                }
                self.input(Input::Frame(frame))
            }
            Err(e) => Err(Error::Protocol(ProtocolError::Frame(e))),
        };
        if let Err(e) = result {
            self.trace(Notification::FrameRefused(e));
        }
        self.settle().await;
    }

    /// The socket is gone (already dropped): tell the app and the core.
    async fn lost(&mut self, why: LinkError) {
        self.notify(Notification::Disconnected(why));
        self.feed(Input::Network(NetworkChange::Lost)).await;
    }

    /// Feeds one input and drains the core; the result only matters to commands.
    async fn feed(&mut self, input: Input) {
        let _ = self.input(input);
        self.settle().await;
    }

    fn input(&mut self, input: Input) -> Result<(), Error> {
        let now = self.clock.now().max(self.last_now);
        self.last_now = now;
        self.sdk.handle_input(now, input)
    }

    /// Drains the core, performs its outputs, reports a socket that broke while writing (which
    /// is itself an input, drained in turn), then publishes the status.
    async fn settle(&mut self) {
        self.drain().await;
        while let Some(why) = self.broken.take() {
            self.socket = None;
            self.notify(Notification::Disconnected(why));
            let _ = self.input(Input::Network(NetworkChange::Lost));
            self.drain().await;
        }
        self.publish(false);
    }

    async fn drain(&mut self) {
        let frames = self.collect();
        for frame in frames {
            self.write(&frame).await;
        }
    }

    /// Polls the core until [`Output::Timeout`]: notifies events (and traces frames) in the
    /// core's order, starts a connect if asked, and returns the frames to write.
    fn collect(&mut self) -> Vec<ClientFrame> {
        let mut frames = Vec::new();
        loop {
            match self.sdk.poll_output() {
                Output::Event(e) => self.notify(Notification::Event(e)),
                Output::Transmit(f) => {
                    if self.config.trace {
                        let shown = self.config.redaction.redact_frame(&f);
                        self.notify(Notification::Sent(shown));
                    }
                    frames.push(f);
                }
                Output::Connect => self.start_connect(),
                Output::Timeout(deadline) => {
                    self.deadline = deadline;
                    return frames;
                }
            }
        }
    }

    async fn write(&mut self, frame: &ClientFrame) {
        if self.broken.is_some() {
            return;
        }
        let Some(socket) = self.socket.as_mut() else {
            if let Some(waiting) = self.first.as_mut() {
                waiting.push(frame.clone());
            }
            // Otherwise the core believes the link is up only while a socket is open: a
            // frame without one is dropped like one written into a dying socket.
            return;
        };
        let text = String::from_utf8_lossy(&frame.encode()).into_owned();
        let limit = self.config.pong_timeout;
        let give_up = self.clock.now().saturating_add(limit);
        let result = tokio::select! {
            r = socket.send(Message::text(text)) => {
                r.map_err(|e| link_error(&e, self.config.max_message_bytes))
            }
            () = self.clock.sleep_until(give_up) => Err(LinkError::WriteStalled(limit)),
        };
        match result {
            Ok(()) => self.sent += 1,
            Err(why) => self.broken = Some(why),
        }
    }

    fn start_connect(&mut self) {
        if self.socket.is_some() || self.connecting.is_some() {
            return;
        }
        let target = match &self.target {
            Ok(t) => t.clone(),
            Err(e) => {
                let e = e.clone();
                self.connecting = Some(Box::pin(async move { Err(e) }));
                return;
            }
        };
        let tls = match &self.tls {
            Some(Ok(config)) => Some(Arc::clone(config)),
            Some(Err(e)) => {
                let e = e.clone();
                self.connecting = Some(Box::pin(async move { Err(e) }));
                return;
            }
            None => None,
        };
        let ws_config = WebSocketConfig::default()
            .max_message_size(Some(self.config.max_message_bytes))
            .max_frame_size(Some(self.config.max_message_bytes))
            .read_buffer_size(READ_BUFFER_BYTES);
        let deadlines = Deadlines {
            tcp: self.config.connect_timeout,
            tls: self.config.tls_timeout,
            handshake: self.config.handshake_timeout,
        };
        let (phase_tx, phase_rx) = watch::channel((ConnectPhase::Tcp, self.clock.now()));
        self.phase = Some(phase_rx);
        self.connecting = Some(Box::pin(connect::connect(
            target,
            tls,
            ws_config,
            deadlines,
            self.clock.clone(),
            phase_tx,
            Arc::clone(&self.tcp_connects),
        )));
    }

    async fn close(&mut self) {
        self.connecting = None;
        self.phase = None;
        if let Some(mut socket) = self.socket.take() {
            // A courtesy close frame; bounded so that a stuck peer cannot hold the app.
            let _ = tokio::time::timeout(Duration::from_secs(2), socket.close(None)).await;
        }
    }

    fn notify(&mut self, n: Notification) {
        self.notifications += 1;
        // An app that dropped its receiver does not want them.
        let _ = self.notes.send(n);
    }

    fn trace(&mut self, n: Notification) {
        if self.config.trace {
            self.notify(n);
        }
    }

    fn publish(&self, stopped: bool) {
        let phase = self
            .connecting
            .as_ref()
            .and(self.phase.as_ref())
            .map(|rx| *rx.borrow());
        let transport_deadline = match (phase.map(|(_, at)| at), self.keepalive_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let status = DriverStatus {
            now: self.clock.now(),
            next_deadline: self.deadline,
            connected: self.socket.is_some(),
            connecting: self.connecting.is_some(),
            connect_phase: phase.map(|(p, _)| p),
            transport_deadline,
            awaiting_pong: self.socket.is_some() && self.ping_sent.is_some(),
            connections: self.connections,
            tcp_connects: self.tcp_connects.load(Ordering::Relaxed),
            sent: self.sent,
            received: self.received,
            notifications: self.notifications,
            stopped,
        };
        self.status.send_if_modified(|s| {
            // `now` alone changing is no news.
            let changed = DriverStatus {
                now: s.now,
                ..status
            } != *s;
            *s = status;
            changed
        });
    }
}

/// What a read or write error means for the link.
fn link_error(e: &WsError, limit: usize) -> LinkError {
    match e {
        WsError::Capacity(CapacityError::MessageTooLong { .. }) => LinkError::TooLarge { limit },
        WsError::ConnectionClosed | WsError::AlreadyClosed => LinkError::Ended,
        WsError::Io(io) => LinkError::Failed(io.kind().to_string()),
        other => LinkError::Failed(other.to_string()),
    }
}

async fn until_connected(connecting: &mut Option<Connecting>) -> Result<Box<Socket>, ConnectError> {
    match connecting {
        Some(attempt) => attempt.await.map(Box::new),
        None => std::future::pending().await,
    }
}

/// Completes when the connect attempt's phase deadline changes.
async fn phase_moved(phase: &mut Option<watch::Receiver<(ConnectPhase, Instant)>>) {
    match phase {
        Some(rx) => {
            if rx.changed().await.is_err() {
                // The attempt ended: its result wakes the loop instead.
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}

async fn next_message(socket: &mut Option<Socket>) -> Option<Result<Message, WsError>> {
    match socket {
        Some(socket) => socket.next().await,
        None => std::future::pending().await,
    }
}
