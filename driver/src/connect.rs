//! Opening a WebSocket: the URL policy (`wss://` by default), TLS through rustls, and a
//! deadline on each phase (TCP connect, TLS handshake, WebSocket handshake), each failure a
//! typed [`ConnectError`].
//!
//! - `wss://` goes through rustls with the `ring` provider, certificate verification on,
//!   against the roots of [`Roots`].
//! - `ws://` is refused ([`ConnectError::InsecureTransport`]) unless the host is a loopback
//!   address (`127.0.0.0/8`, `::1`, `localhost`) or [`DriverConfig::allow_plain`] says so.
//! - Every phase has its own deadline on the driver's [`Clock`], so a proxy that accepts
//!   the TCP connection and then says nothing (a stalled handshake) fails the attempt instead
//!   of holding it forever.
//!
//! No message here contains the URL's path, query or user info, nor anything the app sent:
//! errors are safe to log (see [`crate::redact`]).
//!
//! [`DriverConfig::allow_plain`]: crate::DriverConfig::allow_plain

use crate::clock::Clock;
use cobrowse_visitor_core::Instant;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, ClientConfig, RootCertStore};
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::http::Uri;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// An open WebSocket, plain or over TLS.
pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Which certificate authorities a `wss://` server's certificate must chain to.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Roots {
    /// The platform's trust store (through `rustls-native-certs`: the system store on Linux,
    /// macOS and Windows), so that CAs an enterprise installed are honoured. Loaded at each
    /// connect attempt; if the platform yields none, the attempt fails with
    /// [`ConnectError::NoRoots`].
    #[default]
    Platform,
    /// Mozilla's root program, compiled in (`webpki-roots`): the same everywhere, including
    /// platforms whose store `rustls-native-certs` cannot read.
    WebPki,
    /// Exactly these CA certificates (DER), e.g. a test CA made at test time, or a pinned
    /// private CA.
    Custom(Vec<CertificateDer<'static>>),
}

impl std::fmt::Debug for Roots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Roots::Platform => f.write_str("Platform"),
            Roots::WebPki => f.write_str("WebPki"),
            Roots::Custom(certs) => write!(f, "Custom({} certificates)", certs.len()),
        }
    }
}

impl Roots {
    /// The rustls client configuration for these roots (TLS 1.2 and 1.3, `ring`).
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, ConnectError> {
        let mut store = RootCertStore::empty();
        match self {
            Roots::Platform => {
                let found = rustls_native_certs::load_native_certs();
                let (added, _ignored) = store.add_parsable_certificates(found.certs);
                if added == 0 {
                    return Err(ConnectError::NoRoots);
                }
            }
            Roots::WebPki => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            Roots::Custom(certs) => {
                let (added, _ignored) = store.add_parsable_certificates(certs.iter().cloned());
                if added == 0 {
                    return Err(ConnectError::NoRoots);
                }
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ConnectError::Tls(e.to_string()))?
            .with_root_certificates(store)
            .with_no_client_auth();
        Ok(Arc::new(config))
    }
}

/// What is wrong with a server's certificate: the distinctions an app may want to show.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CertificateProblem {
    /// It does not chain to any of the configured [`Roots`] (a wrong CA, a self-signed
    /// certificate, an interception proxy).
    UnknownIssuer,
    /// It is not valid for the host name (or IP address) in the URL.
    WrongHost,
    /// It has expired.
    Expired,
    /// It is not valid yet (or the device's clock is wrong).
    NotYetValid,
    /// It has been revoked.
    Revoked,
    /// Anything else rustls refused it for (bad signature, bad encoding, …), in rustls's
    /// words.
    Other(String),
}

impl std::fmt::Display for CertificateProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CertificateProblem::UnknownIssuer => f.write_str("issued by an unknown authority"),
            CertificateProblem::WrongHost => f.write_str("not valid for this host"),
            CertificateProblem::Expired => f.write_str("expired"),
            CertificateProblem::NotYetValid => f.write_str("not valid yet"),
            CertificateProblem::Revoked => f.write_str("revoked"),
            CertificateProblem::Other(why) => f.write_str(why),
        }
    }
}

