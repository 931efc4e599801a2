//! The SDK core's state (spec.md §4.1): one type per state, so that no session or presence
//! state can be written down before the first `EventVisitorInitialized`.

use crate::api::{InitParams, StartOptions};
use crate::events::KeyType;
use crate::time::Instant;
use crate::timers::Timers;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Whether the transport is up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Link {
    /// Frames flow.
    Up,
    /// Frames are not sent; the core asks for reconnects with backoff.
    Down {
        /// Reconnect attempts so far.
        attempt: u32,
    },
}

/// Whether the app is in the foreground.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppVisibility {
    /// In front of the customer.
    Foreground,
    /// Hidden.
    Background,
}

/// The group's settings, from the lookup (or defaults when it failed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Settings {
    /// Digits in a random session key.
    pub key_length: u8,
    /// `false` when these are defaults after a failed or overdue lookup.
    pub loaded: bool,
    /// The group lets an agent start a session without the terms dialog (`false` by
    /// default and after a failed lookup).
    pub agent_start: bool,
}

impl Settings {
    /// The defaults after a failed or overdue lookup.
    pub fn defaults(key_length: u8) -> Settings {
        Settings {
            key_length,
            loaded: false,
            agent_start: false,
        }
    }
}

/// The SDK's phase: before, during and after the first `init_visitor`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// No `init_visitor` yet.
    Uninitialized,
    /// The first `init_visitor` is waiting for its settings lookup.
    Initializing {
        /// The call's parameters.
        visitor: InitParams,
    },
    /// `EventVisitorInitialized` has fired: sessions and presence are possible.
    Ready(Ready),
    /// The app terminated.
    Terminated,
}

impl Phase {
    /// The phase without its data.
    pub fn kind(&self) -> PhaseKind {
        match self {
            Phase::Uninitialized => PhaseKind::Uninitialized,
            Phase::Initializing { .. } => PhaseKind::Initializing,
            Phase::Ready(_) => PhaseKind::Ready,
            Phase::Terminated => PhaseKind::Terminated,
        }
    }
}

/// Everything the SDK knows once initialised.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ready {
    /// The latest `init_visitor`'s parameters (the group id is the first call's).
    pub visitor: InitParams,
    /// The group's settings.
    pub settings: Settings,
    /// Whether a re-init's settings lookup is in flight.
    pub lookup: Lookup,
    /// The session sub-machine.
    pub session: Session,
    /// The presence sub-machine.
    pub presence: Presence,
    /// The latest `presence_connect`'s bound: `None` forever, else at most this many
    /// attempts in one connect round (S-F21b, S-T06c).
    pub max_attempts: Option<u32>,
    /// The visitor's presence data (`presence(map)`), merged; sent whole on every change
    /// while connected and on every connect (S-A80, S-F20).
    pub presence_data: BTreeMap<String, String>,
}

/// A re-init's settings lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lookup {
    /// No lookup in flight.
    Done,
    /// A re-init was sent; `EventVisitorInitialized` follows its answer.
    Pending,
    /// `init` was sent again on a new link (every connection starts with `init`, so the
    /// service knows the visitor); its answer updates the settings without an event.
    Reattaching,
}

/// The key a starting session asked for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyRequest {
    /// A random numeric key.
    Random,
    /// The visitor id (one-click).
    VisitorId(String),
    /// The app's own key.
    Custom(String),
}

impl KeyRequest {
    /// How the key is chosen.
    pub fn keytype(&self) -> KeyType {
        match self {
            KeyRequest::Random => KeyType::Random,
            KeyRequest::VisitorId(_) => KeyType::VisitorId,
            KeyRequest::Custom(_) => KeyType::Custom,
        }
    }

    pub(crate) fn wire_key(&self) -> Option<String> {
        match self {
            KeyRequest::Random => None,
            KeyRequest::VisitorId(k) | KeyRequest::Custom(k) => Some(k.clone()),
        }
    }
}

/// The session sub-machine.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Session {
    /// No session.
    Idle,
    /// `start_session` sent; waiting for `session_started`.
    Starting {
        /// The key asked for.
        request: KeyRequest,
        /// The options it was started with (re-sent with a start sent again, S-N02).
        options: StartOptions,
    },
    /// The session is up.
    Running {
        /// Its key.
        key: String,
        /// How the key was chosen.
        keytype: KeyType,
        /// Agents in the session.
        guests: u32,
        /// Paused by the app (`pause(true)`): the agent sees no screen until unpaused.
        paused: bool,
        /// The user state set with `set_user_state`, merged (sent whole on each change and
        /// on every resume).
        user_state: BTreeMap<String, String>,
        /// Started with `persist` ([`StartOptions::persist`]): a snapshot keeps it (§5.6).
        persist: bool,
    },
    /// `end_session` sent; waiting for `session_ended`.
    Ending {
        /// How the key was chosen.
        keytype: KeyType,
    },
}

