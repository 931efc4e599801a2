//! `wss://` on loopback: certificate verification is on, and each way a certificate can be
//! wrong fails the connect with its own typed error, which the app receives as
//! [`Notification::ConnectFailed`] (and the core hears `Lost`, as for any failed first
//! attempt). Plain `ws://` is refused for a host that is not loopback, before any IO.
mod harness;

use cobrowse_visitor_core::Event;
use cobrowse_visitor_driver::{
    spawn, CertificateProblem, Clock, ConnectError, DriverConfig, LoopbackServer, ManualClock,
    Notification, Roots, ServerConfig,
};
use harness::tls::{self, TestCa, Validity};
use std::sync::Arc;
use tokio::sync::mpsc;

/// The first connect's outcome against a server with `server_tls`, trusting `roots`.
async fn first_connect(server_tls: Arc<rustls::ServerConfig>, roots: Roots) -> Notification {
    let manual = ManualClock::new();
    let mut server_config = ServerConfig::new(19921, 7);
    server_config.clock = Clock::manual(&manual);
    server_config.tls = Some(server_tls);
    let server = LoopbackServer::start(server_config).await.expect("bind");
    let mut config = DriverConfig::new(server.url());
    assert!(config.url.starts_with("wss://127.0.0.1:"));
    config.clock = Clock::manual(&manual);
    config.roots = roots;
    let (sdk, mut notes) = spawn(config);
    let outcome = harness::within("the first connect", next_transport(&mut notes)).await;
    if matches!(outcome, Notification::ConnectFailed(_)) {
        // A failed first attempt is an outage for the core.
        let warning = harness::within("the warning", notes.recv()).await;
        assert_eq!(warning, Some(Notification::Event(Event::ConnectionWarning)));
    }
    sdk.shutdown().await.expect("driver running");
    server.control().shutdown().await.expect("server running");
    outcome
}

async fn next_transport(notes: &mut mpsc::UnboundedReceiver<Notification>) -> Notification {
    loop {
        let n = notes.recv().await.expect("the driver runs");
        if matches!(n, Notification::Connected | Notification::ConnectFailed(_)) {
            return n;
        }
    }
}

fn certificate(problem: CertificateProblem) -> Notification {
    Notification::ConnectFailed(ConnectError::Certificate(problem))
}

#[tokio::test]
async fn the_test_ca_and_the_right_host_connect() {
    let outcome = first_connect(tls::loopback_server(), tls::ca().roots()).await;
    assert_eq!(outcome, Notification::Connected);
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_an_unknown_issuer() {
    let other = TestCa::new("a CA nobody trusts");
    let server = other.server(&["127.0.0.1", "localhost"], Validity::Current);
    let outcome = first_connect(server, tls::ca().roots()).await;
    assert_eq!(outcome, certificate(CertificateProblem::UnknownIssuer));
}

#[tokio::test]
async fn a_certificate_for_another_host_is_the_wrong_host() {
    let server = tls::ca().server(&["cobrowse.example"], Validity::Current);
    let outcome = first_connect(server, tls::ca().roots()).await;
    assert_eq!(outcome, certificate(CertificateProblem::WrongHost));
}

#[tokio::test]
async fn an_expired_certificate_is_expired() {
    let server = tls::ca().server(&["127.0.0.1"], Validity::Expired);
    let outcome = first_connect(server, tls::ca().roots()).await;
    assert_eq!(outcome, certificate(CertificateProblem::Expired));
}

/// Verification is on with the built-in roots too: the test CA is not among Mozilla's.
#[tokio::test]
async fn the_webpki_roots_do_not_trust_the_test_ca() {
    let outcome = first_connect(tls::loopback_server(), Roots::WebPki).await;
    assert_eq!(outcome, certificate(CertificateProblem::UnknownIssuer));
}

/// The errors an app tells apart read differently, too.
#[test]
fn the_certificate_errors_are_distinct() {
    let messages: Vec<String> = [
        CertificateProblem::UnknownIssuer,
        CertificateProblem::WrongHost,
        CertificateProblem::Expired,
    ]
    .into_iter()
    .map(|p| ConnectError::Certificate(p).to_string())
    .collect();
    assert_eq!(
        messages,
        [
            "the server's certificate is issued by an unknown authority",
            "the server's certificate is not valid for this host",
            "the server's certificate is expired",
        ]
    );
}

/// `ws://` to a host that is not loopback is refused before any IO (no name is resolved);
/// the core hears of an outage, like any failed first attempt.
#[tokio::test]
async fn plain_ws_to_a_remote_host_is_refused() {
    let (sdk, mut notes) = spawn(DriverConfig::new(
        "ws://cobrowse.example/visitor?token=s3cret",
    ));
    let outcome = harness::within("the refusal", next_transport(&mut notes)).await;
    let Notification::ConnectFailed(e) = &outcome else {
        panic!("refused: {outcome:?}")
    };
    assert_eq!(
        *e,
        ConnectError::InsecureTransport {
            host: "cobrowse.example".into()
        }
    );
    assert!(!e.to_string().contains("s3cret"));
    sdk.shutdown().await.expect("driver running");
}
