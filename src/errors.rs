//! Typed errors. Two kinds, as in h11: the app misused the API ([`ApiError`]), or the server
//! broke the protocol ([`ProtocolError`]). Every refused input leaves the machine's state as it
//! was.

use crate::api::ParameterError;
use crate::frames::FrameError;
use crate::time::Instant;
use thiserror::Error;

/// Any input the SDK core refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
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
    /// A short snake_case code for transcripts (`group_id_mismatch`, `unexpected_frame`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Api(e) => e.code(),
            Error::Protocol(e) => e.code(),
            Error::TimeWentBackwards { .. } => "time_went_backwards",
        }
    }
}

/// An API call refused because of its arguments or the state it came in.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ApiError {
    /// A field breaks the SDK's rules (`EventInvalidParameter`).
    #[error("invalid parameter: {0}")]
    InvalidParameter(#[from] ParameterError),
    /// `init_visitor` with a group id other than the first one's (`EventInvalidParameter`).
    #[error("group id {got} differs from the first init_visitor's {expected}")]
    GroupIdMismatch {
        /// The first call's group id.
        expected: u32,
        /// This call's group id.
        got: u32,
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
    SessionActive(&'static str),
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
    PresenceActive(&'static str),
    /// A presence call that needs a connected presence (`EventInvalidState`).
    #[error("presence is not connected")]
    PresenceNotConnected,
    /// `init_visitor` that changes the visitor id while presence is on (`EventInvalidState`).
    #[error("disconnect presence before changing the visitor id")]
    VisitorIdChangeWithPresence,
    /// A `terms` signal out of order (`EventInvalidState`).
    #[error("terms {status} is not allowed now: {why}")]
    TermsOutOfOrder {
        /// The refused status.
        status: &'static str,
        /// What the order requires.
        why: &'static str,
    },
}

impl ApiError {
    /// A short snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidParameter(_) => "invalid_parameter",
            ApiError::GroupIdMismatch { .. } => "group_id_mismatch",
            ApiError::NotInitialized => "not_initialized",
            ApiError::InitPending => "init_pending",
            ApiError::Terminated => "terminated",
            ApiError::SessionActive(_) => "session_active",
            ApiError::NoSession => "no_session",
            ApiError::ConsentRequired => "consent_required",
            ApiError::NoVisitorId => "no_visitor_id",
            ApiError::PresenceActive(_) => "presence_active",
            ApiError::PresenceNotConnected => "presence_not_connected",
            ApiError::VisitorIdChangeWithPresence => "visitor_id_change_with_presence",
            ApiError::TermsOutOfOrder { .. } => "terms_out_of_order",
        }
    }

    /// Whether the Glance SDK reports this as `EventInvalidParameter` (else
    /// `EventInvalidState`).
    pub fn is_parameter_error(&self) -> bool {
        matches!(
            self,
            ApiError::InvalidParameter(_) | ApiError::GroupIdMismatch { .. }
        )
    }
}

/// A server frame refused: undecodable, or not allowed in the current state.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ProtocolError {
    /// The bytes are not a valid frame.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A valid frame that the current state does not expect.
    #[error("unexpected `{frame}` frame while {state}")]
    UnexpectedFrame {
        /// The frame's type.
        frame: &'static str,
        /// The state it arrived in.
        state: &'static str,
    },
    /// `session_started` with another key than the one asked for.
    #[error("session key does not match the requested key")]
    KeyMismatch,
    /// `session_started` for a random key that is not all digits.
    #[error("random session key must be digits")]
    KeyNotNumeric,
}

impl ProtocolError {
    /// A short snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            ProtocolError::Frame(FrameError::TooLarge { .. }) => "frame_too_large",
            ProtocolError::Frame(FrameError::Malformed(_)) => "malformed_frame",
            ProtocolError::Frame(FrameError::Version { .. }) => "protocol_version",
            ProtocolError::Frame(FrameError::Field { .. }) => "frame_field",
            ProtocolError::UnexpectedFrame { .. } => "unexpected_frame",
            ProtocolError::KeyMismatch => "key_mismatch",
            ProtocolError::KeyNotNumeric => "key_not_numeric",
        }
    }
}
