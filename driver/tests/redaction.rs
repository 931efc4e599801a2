//! Secrets stay out of what the driver hands out: with the default [`Redaction::ALL`], the
//! `token`, `name`, `email` and `phone` given to `init_visitor` (and a secret in the URL's
//! query) appear in no notification's `Debug`, no error message and not in the
//! configuration's `Debug`; with [`Redaction::TOKEN`] only the token is hidden; with
//! [`Redaction::OFF`] they appear (so this test would see a leak).

use cobrowse_visitor_core::{ApiCall, ClientFrame, Event, InitParams};
use cobrowse_visitor_driver::PLACEHOLDER;
use cobrowse_visitor_driver::{
    spawn, DriverConfig, LoopbackServer, Notification, Redaction, ServerConfig,
};
use std::time::Duration;

const TOKEN: &str = "tok-S3CRET-7f3a";
const NAME: &str = "Ada Lovelace";
const EMAIL: &str = "ada@example.com";
const PHONE: &str = "+44 20 7946 0018";
const URL_SECRET: &str = "url-S3CRET-91c2";

fn params(token: &str) -> InitParams {
    InitParams {
        group_id: 19921,
        token: token.into(),
        name: NAME.into(),
        email: EMAIL.into(),
        phone: PHONE.into(),
        visitor_id: Some("cust-42".into()),
    }
}

/// Everything a journey with secrets shows: every notification's `Debug`, every error's
/// message and `Debug`, the configuration's `Debug`; and the `init` frame as traced.
async fn shown(redaction: Redaction) -> (String, ClientFrame) {
    let server = LoopbackServer::start(ServerConfig::new(19921, 7))
        .await
        .expect("bind");
    let control = server.control();
    let mut config = DriverConfig::new(format!("{}?token={URL_SECRET}", server.url()));
    config.trace = true;
    config.redaction = redaction;
    let mut text = format!("{config:?}\n");
    let (sdk, mut notes) = spawn(config);
    sdk.call(ApiCall::InitVisitor(params(TOKEN)))
        .await
        .expect("init_visitor accepted");
    // A refused call whose argument holds the secret: its error and its event.
    let too_long = format!("{TOKEN}{}", "x".repeat(1024));
    let refused = sdk
        .call(ApiCall::InitVisitor(params(&too_long)))
        .await
        .expect_err("a token over 1024 characters is refused");
    text.push_str(&format!("{refused}\n{refused:?}\n"));
    // A loss and a reconnect: transport notifications.
    control.drop_connection().await.expect("server running");
    let mut init = None;
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(n) = notes.recv().await {
            text.push_str(&format!("{n:?}\n"));
            match &n {
                Notification::Sent(f @ ClientFrame::Init { .. }) => init = Some(f.clone()),
                Notification::Disconnected(e) => text.push_str(&format!("{e}\n")),
                // after the loss, the last of it
                Notification::Event(Event::ConnectionWarning) => break,
                _ => {}
            }
        }
    })
    .await
    .expect("the journey's notifications");
    sdk.shutdown().await.expect("driver running");
    control.shutdown().await.expect("server running");
    (text, init.expect("the init frame was traced"))
}

#[tokio::test]
async fn by_default_no_secret_is_shown() {
    let (text, init) = shown(Redaction::default()).await;
    // what was looked at: the trace, the refusal, the loss, the configuration
    for part in [
        "Sent(Init",
        "invalid parameter",
        "InvalidParameter",
        "Disconnected",
        "DriverConfig",
    ] {
        assert!(text.contains(part), "{part} missing from:\n{text}");
    }
    for secret in [TOKEN, NAME, EMAIL, PHONE, URL_SECRET] {
        assert!(!text.contains(secret), "{secret} shown in:\n{text}");
    }
    let ClientFrame::Init {
        token,
        name,
        email,
        phone,
        visitor_id,
        ..
    } = init
    else {
        unreachable!()
    };
    assert_eq!([token, name, email, phone], [PLACEHOLDER; 4]);
    assert_eq!(
        visitor_id.as_deref(),
        Some("cust-42"),
        "identifiers are kept"
    );
}

#[tokio::test]
async fn token_only_hides_the_token() {
    let (text, _) = shown(Redaction::TOKEN).await;
    assert!(!text.contains(TOKEN), "{text}");
    assert!(text.contains(EMAIL));
}

#[tokio::test]
async fn with_redaction_off_the_secrets_are_shown() {
    let (text, init) = shown(Redaction::OFF).await;
    assert!(text.contains(TOKEN) && text.contains(URL_SECRET), "{text}");
    let ClientFrame::Init { token, .. } = init else {
        unreachable!()
    };
    assert_eq!(token, TOKEN);
}
