//! A test PKI made at test time with rcgen: a CA, and server certificates it signs for the
//! loopback server (valid, for another host, expired), plus a second CA nobody trusts.

use cobrowse_visitor_driver::{tls_server_config, Roots};
use rcgen::{date_time_ymd, BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::{Arc, OnceLock};

/// A certificate authority of the tests.
pub struct TestCa {
    params: CertificateParams,
    key: KeyPair,
    cert: CertificateDer<'static>,
}

/// How long a server certificate is valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    /// From 2020 to 2100.
    Current,
    /// From 2010 to 2011.
    Expired,
}

impl TestCa {
    /// A new self-signed CA.
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().expect("a CA key");
        let cert = params.self_signed(&key).expect("a CA certificate");
        TestCa {
            cert: cert.der().clone(),
            params,
            key,
        }
    }

    /// Roots that trust exactly this CA.
    pub fn roots(&self) -> Roots {
        Roots::Custom(vec![self.cert.clone()])
    }

    /// A rustls server configuration with a certificate this CA signed for `names` (DNS
    /// names or IP addresses).
    pub fn server(&self, names: &[&str], validity: Validity) -> Arc<rustls::ServerConfig> {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, "cobrowse loopback");
        match validity {
            Validity::Current => {
                params.not_before = date_time_ymd(2020, 1, 1);
                params.not_after = date_time_ymd(2100, 1, 1);
            }
            Validity::Expired => {
                params.not_before = date_time_ymd(2010, 1, 1);
                params.not_after = date_time_ymd(2011, 1, 1);
            }
        }
        let key = KeyPair::generate().expect("a server key");
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params
            .signed_by(&key, &issuer)
            .expect("a server certificate");
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        tls_server_config(vec![cert.der().clone(), self.cert.clone()], key)
            .expect("a rustls server configuration")
    }
}

/// The tests' CA, made once per test binary.
pub fn ca() -> &'static TestCa {
    static CA: OnceLock<TestCa> = OnceLock::new();
    CA.get_or_init(|| TestCa::new("cobrowse test CA"))
}

/// The loopback server's usual certificate: `127.0.0.1` and `localhost`, current.
pub fn loopback_server() -> Arc<rustls::ServerConfig> {
    static SERVER: OnceLock<Arc<rustls::ServerConfig>> = OnceLock::new();
    SERVER
        .get_or_init(|| ca().server(&["127.0.0.1", "localhost"], Validity::Current))
        .clone()
}
