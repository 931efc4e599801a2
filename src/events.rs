//! SDK events delivered to the app, with the Glance SDK's codes and property names.

use crate::api::CallName;
use crate::errors::ErrorCode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How the session's key was chosen; carried by [`Event::ConnectedToSession`] so an app can
/// tell a one-click session (whose key must never be shown) from a manual one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum KeyType {
    /// `GLANCE_KEYTYPE_RANDOM`: the server picked a numeric key; the customer reads it out.
    Random,
    /// No argument with a visitor id: the one-click (presence) case; the agent already knows
    /// the key.
    VisitorId,
    /// The app's own key.
    Custom,
}

impl KeyType {
    /// The property value in `EventConnectedToSession`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Random => "random",
            KeyType::VisitorId => "visitor_id",
            KeyType::Custom => "custom",
        }
    }
}

/// An event the SDK delivers to the app (`GlanceEvent`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Event {
    /// `EventVisitorInitialized`: `init_visitor` completed (also when the settings lookup
    /// failed and defaults are in use).
    VisitorInitialized {
        /// `false` when the settings lookup failed or timed out.
        settings_loaded: bool,
    },
    /// `EventConnectedToSession {sessionkey}`: the session is up.
    ConnectedToSession {
        /// The session key (`sessionkey`).
        sessionkey: String,
        /// How the key was chosen (`keytype`).
        keytype: KeyType,
    },
    /// `EventGuestCountChange {guestcount}`: agents joined or left.
    GuestCountChange {
        /// Agents now in the session.
        guestcount: u32,
    },
    /// `EventSessionEnded {reason}`.
    SessionEnded {
        /// Why: `visitor_ended`, `agent_ended`, `connection_lost`, `terminated`, or the
        /// server's word.
        reason: String,
    },
    /// `EventStartSessionFailed {reason}`: refused by the server, timed out, or lost.
    StartSessionFailed {
        /// Why.
        reason: String,
    },
    /// `EventInvalidParameter`: an API call with a bad field was refused.
    InvalidParameter {
        /// The refused call.
        call: CallName,
        /// The error's code.
        code: ErrorCode,
    },
    /// `EventInvalidState`: an API call not allowed in this state was refused.
    InvalidState {
        /// The refused call.
        call: CallName,
        /// The error's code.
        code: ErrorCode,
    },
    /// `EventPresenceConnected`.
    PresenceConnected,
    /// `EventPresenceConnectFail`: the SDK retries after `retry_ms`, or, when `None`, gives
    /// up: `connect(maxAttempts)`'s attempts are used up and presence is off.
    PresenceConnectFail {
        /// Why.
        reason: String,
        /// When the SDK tries again, from now; `None` (no `retry_ms` property) after the
        /// last attempt.
        retry_ms: Option<u64>,
    },
    /// `EventPresenceShowTerms`: an agent asks for a one-click session.
    PresenceShowTerms {
        /// The request the `terms` signals answer.
        request_id: u64,
    },
    /// `EventPresenceDisconnected`.
    PresenceDisconnected,
    /// `EventPresenceBlur`: another app instance took the visitor id.
    PresenceBlur,
    /// `EventConnectionWarning`: the connection to the service is lost; the SDK reconnects.
    ConnectionWarning,
    /// `EventClearWarning`: the connection is back.
    ClearWarning,
    /// `EventPresenceSignal`: the agent sent the visitor a custom signal.
    PresenceSignal {
        /// The signal's name (property `event`).
        event: String,
        /// The signal's properties (each a property of the event).
        map: BTreeMap<String, String>,
    },
    /// `EventPresenceStartSession`: the agent starts a session without the terms dialog, and
    /// the consent policy allows it: `start_session()` with the visitor id is allowed once.
    PresenceStartSession {
        /// The agent's request.
        request_id: u64,
    },
    /// `EventPresenceNotConfigured`: presence is not enabled for the group; the SDK does not
    /// try again until a re-init.
    PresenceNotConfigured,
    /// `EventPresenceSendFail`: a presence message (`signal_agent`, `signal_visibility`)
    /// could not be sent: presence is wanted but not connected now (the link dropped, a
    /// connect is in progress, it is suspended or blurred). The call was refused.
    PresenceSendFail {
        /// The refused call.
        call: CallName,
        /// The error's code (`presence_send_fail`).
        code: ErrorCode,
    },
}

