//! The driver's transport, driven directly (no controller) on a manual clock against the
//! loopback server: it reconnects when the core says so ([`Output::Connect`]), at the core's
//! backoff deadlines; a platform hint ([`Reachability::Online`]) makes it try at once; calls
//! made before the first socket is open reach the server; an app that starts offline is
//! initialised once the network comes.
//!
//! [`Output::Connect`]: cobrowse_visitor_core::Output::Connect

use cobrowse_visitor_core::{ApiCall, Event, InitParams, Instant};
use cobrowse_visitor_driver::{
    spawn, Clock, DriverConfig, DriverStatus, LoopbackServer, ManualClock, Notification,
    Reachability, ServerConfig,
};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

const WAIT: Duration = Duration::from_secs(10);

async fn status_until(
    status: &mut watch::Receiver<DriverStatus>,
    what: &str,
    pred: impl FnMut(&DriverStatus) -> bool,
) -> DriverStatus {
    let found = match tokio::time::timeout(WAIT, status.wait_for(pred)).await {
        Ok(Ok(s)) => Some(*s),
        Ok(Err(_)) => panic!("the driver stopped waiting for {what}"),
        Err(_) => None,
    };
    found.unwrap_or_else(|| panic!("timed out waiting for {what}: {:?}", *status.borrow()))
}

async fn next_matching(
    notes: &mut mpsc::UnboundedReceiver<Notification>,
    what: &str,
    mut pred: impl FnMut(&Notification) -> bool,
) -> Notification {
    loop {
        match tokio::time::timeout(WAIT, notes.recv()).await {
            Ok(Some(n)) if pred(&n) => return n,
            Ok(Some(_)) => {}
            Ok(None) => panic!("the driver stopped before {what}"),
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

#[tokio::test]
async fn reconnects_at_the_cores_backoff_deadlines() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let manual = ManualClock::new();
        let clock = Clock::manual(&manual);
        let mut server_config = ServerConfig::new(19921, 7);
        server_config.clock = clock.clone();
        let server = LoopbackServer::start(server_config).await.expect("bind");
        let control = server.control();
        let mut config = DriverConfig::new(server.url());
        config.clock = clock;
        config.trace = true;
        let (sdk, mut notes) = spawn(config);
        let mut status = sdk.status();

        status_until(&mut status, "the first connection", |s| s.connected).await;
        sdk.call(ApiCall::InitVisitor(InitParams::anonymous(19921)))
            .await
            .expect("init_visitor accepted");
        next_matching(&mut notes, "EventVisitorInitialized", |n| {
            matches!(n, Notification::Event(Event::VisitorInitialized { .. }))
        })
        .await;

        // The network goes: the server drops the socket and refuses new ones.
        control.set_network(false).await.expect("server running");
        next_matching(&mut notes, "EventConnectionWarning", |n| {
            matches!(n, Notification::Event(Event::ConnectionWarning))
        })
        .await;
        let s = status_until(&mut status, "the loss", |s| !s.connected).await;
        // The core's first reconnect backoff (1 s) is the driver's next deadline.
        assert_eq!(s.next_deadline, Some(Instant::from_millis(1_000)));
        assert!(!s.connecting, "no attempt before the core asks");

        // At the deadline the core asks, the driver tries, the server refuses; the core has
        // doubled its backoff.
        manual.set(Instant::from_millis(1_000));
        next_matching(&mut notes, "a refused attempt", |n| {
            matches!(n, Notification::ConnectFailed(_))
        })
        .await;
        let s = status_until(&mut status, "the next deadline", |s| {
            !s.connecting && s.next_deadline == Some(Instant::from_millis(3_000))
        })
        .await;
        assert_eq!(s.connections, 1);

        // The network is back; the next attempt, at the core's next deadline, succeeds.
        control.set_network(true).await.expect("server running");
        manual.set(Instant::from_millis(3_000));
        next_matching(&mut notes, "EventClearWarning", |n| {
            matches!(n, Notification::Event(Event::ClearWarning))
        })
        .await;
        let s = status_until(&mut status, "the reconnection", |s| s.connected).await;
        assert_eq!(s.connections, 2);
        assert_eq!(s.next_deadline, None, "nothing armed once reconnected");

        // Lost again; this time the platform says the network is back before the deadline:
        // the driver tries at once, with the clock standing still.
        control.drop_connection().await.expect("server running");
        status_until(&mut status, "the second loss", |s| !s.connected).await;
        sdk.reachability(Reachability::Online)
            .await
            .expect("driver running");
        let s = status_until(&mut status, "the early reconnection", |s| s.connected).await;
        assert_eq!(s.connections, 3);
        assert_eq!(manual.now(), Instant::from_millis(3_000));

        sdk.shutdown().await.expect("driver running");
        control.shutdown().await.expect("server running");
    })
    .await
    .expect("the test ends within 30 s");
}

