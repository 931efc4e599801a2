//! Typed errors. Two kinds, as in h11: the app misused the API ([`ApiError`]), or the server
//! broke the protocol ([`ProtocolError`]). Every refused input leaves the machine's state as it
//! was.

use crate::api::{ParameterError, TermsStatus};
use crate::frames::{FrameError, ServerFrameKind};
use crate::sdk::{PresenceKind, SessionKind, StateKind};
use crate::time::Instant;
use std::fmt;
use thiserror::Error;

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, )*) => {
        /// Every refusal code of the SDK core and the controller (spec.md §9): the
        /// transcript's `error.code` and the `error` property of `EventInvalidState` /
        /// `EventInvalidParameter`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorCode {
            /// Every code.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The snake_case code (`group_id_mismatch`).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }

            /// The code with this name.
            pub fn parse(code: &str) -> Option<ErrorCode> {
                match code {
                    $($code => Some(ErrorCode::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

codes! {
    /// A field breaks §3.3.
    InvalidParameter = "invalid_parameter",
    /// Another group id than the first `init_visitor`'s.
    GroupIdMismatch = "group_id_mismatch",
    /// No `init_visitor` yet.
    NotInitialized = "not_initialized",
    /// The first `init_visitor` has not completed.
    InitPending = "init_pending",
    /// The SDK has terminated.
    Terminated = "terminated",
    /// A session is starting, running or ending.
    SessionActive = "session_active",
    /// No session to end.
    NoSession = "no_session",
    /// A one-click start without accepted terms.
    ConsentRequired = "consent_required",
    /// Presence without a visitor id.
    NoVisitorId = "no_visitor_id",
    /// Presence is already on.
    PresenceActive = "presence_active",
    /// Presence is not connected.
    PresenceNotConnected = "presence_not_connected",
    /// A visitor id change while presence is on.
    VisitorIdChangeWithPresence = "visitor_id_change_with_presence",
    /// A `terms` signal out of order.
    TermsOutOfOrder = "terms_out_of_order",
    /// A presence message while presence is wanted but not connected (`EventPresenceSendFail`).
    PresenceSendFail = "presence_send_fail",
    /// `presence_connect` after `EventPresenceNotConfigured`, before a re-init.
    PresenceNotConfigured = "presence_not_configured",
    /// A session call (`pause`, `send_user_message`, `set_user_state`) with no running
    /// session.
    SessionNotRunning = "session_not_running",
    /// A frame the state does not expect.
    UnexpectedFrame = "unexpected_frame",
    /// A session key other than the one asked for.
    KeyMismatch = "key_mismatch",
    /// A random key that is not digits.
    KeyNotNumeric = "key_not_numeric",
    /// Bytes that are not a frame.
    MalformedFrame = "malformed_frame",
    /// A frame over the size limit.
    FrameTooLarge = "frame_too_large",
    /// Another protocol version.
    ProtocolVersion = "protocol_version",
    /// A frame field out of range.
    FrameField = "frame_field",
    /// `now` went backwards.
    TimeWentBackwards = "time_went_backwards",
    /// Controller: an intent before `launch`.
    NotLaunched = "not_launched",
    /// Controller: `launch` twice.
    AlreadyLaunched = "already_launched",
    /// Controller: an intent after `exit`.
    Exited = "exited",
    /// Controller: `tap_cobrowse` without the button.
    ButtonNotShown = "button_not_shown",
    /// Controller: `login` while logged in.
    AlreadyLoggedIn = "already_logged_in",
    /// Controller: `logout` while anonymous.
    NotLoggedIn = "not_logged_in",
    /// Controller: an answer with no terms shown.
    NoTermsShown = "no_terms_shown",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Any input the SDK core refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The app's call was refused.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The server's frame was refused.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// `now` is earlier than the last input's.
    #[error("time went backwards: {now} is before {last}")]
    TimeWentBackwards {
        /// The last input's time.
        last: Instant,
        /// This input's time.
        now: Instant,
    },
}

impl Error {
    /// The refusal's code (`group_id_mismatch`, `unexpected_frame`, …).
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Api(e) => e.code(),
            Error::Protocol(e) => e.code(),
            Error::TimeWentBackwards { .. } => ErrorCode::TimeWentBackwards,
        }
    }
}

/// An API call refused because of its arguments or the state it came in.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ApiError {
    /// A field breaks the SDK's rules (`EventInvalidParameter`).
    #[error("invalid parameter: {0}")]
    InvalidParameter(#[from] ParameterError),
    /// `init_visitor` with a group id other than the first one's (`EventInvalidParameter`).
    #[error("group id {got} differs from the first init_visitor's {expected}")]
    GroupIdMismatch {
        /// The first call's group id.
        expected: i32,
        /// This call's group id.
        got: i32,
    },
    /// The call needs `init_visitor` first (`EventInvalidState`).
    #[error("init_visitor has not been called")]
    NotInitialized,
    /// The call needs `EventVisitorInitialized` first (`EventInvalidState`).
    #[error("the first init_visitor has not completed")]
    InitPending,
    /// The app terminated; the SDK takes no more calls (`EventInvalidState`).
    #[error("the SDK has terminated")]
    Terminated,
    /// `start_session` while a session is starting, running or ending (`EventInvalidState`).
    #[error("a session is already {0}")]
    SessionActive(SessionKind),
    /// `end_session` with no session starting or running (`EventInvalidState`).
    #[error("no session to end")]
    NoSession,
    /// `start_session()` with a visitor id but no accepted one-click request
    /// (`EventInvalidState`).
    #[error("a one-click session needs the customer's accepted terms first")]
    ConsentRequired,
    /// `presence_connect` without a visitor id (`EventInvalidState`).
    #[error("presence needs init_visitor with a visitor id")]
    NoVisitorId,
    /// `presence_connect` while presence is not disconnected (`EventInvalidState`).
    #[error("presence is already {0}")]
    PresenceActive(PresenceKind),
    /// A presence call that needs a connected presence (`EventInvalidState`).
    #[error("presence is not connected")]
    PresenceNotConnected,
    /// `init_visitor` that changes the visitor id while presence is on (`EventInvalidState`).
    #[error("disconnect presence before changing the visitor id")]
    VisitorIdChangeWithPresence,
    /// A `terms` signal out of order (`EventInvalidState`).
    #[error("terms {} is not allowed now: {}", status.as_str(), terms_order_rule(*status))]
    TermsOutOfOrder {
        /// The refused status.
        status: TermsStatus,
    },
    /// A presence message while presence is wanted but not connected: the link is down, a
    /// connect is in progress, or presence is suspended or blurred
    /// (`EventPresenceSendFail`).
    #[error("presence message not sent: presence is {0}")]
    PresenceSendFail(PresenceKind),
    /// `presence_connect` after `EventPresenceNotConfigured`: presence is not enabled for the
    /// group, and only a re-init looks again (`EventInvalidState`).
    #[error("presence is not configured for the group; init_visitor again to look again")]
    PresenceNotConfigured,
    /// `pause`, `send_user_message` or `set_user_state` while no session is running
    /// (`EventInvalidState`).
    #[error("no running session (the session is {0})")]
    SessionNotRunning(SessionKind),
}

/// What the terms order requires, for a refused `status` (S-A55, S-A56).
fn terms_order_rule(status: TermsStatus) -> &'static str {
    match status {
        TermsStatus::Displayed => "no terms request is waiting to be displayed",
        TermsStatus::Accepted | TermsStatus::Declined => {
            "terms must be displayed first, and each request answered once"
        }
    }
}

impl ApiError {
    /// The refusal's code.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::InvalidParameter(_) => ErrorCode::InvalidParameter,
            ApiError::GroupIdMismatch { .. } => ErrorCode::GroupIdMismatch,
            ApiError::NotInitialized => ErrorCode::NotInitialized,
            ApiError::InitPending => ErrorCode::InitPending,
            ApiError::Terminated => ErrorCode::Terminated,
            ApiError::SessionActive(_) => ErrorCode::SessionActive,
            ApiError::NoSession => ErrorCode::NoSession,
            ApiError::ConsentRequired => ErrorCode::ConsentRequired,
            ApiError::NoVisitorId => ErrorCode::NoVisitorId,
            ApiError::PresenceActive(_) => ErrorCode::PresenceActive,
            ApiError::PresenceNotConnected => ErrorCode::PresenceNotConnected,
            ApiError::VisitorIdChangeWithPresence => ErrorCode::VisitorIdChangeWithPresence,
            ApiError::TermsOutOfOrder { .. } => ErrorCode::TermsOutOfOrder,
            ApiError::PresenceSendFail(_) => ErrorCode::PresenceSendFail,
            ApiError::PresenceNotConfigured => ErrorCode::PresenceNotConfigured,
            ApiError::SessionNotRunning(_) => ErrorCode::SessionNotRunning,
        }
    }

    /// Whether the Glance SDK reports this as `EventInvalidParameter` (else
    /// `EventInvalidState`, or `EventPresenceSendFail` for
    /// [`ApiError::PresenceSendFail`]).
    pub fn is_parameter_error(&self) -> bool {
        matches!(
            self,
            ApiError::InvalidParameter(_) | ApiError::GroupIdMismatch { .. }
        )
    }
}

