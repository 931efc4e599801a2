//! One test (or more) per row of the integration controller's transition table (the `C-…` IDs
//! in the comments of `src/controller.rs`): the outputs in order (SDK calls, UI directives),
//! the resulting state, and for refused intents the exact `ControllerError`, no output and a
//! state equal to the one before. The last tests drive a controller against a real SDK core.

use cobrowse_visitor_core::CallName;
use cobrowse_visitor_core::ErrorCode;
use cobrowse_visitor_core::Row;
use cobrowse_visitor_core::{
    ApiCall, ClientFrame, Controller, ControllerConfig, ControllerError, ControllerOutput, Event,
    InitParams, Input, Instant, KeyType, Lifecycle, Limits, Output, ParameterError, Sdk,
    ServerFrame, StartKey, TermsStatus, UiDirective, UiElement, UserIntent, PROTOCOL_VERSION,
};
use cobrowse_visitor_core::{App, ControllerState, Identity, Origin, PresenceView, SessionView};
use cobrowse_visitor_core::{NetworkChange, SdkConfig};
use std::collections::BTreeMap;

const GROUP: i32 = 19921;
const VID: &str = "cust-42";
const KEY: &str = "4821";

// ---- harness --------------------------------------------------------------------------------

fn cfg(custom_ui: bool) -> ControllerConfig {
    ControllerConfig {
        group_id: GROUP,
        custom_ui,
        ..ControllerConfig::default()
    }
}

fn drain(c: &mut Controller) -> Vec<ControllerOutput> {
    let mut outs = Vec::new();
    while let Some(o) = c.poll_output() {
        outs.push(o);
        assert!(outs.len() < 1000, "the output queue never ends");
    }
    outs
}

fn call(c: ApiCall) -> ControllerOutput {
    ControllerOutput::Call(c)
}

fn show(element: UiElement) -> ControllerOutput {
    ControllerOutput::Ui(UiDirective::Show { element, key: None })
}

fn show_key(key: &str) -> ControllerOutput {
    ControllerOutput::Ui(UiDirective::Show {
        element: UiElement::SessionKey,
        key: Some(key.to_owned()),
    })
}

fn hide(element: UiElement) -> ControllerOutput {
    ControllerOutput::Ui(UiDirective::Hide { element })
}

fn init_anon() -> ControllerOutput {
    call(ApiCall::InitVisitor(InitParams::anonymous(GROUP)))
}

fn init_id(id: &str) -> ControllerOutput {
    call(ApiCall::InitVisitor(InitParams::identified(GROUP, id)))
}

fn start(key: StartKey) -> ControllerOutput {
    call(ApiCall::start_session(key))
}

fn terms(status: TermsStatus) -> ControllerOutput {
    call(ApiCall::terms(status))
}

fn initialized_event() -> Event {
    Event::VisitorInitialized {
        settings_loaded: true,
    }
}

fn connected(key: &str, keytype: KeyType) -> Event {
    Event::ConnectedToSession {
        sessionkey: key.to_owned(),
        keytype,
    }
}

fn ended(reason: &str) -> Event {
    Event::SessionEnded {
        reason: reason.to_owned(),
    }
}

/// The row that refuses an intent with `err` (spec.md §6, §9).
fn refusal_row(err: &ControllerError) -> Row {
    match err {
        ControllerError::AlreadyLaunched => Row::CU02,
        ControllerError::Exited => Row::CU03,
        ControllerError::NotLaunched => Row::CU04,
        ControllerError::ButtonNotShown => Row::CU11,
        ControllerError::InvalidVisitorId(_) => Row::CU21,
        ControllerError::AlreadyLoggedIn => Row::CU22,
        ControllerError::NoTermsShown => Row::CU32,
        ControllerError::NoSession => Row::CU41,
        ControllerError::NotLoggedIn => Row::CU51,
        ControllerError::NotInitialized => Row::CU72,
        ControllerError::InvalidPresenceData(_) => Row::CU71,
        ControllerError::InvalidMessage(_) => Row::CU84,
        other => panic!("{other:?} has no refusal row here yet"),
    }
}

/// A controller under test.
struct H {
    c: Controller,
}

impl H {
    fn new(custom_ui: bool) -> H {
        H {
            c: Controller::new(cfg(custom_ui)),
        }
    }

    #[track_caller]
    fn user(&mut self, intent: UserIntent) -> Vec<ControllerOutput> {
        assert_eq!(self.c.handle_user(intent), Ok(()), "intent accepted");
        drain(&mut self.c)
    }

    fn event(&mut self, e: Event) -> Vec<ControllerOutput> {
        self.c.handle_event(&e);
        drain(&mut self.c)
    }

    #[track_caller]
    fn assert_rows(&self, expected: &[Row]) {
        assert_eq!(self.c.last_rows(), expected, "rows of the last input");
    }

    /// A refused intent: exactly this error, its row, no output, state unchanged.
    #[track_caller]
    fn refuse(&mut self, intent: UserIntent, err: ControllerError) {
        let before = self.c.state().clone();
        let row = match (&intent, &err) {
            // `session_not_running`: C-U81 for a pause, C-U85 for a message or state
            (UserIntent::TogglePause, ControllerError::NotRunning) => Row::CU81,
            (_, ControllerError::NotRunning) => Row::CU85,
            _ => refusal_row(&err),
        };
        assert_eq!(self.c.handle_user(intent), Err(err));
        self.assert_rows(&[row]);
        assert_eq!(drain(&mut self.c), vec![]);
        assert_eq!(self.c.state(), &before, "a refused intent changes nothing");
    }

    /// An event that causes nothing, through `row`.
    #[track_caller]
    fn ignore(&mut self, e: Event, row: Row) {
        let before = self.c.state().clone();
        assert_eq!(self.event(e), vec![]);
        self.assert_rows(&[row]);
        assert_eq!(self.c.state(), &before);
    }

    fn state(&self) -> &ControllerState {
        self.c.state()
    }

    fn app(&self) -> &App {
        match self.c.state() {
            ControllerState::Running(app) => app,
            s => panic!("expected running, got {s:?}"),
        }
    }

    // ---- source states ----

    fn launched(custom_ui: bool) -> H {
        let mut h = H::new(custom_ui);
        h.user(UserIntent::Launch);
        h
    }

    /// Launched and initialised: the button is shown.
    fn initialized(custom_ui: bool) -> H {
        let mut h = H::launched(custom_ui);
        h.event(initialized_event());
        h
    }

    fn logging_in() -> H {
        let mut h = H::initialized(true);
        h.user(UserIntent::Login {
            visitor_id: VID.into(),
        });
        h
    }

    /// Logged in; `presence_connect` called.
    fn logged_in() -> H {
        let mut h = H::logging_in();
        h.event(initialized_event());
        h
    }

    fn presence_connected() -> H {
        let mut h = H::logged_in();
        h.event(Event::PresenceConnected);
        h
    }

    fn terms_shown() -> H {
        let mut h = H::presence_connected();
        h.event(Event::PresenceShowTerms { request_id: 7 });
        h
    }

    fn manual_starting() -> H {
        let mut h = H::initialized(true);
        h.user(UserIntent::TapCobrowse);
        h
    }

    fn manual_running() -> H {
        let mut h = H::manual_starting();
        h.event(connected(KEY, KeyType::Random));
        h
    }

    fn one_click_starting() -> H {
        let mut h = H::terms_shown();
        h.user(UserIntent::AcceptTerms);
        h
    }

    fn one_click_running() -> H {
        let mut h = H::one_click_starting();
        h.event(connected(VID, KeyType::VisitorId));
        h
    }

    fn exited() -> H {
        let mut h = H::presence_connected();
        h.user(UserIntent::Exit);
        h
    }
}

fn every_intent_but_launch() -> Vec<UserIntent> {
    vec![
        UserIntent::TapCobrowse,
        UserIntent::Login {
            visitor_id: VID.into(),
        },
        UserIntent::Login {
            visitor_id: "not valid".into(),
        },
        UserIntent::AcceptTerms,
        UserIntent::DeclineTerms,
        UserIntent::EndSession,
        UserIntent::Logout,
        UserIntent::Exit,
    ]
}

// ---- C-U: user intents ----------------------------------------------------------------------

/// C-U01: launch: `init_visitor` without a visitor id.
#[test]
fn c_u01_launch_inits_without_visitor_id() {
    let mut h = H::new(true);
    assert_eq!(h.state(), &ControllerState::NotLaunched);
    assert_eq!(
        h.user(UserIntent::Launch),
        vec![call(ApiCall::InitVisitor(InitParams {
            group_id: GROUP,
            token: String::new(),
            name: String::new(),
            email: String::new(),
            phone: String::new(),
            visitor_id: None,
        }))]
    );
    h.assert_rows(&[Row::CU01]);
    assert_eq!(
        h.app(),
        &App {
            initialized: false,
            identity: Identity::Anonymous,
            presence: PresenceView::Off,
            session: SessionView::None,
            terms_shown: false,
            button_shown: false,
            presence_data: Default::default(),
            paused: false,
            user_state: Default::default(),
        }
    );
    // the configured group id
    let mut c = Controller::new(ControllerConfig {
        group_id: 20393,
        custom_ui: false,
        ..ControllerConfig::default()
    });
    c.handle_user(UserIntent::Launch).unwrap();
    assert_eq!(
        drain(&mut c),
        vec![call(ApiCall::InitVisitor(InitParams::anonymous(20393)))]
    );
}

