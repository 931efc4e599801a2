//! A loopback server for tests and demos (not a product): the simulator's server logic,
//! [`sim::Server`], behind a WebSocket on `127.0.0.1`, speaking the spec's wire frames (one
//! JSON text message each), with an agent side and fault injection that a test drives
//! through a [`ServerControl`].
//!
//! It serves one visitor at a time, like [`sim::Server`]: a new connection replaces the
//! previous one. When the connection closes the server logic hears
//! [`sim::Server::connection_lost`], and when the next one opens
//! [`sim::Server::connection_restored`], both at the server's [`Clock`]. Frames the server
//! logic produces while no connection is open are dropped, as the simulator drops them while
//! its network is down; the server logic hears of every frame that never left
//! ([`sim::Server::not_delivered`]: dropped, held in lockstep when the connection closed, or
//! a failed write), so that a start whose answer never reached the visitor is one its next
//! connection may send again, as in the simulator (spec.md §13).
//!
//! With [`ServerConfig::tls`] it speaks `wss://` (rustls, `ring`), with a certificate the
//! test made (e.g. with `rcgen`, see [`tls_server_config`]).
//!
//! Two delivery modes:
//! - free-running (the default): every frame is written as soon as the server logic produces
//!   it, as a real server would;
//! - lockstep ([`ServerConfig::lockstep`]): frames wait in a queue until the test calls
//!   [`ServerControl::release`], one at a time. A test that releases only when everything
//!   else is quiet reproduces the simulator's order exactly (the simulator delivers one server
//!   frame only when the app and the SDK core have nothing left to do).

use crate::clock::Clock;
use cobrowse_visitor_conformance::sim;
use cobrowse_visitor_conformance::transcript::AgentAction;
use cobrowse_visitor_core::MAX_FRAME_BYTES;
use cobrowse_visitor_core::{ClientFrame, SdkConfig, ServerFrame};
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::collections::{BTreeMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// A server-side byte stream: plain TCP or TLS over it.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Conn = WebSocketStream<Box<dyn Io>>;

/// A rustls server configuration (`ring` provider, TLS 1.2 and 1.3) for the loopback
/// server, from a certificate chain (leaf first) and its private key.
pub fn tls_server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    Ok(Arc::new(config))
}

/// How long a client may take over the WebSocket handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The loopback server's settings.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The group whose settings lookup succeeds.
    pub group_id: i32,
    /// Seeds the random session keys (a scenario's `seed`, so keys match the simulator's).
    pub seed: u64,
    /// How long a session survives its visitor's outage (the core's
    /// [`SdkConfig::session_grace`], as in the simulator).
    pub session_grace: Duration,
    /// The server's time, for the session grace.
    pub clock: Clock,
    /// Hold every frame until [`ServerControl::release`].
    pub lockstep: bool,
    /// Serve `wss://` with this configuration (see [`tls_server_config`]); `None`: `ws://`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The group's settings let an agent start a session without terms (`settings.agent_start`,
    /// a scenario's `agent_start`, spec.md §13.1).
    pub agent_start: bool,
    /// Presence is enabled for the group (a scenario's `presence`, spec.md §13.1).
    pub presence: bool,
    /// The service's presence is down (a scenario's `presence_unavailable`, spec.md §13.1).
    pub presence_unavailable: bool,
}

impl ServerConfig {
    /// The simulator's server for `group_id` and `seed`: the default session grace, tokio's
    /// clock, free-running.
    pub fn new(group_id: i32, seed: u64) -> ServerConfig {
        ServerConfig {
            group_id,
            seed,
            session_grace: SdkConfig::default().session_grace,
            clock: Clock::tokio(),
            lockstep: false,
            tls: None,
            agent_start: false,
            presence: true,
            presence_unavailable: false,
        }
    }
}

/// Why the loopback server failed.
#[derive(Debug, Error)]
pub enum ServerError {
    /// Binding the listener failed.
    #[error("cannot listen on 127.0.0.1: {0}")]
    Io(#[from] std::io::Error),
    /// The server task has stopped.
    #[error("the loopback server has stopped")]
    Stopped,
}

/// A snapshot of the server, published after every change.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ServerStatus {
    /// A visitor connection is open.
    pub open: bool,
    /// WebSocket handshakes completed so far (including ones closed at once because the
    /// network was down by then).
    pub accepted: u64,
    /// Messages read on the current connection (frames or not; held ones too).
    pub received: u64,
    /// Messages written on the current connection.
    pub sent: u64,
    /// Messages waiting for [`ServerControl::release`] (lockstep only).
    pub held: usize,
    /// Client frames waiting for [`ServerControl::resume`].
    pub stalled: usize,
    /// New connections are accepted.
    pub network_up: bool,
    /// The server task has ended.
    pub stopped: bool,
}