impl From<&CertificateError> for CertificateProblem {
    fn from(e: &CertificateError) -> CertificateProblem {
        match e {
            CertificateError::UnknownIssuer => CertificateProblem::UnknownIssuer,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                CertificateProblem::WrongHost
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                CertificateProblem::Expired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                CertificateProblem::NotYetValid
            }
            CertificateError::Revoked => CertificateProblem::Revoked,
            other => CertificateProblem::Other(other.to_string()),
        }
    }
}

/// Why a connect attempt failed. Every variant is a different thing for the app to say or
/// do; none carries the URL's path or query, nor anything the app sent.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL is not a `ws://` or `wss://` URL with a host.
    #[error("invalid service URL: {0}")]
    InvalidUrl(&'static str),
    /// A plain `ws://` URL for a host that is not loopback, and
    /// [`DriverConfig::allow_plain`](crate::DriverConfig::allow_plain) is off.
    #[error("refusing unencrypted ws:// to {host}: use wss:// (or allow_plain)")]
    InsecureTransport {
        /// The URL's host.
        host: String,
    },
    /// The host name did not resolve, or the TCP connection was refused or failed.
    #[error("TCP connect failed: {0}")]
    Tcp(String),
    /// The TCP connection was not made within the connect deadline.
    #[error("TCP connect timed out after {0:?}")]
    TcpTimeout(Duration),
    /// No root certificate to verify the server against ([`Roots`] yielded none).
    #[error("no root certificates to verify the server with")]
    NoRoots,
    /// The server's certificate was refused.
    #[error("the server's certificate is {0}")]
    Certificate(CertificateProblem),
    /// The TLS handshake failed for another reason (no common cipher, a TLS alert, the
    /// connection closed mid-handshake, …).
    #[error("TLS handshake failed: {0}")]
    Tls(String),
    /// The TLS handshake did not complete within its deadline.
    #[error("TLS handshake timed out after {0:?}")]
    TlsTimeout(Duration),
    /// The WebSocket upgrade failed (an HTTP error status, a bad response, the connection
    /// closed).
    #[error("WebSocket handshake failed: {0}")]
    Handshake(String),
    /// The WebSocket upgrade did not complete within its deadline.
    #[error("WebSocket handshake timed out after {0:?}")]
    HandshakeTimeout(Duration),
    /// The attempt was abandoned: the platform reported the network gone.
    #[error("the connect attempt was abandoned: the network is unreachable")]
    Abandoned,
}

/// The URL, checked once: where to connect and whether over TLS.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    url: String,
    host: String,
    port: u16,
    tls: bool,
}

impl Target {
    /// Checks `url` against the policy: `wss://`, or `ws://` to loopback, or `ws://` with
    /// `allow_plain`.
    pub(crate) fn parse(url: &str, allow_plain: bool) -> Result<Target, ConnectError> {
        let uri: Uri = url
            .parse()
            .map_err(|_| ConnectError::InvalidUrl("not a URL"))?;
        let tls = match uri.scheme_str() {
            Some("wss") => true,
            Some("ws") => false,
            _ => return Err(ConnectError::InvalidUrl("the scheme must be ws or wss")),
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or(ConnectError::InvalidUrl("no host"))?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .to_owned();
        if !tls && !allow_plain && !is_loopback(&host) {
            return Err(ConnectError::InsecureTransport { host });
        }
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        Ok(Target {
            url: url.to_owned(),
            host,
            port,
            tls,
        })
    }

    /// Whether this target is reached over TLS.
    pub(crate) fn is_tls(&self) -> bool {
        self.tls
    }
}

/// `localhost`, or an IP address in a loopback range.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// The phase a connect attempt is in: each has its own deadline
/// ([`DriverConfig`](crate::DriverConfig)'s `connect_timeout`, `tls_timeout`,
/// `handshake_timeout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectPhase {
    /// The TCP connection is being made. Until it is, the attempt has not reached the peer
    /// (and [`DriverStatus::tcp_connects`](crate::DriverStatus::tcp_connects) does not count
    /// it yet).
    Tcp,
    /// The TLS handshake (`wss://` only).
    Tls,
    /// The WebSocket handshake.
    Handshake,
}

/// The deadlines of one attempt, each measured from the start of its phase.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadlines {
    pub(crate) tcp: Duration,
    pub(crate) tls: Duration,
    pub(crate) handshake: Duration,
}