/// C-U02: a second launch is refused.
#[test]
fn c_u02_second_launch_is_refused() {
    for mut h in [
        H::launched(true),
        H::initialized(true),
        H::one_click_running(),
    ] {
        h.refuse(UserIntent::Launch, ControllerError::AlreadyLaunched);
    }
}

/// C-U03: after exit every intent is refused, launch included.
#[test]
fn c_u03_intents_after_exit_are_refused() {
    let mut h = H::exited();
    h.refuse(UserIntent::Launch, ControllerError::Exited);
    for intent in every_intent_but_launch() {
        h.refuse(intent, ControllerError::Exited);
    }
}

/// C-U04: before launch every intent but launch is refused.
#[test]
fn c_u04_intents_before_launch_are_refused() {
    let mut h = H::new(true);
    for intent in every_intent_but_launch() {
        h.refuse(intent, ControllerError::NotLaunched);
    }
}

/// C-U10: a tap asks for `GLANCE_KEYTYPE_RANDOM`.
#[test]
fn c_u10_tap_starts_a_random_key_session() {
    let mut h = H::initialized(true);
    assert!(h.app().button_shown);
    assert_eq!(
        h.user(UserIntent::TapCobrowse),
        vec![hide(UiElement::CobrowseButton), start(StartKey::Random)]
    );
    h.assert_rows(&[Row::CU10]);
    assert_eq!(h.app().session, SessionView::Starting(Origin::Manual));
    assert!(!h.app().button_shown);
}

/// C-U10: … logged in, connected to presence, too (the manual fallback).
#[test]
fn c_u10_tap_is_random_when_logged_in() {
    let declined = {
        let mut h = H::terms_shown();
        h.user(UserIntent::DeclineTerms);
        h
    };
    for mut h in [
        H::logging_in(),
        H::logged_in(),
        H::presence_connected(),
        declined,
    ] {
        assert_eq!(
            h.user(UserIntent::TapCobrowse),
            vec![hide(UiElement::CobrowseButton), start(StartKey::Random)]
        );
        h.assert_rows(&[Row::CU10]);
        assert_eq!(h.app().session, SessionView::Starting(Origin::Manual));
    }
}

/// C-U11: no tap while the button is not shown (before init, terms up, a session on).
#[test]
fn c_u11_tap_without_button_is_refused() {
    let ending = {
        let mut h = H::manual_running();
        h.user(UserIntent::EndSession);
        h
    };
    for mut h in [
        H::launched(true),
        H::terms_shown(),
        H::manual_starting(),
        H::manual_running(),
        H::one_click_running(),
        ending,
    ] {
        h.refuse(UserIntent::TapCobrowse, ControllerError::ButtonNotShown);
    }
}

/// C-U20: login: `init_visitor` again, same group id, with the visitor id.
#[test]
fn c_u20_login_reinits_with_the_visitor_id() {
    let mut h = H::initialized(true);
    assert_eq!(
        h.user(UserIntent::Login {
            visitor_id: VID.into()
        }),
        vec![init_id(VID)]
    );
    h.assert_rows(&[Row::CU20]);
    assert_eq!(h.app().identity, Identity::LoggingIn(VID.into()));
    assert_eq!(
        h.app().presence,
        PresenceView::Off,
        "presence waits for the init"
    );
    // before the first EventVisitorInitialized too, and during a session
    for mut h in [H::launched(true), H::manual_running()] {
        assert_eq!(
            h.user(UserIntent::Login {
                visitor_id: "a-b_c~9".into()
            }),
            vec![init_id("a-b_c~9")]
        );
        h.assert_rows(&[Row::CU20]);
    }
}

/// C-U21: a visitor id that breaks the rules is refused (checked first).
#[test]
fn c_u21_login_with_a_bad_visitor_id_is_refused() {
    for mut h in [H::initialized(true), H::logged_in()] {
        for bad in [
            String::new(),
            "a".repeat(63),
            "cust 42".into(),
            "cust@42".into(),
            "clé".into(),
        ] {
            h.refuse(
                UserIntent::Login { visitor_id: bad },
                ControllerError::InvalidVisitorId(ParameterError::VisitorId {
                    limits: Limits::Glance5,
                }),
            );
        }
    }
}

/// C-U22: a second login is refused.
#[test]
fn c_u22_second_login_is_refused() {
    for mut h in [H::logging_in(), H::logged_in(), H::presence_connected()] {
        h.refuse(
            UserIntent::Login {
                visitor_id: "other".into(),
            },
            ControllerError::AlreadyLoggedIn,
        );
    }
}

/// C-U30: accept: hide the terms, signal `accepted`, then `start_session()` with no key.
#[test]
fn c_u30_accept_signals_then_starts_without_key() {
    let mut h = H::terms_shown();
    assert_eq!(
        h.user(UserIntent::AcceptTerms),
        vec![
            hide(UiElement::Terms),
            terms(TermsStatus::Accepted),
            start(StartKey::VisitorId),
        ]
    );
    h.assert_rows(&[Row::CU30]);
    assert_eq!(h.app().session, SessionView::Starting(Origin::OneClick));
    assert!(!h.app().terms_shown);
    assert!(!h.app().button_shown);
    // the start has no key argument in the contract's terms
    assert_eq!(
        serde_json::to_string(&ApiCall::start_session(StartKey::VisitorId)).unwrap(),
        r#"{"call":"start_session"}"#
    );
}

/// C-U30: the one-click key is never shown, not even on `EventConnectedToSession`.
#[test]
fn c_u30_one_click_key_is_never_shown() {
    let mut h = H::one_click_starting();
    let mut all = h.event(connected(VID, KeyType::VisitorId));
    assert_eq!(all, vec![show(UiElement::SessionIndicator)]);
    assert_eq!(h.app().session, SessionView::Running(Origin::OneClick));
    all.extend(h.event(Event::GuestCountChange { guestcount: 1 }));
    all.extend(h.user(UserIntent::EndSession));
    all.extend(h.event(ended("visitor_ended")));
    assert!(
        !all.iter().any(|o| matches!(
            o,
            ControllerOutput::Ui(UiDirective::Show {
                element: UiElement::SessionKey,
                ..
            }) | ControllerOutput::Ui(UiDirective::Hide {
                element: UiElement::SessionKey
            })
        )),
        "{all:?}"
    );
}

/// C-U31: decline: hide the terms, signal `declined`, offer the button again; no session.
#[test]
fn c_u31_decline_signals_and_offers_the_button() {
    let mut h = H::terms_shown();
    assert_eq!(
        h.user(UserIntent::DeclineTerms),
        vec![
            hide(UiElement::Terms),
            terms(TermsStatus::Declined),
            show(UiElement::CobrowseButton),
        ]
    );
    h.assert_rows(&[Row::CU31]);
    assert!(!h.app().terms_shown);
    assert!(h.app().button_shown);
    assert_eq!(h.app().session, SessionView::None);
}

/// C-U32: accept or decline without terms shown is refused: at most one answer per request.
#[test]
fn c_u32_answer_without_terms_is_refused() {
    let declined = {
        let mut h = H::terms_shown();
        h.user(UserIntent::DeclineTerms);
        h
    };
    for mut h in [
        H::initialized(true),
        H::presence_connected(),
        H::one_click_starting(),
        declined,
    ] {
        h.refuse(UserIntent::AcceptTerms, ControllerError::NoTermsShown);
        h.refuse(UserIntent::DeclineTerms, ControllerError::NoTermsShown);
    }
}

/// C-U40: end the session (starting or running): `end_session`, waiting for the SDK.
#[test]
fn c_u40_end_session() {
    for (mut h, origin, connected) in [
        (H::manual_starting(), Origin::Manual, false),
        (H::manual_running(), Origin::Manual, true),
        (H::one_click_starting(), Origin::OneClick, false),
        (H::one_click_running(), Origin::OneClick, true),
    ] {
        let before = h.app().clone();
        assert_eq!(
            h.user(UserIntent::EndSession),
            vec![call(ApiCall::EndSession)]
        );
        h.assert_rows(&[Row::CU40]);
        assert_eq!(
            h.app(),
            &App {
                session: SessionView::Ending { origin, connected },
                ..before
            }
        );
    }
}

