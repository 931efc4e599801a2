//! The integration controller: the seed's application logic as a sans-IO machine.
//!
//! The seed tells an app what to call and what to show on each event; every app writes that
//! again, with its own bugs. [`Controller`] is that logic once: user intents and SDK events
//! in ([`ControllerInput`]), SDK API calls and UI directives out. It has no timers. Its
//! transition table is spec.md §6; each handler names the row it follows
//! (`rows.push(Row::…)`), which [`Controller::last_rows`] reports.

use crate::api::CallName;
use crate::api::{
    validate_presence_data, validate_user_message, validate_user_state, ApiCall, InitParams,
    Limits, ParameterError, StartKey, StartOptions, StartParams, TermsStatus,
};
use crate::errors::ErrorCode;
use crate::events::{Event, KeyType};
use crate::rows::{Row, Rows};
use crate::sdk::Lifecycle;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{BTreeMap, VecDeque};
use thiserror::Error;

/// The Glance group id of the seed's integration guide: [`ControllerConfig`]'s default, and
/// the simulated service's group when a scenario names none.
pub const SEED_GROUP_ID: i32 = 19921;

/// How the app is integrated.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ControllerConfig {
    /// The Glance group id every `init_visitor` carries (an `Int32`, as the seed's).
    pub group_id: i32,
    /// The app draws its own UI: turn the SDK's default UI and presence UI off.
    pub custom_ui: bool,
    /// The visitor-id limits the SDK core is configured with ([`crate::SdkConfig::limits`]):
    /// a `login` id is judged by the same profile, so the controller never makes a call the
    /// core refuses (C-U21).
    #[serde(default)]
    pub limits: Limits,
    /// The options every session the controller starts is started with
    /// (`GlanceStartParams`, [`StartOptions`]); the defaults when absent.
    #[serde(default, skip_serializing_if = "StartOptions::is_default")]
    pub start: StartOptions,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            group_id: SEED_GROUP_ID,
            custom_ui: true,
            limits: Limits::Glance5,
            start: StartOptions::default(),
        }
    }
}

/// What the customer does.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum UserIntent {
    /// The app starts.
    Launch,
    /// The customer taps the Cobrowse button.
    TapCobrowse,
    /// The customer logs in and is identified.
    Login {
        /// The customer's visitor id.
        visitor_id: String,
    },
    /// The customer accepts the terms of a one-click request.
    AcceptTerms,
    /// The customer declines them.
    DeclineTerms,
    /// The customer ends the session.
    EndSession,
    /// The customer logs out.
    Logout,
    /// The app exits.
    Exit,
    /// The app sets data for the agent's view of the visitor (`presence(map)`): the page,
    /// the app's state. Passed through to the SDK.
    PresenceData {
        /// Entries to add or replace.
        map: BTreeMap<String, String>,
    },
    /// The customer taps Pause / Resume on the session indicator (Glance's `togglePause`).
    TogglePause,
    /// The app sends the agents a message (`sendUserMessage`). Passed through.
    SendMessage {
        /// The message's name.
        name: String,
        /// Its properties.
        map: BTreeMap<String, String>,
    },
    /// The app sets a user state the agents see (`setUserState`). Passed through.
    SetUserState {
        /// The state's name.
        name: String,
        /// Its value.
        value: String,
    },
}

impl UserIntent {
    /// The contract's word for it (`tap_cobrowse`, …).
    pub fn name(&self) -> &'static str {
        match self {
            UserIntent::Launch => "launch",
            UserIntent::TapCobrowse => "tap_cobrowse",
            UserIntent::Login { .. } => "login",
            UserIntent::AcceptTerms => "accept_terms",
            UserIntent::DeclineTerms => "decline_terms",
            UserIntent::EndSession => "end_session",
            UserIntent::Logout => "logout",
            UserIntent::Exit => "exit",
            UserIntent::PresenceData { .. } => "presence_data",
            UserIntent::TogglePause => "toggle_pause",
            UserIntent::SendMessage { .. } => "send_message",
            UserIntent::SetUserState { .. } => "set_user_state",
        }
    }
}

/// A UI element the customer sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UiElement {
    /// The Cobrowse / screen-share button.
    CobrowseButton,
    /// The session key, for the customer to read to the agent.
    SessionKey,
    /// The one-click terms with Accept / Decline.
    Terms,
    /// "Screen sharing is on".
    SessionIndicator,
    /// "Screen sharing is paused" (with a Resume action).
    SessionPaused,
}

/// Show or hide a UI element. JSON: `{"show": "session_key", "key": "1234"}`,
/// `{"hide": "terms"}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UiDirective {
    /// Show the element; `key` only with [`UiElement::SessionKey`].
    Show {
        /// What.
        element: UiElement,
        /// The session key to show.
        key: Option<String>,
    },
    /// Stop showing it.
    Hide {
        /// What.
        element: UiElement,
    },
}

