//! A fault proxy between the driver and the loopback server, on 127.0.0.1, at the TCP level
//! (so it carries `ws://` and `wss://` alike, and every fault it makes is one a real network
//! makes): latency and jitter, throttling, a link that stops forwarding in one or both
//! directions without closing (half-open), and a cut in the middle of a frame.
//!
//! Every accepted connection is paired with a new connection to the upstream server, and
//! each direction is a reader and a writer: the reader reads as it comes and stamps each
//! chunk with the time it may be delivered (now + latency ± jitter, never before the chunk
//! before it: TCP does not reorder); the writer delivers it then, at most at the throttle's
//! rate, unless the direction is frozen. An end of stream travels like data, so a link that
//! is frozen does not even tell the other side that one side has closed.
//!
//! Time here is tokio's real clock (latency is real); the driver's clock is the test's.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// The shape of a healthy but imperfect link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shape {
    /// Added to every chunk, each way.
    pub latency: Duration,
    /// Each chunk's latency is `latency ± jitter`, uniformly.
    pub jitter: Duration,
    /// At most this many bytes a second, each way.
    pub bytes_per_sec: Option<u64>,
}

/// A direction of the link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Driver to server.
    Up,
    /// Server to driver.
    Down,
    /// Both.
    Both,
}

#[derive(Clone, Debug, Default)]
struct State {
    shape: Shape,
    frozen_up: bool,
    frozen_down: bool,
    /// Server-to-driver bytes still forwarded before the link is cut.
    cut_down_after: Option<usize>,
    /// Bumped by [`FaultProxy::heal`]: links opened while frozen are dropped then.
    epoch: u64,
    closed: bool,
}

impl State {
    fn frozen(&self, dir: Direction) -> bool {
        match dir {
            Direction::Up => self.frozen_up,
            Direction::Down => self.frozen_down,
            Direction::Both => self.frozen_up || self.frozen_down,
        }
    }
}

/// The proxy. Dropping it does not stop it; call [`FaultProxy::shutdown`].
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<watch::Sender<State>>,
    links: watch::Receiver<u64>,
}

impl FaultProxy {
    /// Listens on 127.0.0.1 and forwards every connection to `upstream`.
    pub async fn start(upstream: SocketAddr, shape: Shape) -> FaultProxy {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("the proxy binds 127.0.0.1:0");
        let addr = listener.local_addr().expect("a bound address");
        let (state, _) = watch::channel(State {
            shape,
            ..State::default()
        });
        let state = Arc::new(state);
        let (links_tx, links) = watch::channel(0u64);
        let accept_state = Arc::clone(&state);
        tokio::spawn(async move {
            let mut closed = accept_state.subscribe();
            let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = closed.wait_for(|s| s.closed) => return,
                };
                let Ok((client, _)) = accepted else { continue };
                // Classified before it is counted: a test that saw the count knows the link
                // is born frozen or not.
                let birth = {
                    let s = accept_state.borrow();
                    Birth {
                        born_frozen: s.frozen_up || s.frozen_down,
                        epoch: s.epoch,
                    }
                };
                links_tx.send_modify(|n| *n += 1);
                seed = seed.wrapping_add(0x2545_f491_4f6c_dd1d);
                tokio::spawn(link(
                    client,
                    upstream,
                    Arc::clone(&accept_state),
                    seed,
                    birth,
                ));
            }
        });
        FaultProxy { addr, state, links }
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub fn links(&self) -> u64 {
        *self.links.borrow()
    }

    /// Waits until at least `n` connections have been accepted (a connection the kernel has
    /// completed may not have been accepted yet).
    pub async fn accepted(&self, n: u64) {
        let mut links = self.links.clone();
        let _ = links.wait_for(|l| *l >= n).await;
    }

    /// Changes latency, jitter and throttle for what is read from now on.
    pub fn set_shape(&self, shape: Shape) {
        self.state.send_modify(|s| s.shape = shape);
    }

    /// Stops forwarding in `dir` on every open link, without closing anything: a half-open
    /// link (a phone that changed networks, a NAT that forgot the mapping). Links opened
    /// while anything is frozen forward nothing either way (their handshake stalls) until
    /// [`FaultProxy::heal`], which drops them.
    pub fn freeze(&self, dir: Direction) {
        self.state.send_modify(|s| match dir {
            Direction::Up => s.frozen_up = true,
            Direction::Down => s.frozen_down = true,
            Direction::Both => {
                s.frozen_up = true;
                s.frozen_down = true;
            }
        });
    }

    /// Forwards again what the frozen links held (an end of stream too), and drops the links
    /// opened while frozen.
    pub fn heal(&self) {
        self.state.send_modify(|s| {
            s.frozen_up = false;
            s.frozen_down = false;
            s.epoch += 1;
        });
    }

    /// Forwards `bytes` more bytes from the server, then cuts the link (both sockets closed,
    /// no close frame): with a frame under way, in the middle of it.
    pub fn cut_down_after(&self, bytes: usize) {
        self.state.send_modify(|s| s.cut_down_after = Some(bytes));
    }

    /// Stops accepting and drops every link.
    pub fn shutdown(&self) {
        self.state.send_modify(|s| s.closed = true);
    }
}

