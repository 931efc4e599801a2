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

/// A lockstep loopback server and a driver on `manual`'s clock, with the server's status.
async fn lockstep(
    manual: &ManualClock,
) -> (
    LoopbackServer,
    DriverConfig,
    watch::Receiver<cobrowse_visitor_driver::ServerStatus>,
) {
    let mut server_config = ServerConfig::new(19921, 7);
    server_config.clock = Clock::manual(manual);
    server_config.lockstep = true;
    let server = LoopbackServer::start(server_config).await.expect("bind");
    let server_status = server.control().status();
    let mut config = DriverConfig::new(server.url());
    config.clock = Clock::manual(manual);
    (server, config, server_status)
}

async fn server_until(
    status: &mut watch::Receiver<cobrowse_visitor_driver::ServerStatus>,
    what: &str,
    pred: impl FnMut(&cobrowse_visitor_driver::ServerStatus) -> bool,
) {
    let found = matches!(
        tokio::time::timeout(WAIT, status.wait_for(pred)).await,
        Ok(Ok(_))
    );
    assert!(
        found,
        "timed out waiting for the server: {what}: {:?}",
        *status.borrow()
    );
}

/// The first two random keys the simulated service of seed 7 hands out.
fn first_two_keys() -> (String, String) {
    use cobrowse_visitor_conformance::sim::Server;
    use cobrowse_visitor_core::{ClientFrame, ServerFrame};
    let mut s = Server::new(19921, 7, Duration::from_secs(60));
    s.receive(&ClientFrame::Init {
        v: 1,
        group_id: 19921,
        token: String::new(),
        name: String::new(),
        email: String::new(),
        phone: String::new(),
        visitor_id: None,
    });
    let _ = s.poll();
    let mut keys = Vec::new();
    for _ in 0..2 {
        s.receive(&ClientFrame::StartSession {
            key: None,
            max_guests: None,
            paused: false,
        });
        s.receive(&ClientFrame::EndSession {});
        match (s.poll(), s.poll()) {
            (Some(ServerFrame::SessionStarted { sessionkey }), Some(_)) => keys.push(sessionkey),
            other => panic!("{other:?}"),
        }
    }
    (keys[0].clone(), keys[1].clone())
}

/// Launched and initialised against a lockstep server; a random-key start whose
/// `session_started` the server still holds when the connection drops (spec.md §13: a start
/// in flight when its connection died).
async fn a_start_in_flight_is_cut(
    manual: &ManualClock,
) -> (
    LoopbackServer,
    cobrowse_visitor_driver::DriverHandle,
    mpsc::UnboundedReceiver<Notification>,
    watch::Receiver<cobrowse_visitor_driver::ServerStatus>,
) {
    let (server, config, mut server_status) = lockstep(manual).await;
    let control = server.control();
    let (sdk, mut notes) = spawn(config);
    let mut status = sdk.status();
    status_until(&mut status, "the first connection", |s| s.connected).await;
    sdk.call(ApiCall::InitVisitor(InitParams::anonymous(19921)))
        .await
        .expect("init_visitor accepted");
    server_until(&mut server_status, "settings held", |s| s.held == 1).await;
    assert!(control.release().await.expect("server running"));
    next_matching(&mut notes, "EventVisitorInitialized", |n| {
        matches!(n, Notification::Event(Event::VisitorInitialized { .. }))
    })
    .await;
    sdk.call(ApiCall::start_session(
        cobrowse_visitor_core::StartKey::Random,
    ))
    .await
    .expect("start_session accepted");
    server_until(&mut server_status, "session_started held", |s| s.held == 1).await;
    control.drop_connection().await.expect("server running");
    next_matching(&mut notes, "EventConnectionWarning", |n| {
        matches!(n, Notification::Event(Event::ConnectionWarning))
    })
    .await;
    (server, sdk, notes, server_status)
}