/// C-U41: nothing to end, or already ending.
#[test]
fn c_u41_end_without_session_is_refused() {
    for mut h in [
        H::initialized(true),
        H::manual_running(),
        H::presence_connected(),
    ] {
        if h.app().session != SessionView::None {
            h.user(UserIntent::EndSession);
        }
        h.refuse(UserIntent::EndSession, ControllerError::NoSession);
    }
}

/// C-U50: logout: `presence_disconnect`, then `init_visitor` without the visitor id.
#[test]
fn c_u50_logout_disconnects_then_reinits_anonymous() {
    for mut h in [H::logged_in(), H::presence_connected()] {
        assert_eq!(
            h.user(UserIntent::Logout),
            vec![call(ApiCall::PresenceDisconnect), init_anon()]
        );
        h.assert_rows(&[Row::CU50]);
        assert_eq!(h.app().identity, Identity::Anonymous);
        assert_eq!(h.app().presence, PresenceView::Off);
        assert!(h.app().button_shown, "the button stays");
    }
}

/// C-U50: logout with the terms up closes them and offers the button.
#[test]
fn c_u50_logout_with_terms_shown() {
    let mut h = H::terms_shown();
    assert_eq!(
        h.user(UserIntent::Logout),
        vec![
            call(ApiCall::PresenceDisconnect),
            hide(UiElement::Terms),
            show(UiElement::CobrowseButton),
            init_anon(),
        ]
    );
    h.assert_rows(&[Row::CU50]);
    assert!(!h.app().terms_shown);
    assert!(h.app().button_shown);
}

/// C-U50: logout before presence was asked for: only the anonymous re-init; a running
/// session is kept.
#[test]
fn c_u50_logout_without_presence() {
    let mut h = H::logging_in();
    assert_eq!(h.user(UserIntent::Logout), vec![init_anon()]);
    h.assert_rows(&[Row::CU50]);
    assert_eq!(h.app().identity, Identity::Anonymous);
    // the pending EventVisitorInitialized no longer connects presence
    h.ignore(initialized_event(), Row::CE40);
    assert_eq!(h.app().presence, PresenceView::Off);

    let mut h = H::one_click_running();
    assert_eq!(
        h.user(UserIntent::Logout),
        vec![call(ApiCall::PresenceDisconnect), init_anon()]
    );
    assert_eq!(h.app().session, SessionView::Running(Origin::OneClick));
}

/// C-U50 after C-E28: presence was not configured, so there is nothing to disconnect, and
/// presence is `off` afterwards (spec.md §6: "presence=off" whatever it was), so the next
/// login's re-init connects again (C-E02).
#[test]
fn c_u50_logout_when_presence_not_configured() {
    let mut h = H::logged_in();
    h.event(Event::PresenceNotConfigured);
    assert_eq!(h.app().presence, PresenceView::NotConfigured);
    assert_eq!(h.user(UserIntent::Logout), vec![init_anon()]);
    h.assert_rows(&[Row::CU50]);
    assert_eq!(h.app().identity, Identity::Anonymous);
    assert_eq!(h.app().presence, PresenceView::Off);
}

/// C-U51: logout while not logged in is refused.
#[test]
fn c_u51_logout_when_anonymous_is_refused() {
    let mut h = H::initialized(true);
    h.refuse(UserIntent::Logout, ControllerError::NotLoggedIn);
    let mut h = H::presence_connected();
    h.user(UserIntent::Logout);
    h.refuse(UserIntent::Logout, ControllerError::NotLoggedIn);
}

/// C-U60: exit: `presence_disconnect` while presence is on, then every shown element is
/// hidden; the app is gone.
#[test]
fn c_u60_exit_disconnects_presence_and_clears_the_ui() {
    let button = hide(UiElement::CobrowseButton);
    let indicator = hide(UiElement::SessionIndicator);
    let disconnect = call(ApiCall::PresenceDisconnect);
    for (mut h, expected) in [
        (H::logged_in(), vec![disconnect.clone(), button.clone()]),
        (
            H::presence_connected(),
            vec![disconnect.clone(), button.clone()],
        ),
        (
            H::terms_shown(),
            vec![disconnect.clone(), hide(UiElement::Terms)],
        ),
        (
            H::one_click_running(),
            vec![disconnect.clone(), indicator.clone()],
        ),
        // nothing to disconnect (the host terminates the SDK, which ends the session)
        (H::launched(true), vec![]),
        (H::logging_in(), vec![button.clone()]),
        (H::manual_starting(), vec![]),
        (
            H::manual_running(),
            vec![hide(UiElement::SessionKey), indicator.clone()],
        ),
    ] {
        assert_eq!(h.user(UserIntent::Exit), expected);
        h.assert_rows(&[Row::CU60]);
        assert_eq!(h.state(), &ControllerState::Exited);
    }
}

// ---- C-E: SDK events ------------------------------------------------------------------------

/// C-E01: the first `EventVisitorInitialized`: with custom UI `set_default_ui(false)` first,
/// then the button.
#[test]
fn c_e01_first_initialized_turns_default_ui_off_and_shows_the_button() {
    let mut h = H::launched(true);
    assert_eq!(
        h.event(initialized_event()),
        vec![
            call(ApiCall::SetDefaultUi { enabled: false }),
            show(UiElement::CobrowseButton),
        ]
    );
    h.assert_rows(&[Row::CE01]);
    assert!(h.app().initialized);
    assert!(h.app().button_shown);
    // also when the settings lookup failed
    let mut h = H::launched(true);
    assert_eq!(
        h.event(Event::VisitorInitialized {
            settings_loaded: false
        }),
        vec![
            call(ApiCall::SetDefaultUi { enabled: false }),
            show(UiElement::CobrowseButton),
        ]
    );
    h.assert_rows(&[Row::CE01]);
}

/// C-E01: without custom UI the default UI stays on.
#[test]
fn c_e01_default_ui_only_shows_the_button() {
    let mut h = H::launched(false);
    assert_eq!(
        h.event(initialized_event()),
        vec![show(UiElement::CobrowseButton)]
    );
    h.assert_rows(&[Row::CE01]);
}

/// C-E02: after login, `EventVisitorInitialized`: `presence_connect`, then
/// `presence_set_default_ui(false)` with custom UI.
#[test]
fn c_e02_initialized_after_login_connects_presence() {
    let mut h = H::logging_in();
    assert_eq!(
        h.event(initialized_event()),
        vec![
            call(ApiCall::presence_connect()),
            call(ApiCall::PresenceSetDefaultUi { enabled: false }),
        ]
    );
    h.assert_rows(&[Row::CE02]);
    assert_eq!(h.app().identity, Identity::LoggedIn(VID.into()));
    assert_eq!(h.app().presence, PresenceView::Connecting);
}

/// C-E02: without custom UI only `presence_connect`.
#[test]
fn c_e02_default_ui_only_connects() {
    let mut h = H::initialized(false);
    h.user(UserIntent::Login {
        visitor_id: VID.into(),
    });
    assert_eq!(
        h.event(initialized_event()),
        vec![call(ApiCall::presence_connect())]
    );
    h.assert_rows(&[Row::CE02]);
}

/// C-E01 + C-E02: login before the first init completed: default UI off and the button
/// first, then presence.
#[test]
fn c_e02_login_before_the_first_initialized() {
    let mut h = H::launched(true);
    h.user(UserIntent::Login {
        visitor_id: VID.into(),
    });
    assert_eq!(
        h.event(initialized_event()),
        vec![
            call(ApiCall::SetDefaultUi { enabled: false }),
            show(UiElement::CobrowseButton),
            call(ApiCall::presence_connect()),
            call(ApiCall::PresenceSetDefaultUi { enabled: false }),
        ]
    );
    h.assert_rows(&[Row::CE01, Row::CE02]);
}

/// C-E10: a manual session is up: indicator and the key, for the customer to read out.
#[test]
fn c_e10_manual_session_shows_its_key() {
    let mut h = H::manual_starting();
    assert_eq!(
        h.event(connected(KEY, KeyType::Random)),
        vec![show(UiElement::SessionIndicator), show_key(KEY)]
    );
    h.assert_rows(&[Row::CE10]);
    assert_eq!(h.app().session, SessionView::Running(Origin::Manual));
    // logged in, the manual key is shown as well
    let mut h = H::presence_connected();
    h.user(UserIntent::TapCobrowse);
    assert_eq!(
        h.event(connected("99", KeyType::Random)),
        vec![show(UiElement::SessionIndicator), show_key("99")]
    );
}

/// C-E10: the one-click session is up: indicator only.
#[test]
fn c_e10_one_click_session_hides_its_key() {
    let mut h = H::one_click_starting();
    assert_eq!(
        h.event(connected(VID, KeyType::VisitorId)),
        vec![show(UiElement::SessionIndicator)]
    );
    h.assert_rows(&[Row::CE10]);
    assert_eq!(h.app().session, SessionView::Running(Origin::OneClick));
}

