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
//! (see [`spawn`]).

use crate::clock::Clock;
use cobrowse_visitor_core::MAX_FRAME_BYTES;
use cobrowse_visitor_core::{
    ApiCall, ClientFrame, Error, Event, Input, Instant, Lifecycle, NetworkChange, Output,
    ProtocolError, Sdk, SdkConfig, ServerFrame,
};
use futures_util::{SinkExt, StreamExt};
use std::future::Future;
use std::ops::ControlFlow;
use std::pin::Pin;
use std::time::Duration;
use thiserror::Error;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Connecting = Pin<Box<dyn Future<Output = Result<Socket, String>> + Send>>;

/// How to reach the service, and with what clock and core configuration.
#[derive(Clone, Debug)]
pub struct DriverConfig {
    /// The WebSocket URL, e.g. `ws://127.0.0.1:4000/`.
    pub url: String,
    /// The core's timer durations.
    pub sdk: SdkConfig,
    /// Where `now` comes from.
    pub clock: Clock,
    /// How long a connect attempt may take (on [`DriverConfig::clock`]) before it counts as
    /// failed.
    pub connect_timeout: Duration,
    /// Largest WebSocket message accepted, a memory guard for the transport. Larger messages
    /// fail the connection; it is above the core's own frame limit
    /// ([`MAX_FRAME_BYTES`]), so that frames the core must refuse as too large reach it.
    pub max_message_bytes: usize,
    /// Also report the wire ([`Notification::Sent`], [`Notification::Received`],
    /// [`Notification::FrameRefused`]) and transport changes, for logs and transcripts.
    pub trace: bool,
}

impl DriverConfig {
    /// Defaults: the core's default timers, tokio's clock from now, a 10 s connect timeout,
    /// messages up to 4 × [`MAX_FRAME_BYTES`], no trace.
    pub fn new(url: impl Into<String>) -> DriverConfig {
        DriverConfig {
            url: url.into(),
            sdk: SdkConfig::default(),
            clock: Clock::tokio(),
            connect_timeout: Duration::from_secs(10),
            max_message_bytes: 4 * MAX_FRAME_BYTES,
            trace: false,
        }
    }
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
    /// Trace: a WebSocket is open (the core was told [`NetworkChange::Restored`], except for
    /// the first one: a new core already believes the link is up).
    Connected,
    /// Trace: the WebSocket closed or failed (why); the core was told [`NetworkChange::Lost`].
    Disconnected(String),
    /// Trace: a connect attempt failed (why); the core asks again on its own schedule.
    ConnectFailed(String),
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
    /// WebSockets opened so far.
    pub connections: u64,
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
    let (commands_tx, commands) = mpsc::unbounded_channel();
    let (notes_tx, notes) = mpsc::unbounded_channel();
    let (status_tx, status) = watch::channel(DriverStatus::default());
    let now = config.clock.now();
    let mut task = Task {
        sdk: Sdk::new(config.sdk.clone()),
        last_now: now,
        clock: config.clock.clone(),
        config,
        socket: None,
        connecting: None,
        first: Some(Vec::new()),
        broken: None,
        deadline: None,
        commands,
        notes: notes_tx,
        status: status_tx,
        connections: 0,
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
    /// The latest `now` given to the core (so that a clock that steps back cannot make the
    /// core refuse an input).
    last_now: Instant,
    socket: Option<Socket>,
    connecting: Option<Connecting>,
    /// `Some` until the first connect attempt ends: the frames the core sent meanwhile.
    first: Option<Vec<ClientFrame>>,
    /// A write failed during the drain: the socket is gone, to be reported after the drain.
    broken: Option<String>,
    deadline: Option<Instant>,
    commands: mpsc::UnboundedReceiver<Command>,
    notes: mpsc::UnboundedSender<Notification>,
    status: watch::Sender<DriverStatus>,
    connections: u64,
    sent: u64,
    received: u64,
    notifications: u64,
}

/// What woke the loop.
enum Wake {
    Command(Option<Command>),
    Connected(Result<Socket, String>),
    Message(Option<Result<Message, tokio_tungstenite::tungstenite::Error>>),
    Deadline,
}

impl Task {
    /// Before the task runs: open the first socket. Done before [`spawn`] returns, so that
    /// the first status already says "connecting".
    fn prime(&mut self) {
        self.start_connect();
        self.publish(false);
    }