impl UiDirective {
    fn show(element: UiElement) -> Self {
        UiDirective::Show { element, key: None }
    }
    fn hide(element: UiElement) -> Self {
        UiDirective::Hide { element }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UiRepr {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    show: Option<UiElement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hide: Option<UiElement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
}

impl Serialize for UiDirective {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let repr = match self {
            UiDirective::Show { element, key } => UiRepr {
                show: Some(*element),
                hide: None,
                key: key.clone(),
            },
            UiDirective::Hide { element } => UiRepr {
                show: None,
                hide: Some(*element),
                key: None,
            },
        };
        repr.serialize(s)
    }
}

impl<'de> Deserialize<'de> for UiDirective {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = UiRepr::deserialize(d)?;
        match (r.show, r.hide, r.key) {
            (Some(element), None, key) => Ok(UiDirective::Show { element, key }),
            (None, Some(element), None) => Ok(UiDirective::Hide { element }),
            _ => Err(serde::de::Error::custom(
                "a ui record has exactly one of `show` and `hide`; `key` only with show",
            )),
        }
    }
}

/// One input to the controller: what the customer did, a lifecycle change, or an SDK event.
/// (Deliberately not `#[non_exhaustive]`: an integration that matches on it should be told by
/// the compiler when the controller's alphabet grows, as for [`crate::Output`].)
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ControllerInput {
    /// What the customer did.
    User(UserIntent),
    /// The app's lifecycle changed (ignored by design, C-L01).
    Lifecycle(Lifecycle),
    /// An event from the SDK core.
    Event(Event),
}

/// One output of the controller.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ControllerOutput {
    /// Call the SDK.
    Call(ApiCall),
    /// Change what the customer sees.
    Ui(UiDirective),
    /// The agent sent the app a custom signal (`EventPresenceSignal`): the app's own
    /// business (a page to open, a hint to show). Not a transcript record: the event is.
    AgentSignal {
        /// The signal's name.
        event: String,
        /// Its properties.
        map: BTreeMap<String, String>,
    },
    /// An agent in the session sent the app a message (`EventMessageReceived`): the app's
    /// own business. Not a transcript record: the event is.
    AgentMessage {
        /// The message's name.
        name: String,
        /// Its properties.
        map: BTreeMap<String, String>,
    },
}

/// A user intent the controller refused; nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ControllerError {
    /// Before `launch`.
    #[error("the app has not launched")]
    NotLaunched,
    /// A second `launch`.
    #[error("the app has already launched")]
    AlreadyLaunched,
    /// After `exit`.
    #[error("the app has exited")]
    Exited,
    /// `tap_cobrowse` while the button is not shown.
    #[error("the cobrowse button is not shown")]
    ButtonNotShown,
    /// `toggle_pause`, `send_message` or `set_user_state` while no session is running.
    #[error("no running session")]
    NotRunning,
    /// `send_message` or `set_user_state` with a field the SDK core would refuse.
    #[error("invalid message: {0}")]
    InvalidMessage(ParameterError),
    /// `presence_data` before the first `EventVisitorInitialized`.
    #[error("the SDK is not initialized yet")]
    NotInitialized,
    /// `presence_data` whose map, merged into the visitor's, breaks the SDK's rules.
    #[error("invalid presence data: {0}")]
    InvalidPresenceData(ParameterError),
    /// `login` with a bad visitor id.
    #[error("invalid visitor id: {0}")]
    InvalidVisitorId(ParameterError),
    /// `login` while logged in.
    #[error("already logged in")]
    AlreadyLoggedIn,
    /// `logout` while not logged in.
    #[error("not logged in")]
    NotLoggedIn,
    /// `accept_terms` / `decline_terms` with no terms shown.
    #[error("no terms are shown")]
    NoTermsShown,
    /// `end_session` with no session starting or running.
    #[error("no session to end")]
    NoSession,
}

impl ControllerError {
    /// The refusal's code.
    pub fn code(&self) -> ErrorCode {
        match self {
            ControllerError::NotLaunched => ErrorCode::NotLaunched,
            ControllerError::AlreadyLaunched => ErrorCode::AlreadyLaunched,
            ControllerError::Exited => ErrorCode::Exited,
            ControllerError::ButtonNotShown => ErrorCode::ButtonNotShown,
            ControllerError::NotRunning => ErrorCode::SessionNotRunning,
            ControllerError::InvalidMessage(_) => ErrorCode::InvalidParameter,
            ControllerError::NotInitialized => ErrorCode::NotInitialized,
            ControllerError::InvalidPresenceData(_) => ErrorCode::InvalidParameter,
            ControllerError::InvalidVisitorId(_) => ErrorCode::InvalidParameter,
            ControllerError::AlreadyLoggedIn => ErrorCode::AlreadyLoggedIn,
            ControllerError::NotLoggedIn => ErrorCode::NotLoggedIn,
            ControllerError::NoTermsShown => ErrorCode::NoTermsShown,
            ControllerError::NoSession => ErrorCode::NoSession,
        }
    }
}

