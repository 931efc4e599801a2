//! The journeys through the fault proxy (`harness::proxy`): a half-open link, a stalled
//! handshake, latency with jitter, a throttled link, a cut in the middle of a frame. Each
//! fault has its expected transcript (the simulator's, with the fault's counterpart) or a
//! bound on what it measures.
//!
//! Time is the harness's manual clock, except in `a_half_open_link_on_the_real_clock`:
//! there the deadlines are short and the measured detection time is bounded generously.
mod harness;

use cobrowse_visitor_conformance::transcript::{Observed, Record, Step};
use cobrowse_visitor_core::{ApiCall, Event, InitParams, Instant, NetworkChange};
use cobrowse_visitor_driver::{
    spawn, Clock, ConnectError, DriverConfig, LinkError, LoopbackServer, ManualClock, Notification,
    ServerConfig,
};
use harness::proxy::{Direction, FaultProxy, Shape};
use harness::*;
use std::time::Duration;
use tokio::sync::mpsc;

fn nothing() -> Step {
    Step::AdvanceMs(0)
}

fn session_start(seed: u64) -> Vec<Line> {
    steps(&format!(
        r#"{{"config": {{"group_id": 19921, "custom_ui": true, "seed": {seed}}}}}
{{"user": "launch"}}
{{"user": "tap_cobrowse"}}
{{"agent": "join"}}"#
    ))
}

fn kinds_at(records: &[Record], step: usize) -> Vec<String> {
    records
        .iter()
        .filter(|r| r.step == step)
        .map(|r| match &r.observed {
            Observed::Event(e) => format!("event {}", e.code()),
            Observed::Send(v) => format!("send {}", v.frame_type().unwrap_or("?")),
            Observed::Recv(v) => format!("recv {}", v.frame_type().unwrap_or("?")),
            Observed::Api(call) => format!("api {}", call.name()),
            Observed::Ui(ui) => format!("ui {}", serde_json::to_string(ui).expect("ui")),
            Observed::Error(e) => format!("error {}", e.code),
        })
        .collect()
}

// ---- Half-open -----------------------------------------------------------------------------

/// A session is running (steps 0–3) when the link goes half-open in `dir` for 30 s: nothing
/// is forwarded, nothing is closed. The driver pings after 10 s of silence, gets no answer,
/// and declares the link dead 10 s later (step 5, the simulator's `lost`); its reconnect
/// attempts stall on the dead network (step 6); the network heals at 30 s (step 7); the
/// core's next reconnect succeeds and resumes the session (step 8, the simulator's
/// `restored`, 10 s after its `lost`: within the 60 s grace).
fn half_open_30s(dir: Direction) -> Vec<Line> {
    let mut lines = session_start(11);
    lines.push(Line::fault(Fault::Freeze(dir), nothing())); // 4
    lines.push(Line::pair(
        Step::AdvanceMs(20_000),
        Step::Network(NetworkChange::Lost),
    )); // 5
    lines.push(Line::same(Step::AdvanceMs(10_000))); // 6
    lines.push(Line::fault(Fault::Heal, nothing())); // 7
    lines.push(Line::pair(
        Step::AdvanceMs(20_000),
        Step::Network(NetworkChange::Restored),
    )); // 8
    lines.extend(steps(
        r#"{"agent": "leave"}
{"user": "end_session"}"#,
    )); // 9, 10
    lines
}

/// Plays a half-open journey; the transcript equals the simulator's (free-running: apart
/// from the interleaving within a step), and the dead link is
/// found exactly `ping_interval + pong_timeout` (20 s) after the last traffic.
async fn half_open(lines: &[Line], options: Options) -> Vec<Record> {
    let (records, transport) = play_logged(lines, options).await;
    assert_no_violation(lines, &records);
    match options.delivery {
        Delivery::Lockstep => assert_same(&records, &simulate(lines)),
        Delivery::Free => assert_same_apart_from_interleaving(&records, &simulate(lines)),
    }
    let dead: Vec<&TransportRecord> = transport
        .iter()
        .filter(|t| matches!(t.note, Notification::Disconnected(_)))
        .collect();
    assert_eq!(dead.len(), 1, "one loss: {transport:?}");
    assert_eq!(dead[0].step, 5);
    assert_eq!(
        dead[0].note,
        Notification::Disconnected(LinkError::Silent { silent_ms: 20_000 })
    );
    println!("half-open detected after {:?} of silence", dead[0].note);
    // The stalled reconnect attempts failed on their phase deadline, or were dropped at
    // the heal; the only success is the resume.
    let connected: Vec<usize> = transport
        .iter()
        .filter(|t| t.note == Notification::Connected)
        .map(|t| t.step)
        .collect();
    assert_eq!(connected, [0, 8], "{transport:?}");
    assert_eq!(kinds_at(&records, 5), ["event EventConnectionWarning"]);
    assert_eq!(
        kinds_at(&records, 8),
        [
            "event EventClearWarning",
            "send init",
            "send resume_session",
            "recv settings",
            "recv guest_count",
            "event EventGuestCountChange"
        ]
    );
    records
}