enum Control {
    Agent(AgentAction, oneshot::Sender<Result<(), &'static str>>),
    AgentSignal(
        String,
        BTreeMap<String, String>,
        oneshot::Sender<Result<(), &'static str>>,
    ),
    AgentMessage(
        String,
        BTreeMap<String, String>,
        oneshot::Sender<Result<(), &'static str>>,
    ),
    Network(bool, oneshot::Sender<()>),
    Drop(oneshot::Sender<()>),
    SendRaw(String, oneshot::Sender<()>),
    Stall(oneshot::Sender<()>),
    Resume(oneshot::Sender<()>),
    Release(oneshot::Sender<bool>),
    Shutdown(oneshot::Sender<()>),
}

/// The test's side of a running loopback server. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ServerControl {
    tx: mpsc::UnboundedSender<Control>,
    status: watch::Receiver<ServerStatus>,
}

impl ServerControl {
    /// The agent acts; the inner `Err` carries the simulator's code when the action is not
    /// possible now (`no_session`, `visitor_not_present`, …).
    pub async fn agent(
        &self,
        action: AgentAction,
    ) -> Result<Result<(), &'static str>, ServerError> {
        self.ask(|tx| Control::Agent(action, tx)).await
    }

    /// The agent sends the visitor a custom signal (`presence_signal`); the inner `Err` is
    /// `visitor_not_present` when the visitor's presence is not connected.
    pub async fn agent_signal(
        &self,
        event: String,
        map: BTreeMap<String, String>,
    ) -> Result<Result<(), &'static str>, ServerError> {
        self.ask(|tx| Control::AgentSignal(event, map, tx)).await
    }

    /// An agent in the running session sends the visitor a message (`user_message`); the
    /// inner `Err` is `no_session` when no session runs.
    pub async fn agent_message(
        &self,
        name: String,
        map: BTreeMap<String, String>,
    ) -> Result<Result<(), &'static str>, ServerError> {
        self.ask(|tx| Control::AgentMessage(name, map, tx)).await
    }

    /// Network down: the open connection is dropped (no close frame, as when a network
    /// vanishes) and new connections are refused until the network is up again.
    pub async fn set_network(&self, up: bool) -> Result<(), ServerError> {
        self.ask(|tx| Control::Network(up, tx)).await
    }

    /// Drops the open connection without a close frame; new connections are still accepted.
    pub async fn drop_connection(&self) -> Result<(), ServerError> {
        self.ask(Control::Drop).await
    }

    /// Sends `text` as one text message, frame or not (fault injection). Held like a frame
    /// in lockstep; dropped when no connection is open.
    pub async fn send_raw(&self, text: impl Into<String>) -> Result<(), ServerError> {
        let text = text.into();
        self.ask(|tx| Control::SendRaw(text, tx)).await
    }

    /// The server goes slow: frames received from now on wait, unanswered, until
    /// [`ServerControl::resume`].
    pub async fn stall(&self) -> Result<(), ServerError> {
        self.ask(Control::Stall).await
    }

    /// The server answers the frames it held, in order, and stops holding.
    pub async fn resume(&self) -> Result<(), ServerError> {
        self.ask(Control::Resume).await
    }

    /// Lockstep: writes the oldest held message; `false` when none was held.
    pub async fn release(&self) -> Result<bool, ServerError> {
        self.ask(Control::Release).await
    }

    /// Closes the connection and ends the server task.
    pub async fn shutdown(&self) -> Result<(), ServerError> {
        self.ask(Control::Shutdown).await
    }

    /// The server's status, updated after every change.
    pub fn status(&self) -> watch::Receiver<ServerStatus> {
        self.status.clone()
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Control,
    ) -> Result<T, ServerError> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(make(tx)).map_err(|_| ServerError::Stopped)?;
        rx.await.map_err(|_| ServerError::Stopped)
    }
}

/// A running loopback server.
#[derive(Debug)]
pub struct LoopbackServer {
    addr: SocketAddr,
    tls: bool,
    control: ServerControl,
}