/// Who started a session, and so whether its key may be shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The customer tapped Cobrowse: a random key, shown.
    Manual,
    /// The customer accepted one-click terms: the visitor id as key, never shown.
    OneClick,
    /// Started by a direct SDK call the controller did not make; the event's key type
    /// decides.
    External(KeyType),
}

impl Origin {
    /// Whether the customer is shown the key (never for the visitor-id key).
    pub fn shows_key(self) -> bool {
        match self {
            Origin::Manual => true,
            Origin::OneClick => false,
            Origin::External(k) => k != KeyType::VisitorId,
        }
    }
}

/// The customer's identity as the app knows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Identity {
    /// Not logged in.
    Anonymous,
    /// Logged in; `init_visitor` with the id sent, `EventVisitorInitialized` not yet seen.
    LoggingIn(String),
    /// Logged in and initialised with the id.
    LoggedIn(String),
}

/// Presence as the app knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceView {
    /// Not connected (or disconnected by the app).
    Off,
    /// `presence_connect` called.
    Connecting,
    /// `EventPresenceConnected` seen.
    Connected,
    /// `EventPresenceNotConfigured` seen: not offered again until the next login's re-init.
    NotConfigured,
}

/// The session as the app knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionView {
    /// No session.
    None,
    /// `start_session` called.
    Starting(Origin),
    /// `EventConnectedToSession` seen.
    Running(Origin),
    /// `end_session` called; `connected` when the session had connected (its indicator, and
    /// for a manual session its key, are on screen).
    Ending {
        /// Who started it.
        origin: Origin,
        /// Whether `EventConnectedToSession` had been seen in this process (an ending
        /// session restored by C-R01 has nothing on the new screen: `false`).
        connected: bool,
    },
}

/// The controller's state after `launch`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct App {
    /// The first `EventVisitorInitialized` has been seen.
    pub initialized: bool,
    /// Who the customer is.
    pub identity: Identity,
    /// Presence.
    pub presence: PresenceView,
    /// The session.
    pub session: SessionView,
    /// Whether the terms are on screen.
    pub terms_shown: bool,
    /// Whether the button is on screen.
    pub button_shown: bool,
    /// Whether the running session is paused (by `toggle_pause`); `session_paused` is on
    /// screen exactly then.
    #[serde(default)]
    pub paused: bool,
    /// The user state set in the running session, merged (as the core merges it, S-A120),
    /// so that C-U84 refuses what S-A122 would. Emptied when the session ends.
    #[serde(default)]
    pub user_state: BTreeMap<String, String>,
    /// The presence data passed to the SDK for this visitor, merged (as the core merges it,
    /// S-A80): so that C-U70 refuses what the core would. Emptied with the visitor id.
    #[serde(default)]
    pub presence_data: BTreeMap<String, String>,
}

/// The controller's phase.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControllerState {
    /// Before `launch`.
    NotLaunched,
    /// Between `launch` and `exit`.
    Running(App),
    /// After `exit`.
    Exited,
}

/// The integration controller.
#[derive(Clone, Debug)]
pub struct Controller {
    config: ControllerConfig,
    state: ControllerState,
    out: VecDeque<ControllerOutput>,
    rows: Rows,
}