mod half_open_link {
    use super::*;

    #[tokio::test]
    async fn both_directions_lockstep() {
        let lines = half_open_30s(Direction::Both);
        half_open(&lines, Options::LOCKSTEP.through(Shape::default())).await;
    }

    #[tokio::test]
    async fn both_directions_over_tls_lockstep() {
        let lines = half_open_30s(Direction::Both);
        let options = Options::LOCKSTEP.over_tls().through(Shape::default());
        half_open(&lines, options).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn both_directions_over_tls_free_running() {
        let lines = half_open_30s(Direction::Both);
        let options = Options::FREE.over_tls().through(Shape::default());
        half_open(&lines, options).await;
    }

    /// Only the driver's bytes stop: the ping never reaches the server.
    #[tokio::test]
    async fn driver_to_server_only() {
        let lines = half_open_30s(Direction::Up);
        half_open(&lines, Options::LOCKSTEP.through(Shape::default())).await;
    }

    /// Only the server's bytes stop: the pong never comes back.
    #[tokio::test]
    async fn server_to_driver_only() {
        let lines = half_open_30s(Direction::Down);
        half_open(&lines, Options::LOCKSTEP.through(Shape::default())).await;
    }

    /// Half-open past the session grace: the session ends as the spec says (S-T05b,
    /// `EventSessionEnded(connection_lost)` 60 s after the loss was detected), and the link
    /// comes back without it. (The journey stops there: the loopback server, which has no
    /// dead-link detection of its own, heard of the loss only when the link healed, so it
    /// still keeps the session, where the simulator's server dropped it at the loss.)
    #[tokio::test]
    async fn past_the_grace_the_session_ends() {
        let mut lines = session_start(11);
        lines.push(Line::fault(Fault::Freeze(Direction::Both), nothing())); // 4
        lines.push(Line::pair(
            Step::AdvanceMs(20_000),
            Step::Network(NetworkChange::Lost),
        )); // 5
        lines.push(Line::same(Step::AdvanceMs(61_000))); // 6
        lines.push(Line::fault(Fault::Heal, nothing())); // 7
        lines.push(Line::pair(
            Step::AdvanceMs(20_000),
            Step::Network(NetworkChange::Restored),
        )); // 8
        let options = Options::LOCKSTEP.over_tls().through(Shape::default());
        let records = play(&lines, options).await;
        assert_no_violation(&lines, &records);
        assert_same(&records, &simulate(&lines));
        let ended = records
            .iter()
            .find_map(|r| match &r.observed {
                Observed::Event(e) if e.code() == "EventSessionEnded" => Some((r.step, e)),
                _ => None,
            })
            .expect("the session ends");
        assert_eq!(ended.0, 6);
        assert_eq!(ended.1.prop("reason").as_deref(), Some("connection_lost"));
    }
}

/// The production clock, short deadlines (ping after 200 ms of silence, dead 200 ms later):
/// the measured time from the freeze to the loss is bounded (generously: a loaded machine),
/// and reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_open_link_on_the_real_clock() {
    let server = LoopbackServer::start(ServerConfig::new(19921, 7))
        .await
        .expect("bind");
    let proxy = FaultProxy::start(server.addr(), Shape::default()).await;
    let mut config = DriverConfig::new(format!("ws://{}/", proxy.addr()));
    config.ping_interval = Duration::from_millis(200);
    config.pong_timeout = Duration::from_millis(200);
    let (sdk, mut notes) = spawn(config);
    sdk.call(ApiCall::InitVisitor(InitParams::anonymous(19921)))
        .await
        .expect("init_visitor accepted");
    until(&mut notes, |n| {
        matches!(n, Notification::Event(Event::VisitorInitialized { .. }))
    })
    .await;
    let started = std::time::Instant::now();
    proxy.freeze(Direction::Both);
    let why = until(&mut notes, |n| matches!(n, Notification::Disconnected(_))).await;
    let took = started.elapsed();
    let Notification::Disconnected(LinkError::Silent { silent_ms }) = why else {
        panic!("a silent link: {why:?}")
    };
    println!("real clock: half-open detected {took:?} after the freeze (silent for {silent_ms} ms; deadline 400 ms)");
    assert!(
        silent_ms >= 400,
        "never before the deadline: {silent_ms} ms"
    );
    assert!(
        took < Duration::from_secs(5),
        "detected within 5 s: {took:?}"
    );
    until(&mut notes, |n| {
        matches!(n, Notification::Event(Event::ConnectionWarning))
    })
    .await;
    sdk.shutdown().await.expect("driver running");
    proxy.shutdown();
    server.control().shutdown().await.expect("server running");
}