impl LoopbackServer {
    /// Binds `127.0.0.1` on a free port and starts serving on the current tokio runtime.
    pub async fn start(config: ServerConfig) -> Result<LoopbackServer, ServerError> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let (tx, controls) = mpsc::unbounded_channel();
        let (status_tx, status) = watch::channel(ServerStatus {
            network_up: true,
            ..ServerStatus::default()
        });
        let (handshakes_tx, handshakes) = mpsc::unbounded_channel();
        let tls = config.tls.clone();
        let task = ServerTask {
            tls: config.tls.map(tokio_rustls::TlsAcceptor::from),
            logic: sim::Server::new(config.group_id, config.seed, config.session_grace)
                .with_group(config.agent_start, config.presence)
                .with_presence_unavailable(config.presence_unavailable),
            clock: config.clock,
            lockstep: config.lockstep,
            listener,
            handshakes_tx,
            handshakes,
            controls,
            status: status_tx,
            conn: None,
            network_up: true,
            stalled: None,
            held: VecDeque::new(),
            accepted: 0,
            received: 0,
            sent: 0,
        };
        tokio::spawn(task.run());
        Ok(LoopbackServer {
            addr,
            tls: tls.is_some(),
            control: ServerControl { tx, status },
        })
    }

    /// The bound address (`127.0.0.1` and the port the system chose).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL a driver connects to: `ws://127.0.0.1:PORT/`, or `wss://127.0.0.1:PORT/` with
    /// TLS (the certificate must then be valid for the IP address `127.0.0.1`).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}/", self.addr)
    }

    /// A control handle.
    pub fn control(&self) -> ServerControl {
        self.control.clone()
    }
}

enum Outgoing {
    Frame(ServerFrame),
    Raw(String),
}

impl Outgoing {
    fn text(&self) -> String {
        match self {
            Outgoing::Frame(f) => String::from_utf8_lossy(&f.encode()).into_owned(),
            Outgoing::Raw(t) => t.clone(),
        }
    }
}

struct ServerTask {
    tls: Option<tokio_rustls::TlsAcceptor>,
    logic: sim::Server,
    clock: Clock,
    lockstep: bool,
    listener: TcpListener,
    handshakes_tx: mpsc::UnboundedSender<Box<Conn>>,
    handshakes: mpsc::UnboundedReceiver<Box<Conn>>,
    controls: mpsc::UnboundedReceiver<Control>,
    status: watch::Sender<ServerStatus>,
    conn: Option<Conn>,
    network_up: bool,
    /// `Some` while stalled: the client frames received meanwhile.
    stalled: Option<VecDeque<ClientFrame>>,
    held: VecDeque<Outgoing>,
    accepted: u64,
    received: u64,
    sent: u64,
}

enum Wake {
    Control(Option<Control>),
    Tcp(std::io::Result<(TcpStream, SocketAddr)>),
    Handshake(Option<Box<Conn>>),
    Message(Option<Result<Message, tokio_tungstenite::tungstenite::Error>>),
}

fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(4 * MAX_FRAME_BYTES))
        .max_frame_size(Some(4 * MAX_FRAME_BYTES))
}

impl ServerTask {
    async fn run(mut self) {
        loop {
            self.publish(false);
            let wake = tokio::select! {
                biased;
                control = self.controls.recv() => Wake::Control(control),
                conn = self.handshakes.recv() => Wake::Handshake(conn),
                message = next_message(&mut self.conn) => Wake::Message(message),
                tcp = self.listener.accept() => Wake::Tcp(tcp),
            };
            match wake {
                Wake::Control(None) => break,
                Wake::Control(Some(Control::Shutdown(done))) => {
                    if let Some(mut conn) = self.conn.take() {
                        let _ = tokio::time::timeout(HANDSHAKE_TIMEOUT, conn.close(None)).await;
                    }
                    let _ = done.send(());
                    break;
                }
                Wake::Control(Some(control)) => self.on_control(control).await,
                Wake::Tcp(Ok((stream, _peer))) => self.on_tcp(stream),
                // A failed accept (out of descriptors, say) concerns no connection.
                Wake::Tcp(Err(_)) => {}
                Wake::Handshake(Some(conn)) => self.on_handshake(*conn).await,
                Wake::Handshake(None) => {}
                Wake::Message(message) => self.on_message(message).await,
            }
        }
        self.publish(true);
    }

    fn on_tcp(&mut self, stream: TcpStream) {
        if !self.network_up {
            // Refused: the client's handshake sees the connection end.
            return;
        }
        let _ = stream.set_nodelay(true);
        let done = self.handshakes_tx.clone();
        let tls = self.tls.clone();
        tokio::spawn(async move {
            let handshake = async move {
                let stream: Box<dyn Io> = match tls {
                    Some(acceptor) => Box::new(acceptor.accept(stream).await.ok()?),
                    None => Box::new(stream),
                };
                tokio_tungstenite::accept_async_with_config(stream, Some(ws_config()))
                    .await
                    .ok()
            };
            if let Ok(Some(conn)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                let _ = done.send(Box::new(conn));
            }
        });
    }

    async fn on_handshake(&mut self, conn: Conn) {
        self.accepted += 1;
        // One visitor: a new connection replaces the old one.
        self.close_conn();
        if !self.network_up {
            return; // dropped at once: the network went down during the handshake
        }
        self.logic.connection_restored(self.clock.now());
        self.conn = Some(conn);
        self.received = 0;
        self.sent = 0;
    }