/// C-E10: a session the controller did not start: the key type decides.
#[test]
fn c_e10_external_session_follows_the_key_type() {
    let mut h = H::initialized(true);
    assert_eq!(
        h.event(connected(KEY, KeyType::Random)),
        vec![
            hide(UiElement::CobrowseButton),
            show(UiElement::SessionIndicator),
            show_key(KEY),
        ]
    );
    h.assert_rows(&[Row::CE10]);
    assert_eq!(
        h.app().session,
        SessionView::Running(Origin::External(KeyType::Random))
    );
    assert!(!h.app().button_shown);
    let mut h = H::presence_connected();
    assert_eq!(
        h.event(connected(VID, KeyType::VisitorId)),
        vec![
            hide(UiElement::CobrowseButton),
            show(UiElement::SessionIndicator)
        ]
    );
    let mut h = H::initialized(true);
    assert_eq!(
        h.event(connected("mine", KeyType::Custom)),
        vec![
            hide(UiElement::CobrowseButton),
            show(UiElement::SessionIndicator),
            show_key("mine"),
        ]
    );
}

/// C-E11: the start failed: no session, the button again.
#[test]
fn c_e11_start_failed_offers_the_button() {
    for mut h in [H::manual_starting(), H::one_click_starting()] {
        assert_eq!(
            h.event(Event::StartSessionFailed {
                reason: "timeout".into()
            }),
            vec![show(UiElement::CobrowseButton)]
        );
        h.assert_rows(&[Row::CE11]);
        assert_eq!(h.app().session, SessionView::None);
        assert!(h.app().button_shown);
    }
}

/// C-E12: the session ended: hide the key (if shown) and the indicator, the button again.
#[test]
fn c_e12_session_ended() {
    let mut h = H::manual_running();
    assert_eq!(
        h.event(ended("agent_ended")),
        vec![
            hide(UiElement::SessionKey),
            hide(UiElement::SessionIndicator),
            show(UiElement::CobrowseButton),
        ]
    );
    h.assert_rows(&[Row::CE12]);
    assert_eq!(h.app().session, SessionView::None);
    assert!(h.app().button_shown);

    let mut h = H::one_click_running();
    h.user(UserIntent::EndSession);
    assert_eq!(
        h.event(ended("visitor_ended")),
        vec![
            hide(UiElement::SessionIndicator),
            show(UiElement::CobrowseButton)
        ]
    );
    h.assert_rows(&[Row::CE12]);
    assert_eq!(h.app().session, SessionView::None);

    // no session known: nothing to hide, just the button
    let mut h = H::manual_starting();
    h.event(Event::StartSessionFailed { reason: "x".into() });
    h.ignore(ended("terminated"), Row::CE12);
}

/// C-E20: presence connected, whoever asked for it (so that logout still disconnects).
#[test]
fn c_e20_presence_connected() {
    let mut h = H::logged_in();
    assert_eq!(h.event(Event::PresenceConnected), vec![]);
    h.assert_rows(&[Row::CE20]);
    assert_eq!(h.app().presence, PresenceView::Connected);
    // again (after a reconnect): still connected
    assert_eq!(h.event(Event::PresenceConnected), vec![]);
    h.assert_rows(&[Row::CE20]);
    assert_eq!(h.app().presence, PresenceView::Connected);
    // connected by a direct SDK call the controller did not make: logout disconnects it
    let mut h = H::initialized(true);
    h.user(UserIntent::Login {
        visitor_id: VID.into(),
    });
    h.user(UserIntent::Logout);
    assert_eq!(h.event(Event::PresenceConnected), vec![]);
    h.assert_rows(&[Row::CE20]);
    assert_eq!(h.app().presence, PresenceView::Connected);
    h.user(UserIntent::Login {
        visitor_id: VID.into(),
    });
    assert_eq!(
        h.user(UserIntent::Logout),
        vec![call(ApiCall::PresenceDisconnect), init_anon()]
    );
}

/// C-E22: show terms: hide the button, show the terms, signal `displayed`.
#[test]
fn c_e22_show_terms_displays_and_signals() {
    let mut h = H::presence_connected();
    assert_eq!(
        h.event(Event::PresenceShowTerms { request_id: 7 }),
        vec![
            hide(UiElement::CobrowseButton),
            show(UiElement::Terms),
            terms(TermsStatus::Displayed),
        ]
    );
    h.assert_rows(&[Row::CE22]);
    assert!(h.app().terms_shown);
    assert!(!h.app().button_shown);
    // a new request while the terms are up: signal displayed for it
    assert_eq!(
        h.event(Event::PresenceShowTerms { request_id: 8 }),
        vec![terms(TermsStatus::Displayed)]
    );
    h.assert_rows(&[Row::CE22]);
    // the guard is presence≠off: connecting counts
    let mut h = H::logged_in();
    assert_eq!(
        h.event(Event::PresenceShowTerms { request_id: 1 }),
        vec![
            hide(UiElement::CobrowseButton),
            show(UiElement::Terms),
            terms(TermsStatus::Displayed),
        ]
    );
}

/// C-E23: presence disconnected: off, and the terms (if up) are gone.
#[test]
fn c_e23_presence_disconnected() {
    let mut h = H::terms_shown();
    assert_eq!(
        h.event(Event::PresenceDisconnected),
        vec![hide(UiElement::Terms), show(UiElement::CobrowseButton)]
    );
    h.assert_rows(&[Row::CE23]);
    assert_eq!(h.app().presence, PresenceView::Off);
    assert!(!h.app().terms_shown);
    let mut h = H::presence_connected();
    assert_eq!(h.event(Event::PresenceDisconnected), vec![]);
    h.assert_rows(&[Row::CE23]);
    assert_eq!(h.app().presence, PresenceView::Off);
}

/// C-E24: blur: the terms (if up) are gone; presence is still the SDK's to manage.
#[test]
fn c_e24_presence_blur() {
    let mut h = H::terms_shown();
    assert_eq!(
        h.event(Event::PresenceBlur),
        vec![hide(UiElement::Terms), show(UiElement::CobrowseButton)]
    );
    h.assert_rows(&[Row::CE24]);
    assert_eq!(h.app().presence, PresenceView::Connected);
    assert!(!h.app().terms_shown);
    let mut h = H::presence_connected();
    h.ignore(Event::PresenceBlur, Row::CE24);
}

/// C-E25: the link is lost: a terms request went with it (S-N01), so the terms go too.
#[test]
fn c_e25_connection_warning_closes_the_terms() {
    let mut h = H::terms_shown();
    assert_eq!(
        h.event(Event::ConnectionWarning),
        vec![hide(UiElement::Terms), show(UiElement::CobrowseButton)]
    );
    h.assert_rows(&[Row::CE25]);
    assert!(!h.app().terms_shown);
    assert!(h.app().button_shown);
    assert_eq!(h.app().presence, PresenceView::Connected);
    // the customer can no longer answer a request that is gone
    h.refuse(UserIntent::AcceptTerms, ControllerError::NoTermsShown);
    // nothing shown: nothing to do
    for mut h in [
        H::initialized(true),
        H::manual_running(),
        H::presence_connected(),
    ] {
        h.ignore(Event::ConnectionWarning, Row::CE25);
    }
}

/// C-E30: our own start was refused: back to no session, the button again.
#[test]
fn c_e30_own_start_refused() {
    for mut h in [H::manual_starting(), H::one_click_starting()] {
        assert_eq!(
            h.event(Event::InvalidState {
                call: CallName::StartSession,
                code: ErrorCode::SessionActive
            }),
            vec![show(UiElement::CobrowseButton)]
        );
        h.assert_rows(&[Row::CE30]);
        assert_eq!(h.app().session, SessionView::None);
    }
    let mut h = H::manual_starting();
    assert_eq!(
        h.event(Event::InvalidParameter {
            call: CallName::StartSession,
            code: ErrorCode::InvalidParameter
        }),
        vec![show(UiElement::CobrowseButton)]
    );
    h.assert_rows(&[Row::CE30]);
}