async fn until(
    notes: &mut mpsc::UnboundedReceiver<Notification>,
    mut pred: impl FnMut(&Notification) -> bool,
) -> Notification {
    within("a notification", async {
        loop {
            let n = notes.recv().await.expect("the driver runs");
            if pred(&n) {
                return n;
            }
        }
    })
    .await
}

// ---- A stalled handshake ------------------------------------------------------------------

/// The proxy accepts the TCP connection and forwards nothing: the attempt waits in its
/// TLS phase (wss) or WebSocket phase (ws), as the published phase deadline shows, and fails
/// when the manual clock reaches it, with that phase's error. Phases get distinct deadlines
/// here (3 s TCP, 5 s TLS, 7 s WebSocket) so that the phase is visible.
async fn stalled_handshake(tls: bool) -> (Instant, ConnectError) {
    let manual = ManualClock::new();
    let mut server_config = ServerConfig::new(19921, 7);
    server_config.clock = Clock::manual(&manual);
    if tls {
        server_config.tls = Some(tls::loopback_server());
    }
    let server = LoopbackServer::start(server_config).await.expect("bind");
    let proxy = FaultProxy::start(server.addr(), Shape::default()).await;
    proxy.freeze(Direction::Both);
    let scheme = if tls { "wss" } else { "ws" };
    let mut config = DriverConfig::new(format!("{scheme}://{}/", proxy.addr()));
    config.clock = Clock::manual(&manual);
    config.roots = tls::ca().roots();
    config.connect_timeout = Duration::from_secs(3);
    config.tls_timeout = Duration::from_secs(5);
    config.handshake_timeout = Duration::from_secs(7);
    let (sdk, mut notes) = spawn(config);
    let mut status = sdk.status();
    let phase = if tls { 5_000 } else { 7_000 };
    within(
        "the stalled phase",
        status.wait_for(|s| {
            s.connecting && s.transport_deadline == Some(Instant::from_millis(phase))
        }),
    )
    .await
    .expect("the driver runs");
    manual.set(Instant::from_millis(phase));
    let failed = until(&mut notes, |n| matches!(n, Notification::ConnectFailed(_))).await;
    let Notification::ConnectFailed(e) = failed else {
        unreachable!()
    };
    // The first attempt failed: the core hears of an outage and schedules its reconnect.
    until(&mut notes, |n| {
        matches!(n, Notification::Event(Event::ConnectionWarning))
    })
    .await;
    let s = *status.borrow();
    assert!(!s.connecting && !s.connected);
    assert_eq!(s.connections, 0);
    assert_eq!(server.control().status().borrow().accepted, 0);
    sdk.shutdown().await.expect("driver running");
    proxy.shutdown();
    server.control().shutdown().await.expect("server running");
    (manual.now(), e)
}

#[tokio::test]
async fn a_stalled_websocket_handshake_times_out() {
    let (at, e) = stalled_handshake(false).await;
    assert_eq!(e, ConnectError::HandshakeTimeout(Duration::from_secs(7)));
    assert_eq!(at, Instant::from_millis(7_000));
}

#[tokio::test]
async fn a_stalled_tls_handshake_times_out() {
    let (at, e) = stalled_handshake(true).await;
    assert_eq!(e, ConnectError::TlsTimeout(Duration::from_secs(5)));
    assert_eq!(at, Instant::from_millis(5_000));
}

// ---- Latency, jitter, throttling ------------------------------------------------------------