/// A server frame refused: undecodable, or not allowed in the current state.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The bytes are not a valid frame.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A valid frame that the current state does not expect.
    #[error("unexpected `{frame}` frame while {state}")]
    UnexpectedFrame {
        /// The frame's type.
        frame: ServerFrameKind,
        /// The state it arrived in.
        state: StateKind,
    },
    /// `session_started` with another key than the one asked for.
    #[error("session key does not match the requested key")]
    KeyMismatch,
    /// `session_started` for a random key that is not all digits.
    #[error("random session key must be digits")]
    KeyNotNumeric,
}

impl ProtocolError {
    /// The refusal's code.
    pub fn code(&self) -> ErrorCode {
        match self {
            ProtocolError::Frame(FrameError::TooLarge { .. }) => ErrorCode::FrameTooLarge,
            ProtocolError::Frame(FrameError::Malformed(_)) => ErrorCode::MalformedFrame,
            ProtocolError::Frame(FrameError::Version { .. }) => ErrorCode::ProtocolVersion,
            ProtocolError::Frame(FrameError::Field { .. }) => ErrorCode::FrameField,
            ProtocolError::UnexpectedFrame { .. } => ErrorCode::UnexpectedFrame,
            ProtocolError::KeyMismatch => ErrorCode::KeyMismatch,
            ProtocolError::KeyNotNumeric => ErrorCode::KeyNotNumeric,
        }
    }
}
