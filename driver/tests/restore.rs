//! The driver after an app restart (spec.md §5.6), driven directly (no controller) on a
//! manual clock against the loopback server: [`DriverHandle::snapshot`] keeps the core's
//! snapshot; a killed process's driver is dropped; [`spawn_with`] drives the core
//! `Sdk::restore` made of it: its queued events are handed on at once, its `Connect` opens the
//! socket, and the new link re-attaches the visitor and resumes the session on a new
//! connection to the same server. A first attempt that fails is not news to a restored core
//! (its link is already down): it tries again at its own reconnect deadline.
//!
//! [`DriverHandle::snapshot`]: cobrowse_visitor_driver::DriverHandle::snapshot

use cobrowse_visitor_conformance::transcript::AgentAction;
use cobrowse_visitor_core::{
    ApiCall, ClientFrame, Event, InitParams, Input, Instant, Sdk, SdkConfig, ServerFrame, StartKey,
};
use cobrowse_visitor_driver::{
    spawn, spawn_with, Clock, DriverConfig, DriverError, DriverStatus, LoopbackServer, ManualClock,
    Notification, ServerConfig, ServerStatus,
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

async fn server_until(
    status: &mut watch::Receiver<ServerStatus>,
    what: &str,
    pred: impl FnMut(&ServerStatus) -> bool,
) {
    let found = match tokio::time::timeout(WAIT, status.wait_for(pred)).await {
        Ok(Ok(_)) => true,
        Ok(Err(_)) => panic!("the server stopped waiting for {what}"),
        Err(_) => false,
    };
    assert!(
        found,
        "timed out waiting for {what}: {:?}",
        *status.borrow()
    );
}

/// The next notification that is not a trace of the wire (events and transport changes).
async fn next(notes: &mut mpsc::UnboundedReceiver<Notification>) -> Notification {
    match tokio::time::timeout(WAIT, notes.recv()).await {
        Ok(Some(n)) => n,
        Ok(None) => panic!("the driver stopped"),
        Err(_) => panic!("timed out waiting for a notification"),
    }
}

/// Notifications up to and including the first one `until` matches.
async fn take_until(
    notes: &mut mpsc::UnboundedReceiver<Notification>,
    mut until: impl FnMut(&Notification) -> bool,
) -> Vec<Notification> {
    let mut taken = Vec::new();
    loop {
        let n = next(notes).await;
        let done = until(&n);
        taken.push(n);
        if done {
            return taken;
        }
    }
}

fn config(url: String, clock: &Clock) -> DriverConfig {
    let mut config = DriverConfig::new(url);
    config.clock = clock.clone();
    config.trace = true;
    config
}

#[tokio::test]
async fn a_restored_core_reconnects_and_resumes_its_session_on_a_new_connection() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let manual = ManualClock::new();
        let clock = Clock::manual(&manual);
        let mut server_config = ServerConfig::new(19921, 7);
        server_config.clock = clock.clone();
        let server = LoopbackServer::start(server_config).await.expect("bind");
        let control = server.control();
        let mut sstatus = control.status();

        // The first process: a session with one agent.
        let (sdk, mut notes) = spawn(config(server.url(), &clock));
        assert_eq!(
            sdk.snapshot(0).await.expect("running"),
            None,
            "not ready yet"
        );
        sdk.call(ApiCall::InitVisitor(InitParams::anonymous(19921)))
            .await
            .expect("init_visitor accepted");
        take_until(&mut notes, |n| {
            matches!(n, Notification::Event(Event::VisitorInitialized { .. }))
        })
        .await;
        sdk.call(ApiCall::start_session(StartKey::Random))
            .await
            .expect("start_session accepted");
        let key = match take_until(&mut notes, |n| {
            matches!(n, Notification::Event(Event::ConnectedToSession { .. }))
        })
        .await
        .pop()
        {
            Some(Notification::Event(Event::ConnectedToSession { sessionkey, .. })) => sessionkey,
            other => panic!("{other:?}"),
        };
        control
            .agent(AgentAction::Join)
            .await
            .expect("server running")
            .expect("an agent joins the session");
        take_until(&mut notes, |n| {
            matches!(
                n,
                Notification::Event(Event::GuestCountChange { guestcount: 1 })
            )
        })
        .await;

        // The app keeps its snapshot; the OS kills it.
        manual.set(Instant::from_millis(5_000));
        let snapshot = sdk
            .snapshot(5_000)
            .await
            .expect("running")
            .expect("a ready core has a snapshot");
        assert_eq!(snapshot.saved_at_unix_ms, 5_000);
        assert_eq!(
            snapshot.session.as_ref().map(|s| s.key.as_str()),
            Some(key.as_str())
        );
        let active = sdk
            .inspect(|core| core.is_session_active())
            .await
            .expect("running");
        assert!(active);
        let mut old = sdk.status();
        drop((sdk, notes));
        status_until(&mut old, "the killed driver to stop", |s| s.stopped).await;
        server_until(&mut sstatus, "the server to see it go", |s| !s.open).await;

        // 20 s later, the next process restores its core and hands it to a new driver.
        manual.set(Instant::from_millis(25_000));
        let core = Sdk::restore(
            SdkConfig::default(),
            snapshot,
            19921,
            Instant::from_millis(25_000),
            25_000,
        )
        .expect("the snapshot restores");
        let (sdk, mut notes) = spawn_with(config(server.url(), &clock), core);
        // what the restore queued is in the channel before `spawn_with` returns, and the
        // socket the core asked for is being opened
        assert_eq!(
            notes.try_recv().ok(),
            Some(Notification::Event(Event::ConnectionWarning))
        );
        let s = *sdk.status().borrow();
        assert!(s.connecting && !s.connected, "{s:?}");
        assert_eq!(s.notifications, 1);
        // the new link: the core is told Restored, re-attaches the visitor and resumes the
        // session, which the server still has (20 s < the 60 s grace): one agent
        let seen = take_until(&mut notes, |n| {
            matches!(n, Notification::Event(Event::GuestCountChange { .. }))
        })
        .await;
        assert_eq!(
            seen,
            [
                Notification::Connected,
                Notification::Event(Event::ClearWarning),
                Notification::Sent(ClientFrame::Init {
                    v: 1,
                    group_id: 19921,
                    token: String::new(),
                    name: String::new(),
                    email: String::new(),
                    phone: String::new(),
                    visitor_id: None,
                }),
                Notification::Sent(ClientFrame::ResumeSession {
                    sessionkey: key.clone()
                }),
                Notification::Received(ServerFrame::Settings {
                    v: 1,
                    key_length: 4,
                    agent_start: false,
                }),
                Notification::Received(ServerFrame::GuestCount { guestcount: 1 }),
                Notification::Event(Event::GuestCountChange { guestcount: 1 }),
            ]
        );
        let s = status_until(&mut sdk.status(), "the settled link", |s| {
            s.connected && s.received == 2
        })
        .await;
        assert_eq!(s.connections, 1, "the new driver's own connection");
        assert_eq!(control.status().borrow().accepted, 2, "one per process");
        // the session goes on: the agent ends it
        control
            .agent(AgentAction::EndSession)
            .await
            .expect("server running")
            .expect("the server still has the session");
        take_until(&mut notes, |n| {
            matches!(n, Notification::Event(Event::SessionEnded { .. }))
        })
        .await;

        sdk.shutdown().await.expect("driver running");
        assert!(matches!(sdk.snapshot(0).await, Err(DriverError::Stopped)));
        control.shutdown().await.expect("server running");
    })
    .await
    .expect("within 30 s");
}