/// One connect attempt, phase after phase; `phase_deadline` tells the driver (and through
/// its status, a test) when the current phase gives up.
pub(crate) async fn connect(
    target: Target,
    tls: Option<Arc<ClientConfig>>,
    ws_config: WebSocketConfig,
    deadlines: Deadlines,
    clock: Clock,
    phase_deadline: watch::Sender<(ConnectPhase, Instant)>,
    tcp_connects: Arc<AtomicU64>,
) -> Result<Socket, ConnectError> {
    let phase = |phase: ConnectPhase, limit: Duration| {
        let at = clock.now().saturating_add(limit);
        phase_deadline.send_replace((phase, at));
        at
    };

    let at = phase(ConnectPhase::Tcp, deadlines.tcp);
    let tcp = within(
        &clock,
        at,
        TcpStream::connect((target.host.as_str(), target.port)),
    )
    .await
    .ok_or(ConnectError::TcpTimeout(deadlines.tcp))?
    .map_err(|e| ConnectError::Tcp(e.kind().to_string()))?;
    tcp_connects.fetch_add(1, Ordering::Relaxed);
    let _ = tcp.set_nodelay(true);

    let stream = if target.tls {
        let config = tls.ok_or(ConnectError::NoRoots)?;
        let name = ServerName::try_from(target.host.clone())
            .map_err(|_| ConnectError::InvalidUrl("the host is not a valid TLS server name"))?;
        let at = phase(ConnectPhase::Tls, deadlines.tls);
        let tls = within(&clock, at, TlsConnector::from(config).connect(name, tcp))
            .await
            .ok_or(ConnectError::TlsTimeout(deadlines.tls))?
            .map_err(|e| tls_error(&e))?;
        MaybeTlsStream::Rustls(tls)
    } else {
        MaybeTlsStream::Plain(tcp)
    };

    let at = phase(ConnectPhase::Handshake, deadlines.handshake);
    let handshake =
        tokio_tungstenite::client_async_with_config(target.url.as_str(), stream, Some(ws_config));
    let (socket, _response) = within(&clock, at, handshake)
        .await
        .ok_or(ConnectError::HandshakeTimeout(deadlines.handshake))?
        .map_err(|e| handshake_error(&e))?;
    Ok(socket)
}

/// `f`, or `None` if `deadline` comes first on `clock`.
async fn within<T>(clock: &Clock, deadline: Instant, f: impl Future<Output = T>) -> Option<T> {
    tokio::select! {
        t = f => Some(t),
        () = clock.sleep_until(deadline) => None,
    }
}

fn tls_error(e: &std::io::Error) -> ConnectError {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(c)) => ConnectError::Certificate(c.into()),
        Some(other) => ConnectError::Tls(other.to_string()),
        None => ConnectError::Tls(e.kind().to_string()),
    }
}

fn handshake_error(e: &tokio_tungstenite::tungstenite::Error) -> ConnectError {
    use tokio_tungstenite::tungstenite::Error as WsError;
    match e {
        // The status only: a response body may echo the request.
        WsError::Http(response) => {
            ConnectError::Handshake(format!("HTTP status {}", response.status()))
        }
        WsError::Io(io) => ConnectError::Handshake(io.kind().to_string()),
        other => ConnectError::Handshake(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ws_only_to_loopback_unless_allowed() {
        assert!(Target::parse("ws://127.0.0.1:4000/", false).is_ok());
        assert!(Target::parse("ws://[::1]:4000/", false).is_ok());
        assert!(Target::parse("ws://localhost/", false).is_ok());
        assert_eq!(
            Target::parse("ws://example.com/?token=s3cret", false).unwrap_err(),
            ConnectError::InsecureTransport {
                host: "example.com".into()
            }
        );
        assert!(Target::parse("ws://example.com/", true).is_ok());
        let t = Target::parse("wss://example.com/socket", false).expect("wss is fine");
        assert!(t.is_tls());
        assert_eq!(t.port, 443);
        assert_eq!(
            Target::parse("http://example.com/", false).unwrap_err(),
            ConnectError::InvalidUrl("the scheme must be ws or wss")
        );
        assert!(Target::parse("not a url", false).is_err());
    }

    #[test]
    fn errors_never_echo_the_url() {
        let e = Target::parse("ws://example.com/path?token=s3cret", false).unwrap_err();
        assert!(!e.to_string().contains("s3cret"));
        assert!(!e.to_string().contains("path"));
    }
}