impl Controller {
    /// A controller before `launch`.
    pub fn new(config: ControllerConfig) -> Self {
        Controller {
            config,
            state: ControllerState::NotLaunched,
            out: VecDeque::with_capacity(8),
            rows: Rows::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ControllerConfig {
        &self.config
    }

    /// The whole state.
    pub fn state(&self) -> &ControllerState {
        &self.state
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<ControllerOutput> {
        self.out.pop_front()
    }

    /// The spec rows (§6) the last input went through.
    pub fn last_rows(&self) -> &[Row] {
        self.rows.as_slice()
    }

    /// Handles one input; then drain [`Controller::poll_output`] until `None`. Only a user
    /// intent can be refused, and a refused one changes nothing.
    pub fn handle_input(&mut self, input: ControllerInput) -> Result<(), ControllerError> {
        match input {
            ControllerInput::User(intent) => self.handle_user(intent),
            ControllerInput::Lifecycle(change) => {
                self.handle_lifecycle(change);
                Ok(())
            }
            ControllerInput::Event(event) => {
                self.handle_event(&event);
                Ok(())
            }
        }
    }

    /// Handles what the customer did. A refused intent changes nothing.
    pub fn handle_user(&mut self, intent: UserIntent) -> Result<(), ControllerError> {
        let mut rows = Rows::default();
        let mut out = Vec::new();
        let result = self.user(intent, &mut rows, &mut out);
        self.rows = rows;
        if result.is_ok() {
            self.out.extend(out);
        }
        result
    }

    fn user(
        &mut self,
        intent: UserIntent,
        rows: &mut Rows,
        out: &mut Vec<ControllerOutput>,
    ) -> Result<(), ControllerError> {
        let group_id = self.config.group_id;
        let start = self.config.start;
        let app = match (&mut self.state, &intent) {
            (ControllerState::NotLaunched, UserIntent::Launch) => {
                rows.push(Row::CU01);
                self.state = ControllerState::Running(App {
                    initialized: false,
                    identity: Identity::Anonymous,
                    presence: PresenceView::Off,
                    session: SessionView::None,
                    terms_shown: false,
                    button_shown: false,
                    paused: false,
                    presence_data: BTreeMap::new(),
                    user_state: BTreeMap::new(),
                });
                out.push(call(ApiCall::InitVisitor(InitParams::anonymous(group_id))));
                return Ok(());
            }
            (ControllerState::NotLaunched, _) => {
                rows.push(Row::CU04);
                return Err(ControllerError::NotLaunched);
            }
            (ControllerState::Exited, _) => {
                rows.push(Row::CU03);
                return Err(ControllerError::Exited);
            }
            (ControllerState::Running(_), UserIntent::Launch) => {
                rows.push(Row::CU02);
                return Err(ControllerError::AlreadyLaunched);
            }
            (ControllerState::Running(app), _) => app,
        };
        match intent {
            UserIntent::Launch => {}
            UserIntent::TapCobrowse => {
                if !app.button_shown || app.session != SessionView::None {
                    rows.push(Row::CU11);
                    return Err(ControllerError::ButtonNotShown);
                }
                // manual always asks for a random key, logged in or not
                rows.push(Row::CU10);
                app.button_shown = false;
                app.session = SessionView::Starting(Origin::Manual);
                out.push(hide(UiElement::CobrowseButton));
                out.push(call(ApiCall::StartSession(StartParams {
                    key: StartKey::Random,
                    options: self.config.start,
                })));
            }
            UserIntent::Login { visitor_id } => {
                if let Err(e) = self.config.limits.validate_visitor_id(&visitor_id) {
                    rows.push(Row::CU21);
                    return Err(ControllerError::InvalidVisitorId(e));
                }
                if app.identity != Identity::Anonymous {
                    rows.push(Row::CU22);
                    return Err(ControllerError::AlreadyLoggedIn);
                }
                rows.push(Row::CU20);
                app.identity = Identity::LoggingIn(visitor_id.clone());
                app.presence_data.clear(); // the core's goes with the visitor id (S-A04)
                out.push(call(ApiCall::InitVisitor(InitParams::identified(
                    group_id, visitor_id,
                ))));
            }
            UserIntent::AcceptTerms | UserIntent::DeclineTerms if !app.terms_shown => {
                rows.push(Row::CU32);
                return Err(ControllerError::NoTermsShown);
            }
            UserIntent::AcceptTerms => {
                // answer, then start the one-click session with the visitor id
                rows.push(Row::CU30);
                app.terms_shown = false;
                app.session = SessionView::Starting(Origin::OneClick);
                out.push(hide(UiElement::Terms));
                out.push(call(ApiCall::terms(TermsStatus::Accepted)));
                out.push(call(ApiCall::StartSession(StartParams {
                    key: StartKey::VisitorId,
                    options: start,
                })));
            }
            UserIntent::DeclineTerms => {
                rows.push(Row::CU31);
                app.terms_shown = false;
                out.push(hide(UiElement::Terms));
                out.push(call(ApiCall::terms(TermsStatus::Declined)));
                offer_button(app, out);
            }
            UserIntent::EndSession => {
                let (origin, connected) = match app.session {
                    SessionView::Starting(o) => (o, false),
                    SessionView::Running(o) => (o, true),
                    SessionView::None | SessionView::Ending { .. } => {
                        rows.push(Row::CU41);
                        return Err(ControllerError::NoSession);
                    }
                };
                rows.push(Row::CU40);
                app.session = SessionView::Ending { origin, connected };
                out.push(call(ApiCall::EndSession));
            }
            UserIntent::Logout => {
                if app.identity == Identity::Anonymous {
                    rows.push(Row::CU51);
                    return Err(ControllerError::NotLoggedIn);
                }
                // leave presence, then forget the visitor id
                rows.push(Row::CU50);
                if presence_on(app.presence) {
                    out.push(call(ApiCall::PresenceDisconnect));
                }
                // presence=off also after not_configured: the next login looks again (C-E02)
                app.presence = PresenceView::Off;
                if app.terms_shown {
                    app.terms_shown = false;
                    out.push(hide(UiElement::Terms));
                    offer_button(app, out);
                }
                app.identity = Identity::Anonymous;
                app.presence_data.clear();
                out.push(call(ApiCall::InitVisitor(InitParams::anonymous(group_id))));
            }
            UserIntent::Exit => {
                // the SDK ends the session itself on terminate; the app's UI goes away
                rows.push(Row::CU60);
                if presence_on(app.presence) {
                    out.push(call(ApiCall::PresenceDisconnect));
                }
                if app.button_shown {
                    out.push(hide(UiElement::CobrowseButton));
                }
                if app.terms_shown {
                    out.push(hide(UiElement::Terms));
                }
                hide_session(app, out);
                self.state = ControllerState::Exited;
            }
            UserIntent::PresenceData { .. } if !app.initialized => {
                rows.push(Row::CU72);
                return Err(ControllerError::NotInitialized);
            }
            UserIntent::PresenceData { map } => {
                if let Err(e) = validate_presence_data(&app.presence_data, &map) {
                    rows.push(Row::CU71);
                    return Err(ControllerError::InvalidPresenceData(e));
                }
                rows.push(Row::CU70);
                app.presence_data
                    .extend(map.iter().map(|(k, v)| (k.clone(), v.clone())));
                out.push(call(ApiCall::PresenceData { map }));
            }
            UserIntent::TogglePause => {
                let SessionView::Running(_) = app.session else {
                    rows.push(Row::CU81);
                    return Err(ControllerError::NotRunning);
                };
                rows.push(Row::CU80);
                app.paused = !app.paused;
                out.push(call(ApiCall::Pause { paused: app.paused }));
                out.push(if app.paused {
                    ControllerOutput::Ui(UiDirective::show(UiElement::SessionPaused))
                } else {
                    hide(UiElement::SessionPaused)
                });
            }
            // the core would refuse either without a running session (S-A111, S-A121) or
            // with a bad field (S-A112, S-A122): refused here, so no call is
            UserIntent::SendMessage { .. } | UserIntent::SetUserState { .. }
                if !matches!(app.session, SessionView::Running(_)) =>
            {
                rows.push(Row::CU85);
                return Err(ControllerError::NotRunning);
            }
            UserIntent::SendMessage { name, map } => {
                if let Err(e) = validate_user_message(&name, &map) {
                    rows.push(Row::CU84);
                    return Err(ControllerError::InvalidMessage(e));
                }
                rows.push(Row::CU82);
                out.push(call(ApiCall::SendUserMessage { name, map }));
            }
            UserIntent::SetUserState { name, value } => {
                if let Err(e) = validate_user_state(&app.user_state, &name, &value) {
                    rows.push(Row::CU84);
                    return Err(ControllerError::InvalidMessage(e));
                }
                rows.push(Row::CU83);
                app.user_state.insert(name.clone(), value.clone());
                out.push(call(ApiCall::SetUserState { name, value }));
            }
        }
        Ok(())
    }

    /// Handles a lifecycle change. By design nothing happens: the SDK manages presence in the
    /// background itself, and the app must not disconnect or connect for it.
    pub fn handle_lifecycle(&mut self, _change: Lifecycle) {
        self.rows.clear();
        self.rows.push(Row::CL01);
    }

    /// Handles an SDK event.
    pub fn handle_event(&mut self, event: &Event) {
        let mut rows = Rows::default();
        let mut out = Vec::new();
        self.event(event, &mut rows, &mut out);
        self.rows = rows;
        self.out.extend(out);
    }

    fn event(&mut self, event: &Event, rows: &mut Rows, out: &mut Vec<ControllerOutput>) {
        let custom_ui = self.config.custom_ui;
        let start = self.config.start;
        let ControllerState::Running(app) = &mut self.state else {
            rows.push(Row::CE99); // no app to act on
            return;
        };
        match event {
            Event::VisitorInitialized { .. } => {
                if !app.initialized {
                    rows.push(Row::CE01);
                    app.initialized = true;
                    if custom_ui {
                        out.push(call(ApiCall::SetDefaultUi { enabled: false }));
                    }
                    offer_button(app, out);
                }
                if let Identity::LoggingIn(id) = &app.identity {
                    rows.push(Row::CE02);
                    app.identity = Identity::LoggedIn(id.clone());
                    // a re-init looks again at whether presence is configured (S-A04)
                    if matches!(
                        app.presence,
                        PresenceView::Off | PresenceView::NotConfigured
                    ) {
                        app.presence = PresenceView::Connecting;
                        out.push(call(ApiCall::presence_connect()));
                        if custom_ui {
                            out.push(call(ApiCall::PresenceSetDefaultUi { enabled: false }));
                        }
                    }
                }
                if rows.as_slice().is_empty() {
                    rows.push(Row::CE40); // a later re-init: nothing to do
                }
            }
            Event::ConnectedToSession {
                sessionkey,
                keytype,
            } => {
                rows.push(Row::CE10);
                let origin = match app.session {
                    SessionView::Starting(o) => o,
                    _ => Origin::External(*keytype),
                };
                app.session = SessionView::Running(origin);
                if app.button_shown {
                    app.button_shown = false;
                    out.push(hide(UiElement::CobrowseButton));
                }
                out.push(ControllerOutput::Ui(UiDirective::show(
                    UiElement::SessionIndicator,
                )));
                // a session this controller started paused is paused from its start (S-A20)
                if start.paused && !matches!(origin, Origin::External(_)) && !app.paused {
                    app.paused = true;
                    out.push(ControllerOutput::Ui(UiDirective::show(
                        UiElement::SessionPaused,
                    )));
                }
                if origin.shows_key() {
                    out.push(ControllerOutput::Ui(UiDirective::Show {
                        element: UiElement::SessionKey,
                        key: Some(sessionkey.clone()),
                    }));
                }
            }
            Event::StartSessionFailed { .. } => {
                rows.push(Row::CE11);
                app.session = SessionView::None;
                offer_button(app, out);
            }
            Event::SessionEnded { .. } => {
                rows.push(Row::CE12);
                hide_session(app, out);
                app.session = SessionView::None;
                offer_button(app, out);
            }
            Event::PresenceConnected => {
                // also when a direct call connected it: logout must still disconnect
                rows.push(Row::CE20);
                app.presence = PresenceView::Connected;
            }
            Event::PresenceStartSession { .. }
                if app.presence != PresenceView::Off && app.session == SessionView::None =>
            {
                // the policy and the group allowed it (S-F25): a one-click session, its key
                // never shown; the customer sees the session indicator once it connects
                rows.push(Row::CE26);
                // the agent's start replaces a request whose terms are on screen (S-F25)
                if app.terms_shown {
                    app.terms_shown = false;
                    out.push(hide(UiElement::Terms));
                }
                app.session = SessionView::Starting(Origin::OneClick);
                if app.button_shown {
                    app.button_shown = false;
                    out.push(hide(UiElement::CobrowseButton));
                }
                out.push(call(ApiCall::StartSession(StartParams {
                    key: StartKey::VisitorId,
                    options: start,
                })));
            }
            Event::MessageReceived { name, map } => {
                rows.push(Row::CE31);
                out.push(ControllerOutput::AgentMessage {
                    name: name.clone(),
                    map: map.clone(),
                });
            }
            Event::PresenceSignal { event, map } => {
                rows.push(Row::CE27);
                out.push(ControllerOutput::AgentSignal {
                    event: event.clone(),
                    map: map.clone(),
                });
            }
            Event::PresenceNotConfigured => {
                rows.push(Row::CE28);
                app.presence = PresenceView::NotConfigured;
            }
            Event::PresenceConnectFail { retry_ms: None, .. } => {
                rows.push(Row::CE29); // connect(maxAttempts) gave up: presence is off
                app.presence = PresenceView::Off;
            }
            Event::PresenceShowTerms { .. }
                if app.presence != PresenceView::Off && app.session == SessionView::None =>
            {
                // only when nothing else is going on; the dialog is modal
                rows.push(Row::CE22);
                if !app.terms_shown {
                    app.terms_shown = true;
                    if app.button_shown {
                        app.button_shown = false;
                        out.push(hide(UiElement::CobrowseButton));
                    }
                    out.push(ControllerOutput::Ui(UiDirective::show(UiElement::Terms)));
                }
                out.push(call(ApiCall::terms(TermsStatus::Displayed)));
            }
            Event::PresenceDisconnected | Event::PresenceBlur | Event::ConnectionWarning => {
                // a request in flight is gone (with the presence connection, or the link)
                match event {
                    Event::PresenceDisconnected => {
                        rows.push(Row::CE23);
                        app.presence = PresenceView::Off;
                    }
                    Event::PresenceBlur => rows.push(Row::CE24),
                    _ => rows.push(Row::CE25),
                }
                if app.terms_shown {
                    app.terms_shown = false;
                    out.push(hide(UiElement::Terms));
                    offer_button(app, out);
                }
            }
            Event::InvalidState {
                call: CallName::StartSession,
                ..
            }
            | Event::InvalidParameter {
                call: CallName::StartSession,
                ..
            } if matches!(
                app.session,
                SessionView::Starting(Origin::Manual | Origin::OneClick)
            ) =>
            {
                // our own start was refused (a session we did not start is running)
                rows.push(Row::CE30);
                app.session = SessionView::None;
                offer_button(app, out);
            }
            // nothing to do
            Event::PresenceShowTerms { .. }
            | Event::PresenceStartSession { .. }
            | Event::PresenceSendFail { .. }
            | Event::InvalidState { .. }
            | Event::InvalidParameter { .. }
            | Event::GuestCountChange { .. }
            | Event::PresenceConnectFail { .. }
            | Event::ClearWarning => rows.push(Row::CE40),
        }
    }
}

/// Whether the app must disconnect presence on logout or exit: it asked for it, and the SDK
/// has not said it is not configured.
fn presence_on(p: PresenceView) -> bool {
    matches!(p, PresenceView::Connecting | PresenceView::Connected)
}

fn call(c: ApiCall) -> ControllerOutput {
    ControllerOutput::Call(c)
}

/// Hides what a connected session put on screen: its indicator, its key if shown, and its
/// paused notice if paused.
fn hide_session(app: &mut App, out: &mut Vec<ControllerOutput>) {
    if let SessionView::Running(origin)
    | SessionView::Ending {
        origin,
        connected: true,
    } = app.session
    {
        if origin.shows_key() {
            out.push(hide(UiElement::SessionKey));
        }
        if app.paused {
            out.push(hide(UiElement::SessionPaused));
        }
        out.push(hide(UiElement::SessionIndicator));
    }
    app.paused = false;
    app.user_state.clear();
}

fn hide(e: UiElement) -> ControllerOutput {
    ControllerOutput::Ui(UiDirective::hide(e))
}

/// Shows the cobrowse button when the app is initialised and nothing else occupies the
/// customer.
fn offer_button(app: &mut App, out: &mut Vec<ControllerOutput>) {
    if app.initialized && !app.button_shown && !app.terms_shown && app.session == SessionView::None
    {
        app.button_shown = true;
        out.push(ControllerOutput::Ui(UiDirective::show(
            UiElement::CobrowseButton,
        )));
    }
}

/// What the integration controller keeps across an app restart ([`Controller::snapshot`],
/// [`Controller::restore`]): so that after a relaunch it still knows who the customer is and
/// that a running session was one-click (its key is never shown).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControllerSnapshot {
    /// [`crate::SNAPSHOT_FORMAT`] of the crate that wrote it.
    pub format: u32,
    /// The writing crate's version; a restore refuses another one.
    pub crate_version: String,
    /// The configuration it ran with.
    pub config: ControllerConfig,
    /// Its state.
    pub state: ControllerState,
}

impl ControllerSnapshot {
    /// The snapshot as JSON, for the app's storage.
    pub fn to_json(&self) -> String {
        // plain data with string keys: serialising cannot fail
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a snapshot from the app's storage; anything that is not exactly a snapshot is
    /// [`crate::RestoreError::Corrupt`].
    pub fn from_json(text: &str) -> Result<ControllerSnapshot, crate::RestoreError> {
        serde_json::from_str(text).map_err(|e| crate::RestoreError::Corrupt(e.to_string()))
    }
}

impl Controller {
    /// A snapshot of the controller, for [`Controller::restore`] on the next launch; `None`
    /// before `launch` and after `exit` (nothing to continue: the next launch starts anew).
    pub fn snapshot(&self) -> Option<ControllerSnapshot> {
        let ControllerState::Running(_) = self.state else {
            return None;
        };
        Some(ControllerSnapshot {
            format: crate::SNAPSHOT_FORMAT,
            crate_version: env!("CARGO_PKG_VERSION").to_owned(),
            config: self.config.clone(),
            state: self.state.clone(),
        })
    }

    /// The controller for the next launch, in place of `launch` (spec.md §6.1, row C-R01),
    /// next to an SDK core restored with [`crate::Sdk::restore`]. The screen of a new process
    /// is empty, so the restored controller's outputs draw again what its state says is on
    /// screen: the cobrowse button, or a running session's indicator (its key only if its
    /// origin shows keys, its paused notice if paused). What did not survive is dropped: a
    /// starting session (the SDK core keeps none) and the terms dialog (its presence
    /// connection is gone). An ending session is kept as ending while the restored core
    /// keeps it (S-R04), with nothing of it on the new screen, until its
    /// `EventSessionEnded` (C-E12); else it is dropped too. A logged-in customer's presence is connected
    /// again, as C-E02 would. `sdk` is the restored core, whose running session's key a
    /// manual session shows again.
    pub fn restore(
        config: ControllerConfig,
        snapshot: ControllerSnapshot,
        sdk: &crate::Sdk,
    ) -> Result<Controller, crate::RestoreError> {
        if snapshot.format != crate::SNAPSHOT_FORMAT
            || snapshot.crate_version != env!("CARGO_PKG_VERSION")
        {
            return Err(crate::RestoreError::Version {
                format: snapshot.format,
                crate_version: snapshot.crate_version,
            });
        }
        if snapshot.config.group_id != config.group_id {
            return Err(crate::RestoreError::GroupId {
                expected: config.group_id,
                found: snapshot.config.group_id,
            });
        }
        let ControllerState::Running(mut app) = snapshot.state else {
            return Err(crate::RestoreError::Corrupt(
                "a controller snapshot is taken while running".to_owned(),
            ));
        };
        // under the limits this launch's core is configured with, as `login` checks it (C-U21):
        // a 63–100 character id that `glance_core` allows is not corrupt
        if let Identity::LoggingIn(id) | Identity::LoggedIn(id) = &app.identity {
            config
                .limits
                .validate_visitor_id(id)
                .map_err(|e| crate::RestoreError::Corrupt(format!("visitor id: {e}")))?;
        }
        let mut c = Controller::new(config);
        let mut out = Vec::new();
        c.rows.push(Row::CR01);
        app.terms_shown = false;
        app.button_shown = false;
        let core_ending = matches!(
            &sdk.state().phase,
            crate::Phase::Ready(r) if matches!(r.session, crate::Session::Ending { .. })
        );
        match app.session {
            SessionView::Running(_) => {}
            // S-R04: the core keeps an ending session and sends its end again; nothing of it
            // is on the new screen (its pause and state went with the old process), and its
            // EventSessionEnded offers the button (C-E12)
            SessionView::Ending { origin, .. } if core_ending => {
                app.session = SessionView::Ending {
                    origin,
                    connected: false,
                };
                app.paused = false;
                app.user_state.clear();
            }
            SessionView::None | SessionView::Starting(_) | SessionView::Ending { .. } => {
                app.session = SessionView::None;
                app.paused = false;
                app.user_state.clear();
            }
        }
        // a session started without `persist` is ended by the restored core (S-R04): the
        // screen waits for its EventSessionEnded with nothing shown
        if let (SessionView::Running(origin), None, true) =
            (app.session, sdk.session_info(), sdk.is_session_active())
        {
            app.session = SessionView::Ending {
                origin,
                connected: false,
            };
            app.paused = false;
            app.user_state.clear();
        }
        if let SessionView::Running(origin) = app.session {
            out.push(ControllerOutput::Ui(UiDirective::show(
                UiElement::SessionIndicator,
            )));
            if app.paused {
                out.push(ControllerOutput::Ui(UiDirective::show(
                    UiElement::SessionPaused,
                )));
            }
            // EventConnectedToSession does not come again: the key is the restored core's
            // (never a one-click session's)
            if let (true, Some((key, _, _))) = (origin.shows_key(), sdk.session_info()) {
                out.push(ControllerOutput::Ui(UiDirective::Show {
                    element: UiElement::SessionKey,
                    key: Some(key.to_owned()),
                }));
            }
        }
        offer_button(&mut app, &mut out);
        // presence after a restart is off in the SDK core: connect it again when logged in
        if let Identity::LoggingIn(id) | Identity::LoggedIn(id) = app.identity.clone() {
            app.identity = Identity::LoggedIn(id);
            app.presence = PresenceView::Connecting;
            out.push(call(ApiCall::presence_connect()));
            if c.config.custom_ui {
                out.push(call(ApiCall::PresenceSetDefaultUi { enabled: false }));
            }
        } else {
            app.presence = PresenceView::Off;
        }
        c.state = ControllerState::Running(app);
        c.out.extend(out);
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(c: &mut Controller) -> Vec<ControllerOutput> {
        std::iter::from_fn(|| c.poll_output()).collect()
    }

    fn presence(c: &Controller) -> PresenceView {
        match c.state() {
            ControllerState::Running(app) => app.presence,
            s => panic!("expected running, got {s:?}"),
        }
    }

    /// C-U50 sets presence=off whatever it was (spec.md §6), `not_configured` included; only
    /// the disconnect call depends on it ("if presence connecting or connected").
    #[test]
    fn c_u50_logout_turns_not_configured_presence_off() {
        let mut c = Controller::new(ControllerConfig::default());
        let initialized = Event::VisitorInitialized {
            settings_loaded: true,
        };
        c.handle_user(UserIntent::Launch).unwrap();
        c.handle_event(&initialized);
        c.handle_user(UserIntent::Login {
            visitor_id: "cust-42".into(),
        })
        .unwrap();
        c.handle_event(&initialized);
        c.handle_event(&Event::PresenceNotConfigured);
        drain(&mut c);
        assert_eq!(presence(&c), PresenceView::NotConfigured);
        c.handle_user(UserIntent::Logout).unwrap();
        assert_eq!(
            drain(&mut c),
            vec![ControllerOutput::Call(ApiCall::InitVisitor(
                InitParams::anonymous(SEED_GROUP_ID)
            ))]
        );
        assert_eq!(presence(&c), PresenceView::Off);
    }
}