#[tokio::test]
async fn a_restored_core_whose_first_attempt_fails_tries_again_at_its_deadline() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let manual = ManualClock::new();
        let clock = Clock::manual(&manual);
        let mut server_config = ServerConfig::new(19921, 7);
        server_config.clock = clock.clone();
        let server = LoopbackServer::start(server_config).await.expect("bind");
        let control = server.control();

        // A snapshot of a ready core, as a previous process kept it.
        let mut old = Sdk::new(SdkConfig::default());
        let t0 = Instant::from_millis(0);
        old.handle_input(
            t0,
            Input::Api(ApiCall::InitVisitor(InitParams::anonymous(19921))),
        )
        .expect("init_visitor accepted");
        old.handle_input(
            t0,
            Input::Frame(ServerFrame::Settings {
                v: 1,
                key_length: 4,
                agent_start: false,
            }),
        )
        .expect("settings accepted");
        let snapshot = old.snapshot(0).expect("ready");

        // The next process starts offline.
        control.set_network(false).await.expect("server running");
        manual.set(Instant::from_millis(10_000));
        let core = Sdk::restore(
            SdkConfig::default(),
            snapshot,
            19921,
            Instant::from_millis(10_000),
            10_000,
        )
        .expect("the snapshot restores");
        let deadline = core.poll_timeout().expect("the reconnect deadline");
        assert!(deadline > Instant::from_millis(10_000));
        let (sdk, mut notes) = spawn_with(config(server.url(), &clock), core);
        let mut status = sdk.status();
        assert_eq!(
            next(&mut notes).await,
            Notification::Event(Event::ConnectionWarning)
        );
        assert!(matches!(
            next(&mut notes).await,
            Notification::ConnectFailed(_)
        ));
        // The core already knows its link is down: it hears nothing (no second warning),
        // and its reconnect deadline stands.
        let s = status_until(&mut status, "the failed attempt", |s| !s.connecting).await;
        assert_eq!(s.next_deadline, Some(deadline));
        assert_eq!(s.notifications, 2);
        assert!(notes.try_recv().is_err(), "nothing more");

        // The network is back; at the deadline the core asks again and the link comes up.
        control.set_network(true).await.expect("server running");
        manual.set(deadline);
        // (a restored core is initialised already: the settings bring no new event)
        let seen = take_until(&mut notes, |n| {
            matches!(n, Notification::Received(ServerFrame::Settings { .. }))
        })
        .await;
        assert_eq!(seen.first(), Some(&Notification::Connected), "{seen:?}");
        assert_eq!(
            seen.get(1),
            Some(&Notification::Event(Event::ClearWarning)),
            "{seen:?}"
        );
        assert!(
            matches!(
                seen.get(2),
                Some(Notification::Sent(ClientFrame::Init { .. }))
            ),
            "{seen:?}"
        );
        let s = status_until(&mut status, "the link", |s| s.connected).await;
        assert_eq!(s.connections, 1);

        sdk.shutdown().await.expect("driver running");
        control.shutdown().await.expect("server running");
    })
    .await
    .expect("within 30 s");
}