/// C-E40: guest counts, connect failures, `EventClearWarning`, a later
/// `EventVisitorInitialized`, and the events above when their guard fails, change nothing.
#[test]
fn c_e40_other_events_change_nothing() {
    for mut h in [H::initialized(true), H::manual_running(), H::logged_in()] {
        h.ignore(Event::GuestCountChange { guestcount: 1 }, Row::CE40);
        h.ignore(
            Event::PresenceConnectFail {
                reason: "busy".into(),
                retry_ms: Some(1000),
            },
            Row::CE40,
        );
        h.ignore(Event::ClearWarning, Row::CE40);
        h.ignore(initialized_event(), Row::CE40);
    }
    // C-E22's guard: presence off, or a session on (the request is not shown nor answered)
    let mut h = H::initialized(true);
    h.ignore(Event::PresenceShowTerms { request_id: 9 }, Row::CE40);
    let starting = {
        let mut h = H::presence_connected();
        h.user(UserIntent::TapCobrowse);
        h
    };
    let ending = {
        let mut h = H::one_click_running();
        h.user(UserIntent::EndSession);
        h
    };
    for mut h in [starting, H::one_click_running(), ending] {
        h.ignore(Event::PresenceShowTerms { request_id: 9 }, Row::CE40);
    }
    // C-E30's guard: another call refused, or no own start pending
    let mut h = H::manual_starting();
    h.ignore(
        Event::InvalidState {
            call: CallName::EndSession,
            code: ErrorCode::NoSession,
        },
        Row::CE40,
    );
    h.ignore(
        Event::InvalidParameter {
            call: CallName::InitVisitor,
            code: ErrorCode::GroupIdMismatch,
        },
        Row::CE40,
    );
    for mut h in [H::manual_running(), H::initialized(true)] {
        h.ignore(
            Event::InvalidState {
                call: CallName::StartSession,
                code: ErrorCode::SessionActive,
            },
            Row::CE40,
        );
    }
}

/// C-E99: before launch and after exit, events are ignored.
#[test]
fn c_e99_events_without_an_app_are_ignored() {
    let all = || {
        vec![
            initialized_event(),
            connected(KEY, KeyType::Random),
            ended("terminated"),
            Event::StartSessionFailed {
                reason: "terminated".into(),
            },
            Event::PresenceConnected,
            Event::PresenceShowTerms { request_id: 1 },
            Event::PresenceDisconnected,
            Event::PresenceBlur,
            Event::InvalidState {
                call: CallName::StartSession,
                code: ErrorCode::Terminated,
            },
        ]
    };
    let mut h = H::new(true);
    for e in all() {
        h.ignore(e, Row::CE99);
    }
    assert_eq!(h.state(), &ControllerState::NotLaunched);
    let mut h = H::exited();
    for e in all() {
        h.ignore(e, Row::CE99);
    }
    assert_eq!(h.state(), &ControllerState::Exited);
}

// ---- C-L: lifecycle -------------------------------------------------------------------------

/// C-L01: the app never reacts to background / foreground (the SDK manages presence).
#[test]
fn c_l01_lifecycle_changes_produce_nothing() {
    for mut h in [
        H::new(true),
        H::initialized(true),
        H::logged_in(),
        H::presence_connected(),
        H::terms_shown(),
        H::one_click_running(),
        H::exited(),
    ] {
        let before = h.state().clone();
        for l in [
            Lifecycle::Background,
            Lifecycle::Foreground,
            Lifecycle::Background,
            Lifecycle::Terminate,
        ] {
            h.c.handle_lifecycle(l);
            h.assert_rows(&[Row::CL01]);
            assert_eq!(drain(&mut h.c), vec![]);
            assert_eq!(h.state(), &before);
        }
    }
}

// ---- against a real SDK core ----------------------------------------------------------------

/// A controller wired to an SDK core; the test plays the server.
struct World {
    ctl: Controller,
    sdk: Sdk,
    now: u64,
    /// Every controller output, in order.
    ctl_out: Vec<ControllerOutput>,
    /// Every frame the SDK sent.
    sent: Vec<ClientFrame>,
    /// Every event the SDK delivered.
    events: Vec<Event>,
}