async fn loopback(manual: &ManualClock) -> (LoopbackServer, DriverConfig) {
    let mut server_config = ServerConfig::new(19921, 7);
    server_config.clock = Clock::manual(manual);
    let server = LoopbackServer::start(server_config).await.expect("bind");
    let mut config = DriverConfig::new(server.url());
    config.clock = Clock::manual(manual);
    config.trace = true;
    (server, config)
}

/// `init_visitor` right after `spawn`, before the first socket is open: its frame waits for
/// the socket, and the core is never told of an outage that did not happen.
#[tokio::test]
async fn calls_before_the_first_connection_reach_the_server() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let manual = ManualClock::new();
        let (server, config) = loopback(&manual).await;
        let (sdk, mut notes) = spawn(config);
        sdk.call(ApiCall::InitVisitor(InitParams::anonymous(19921)))
            .await
            .expect("init_visitor accepted");
        let mut seen = Vec::new();
        loop {
            let n = next_matching(&mut notes, "EventVisitorInitialized", |_| true).await;
            let done = matches!(n, Notification::Event(Event::VisitorInitialized { .. }));
            seen.push(n);
            if done {
                break;
            }
        }
        assert!(
            !seen.iter().any(|n| matches!(
                n,
                Notification::Event(Event::ConnectionWarning | Event::ClearWarning)
            )),
            "no warning: {seen:?}"
        );
        assert_eq!(
            seen.last(),
            Some(&Notification::Event(Event::VisitorInitialized {
                settings_loaded: true
            }))
        );
        sdk.shutdown().await.expect("driver running");
        server.control().shutdown().await.expect("server running");
    })
    .await
    .expect("the test ends within 30 s");
}

/// The app starts with no network: the first attempt fails, the core hears of the outage and
/// schedules the retry; `init_visitor` waits in the core, and is sent when the link is up.
#[tokio::test]
async fn an_app_started_offline_initialises_when_the_network_comes() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let manual = ManualClock::new();
        let (server, config) = loopback(&manual).await;
        let control = server.control();
        control.set_network(false).await.expect("server running");
        let (sdk, mut notes) = spawn(config);
        let mut status = sdk.status();
        next_matching(&mut notes, "the failed first attempt", |n| {
            matches!(n, Notification::ConnectFailed(_))
        })
        .await;
        let s = status_until(&mut status, "the retry deadline", |s| {
            !s.connecting && s.next_deadline.is_some()
        })
        .await;
        assert_eq!(s.connections, 0);
        let retry = s.next_deadline.expect("a reconnect deadline");

        sdk.call(ApiCall::InitVisitor(InitParams::anonymous(19921)))
            .await
            .expect("init_visitor accepted while offline");
        control.set_network(true).await.expect("server running");
        manual.set(retry);
        next_matching(&mut notes, "EventVisitorInitialized", |n| {
            matches!(n, Notification::Event(Event::VisitorInitialized { .. }))
        })
        .await;
        assert_eq!(status.borrow().connections, 1);
        sdk.shutdown().await.expect("driver running");
        control.shutdown().await.expect("server running");
    })
    .await
    .expect("the test ends within 30 s");
}