const LATENCY: Shape = Shape {
    latency: Duration::from_millis(200),
    jitter: Duration::from_millis(100),
    bytes_per_sec: None,
};

/// 200 ms ± 100 ms each way: the lockstep transcript is the simulator's, record for record
/// (including the 60 s of a session, during which pings go out and are answered late).
#[tokio::test]
async fn latency_and_jitter_change_no_transcript_lockstep() {
    let lines = scenario("scenarios/oneclick_accepted.jsonl");
    let started = std::time::Instant::now();
    let records = play(&lines, Options::LOCKSTEP.through(LATENCY)).await;
    println!(
        "oneclick_accepted, lockstep, 200±100 ms: {:?}",
        started.elapsed()
    );
    assert_no_violation(&lines, &records);
    assert_same(&records, &simulate(&lines));
}

/// The same, free-running over wss://, with an outage and a resume in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_and_jitter_change_no_transcript_free_running_over_tls() {
    let lines = scenario("scenarios/network_loss_and_recovery.jsonl");
    let started = std::time::Instant::now();
    let records = play(&lines, Options::FREE.over_tls().through(LATENCY)).await;
    println!(
        "network_loss_and_recovery, free, wss, 200±100 ms: {:?}",
        started.elapsed()
    );
    assert_no_violation(&lines, &records);
    assert_same_apart_from_interleaving(&records, &simulate(&lines));
}

/// 4 KiB/s each way (the TLS handshake with its certificate chain takes a good part of a
/// second): the transcript is the simulator's.
#[tokio::test]
async fn a_throttled_link_changes_no_transcript() {
    let lines = scenario("scenarios/prelogin_manual.jsonl");
    let shape = Shape {
        bytes_per_sec: Some(4096),
        ..Shape::default()
    };
    let started = std::time::Instant::now();
    let records = play(&lines, Options::LOCKSTEP.over_tls().through(shape)).await;
    println!(
        "prelogin_manual, lockstep, wss, 4 KiB/s: {:?}",
        started.elapsed()
    );
    assert_no_violation(&lines, &records);
    assert_same(&records, &simulate(&lines));
}

// ---- A cut in the middle of a frame -----------------------------------------------------

/// The proxy forwards the first 10 bytes of the server's next frame (the agent's
/// `guest_count`) and cuts the link. The partial frame never reaches the core; the driver
/// reports the loss, the core reconnects at its backoff and resumes the session. The
/// simulator's counterpart: the network is lost before the agent joins, and the frame is
/// lost with it; the same records, the loss one step later.
async fn cut_mid_frame(options: Options) {
    let mut lines = steps(
        r#"{"config": {"group_id": 19921, "custom_ui": true, "seed": 11}}
{"user": "launch"}
{"user": "tap_cobrowse"}"#,
    );
    lines.push(Line::fault(
        Fault::CutDownAfter(10),
        Step::Network(NetworkChange::Lost),
    )); // 3
    lines.extend(steps(r#"{"agent": "join"}"#)); // 4
    lines.push(Line::pair(
        Step::AdvanceMs(5_000),
        Step::Network(NetworkChange::Restored),
    )); // 5
    lines.extend(steps(
        r#"{"agent": "leave"}
{"user": "end_session"}"#,
    )); // 6, 7
    let (records, transport) = play_logged(&lines, options).await;
    assert_no_violation(&lines, &records);
    assert_same_apart_from_steps(&records, &simulate(&lines));
    assert_eq!(kinds_at(&records, 4), ["event EventConnectionWarning"]);
    assert_eq!(
        kinds_at(&records, 5),
        [
            "event EventClearWarning",
            "send init",
            "send resume_session",
            "recv settings",
            "recv guest_count",
            "event EventGuestCountChange"
        ]
    );
    let lost: Vec<&TransportRecord> = transport
        .iter()
        .filter(|t| matches!(t.note, Notification::Disconnected(_)))
        .collect();
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].step, 4);
    println!("cut mid-frame: {:?}", lost[0].note);
}

#[tokio::test]
async fn a_cut_mid_frame_lockstep() {
    cut_mid_frame(Options::LOCKSTEP.through(Shape::default())).await;
}

#[tokio::test]
async fn a_cut_mid_frame_over_tls_lockstep() {
    cut_mid_frame(Options::LOCKSTEP.over_tls().through(Shape::default())).await;
}