    async fn run(mut self) {
        loop {
            self.publish(false);
            let wake = tokio::select! {
                biased;
                command = self.commands.recv() => Wake::Command(command),
                result = until_connected(&mut self.connecting) => Wake::Connected(result),
                message = next_message(&mut self.socket) => Wake::Message(message),
                () = self.clock.sleep_until_opt(self.deadline) => Wake::Deadline,
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
                    self.on_connect_result(result).await;
                }
                Wake::Message(message) => self.on_message(message).await,
                Wake::Deadline => self.feed(Input::Timeout).await,
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
                self.connecting = None;
                if self.socket.take().is_some() {
                    self.lost("the network is unreachable".to_owned()).await;
                } else if self.first.take().is_some() {
                    // The first attempt is abandoned; the core believed the link was up.
                    self.feed(Input::Network(NetworkChange::Lost)).await;
                }
                self.publish(false);
                let _ = reply.send(());
            }
            Command::Shutdown(reply) => {
                self.close().await;
                self.publish(true);
                let _ = reply.send(());
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }

    async fn on_connect_result(&mut self, result: Result<Socket, String>) {
        let first = self.first.take();
        match (result, first) {
            (Ok(socket), first) => {
                self.socket = Some(socket);
                self.connections += 1;
                self.sent = 0;
                self.received = 0;
                self.trace(Notification::Connected);
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
                self.trace(Notification::ConnectFailed(why));
                self.feed(Input::Network(NetworkChange::Lost)).await;
            }
            (Err(why), None) => {
                self.trace(Notification::ConnectFailed(why));
                self.publish(false);
            }
        }
    }

    async fn on_message(
        &mut self,
        message: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) {
        let bytes = match message {
            Some(Ok(Message::Text(text))) => text.as_bytes().to_vec(),
            Some(Ok(Message::Binary(bytes))) => bytes.to_vec(),
            // tungstenite answers pings itself; raw frames are never read.
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => return,
            Some(Ok(Message::Close(frame))) => {
                let why = frame.map_or_else(
                    || "closed by the server".to_owned(),
                    |f| format!("closed by the server: {} {}", f.code, f.reason),
                );
                self.socket = None;
                self.lost(why).await;
                return;
            }
            Some(Err(e)) => {
                self.socket = None;
                self.lost(e.to_string()).await;
                return;
            }
            None => {
                self.socket = None;
                self.lost("the connection ended".to_owned()).await;
                return;
            }
        };
        self.received += 1;
        // `Sdk::handle_bytes` in two halves, so that the decoded frame can be traced before
        // the core sees it, and a refusal after.
        let result = match ServerFrame::decode(&bytes) {
            Ok(frame) => {
                self.trace(Notification::Received(frame.clone()));
                self.input(Input::Frame(frame))
            }
            Err(e) => Err(Error::Protocol(ProtocolError::Frame(e))),
        };
        if let Err(e) = result {
            self.trace(Notification::FrameRefused(e));
        }
        self.settle().await;
    }

    /// The socket is gone (already dropped): tell the app's trace and the core.
    async fn lost(&mut self, why: String) {
        self.trace(Notification::Disconnected(why));
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
            self.trace(Notification::Disconnected(why));
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
                    self.trace(Notification::Sent(f.clone()));
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
        match socket.send(Message::text(text)).await {
            Ok(()) => self.sent += 1,
            Err(e) => self.broken = Some(e.to_string()),
        }
    }

    fn start_connect(&mut self) {
        if self.socket.is_some() || self.connecting.is_some() {
            return;
        }
        let url = self.config.url.clone();
        let ws_config = WebSocketConfig::default()
            .max_message_size(Some(self.config.max_message_bytes))
            .max_frame_size(Some(self.config.max_message_bytes));
        let clock = self.clock.clone();
        let give_up = clock.now().saturating_add(self.config.connect_timeout);
        self.connecting = Some(Box::pin(async move {
            tokio::select! {
                result = tokio_tungstenite::connect_async_with_config(url, Some(ws_config), true) => {
                    result.map(|(socket, _response)| socket).map_err(|e| e.to_string())
                }
                () = clock.sleep_until(give_up) => Err("the connect attempt timed out".to_owned()),
            }
        }));
    }

    async fn close(&mut self) {
        self.connecting = None;
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
        let status = DriverStatus {
            now: self.clock.now(),
            next_deadline: self.deadline,
            connected: self.socket.is_some(),
            connecting: self.connecting.is_some(),
            connections: self.connections,
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

async fn until_connected(connecting: &mut Option<Connecting>) -> Result<Socket, String> {
    match connecting {
        Some(attempt) => attempt.await,
        None => std::future::pending().await,
    }
}

async fn next_message(
    socket: &mut Option<Socket>,
) -> Option<Result<Message, tokio_tungstenite::tungstenite::Error>> {
    match socket {
        Some(socket) => socket.next().await,
        None => std::future::pending().await,
    }
}