/// The loopback server runs the simulated service's rule (spec.md §13): a start whose
/// `session_started` never left (held in lockstep when the connection dropped) is taken up by
/// the start the surviving core sends again on its next connection (S-N02), answered with the
/// same session; the agent finds it.
#[tokio::test]
async fn a_start_in_flight_is_taken_up_by_the_start_sent_again() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let manual = ManualClock::new();
        let (server, sdk, mut notes, mut server_status) = a_start_in_flight_is_cut(&manual).await;
        let control = server.control();
        sdk.reachability(Reachability::Online)
            .await
            .expect("driver running");
        // init and start_session again on the new connection: settings and session_started
        server_until(&mut server_status, "two answers held", |s| {
            s.open && s.received == 2 && s.held == 2
        })
        .await;
        assert!(control.release().await.expect("server running"));
        assert!(control.release().await.expect("server running"));
        let Notification::Event(Event::ConnectedToSession { sessionkey, .. }) =
            next_matching(&mut notes, "EventConnectedToSession", |n| {
                matches!(n, Notification::Event(Event::ConnectedToSession { .. }))
            })
            .await
        else {
            unreachable!()
        };
        let (first, second) = first_two_keys();
        assert_ne!(first, second);
        assert_eq!(sessionkey, first, "the same session, not a new one");
        assert_eq!(
            control
                .agent(cobrowse_visitor_conformance::transcript::AgentAction::Join)
                .await
                .expect("server running"),
            Ok(()),
            "the visitor's session"
        );
        sdk.shutdown().await.expect("driver running");
        control.shutdown().await.expect("server running");
    })
    .await
    .expect("the test ends within 30 s");
}

/// The same cut, but the app process dies with it (a new driver, a new core, as after a
/// relaunch whose restore keeps no starting session, spec.md §5.6): the new connection's
/// frames after its `init` do not take the start up, and the service forgets it (§13): the
/// agent finds no session, and the new process's own start is a new session.
#[tokio::test]
async fn a_start_in_flight_dies_with_the_process() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let manual = ManualClock::new();
        let (server, old, _old_notes, mut server_status) = a_start_in_flight_is_cut(&manual).await;
        let control = server.control();
        old.shutdown().await.expect("driver running");
        use cobrowse_visitor_conformance::transcript::AgentAction;
        // the process is gone, the service does not know it yet: an agent joins the session
        assert_eq!(
            control
                .agent(AgentAction::Join)
                .await
                .expect("server running"),
            Ok(())
        );
        let mut config = DriverConfig::new(server.url());
        config.clock = Clock::manual(&manual);
        let (sdk, mut notes) = spawn(config);
        let mut status = sdk.status();
        status_until(&mut status, "the new process's connection", |s| s.connected).await;
        sdk.call(ApiCall::InitVisitor(InitParams::anonymous(19921)))
            .await
            .expect("init_visitor accepted");
        server_until(&mut server_status, "settings held", |s| {
            s.open && s.received == 1 && s.held == 1
        })
        .await;
        assert_eq!(
            control
                .agent(AgentAction::Join)
                .await
                .expect("server running"),
            Err("no_session"),
            "a new connection that has not taken the session up is not in it"
        );
        assert!(control.release().await.expect("server running"));
        next_matching(&mut notes, "EventVisitorInitialized", |n| {
            matches!(n, Notification::Event(Event::VisitorInitialized { .. }))
        })
        .await;
        sdk.call(ApiCall::SetDefaultUi { enabled: false })
            .await
            .expect("accepted");
        sdk.call(ApiCall::start_session(
            cobrowse_visitor_core::StartKey::Custom("new-start".into()),
        ))
        .await
        .expect("start_session accepted");
        server_until(&mut server_status, "session_started held", |s| s.held == 1).await;
        assert!(control.release().await.expect("server running"));
        let Notification::Event(Event::ConnectedToSession { sessionkey, .. }) =
            next_matching(&mut notes, "EventConnectedToSession", |n| {
                matches!(n, Notification::Event(Event::ConnectedToSession { .. }))
            })
            .await
        else {
            unreachable!()
        };
        assert_eq!(sessionkey, "new-start");
        // the old start's agent went with it: the new session has none
        assert_eq!(
            control
                .agent(AgentAction::Leave)
                .await
                .expect("server running"),
            Err("no_agent_in_session")
        );
        sdk.shutdown().await.expect("driver running");
        control.shutdown().await.expect("server running");
    })
    .await
    .expect("the test ends within 30 s");
}