impl World {
    fn new(custom_ui: bool) -> World {
        World {
            ctl: Controller::new(cfg(custom_ui)),
            sdk: Sdk::default(),
            now: 0,
            ctl_out: Vec::new(),
            sent: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Feeds controller calls to the SDK and SDK events to the controller until quiet.
    fn settle(&mut self) {
        for _ in 0..1000 {
            if let Some(o) = self.ctl.poll_output() {
                self.ctl_out.push(o.clone());
                if let ControllerOutput::Call(c) = o {
                    // refusals come back as events
                    let _ = self
                        .sdk
                        .handle_input(Instant::from_millis(self.now), Input::Api(c));
                }
                continue;
            }
            match self.sdk.poll_output() {
                Output::Event(e) => {
                    self.events.push(e.clone());
                    self.ctl.handle_event(&e);
                }
                Output::Transmit(f) => self.sent.push(f),
                Output::Connect => {}
                Output::Timeout(_) => return,
            }
        }
        panic!("never settles");
    }

    fn user(&mut self, intent: UserIntent) {
        self.ctl.handle_user(intent).unwrap();
        self.settle();
    }

    fn server(&mut self, f: ServerFrame) {
        self.sdk
            .handle_input(Instant::from_millis(self.now), Input::Frame(f))
            .unwrap();
        self.settle();
    }

    fn calls(&self) -> Vec<ApiCall> {
        self.ctl_out
            .iter()
            .filter_map(|o| match o {
                ControllerOutput::Call(c) => Some(c.clone()),
                ControllerOutput::Ui(_)
                | ControllerOutput::AgentSignal { .. }
                | ControllerOutput::AgentMessage { .. } => None,
            })
            .collect()
    }

    fn shown_keys(&self) -> Vec<String> {
        self.ctl_out
            .iter()
            .filter_map(|o| match o {
                ControllerOutput::Ui(UiDirective::Show {
                    element: UiElement::SessionKey,
                    key,
                }) => key.clone(),
                _ => None,
            })
            .collect()
    }
}

fn settings() -> ServerFrame {
    ServerFrame::Settings {
        v: PROTOCOL_VERSION,
        key_length: 4,
        agent_start: false,
    }
}

/// C-U01, C-E01, C-U10, C-E10: the pre-login journey against the SDK: the manual key is
/// shown.
#[test]
fn c_u10_journey_prelogin_manual_key_is_shown() {
    let mut w = World::new(true);
    w.user(UserIntent::Launch);
    w.server(settings());
    w.user(UserIntent::TapCobrowse);
    assert_eq!(
        w.sent.last(),
        Some(&ClientFrame::StartSession {
            key: None,
            max_guests: None,
            paused: false
        })
    );
    w.server(ServerFrame::SessionStarted {
        sessionkey: KEY.into(),
    });
    assert_eq!(w.shown_keys(), vec![KEY.to_owned()]);
    assert_eq!(
        w.calls(),
        vec![
            ApiCall::InitVisitor(InitParams::anonymous(GROUP)),
            ApiCall::SetDefaultUi { enabled: false },
            ApiCall::start_session(StartKey::Random),
        ]
    );
}

/// C-U20, C-E02, C-E22, C-U30, C-E10: the one-click journey against the SDK: consent
/// order, the visitor id as key, never shown.
#[test]
fn c_u30_journey_one_click_against_the_sdk() {
    let mut w = World::new(true);
    w.user(UserIntent::Launch);
    w.server(settings());
    w.user(UserIntent::Login {
        visitor_id: VID.into(),
    });
    w.server(settings());
    w.server(ServerFrame::PresenceConnected {});
    w.server(ServerFrame::PresenceShowTerms { request_id: 3 });
    w.user(UserIntent::AcceptTerms);
    w.server(ServerFrame::SessionStarted {
        sessionkey: VID.into(),
    });
    assert_eq!(
        w.calls(),
        vec![
            ApiCall::InitVisitor(InitParams::anonymous(GROUP)),
            ApiCall::SetDefaultUi { enabled: false },
            ApiCall::InitVisitor(InitParams::identified(GROUP, VID)),
            ApiCall::presence_connect(),
            ApiCall::PresenceSetDefaultUi { enabled: false },
            ApiCall::terms(TermsStatus::Displayed),
            ApiCall::terms(TermsStatus::Accepted),
            ApiCall::start_session(StartKey::VisitorId),
        ]
    );
    assert!(
        !w.events.iter().any(|e| matches!(
            e,
            Event::InvalidState { .. } | Event::InvalidParameter { .. }
        )),
        "no call refused: {:?}",
        w.events
    );
    assert_eq!(
        w.sent.last(),
        Some(&ClientFrame::StartSession {
            key: Some(VID.into()),
            max_guests: None,
            paused: false
        })
    );
    assert!(
        w.shown_keys().is_empty(),
        "the one-click key is never shown"
    );
    assert!(w.ctl_out.contains(&show(UiElement::SessionIndicator)));
    // logout: presence_disconnect, then init_visitor without the visitor id, both accepted
    w.server(ServerFrame::SessionEnded {
        reason: "agent_ended".into(),
    });
    let n = w.calls().len();
    w.user(UserIntent::Logout);
    assert_eq!(
        w.calls()[n..],
        [
            ApiCall::PresenceDisconnect,
            ApiCall::InitVisitor(InitParams::anonymous(GROUP)),
        ]
    );
    assert!(!w.events.iter().any(|e| matches!(
        e,
        Event::InvalidState { .. } | Event::InvalidParameter { .. }
    )));
}

/// `Controller::handle_input` is the one entry: each `ControllerInput` goes through the same
/// row, with the same result and outputs, as the method of its kind.
#[test]
fn handle_input_dispatches_each_kind_as_its_method() {
    use cobrowse_visitor_core::{ControllerInput, Lifecycle};
    let inputs = [
        ControllerInput::User(UserIntent::TapCobrowse),
        ControllerInput::User(UserIntent::Launch),
        ControllerInput::Event(Event::VisitorInitialized {
            settings_loaded: true,
        }),
        ControllerInput::User(UserIntent::Launch),
        ControllerInput::Lifecycle(Lifecycle::Background),
        ControllerInput::User(UserIntent::TapCobrowse),
    ];
    let mut by_input = Controller::new(ControllerConfig::default());
    let mut by_method = Controller::new(ControllerConfig::default());
    for input in inputs {
        let a = by_input.handle_input(input.clone());
        let b = match input {
            ControllerInput::User(u) => by_method.handle_user(u),
            ControllerInput::Event(e) => {
                by_method.handle_event(&e);
                Ok(())
            }
            ControllerInput::Lifecycle(l) => {
                by_method.handle_lifecycle(l);
                Ok(())
            }
        };
        assert_eq!(a, b);
        assert_eq!(by_input.last_rows(), by_method.last_rows());
        let outs = |c: &mut Controller| std::iter::from_fn(|| c.poll_output()).collect::<Vec<_>>();
        assert_eq!(outs(&mut by_input), outs(&mut by_method));
        assert_eq!(by_input.state(), by_method.state());
    }
    // a refused intent comes back as the error, through handle_input too
    assert_eq!(
        Controller::new(ControllerConfig::default())
            .handle_input(ControllerInput::User(UserIntent::TapCobrowse)),
        Err(ControllerError::NotLaunched)
    );
}

/// `UserIntent::name` is the contract's word for each intent (scenario `user` lines).
#[test]
fn user_intents_print_as_the_contract_words() {
    let words = [
        (UserIntent::Launch, "launch"),
        (UserIntent::TapCobrowse, "tap_cobrowse"),
        (
            UserIntent::Login {
                visitor_id: "cust-42".into(),
            },
            "login",
        ),
        (UserIntent::AcceptTerms, "accept_terms"),
        (UserIntent::DeclineTerms, "decline_terms"),
        (UserIntent::EndSession, "end_session"),
        (UserIntent::Logout, "logout"),
        (UserIntent::Exit, "exit"),
    ];
    for (intent, word) in words {
        assert_eq!(intent.name(), word);
    }
}

// ---- issue 14: the presence surface (spec.md §6) --------------------------------------------

fn page(value: &str) -> std::collections::BTreeMap<String, String> {
    [("page".to_owned(), value.to_owned())].into()
}

/// C-U70: the app's presence data is passed through once initialized, merged into the
/// controller's copy (so that C-U71 refuses what S-A81 would).
#[test]
fn c_u70_presence_data_passes_through() {
    for mut h in [
        H::initialized(false),
        H::logged_in(),
        H::terms_shown(),
        H::one_click_running(),
    ] {
        let before = h.app().clone();
        assert_eq!(
            h.user(UserIntent::PresenceData { map: page("cart") }),
            vec![call(ApiCall::PresenceData { map: page("cart") })]
        );
        h.assert_rows(&[Row::CU70]);
        let mut want = before;
        want.presence_data.extend(page("cart"));
        assert_eq!(h.app(), &want);
    }
    // refused like every intent before launch and after exit
    H::new(true).refuse(
        UserIntent::PresenceData { map: page("cart") },
        ControllerError::NotLaunched,
    );
    H::exited().refuse(
        UserIntent::PresenceData { map: page("cart") },
        ControllerError::Exited,
    );
}

/// C-U72: before the first `EventVisitorInitialized` the core would refuse the data
/// (S-A91 / S-A92): the controller refuses the intent itself, nothing changes.
#[test]
fn c_u72_presence_data_before_init_is_refused() {
    let mut h = H::launched(true);
    h.refuse(
        UserIntent::PresenceData { map: page("cart") },
        ControllerError::NotInitialized,
    );
    h.assert_rows(&[Row::CU72]);
}

/// C-U71: data the core would refuse (S-A81: an entry over 255 characters, or more than 32
/// entries once merged) is refused by the controller; its merged copy is unchanged.
#[test]
fn c_u71_presence_data_the_core_would_refuse() {
    let long: std::collections::BTreeMap<String, String> =
        [("page".to_owned(), "v".repeat(256))].into();
    let mut h = H::logged_in();
    h.refuse(
        UserIntent::PresenceData { map: long },
        ControllerError::InvalidPresenceData(ParameterError::PresenceData),
    );
    h.assert_rows(&[Row::CU71]);
    // 32 entries pass, a 33rd new key does not, a replaced one does
    let full: std::collections::BTreeMap<String, String> =
        (0..32).map(|i| (i.to_string(), String::new())).collect();
    h.user(UserIntent::PresenceData { map: full });
    h.assert_rows(&[Row::CU70]);
    h.refuse(
        UserIntent::PresenceData {
            map: page("one_more"),
        },
        ControllerError::InvalidPresenceData(ParameterError::PresenceData),
    );
    h.user(UserIntent::PresenceData {
        map: [("0".to_owned(), "x".to_owned())].into(),
    });
    h.assert_rows(&[Row::CU70]);
    // a new visitor id starts from empty, as the core's does (S-A04)
    h.user(UserIntent::Logout);
    assert!(h.app().presence_data.is_empty());
}

/// C-E26: an agent start the policy allowed (S-F25) starts the one-click session at once:
/// the button is hidden, `start_session()` with the visitor id; its key is never shown, the
/// indicator is (C-E10).
#[test]
fn c_e26_agent_start_starts_a_one_click_session() {
    let mut h = H::presence_connected();
    assert!(h.app().button_shown);
    assert_eq!(
        h.event(Event::PresenceStartSession { request_id: 3 }),
        vec![
            hide(UiElement::CobrowseButton),
            call(ApiCall::start_session(StartKey::VisitorId))
        ]
    );
    h.assert_rows(&[Row::CE26]);
    assert_eq!(h.app().session, SessionView::Starting(Origin::OneClick));
    assert!(!h.app().button_shown);
    assert_eq!(
        h.event(connected(VID, KeyType::VisitorId)),
        vec![show(UiElement::SessionIndicator)]
    );
    h.assert_rows(&[Row::CE10]);
    // its guard: presence off, or a session already there
    for mut h in [
        H::initialized(true),
        H::manual_running(),
        H::one_click_starting(),
    ] {
        h.ignore(Event::PresenceStartSession { request_id: 4 }, Row::CE40);
    }
    // the agent's start replaces a request whose terms are on screen
    let mut h = H::terms_shown();
    assert_eq!(
        h.event(Event::PresenceStartSession { request_id: 5 }),
        vec![
            hide(UiElement::Terms),
            call(ApiCall::start_session(StartKey::VisitorId))
        ]
    );
    h.assert_rows(&[Row::CE26]);
    assert!(!h.app().terms_shown);
}

/// C-E26 over displayed terms, then the customer's answer (fuzz crash-52efccd3): the agent's
/// start replaced the request (S-F25) and took the dialog down, so `decline_terms` is the
/// controller's own refusal (C-U32) and no terms answer reaches the core, which has no
/// request to answer (S-A56 would refuse it: INV-CONTROLLER-CALLS-ACCEPTED). Before, C-E26
/// left the dialog up and C-U31 called `presence_signal_agent(terms, declined)`.
#[test]
fn c_e26_then_decline_terms_is_refused_by_the_controller() {
    for answer in [UserIntent::DeclineTerms, UserIntent::AcceptTerms] {
        let mut h = H::terms_shown();
        h.event(Event::PresenceStartSession { request_id: 2 });
        h.assert_rows(&[Row::CE26]);
        h.refuse(answer, ControllerError::NoTermsShown);
        h.assert_rows(&[Row::CU32]);
        // the session it started connects without the dialog coming back
        assert_eq!(
            h.event(connected(VID, KeyType::VisitorId)),
            vec![show(UiElement::SessionIndicator)]
        );
        assert!(!h.app().terms_shown);
    }
}

/// C-E27: the agent's signal is handed to the app (`AgentSignal`), nothing else.
#[test]
fn c_e27_agent_signal_is_handed_to_the_app() {
    for mut h in [H::presence_connected(), H::manual_running()] {
        let before = h.state().clone();
        assert_eq!(
            h.event(Event::PresenceSignal {
                event: "open_page".into(),
                map: page("checkout"),
            }),
            vec![ControllerOutput::AgentSignal {
                event: "open_page".into(),
                map: page("checkout"),
            }]
        );
        h.assert_rows(&[Row::CE27]);
        assert_eq!(h.state(), &before);
    }
}

/// C-E28: not configured: presence is no longer offered; the next login's re-init tries
/// again (C-E02, "off or not_configured").
#[test]
fn c_e28_not_configured_stops_offering_presence() {
    let mut h = H::logged_in();
    assert_eq!(h.event(Event::PresenceNotConfigured), vec![]);
    h.assert_rows(&[Row::CE28]);
    assert_eq!(h.app().presence, PresenceView::NotConfigured);
    // a later EventVisitorInitialized without a login does not connect
    h.ignore(initialized_event(), Row::CE40);
    // exit has nothing to disconnect
    let mut x = H { c: h.c.clone() };
    assert_eq!(
        x.user(UserIntent::Exit),
        vec![hide(UiElement::CobrowseButton)]
    );
    // logout, login: presence is asked for again
    assert_eq!(h.user(UserIntent::Logout), vec![init_anon()]);
    h.user(UserIntent::Login {
        visitor_id: VID.into(),
    });
    assert_eq!(
        h.event(initialized_event()),
        vec![
            call(ApiCall::presence_connect()),
            call(ApiCall::PresenceSetDefaultUi { enabled: false })
        ]
    );
    h.assert_rows(&[Row::CE02]);
    assert_eq!(h.app().presence, PresenceView::Connecting);
}

/// C-E02 with presence not configured at the time of the re-init (a login's
/// `EventVisitorInitialized` after C-E28): presence is asked for again.
#[test]
fn c_e02_reconnects_after_not_configured() {
    // not configured seen while anonymous (C-E28 applies in any state)
    let mut c = H::logged_in();
    c.user(UserIntent::Logout);
    c.event(Event::PresenceNotConfigured);
    assert_eq!(c.app().presence, PresenceView::NotConfigured);
    c.user(UserIntent::Login {
        visitor_id: VID.into(),
    });
    assert_eq!(
        c.event(initialized_event()),
        vec![
            call(ApiCall::presence_connect()),
            call(ApiCall::PresenceSetDefaultUi { enabled: false })
        ]
    );
    c.assert_rows(&[Row::CE02]);
}

/// C-E29: `EventPresenceConnectFail` without `retry_ms` (connect(maxAttempts) gave up):
/// presence is off; with `retry_ms` it is C-E40.
#[test]
fn c_e29_connect_gave_up_turns_presence_off() {
    let mut h = H::logged_in();
    assert_eq!(
        h.event(Event::PresenceConnectFail {
            reason: "timeout".into(),
            retry_ms: None,
        }),
        vec![]
    );
    h.assert_rows(&[Row::CE29]);
    assert_eq!(h.app().presence, PresenceView::Off);
    // nothing to disconnect on logout
    assert_eq!(h.user(UserIntent::Logout), vec![init_anon()]);
    let mut h = H::logged_in();
    h.ignore(
        Event::PresenceConnectFail {
            reason: "timeout".into(),
            retry_ms: Some(2_000),
        },
        Row::CE40,
    );
    assert_eq!(h.app().presence, PresenceView::Connecting);
}

/// C-E40: `EventPresenceSendFail` changes nothing in the controller.
#[test]
fn c_e40_send_fail_changes_nothing() {
    for mut h in [H::logged_in(), H::presence_connected()] {
        h.ignore(
            Event::PresenceSendFail {
                call: CallName::PresenceSignalAgent,
                code: ErrorCode::PresenceSendFail,
            },
            Row::CE40,
        );
    }
}

// ---- issue 15: pause, user messages and state (C-U80–C-U85, C-E31), restore (§6.1) ---------

fn entries(e: &[(&str, &str)]) -> BTreeMap<String, String> {
    e.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn send_message(name: &str, e: &[(&str, &str)]) -> UserIntent {
    UserIntent::SendMessage {
        name: name.to_owned(),
        map: entries(e),
    }
}

fn set_state(name: &str, value: &str) -> UserIntent {
    UserIntent::SetUserState {
        name: name.to_owned(),
        value: value.to_owned(),
    }
}

/// Controllers in a state without a running session: initialised, starting, ending.
fn not_running() -> Vec<H> {
    let mut ending = H::manual_running();
    ending.user(UserIntent::EndSession);
    vec![H::initialized(true), H::manual_starting(), ending]
}

/// C-U80: `toggle_pause` in a running session flips `paused`, calls `pause(paused)` and
/// shows `session_paused` when now paused, hides it when not.
#[test]
fn c_u80_toggle_pause_calls_pause_and_shows_the_notice() {
    let mut h = H::manual_running();
    assert_eq!(
        h.user(UserIntent::TogglePause),
        vec![
            call(ApiCall::Pause { paused: true }),
            show(UiElement::SessionPaused)
        ]
    );
    h.assert_rows(&[Row::CU80]);
    assert!(h.app().paused);
    assert_eq!(
        h.user(UserIntent::TogglePause),
        vec![
            call(ApiCall::Pause { paused: false }),
            hide(UiElement::SessionPaused)
        ]
    );
    h.assert_rows(&[Row::CU80]);
    assert!(!h.app().paused);
    // a one-click session pauses the same way
    let mut h = H::one_click_running();
    assert_eq!(
        h.user(UserIntent::TogglePause),
        vec![
            call(ApiCall::Pause { paused: true }),
            show(UiElement::SessionPaused)
        ]
    );
}

/// C-U81: `toggle_pause` without a running session is refused (`session_not_running`),
/// nothing changes.
#[test]
fn c_u81_toggle_pause_without_a_running_session_is_refused() {
    for mut h in not_running() {
        h.refuse(UserIntent::TogglePause, ControllerError::NotRunning);
    }
    assert_eq!(
        ControllerError::NotRunning.code(),
        ErrorCode::SessionNotRunning
    );
}

/// C-U82: `send_message` in a running session is passed through as `send_user_message`;
/// the state does not change.
#[test]
fn c_u82_send_message_is_passed_through() {
    let mut h = H::manual_running();
    let before = h.state().clone();
    assert_eq!(
        h.user(send_message("cart_opened", &[("items", "3")])),
        vec![call(ApiCall::SendUserMessage {
            name: "cart_opened".into(),
            map: entries(&[("items", "3")]),
        })]
    );
    h.assert_rows(&[Row::CU82]);
    assert_eq!(h.state(), &before);
}

/// C-U83: `set_user_state` in a running session merges into `user_state` and is passed
/// through as `set_user_state`.
#[test]
fn c_u83_set_user_state_merges_and_is_passed_through() {
    let mut h = H::manual_running();
    assert_eq!(
        h.user(set_state("step", "cart")),
        vec![call(ApiCall::SetUserState {
            name: "step".into(),
            value: "cart".into(),
        })]
    );
    h.assert_rows(&[Row::CU83]);
    h.user(set_state("tier", "gold"));
    h.user(set_state("step", "payment"));
    h.assert_rows(&[Row::CU83]);
    assert_eq!(
        h.app().user_state,
        entries(&[("step", "payment"), ("tier", "gold")])
    );
}

/// C-U84: a field that breaks §3.3, or a 17th state, is refused (`invalid_parameter`), as
/// the core would (S-A112 / S-A122); nothing changes.
#[test]
fn c_u84_a_message_or_state_the_core_would_refuse_is_refused() {
    use cobrowse_visitor_core::ParameterError as P;
    let mut h = H::manual_running();
    let long = "x".repeat(256);
    for intent in [
        send_message("", &[]),
        send_message(&long, &[]),
        send_message("n", &[("k", &long)]),
        UserIntent::SendMessage {
            name: "n".into(),
            map: (0..17).map(|i| (format!("k{i}"), String::new())).collect(),
        },
    ] {
        h.refuse(intent, ControllerError::InvalidMessage(P::UserMessage));
    }
    for intent in [
        set_state("", "v"),
        set_state(&long, "v"),
        set_state("n", &long),
    ] {
        h.refuse(intent, ControllerError::InvalidMessage(P::UserState));
    }
    for i in 0..16 {
        h.user(set_state(&format!("s{i}"), "v"));
    }
    h.refuse(
        set_state("s16", "v"),
        ControllerError::InvalidMessage(P::UserState),
    );
    // a name already set is not a 17th
    h.user(set_state("s0", "w"));
    h.assert_rows(&[Row::CU83]);
    assert_eq!(
        ControllerError::InvalidMessage(P::UserState).code(),
        ErrorCode::InvalidParameter
    );
}

/// C-U85: `send_message` / `set_user_state` without a running session are refused
/// (`session_not_running`) before their fields are judged.
#[test]
fn c_u85_messages_and_state_without_a_running_session_are_refused() {
    for mut h in not_running() {
        h.refuse(send_message("n", &[]), ControllerError::NotRunning);
        h.refuse(set_state("n", "v"), ControllerError::NotRunning);
        h.refuse(send_message("", &[]), ControllerError::NotRunning);
        h.refuse(set_state("", "v"), ControllerError::NotRunning);
    }
}

/// C-E31: `EventMessageReceived` is handed to the app as `AgentMessage{name, map}`; the state
/// does not change. C-E12 then ends a paused session: the notice goes between the key and the
/// indicator, `paused` false, `user_state` emptied.
#[test]
fn c_e31_an_agent_message_is_handed_to_the_app() {
    let mut h = H::manual_running();
    let before = h.state().clone();
    assert_eq!(
        h.event(Event::MessageReceived {
            name: "note".into(),
            map: entries(&[("text", "hi")]),
        }),
        vec![ControllerOutput::AgentMessage {
            name: "note".into(),
            map: entries(&[("text", "hi")]),
        }]
    );
    h.assert_rows(&[Row::CE31]);
    assert_eq!(h.state(), &before);
}

/// C-E12 (issue 15): a paused session's end hides `session_paused` (after the key, before the
/// indicator) and empties `paused` and `user_state`.
#[test]
fn c_e12_a_paused_session_ended_hides_the_notice() {
    let mut h = H::manual_running();
    h.user(UserIntent::TogglePause);
    h.user(set_state("step", "cart"));
    assert_eq!(
        h.event(ended("agent_ended")),
        vec![
            hide(UiElement::SessionKey),
            hide(UiElement::SessionPaused),
            hide(UiElement::SessionIndicator),
            show(UiElement::CobrowseButton),
        ]
    );
    h.assert_rows(&[Row::CE12]);
    assert!(!h.app().paused);
    assert!(h.app().user_state.is_empty());
    // ending after running, paused: the same on its end
    let mut h = H::one_click_running();
    h.user(UserIntent::TogglePause);
    h.user(UserIntent::EndSession);
    assert!(h.app().paused, "paused until the session ends");
    assert_eq!(
        h.event(ended("visitor_ended")),
        vec![
            hide(UiElement::SessionPaused),
            hide(UiElement::SessionIndicator),
            show(UiElement::CobrowseButton),
        ]
    );
    assert!(!h.app().paused);
}

/// An SDK core running a random-key session `KEY` (anonymous), for a restore.
fn sdk_running() -> Sdk {
    let mut sdk = Sdk::new(SdkConfig::default());
    let at = Instant::from_millis(0);
    sdk.handle_input(
        at,
        Input::Api(ApiCall::InitVisitor(InitParams::anonymous(GROUP))),
    )
    .unwrap();
    sdk.handle_input(
        at,
        Input::Frame(ServerFrame::Settings {
            v: PROTOCOL_VERSION,
            key_length: 4,
            agent_start: false,
        }),
    )
    .unwrap();
    sdk.handle_input(at, Input::Api(ApiCall::start_session(StartKey::Random)))
        .unwrap();
    sdk.handle_input(
        at,
        Input::Frame(ServerFrame::SessionStarted {
            sessionkey: KEY.into(),
        }),
    )
    .unwrap();
    while !matches!(sdk.poll_output(), Output::Timeout(_)) {}
    sdk
}

/// C-R01 with an ending session: kept as ending while the restored core keeps it (S-R04),
/// with nothing of it on the new screen (no indicator, key or paused notice; its pause and
/// state went with the old process) and no button until its `EventSessionEnded` (C-E12, which
/// then hides nothing); past the grace the core ended it (S-R02) and C-R01 drops it. Before,
/// C-R01 dropped it and offered the button, whose tap the core refused (`session_active`,
/// INV-CONTROLLER-CALLS-ACCEPTED; found by the model suite relaunching while ending).
#[test]
fn c_r01_keeps_an_ending_session_the_core_keeps() {
    let mut h = H::manual_running();
    h.user(UserIntent::TogglePause);
    h.user(set_state("step", "cart"));
    h.user(UserIntent::EndSession);
    assert_eq!(
        h.app().session,
        SessionView::Ending {
            origin: Origin::Manual,
            connected: true
        }
    );
    let snap = h.c.snapshot().expect("running");
    // the core: the end made offline, so it never reached the service
    let mut old = sdk_running();
    let at = Instant::from_millis(1_000);
    old.handle_input(at, Input::Network(NetworkChange::Lost))
        .unwrap();
    old.handle_input(at, Input::Api(ApiCall::EndSession))
        .unwrap();
    while !matches!(old.poll_output(), Output::Timeout(_)) {}
    let core_snap = old.snapshot(1_000).expect("ready");
    let restore = |away: u64| {
        Sdk::restore(
            SdkConfig::default(),
            core_snap.clone(),
            GROUP,
            Instant::from_millis(0),
            1_000 + away,
        )
        .expect("restores")
    };
    let sdk = restore(30_000);
    assert!(sdk.is_session_active(), "S-R04 keeps the ending session");
    let mut c = Controller::restore(cfg(true), snap.clone(), &sdk).expect("restores");
    assert_eq!(c.last_rows(), &[Row::CR01]);
    assert_eq!(
        drain(&mut c),
        vec![],
        "nothing of the ending session, no button"
    );
    let ControllerState::Running(a) = c.state() else {
        panic!("running")
    };
    assert_eq!(
        a.session,
        SessionView::Ending {
            origin: Origin::Manual,
            connected: false
        }
    );
    assert!(!a.paused && a.user_state.is_empty() && !a.button_shown);
    let mut h = H { c };
    h.refuse(UserIntent::TapCobrowse, ControllerError::ButtonNotShown);
    h.refuse(UserIntent::EndSession, ControllerError::NoSession);
    // its end: nothing to hide on the new screen, the button offered
    assert_eq!(
        h.event(ended("visitor_ended")),
        vec![show(UiElement::CobrowseButton)]
    );
    h.assert_rows(&[Row::CE12]);
    // past the grace the core ended it (S-R02): dropped, the button offered
    let sdk = restore(60_000);
    assert!(!sdk.is_session_active());
    let mut c = Controller::restore(cfg(true), snap, &sdk).expect("restores");
    assert_eq!(drain(&mut c), vec![show(UiElement::CobrowseButton)]);
}

/// C-R01: the restored controller draws again what its state says is on screen — a running
/// manual session's indicator, its paused notice, its key (the restored core's) — drops the
/// terms and a starting session, and connects presence again for a logged-in customer.
#[test]
fn c_r01_restore_draws_the_running_session_again() {
    let mut h = H::manual_running();
    h.user(UserIntent::TogglePause);
    h.user(set_state("step", "cart"));
    let snap = h.c.snapshot().expect("running");
    let sdk = Sdk::restore(
        SdkConfig::default(),
        sdk_running().snapshot(0).expect("ready"),
        GROUP,
        Instant::from_millis(0),
        0,
    )
    .expect("restores");
    let mut c = Controller::restore(cfg(true), snap, &sdk).expect("restores");
    assert_eq!(c.last_rows(), &[Row::CR01]);
    assert_eq!(
        drain(&mut c),
        vec![
            show(UiElement::SessionIndicator),
            show(UiElement::SessionPaused),
            show_key(KEY),
        ]
    );
    let ControllerState::Running(a) = c.state() else {
        panic!("running")
    };
    assert_eq!(a.session, SessionView::Running(Origin::Manual));
    assert!(a.paused);
    assert_eq!(a.user_state, entries(&[("step", "cart")]));
    assert!(!a.button_shown && !a.terms_shown);

    // logged in with the terms up: terms dropped, the button offered, presence again
    let h = H::terms_shown();
    let snap = h.c.snapshot().expect("running");
    let mut c = Controller::restore(cfg(true), snap, &sdk).expect("restores");
    assert_eq!(c.last_rows(), &[Row::CR01]);
    assert_eq!(
        drain(&mut c),
        vec![
            show(UiElement::CobrowseButton),
            call(ApiCall::presence_connect()),
            call(ApiCall::PresenceSetDefaultUi { enabled: false }),
        ]
    );
    let ControllerState::Running(a) = c.state() else {
        panic!("running")
    };
    assert_eq!(a.identity, Identity::LoggedIn(VID.into()));
    assert_eq!(a.presence, PresenceView::Connecting);
    assert!(!a.terms_shown);

    // a starting session is dropped: session none, the button offered
    let h = H::manual_starting();
    let mut c = Controller::restore(cfg(true), h.c.snapshot().unwrap(), &sdk).unwrap();
    assert_eq!(drain(&mut c), vec![show(UiElement::CobrowseButton)]);
    // another group's snapshot is refused
    assert!(Controller::restore(
        ControllerConfig {
            group_id: 7,
            ..cfg(true)
        },
        H::manual_running().c.snapshot().unwrap(),
        &sdk
    )
    .is_err());
    // nothing to continue before launch
    assert!(H::new(true).c.snapshot().is_none());
    let _ = NetworkChange::Restored;
}