impl Session {
    /// The state without its data.
    pub fn kind(&self) -> SessionKind {
        match self {
            Session::Idle => SessionKind::Idle,
            Session::Starting { .. } => SessionKind::Starting,
            Session::Running { .. } => SessionKind::Running,
            Session::Ending { .. } => SessionKind::Ending,
        }
    }
}

/// The presence sub-machine.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Not connected, not wanted.
    Off,
    /// Wanted, but the link is down; connects when it comes back.
    AwaitingLink,
    /// `presence_connect` frame sent; waiting for the answer.
    Connecting {
        /// Failures so far.
        attempt: u32,
    },
    /// A connect failed; retrying when the backoff timer fires.
    RetryWait {
        /// Failures so far.
        attempt: u32,
    },
    /// Connected; one-click requests arrive.
    Connected {
        /// The one-click terms dialog.
        terms: Terms,
    },
    /// Another app instance took the visitor id; reclaimed on foreground.
    Blurred,
    /// Suspended by the SDK after a long background; resumed on foreground.
    Suspended,
    /// The service said presence is not enabled for the group; no connect until a re-init.
    NotConfigured,
}

impl Presence {
    /// The state without its data.
    pub fn kind(&self) -> PresenceKind {
        match self {
            Presence::Off => PresenceKind::Off,
            Presence::AwaitingLink => PresenceKind::AwaitingLink,
            Presence::Connecting { .. } => PresenceKind::Connecting,
            Presence::RetryWait { .. } => PresenceKind::RetryWait,
            Presence::Connected { .. } => PresenceKind::Connected,
            Presence::Blurred => PresenceKind::Blurred,
            Presence::Suspended => PresenceKind::Suspended,
            Presence::NotConfigured => PresenceKind::NotConfigured,
        }
    }
}

/// The terms dialog of one one-click request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Terms {
    /// No request waiting.
    None,
    /// `EventPresenceShowTerms` delivered; `displayed` not yet signalled.
    Shown {
        /// The request.
        request_id: u64,
    },
    /// `displayed` signalled; waiting for the customer's answer.
    Displayed {
        /// The request.
        request_id: u64,
    },
    /// `accepted` signalled: consent to one `start_session()` with the visitor id.
    Accepted {
        /// The request.
        request_id: u64,
    },
    /// An agent's start request that the consent policy and the group's settings both allow
    /// (S-F25): one `start_session()` with the visitor id, no dialog.
    AgentStart {
        /// The request.
        request_id: u64,
    },
}

/// Everything the SDK core holds except its output queue. Two cores with equal `State` behave
/// the same from here on.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct State {
    /// Init phase, and within `Ready`, the session and presence sub-machines.
    pub phase: Phase,
    /// The transport.
    pub link: Link,
    /// Foreground or background.
    pub app: AppVisibility,
    /// `set_default_ui`.
    pub default_ui: bool,
    /// `presence_set_default_ui`.
    pub presence_default_ui: bool,
    /// Armed timers.
    pub timers: Timers,
    /// The latest accepted input's time.
    pub now: Instant,
}

macro_rules! kinds {
    ($(#[$doc:meta])* $name:ident { $( $(#[$vdoc:meta])* $variant:ident = $word:literal, )* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $( $(#[$vdoc])* $variant, )*
        }

        impl $name {
            /// The state's name in spec.md §4.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

kinds! {
    /// A [`Phase`] without its data; prints as spec.md names it.
    PhaseKind {
        /// `uninitialized`
        Uninitialized = "uninitialized",
        /// `initializing`
        Initializing = "initializing",
        /// `ready`
        Ready = "ready",
        /// `terminated`
        Terminated = "terminated",
    }
}

kinds! {
    /// A [`Session`] without its data; prints as spec.md names it.
    SessionKind {
        /// `idle`
        Idle = "idle",
        /// `starting`
        Starting = "starting",
        /// `running`
        Running = "running",
        /// `ending`
        Ending = "ending",
    }
}

kinds! {
    /// A [`Presence`] without its data; prints as spec.md names it.
    PresenceKind {
        /// `off`
        Off = "off",
        /// `awaiting_link`
        AwaitingLink = "awaiting_link",
        /// `connecting`
        Connecting = "connecting",
        /// `retry_wait`
        RetryWait = "retry_wait",
        /// `connected`
        Connected = "connected",
        /// `blurred`
        Blurred = "blurred",
        /// `suspended`
        Suspended = "suspended",
        /// `not_configured`
        NotConfigured = "not_configured",
    }
}

/// The sub-state a refused frame arrived in ([`crate::ProtocolError::UnexpectedFrame`]): the
/// phase, or within `ready` the session or presence state the frame belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StateKind {
    /// The phase (a frame before or after `ready`, or an init answer while `ready`).
    Phase(PhaseKind),
    /// The session state (a session frame).
    Session(SessionKind),
    /// The presence state (a presence frame).
    Presence(PresenceKind),
}

impl fmt::Display for StateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateKind::Phase(k) => k.fmt(f),
            StateKind::Session(k) => k.fmt(f),
            StateKind::Presence(k) => k.fmt(f),
        }
    }
}