impl Event {
    /// The Glance event code (`EventConnectedToSession`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Event::VisitorInitialized { .. } => "EventVisitorInitialized",
            Event::ConnectedToSession { .. } => "EventConnectedToSession",
            Event::GuestCountChange { .. } => "EventGuestCountChange",
            Event::SessionEnded { .. } => "EventSessionEnded",
            Event::StartSessionFailed { .. } => "EventStartSessionFailed",
            Event::InvalidParameter { .. } => "EventInvalidParameter",
            Event::InvalidState { .. } => "EventInvalidState",
            Event::PresenceConnected => "EventPresenceConnected",
            Event::PresenceConnectFail { .. } => "EventPresenceConnectFail",
            Event::PresenceShowTerms { .. } => "EventPresenceShowTerms",
            Event::PresenceDisconnected => "EventPresenceDisconnected",
            Event::PresenceBlur => "EventPresenceBlur",
            Event::ConnectionWarning => "EventConnectionWarning",
            Event::ClearWarning => "EventClearWarning",
            Event::PresenceSignal { .. } => "EventPresenceSignal",
            Event::PresenceStartSession { .. } => "EventPresenceStartSession",
            Event::PresenceNotConfigured => "EventPresenceNotConfigured",
            Event::PresenceSendFail { .. } => "EventPresenceSendFail",
        }
    }

    /// The event's properties as the Glance SDK names them (string values, as in
    /// `event.properties["sessionkey"]`). `EventPresenceSignal`'s are its `event` and the
    /// agent's own keys (which cannot include `event`, S-F98).
    pub fn properties(&self) -> BTreeMap<String, String> {
        let mut p: BTreeMap<String, String> = BTreeMap::new();
        match self {
            Event::VisitorInitialized { settings_loaded } => {
                if !settings_loaded {
                    p.insert("settings".to_owned(), "default".to_owned());
                }
            }
            Event::ConnectedToSession {
                sessionkey,
                keytype,
            } => {
                p.insert("sessionkey".to_owned(), sessionkey.clone());
                p.insert("keytype".to_owned(), keytype.as_str().to_owned());
            }
            Event::GuestCountChange { guestcount } => {
                p.insert("guestcount".to_owned(), guestcount.to_string());
            }
            Event::SessionEnded { reason } | Event::StartSessionFailed { reason } => {
                p.insert("reason".to_owned(), reason.clone());
            }
            Event::InvalidParameter { call, code }
            | Event::InvalidState { call, code }
            | Event::PresenceSendFail { call, code } => {
                p.insert("call".to_owned(), call.as_str().to_owned());
                p.insert("error".to_owned(), code.as_str().to_owned());
            }
            Event::PresenceConnectFail { reason, retry_ms } => {
                p.insert("reason".to_owned(), reason.clone());
                if let Some(ms) = retry_ms {
                    p.insert("retry_ms".to_owned(), ms.to_string());
                }
            }
            Event::PresenceShowTerms { request_id }
            | Event::PresenceStartSession { request_id } => {
                p.insert("request_id".to_owned(), request_id.to_string());
            }
            Event::PresenceSignal { event, map } => {
                p.extend(map.iter().map(|(k, v)| (k.clone(), v.clone())));
                p.insert("event".to_owned(), event.clone());
            }
            Event::PresenceConnected
            | Event::PresenceNotConfigured
            | Event::PresenceDisconnected
            | Event::PresenceBlur
            | Event::ConnectionWarning
            | Event::ClearWarning => {}
        }
        p
    }
}