async fn link(
    client: TcpStream,
    upstream: SocketAddr,
    state: Arc<watch::Sender<State>>,
    seed: u64,
    birth: Birth,
) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let (kill, _) = watch::channel(false);
    let kill = Arc::new(kill);
    for (read, write, dir, seed) in [
        (client_read, server_write, Direction::Up, seed),
        (
            server_read,
            client_write,
            Direction::Down,
            seed ^ 0xdead_beef,
        ),
    ] {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(reader(
            read,
            tx,
            Arc::clone(&state),
            Arc::clone(&kill),
            seed,
        ));
        tokio::spawn(writer(
            write,
            rx,
            dir,
            Arc::clone(&state),
            Arc::clone(&kill),
            birth,
        ));
    }
}

#[derive(Clone, Copy)]
struct Birth {
    born_frozen: bool,
    epoch: u64,
}

/// A chunk and when it may be delivered; `None`: the end of the stream.
type Chunk = (Instant, Option<Vec<u8>>);

async fn reader(
    mut read: OwnedReadHalf,
    tx: mpsc::UnboundedSender<Chunk>,
    state: Arc<watch::Sender<State>>,
    kill: Arc<watch::Sender<bool>>,
    mut seed: u64,
) {
    let mut killed = kill.subscribe();
    let mut last = Instant::now();
    let mut buf = vec![0u8; 4096];
    loop {
        let n = tokio::select! {
            r = read.read(&mut buf) => r.unwrap_or(0),
            _ = killed.wait_for(|k| *k) => return,
        };
        let shape = state.borrow().shape;
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let jitter_ms = u64::try_from(shape.jitter.as_millis()).unwrap_or(0);
        let delay = if jitter_ms == 0 {
            shape.latency
        } else {
            // latency - jitter + [0, 2 jitter]
            (shape.latency + Duration::from_millis(seed % (2 * jitter_ms + 1)))
                .saturating_sub(shape.jitter)
        };
        let at = last.max(Instant::now() + delay);
        last = at;
        let chunk = (n > 0).then(|| buf[..n].to_vec());
        let end = chunk.is_none();
        if tx.send((at, chunk)).is_err() || end {
            return;
        }
    }
}

async fn writer(
    mut write: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Chunk>,
    dir: Direction,
    state: Arc<watch::Sender<State>>,
    kill: Arc<watch::Sender<bool>>,
    birth: Birth,
) {
    let mut changes = state.subscribe();
    let mut killed = kill.subscribe();
    let mut pending: Option<Chunk> = None;
    loop {
        let held = {
            let s = changes.borrow_and_update();
            if s.closed || (birth.born_frozen && s.epoch != birth.epoch) {
                kill.send_replace(true);
                return;
            }
            birth.born_frozen || s.frozen(dir)
        };
        if pending.is_none() || held {
            tokio::select! {
                item = rx.recv(), if pending.is_none() => match item {
                    Some(chunk) => pending = Some(chunk),
                    None => return,
                },
                _ = changes.changed() => {}
                _ = killed.wait_for(|k| *k) => return,
            }
            continue;
        }
        let Some((at, chunk)) = pending.take() else {
            continue;
        };
        tokio::select! {
            () = tokio::time::sleep_until(at) => {}
            _ = killed.wait_for(|k| *k) => return,
        }
        let Some(mut bytes) = chunk else {
            // The end of the stream: the whole link goes.
            kill.send_replace(true);
            return;
        };
        let mut cut = false;
        if dir == Direction::Down {
            let mut s = state.borrow().cut_down_after;
            if let Some(left) = s {
                if left <= bytes.len() {
                    bytes.truncate(left);
                    cut = true;
                    s = None;
                } else {
                    s = Some(left - bytes.len());
                }
                state.send_modify(|st| st.cut_down_after = s);
            }
        }
        let rate = state.borrow().shape.bytes_per_sec;
        let ok = match rate {
            None => write.write_all(&bytes).await.is_ok(),
            Some(rate) => throttled(&mut write, &bytes, rate.max(1)).await,
        };
        if !ok || cut {
            kill.send_replace(true);
            return;
        }
    }
}

/// Writes `bytes` in pieces of a twentieth of a second's worth, pausing after each.
async fn throttled(write: &mut OwnedWriteHalf, bytes: &[u8], rate: u64) -> bool {
    let piece = usize::try_from((rate / 20).max(1)).unwrap_or(usize::MAX);
    for part in bytes.chunks(piece) {
        if write.write_all(part).await.is_err() {
            return false;
        }
        let secs = part.len() as f64 / rate as f64;
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    }
    true
}