    async fn on_message(
        &mut self,
        message: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) {
        let bytes = match message {
            Some(Ok(Message::Text(text))) => text.as_bytes().to_vec(),
            Some(Ok(Message::Binary(bytes))) => bytes.to_vec(),
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => return,
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                self.close_conn();
                return;
            }
        };
        self.received += 1;
        // A client frame that does not decode is ignored, as the simulator never sees one.
        let Ok(frame) = ClientFrame::decode(&bytes) else {
            return;
        };
        match &mut self.stalled {
            Some(waiting) => waiting.push_back(frame),
            None => {
                self.logic.receive(&frame);
                self.flush().await;
            }
        }
    }

    /// Handles a control command. The status is published before the reply, so that a test
    /// that has its reply also sees the state the command left.
    async fn on_control(&mut self, control: Control) {
        match control {
            Control::Agent(action, reply) => {
                let result = self.logic.agent(action);
                self.flush().await;
                self.publish(false);
                let _ = reply.send(result.map_err(|r| r.code()));
            }
            Control::AgentSignal(event, map, reply) => {
                let result = self.logic.agent_signal(&event, &map);
                self.flush().await;
                self.publish(false);
                let _ = reply.send(result.map_err(|r| r.code()));
            }
            Control::AgentMessage(name, map, reply) => {
                let result = self.logic.agent_message(&name, &map);
                self.flush().await;
                self.publish(false);
                let _ = reply.send(result.map_err(|r| r.code()));
            }
            Control::Network(up, reply) => {
                self.network_up = up;
                if !up {
                    self.close_conn();
                }
                self.publish(false);
                let _ = reply.send(());
            }
            Control::Drop(reply) => {
                self.close_conn();
                self.publish(false);
                let _ = reply.send(());
            }
            Control::SendRaw(text, reply) => {
                self.queue(Outgoing::Raw(text)).await;
                self.publish(false);
                let _ = reply.send(());
            }
            Control::Stall(reply) => {
                if self.stalled.is_none() {
                    self.stalled = Some(VecDeque::new());
                }
                self.publish(false);
                let _ = reply.send(());
            }
            Control::Resume(reply) => {
                for frame in self.stalled.take().unwrap_or_default() {
                    self.logic.receive(&frame);
                }
                self.flush().await;
                self.publish(false);
                let _ = reply.send(());
            }
            Control::Release(reply) => {
                let released = match self.held.pop_front() {
                    Some(out) => {
                        self.write(&out).await;
                        true
                    }
                    None => false,
                };
                self.publish(false);
                let _ = reply.send(released);
            }
            Control::Shutdown(reply) => {
                self.publish(false);
                let _ = reply.send(());
            }
        }
    }

    /// Hands every frame the server logic produced to the connection (or the lockstep queue).
    async fn flush(&mut self) {
        while let Some(frame) = self.logic.poll() {
            self.queue(Outgoing::Frame(frame)).await;
        }
    }

    async fn queue(&mut self, out: Outgoing) {
        if self.conn.is_none() {
            // no connection: lost, as in the simulator while its network is down
            self.not_delivered(&out);
            return;
        }
        if self.lockstep {
            self.held.push_back(out);
        } else {
            self.write(&out).await;
        }
    }

    async fn write(&mut self, out: &Outgoing) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        match conn.send(Message::text(out.text())).await {
            Ok(()) => self.sent += 1,
            Err(_) => {
                self.not_delivered(out);
                self.close_conn();
            }
        }
    }

    /// Tells the server logic that a frame it produced never left (spec.md §13: a start whose
    /// `session_started` never reached the visitor may be sent again on the next connection).
    fn not_delivered(&mut self, out: &Outgoing) {
        if let Outgoing::Frame(frame) = out {
            self.logic.not_delivered(frame);
        }
    }

    /// Drops the connection, if any (no close frame), and what was in flight on it (held
    /// frames never left: the server logic hears so before the loss).
    fn close_conn(&mut self) {
        for out in std::mem::take(&mut self.held) {
            self.not_delivered(&out);
        }
        if self.conn.take().is_some() {
            self.logic.connection_lost(self.clock.now());
        }
    }

    fn publish(&self, stopped: bool) {
        let status = ServerStatus {
            open: self.conn.is_some(),
            accepted: self.accepted,
            received: self.received,
            sent: self.sent,
            held: self.held.len(),
            stalled: self.stalled.as_ref().map_or(0, VecDeque::len),
            network_up: self.network_up,
            stopped,
        };
        self.status.send_if_modified(|s| {
            let changed = *s != status;
            *s = status;
            changed
        });
    }
}

async fn next_message(
    conn: &mut Option<Conn>,
) -> Option<Result<Message, tokio_tungstenite::tungstenite::Error>> {
    match conn {
        Some(conn) => conn.next().await,
        None => std::future::pending().await,
    }
}
