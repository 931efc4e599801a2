//! The SDK core's output queue, kept small (BENCHMARKS.md): one allocation per core, a slot a
//! third of an [`Output`]'s size.

use super::Output;
use crate::events::Event;
use crate::frames::ClientFrame;

/// Slots the output queue is allocated with, once: more than any input queues in practice.
pub(super) const QUEUE_CAPACITY: usize = 8;

/// An output waiting in the queue, as [`Output`] but a third of its size: `Output` is as
/// large as its largest frame (`init`, 128 bytes), a slot here as an [`Event`]. Frames
/// without strings are inline (`presence_visibility` too: a string-free input allocates
/// nothing), frames with one string move it in, and only `init`, `presence_signal` and
/// `presence_data` (which copy or move strings and maps anyway) are boxed. [`Sdk::poll_output`]
/// turns it back into the same `Output`.
pub(super) enum Queued {
    Event(Event),
    Connect,
    Frame(QueuedFrame),
}

/// A [`ClientFrame`] in the output queue.
pub(super) enum QueuedFrame {
    StartSession(Option<String>, Option<u16>, bool),
    EndSession,
    ResumeSession(String),
    PresenceConnect(String),
    PresenceDisconnect,
    AppState(bool),
    PresenceVisibility(bool),
    Pause(bool),
    Boxed(Box<ClientFrame>),
}

impl Queued {
    // Inlined into each `send`, where the frame's variant is known, the match folds away.
    #[inline(always)]
    pub(super) fn transmit(f: ClientFrame) -> Queued {
        Queued::Frame(match f {
            ClientFrame::StartSession {
                key,
                max_guests,
                paused,
            } => QueuedFrame::StartSession(key, max_guests, paused),
            ClientFrame::EndSession {} => QueuedFrame::EndSession,
            ClientFrame::ResumeSession { sessionkey } => QueuedFrame::ResumeSession(sessionkey),
            ClientFrame::PresenceConnect { visitor_id } => QueuedFrame::PresenceConnect(visitor_id),
            ClientFrame::PresenceDisconnect {} => QueuedFrame::PresenceDisconnect,
            ClientFrame::AppState { foreground } => QueuedFrame::AppState(foreground),
            ClientFrame::PresenceVisibility { visible } => QueuedFrame::PresenceVisibility(visible),
            ClientFrame::Pause { paused } => QueuedFrame::Pause(paused),
            f @ (ClientFrame::Init { .. }
            | ClientFrame::PresenceSignal { .. }
            | ClientFrame::PresenceData { .. }
            | ClientFrame::UserMessage { .. }
            | ClientFrame::UserState { .. }) => QueuedFrame::Boxed(Box::new(f)),
        })
    }

    pub(super) fn into_output(self) -> Output {
        match self {
            Queued::Event(e) => Output::Event(e),
            Queued::Connect => Output::Connect,
            Queued::Frame(f) => f.into_output(),
        }
    }
}

impl QueuedFrame {
    /// `Output::Transmit` of the frame, built in place in each arm: a frame made first and
    /// then wrapped is copied whole (128 bytes) into the `Output` (BENCHMARKS.md, issue 13
    /// round 3). Not inlined, so that an event's way through [`Queued::into_output`] stays
    /// short.
    #[inline(never)]
    fn into_output(self) -> Output {
        match self {
            QueuedFrame::StartSession(key, max_guests, paused) => {
                Output::Transmit(ClientFrame::StartSession {
                    key,
                    max_guests,
                    paused,
                })
            }
            QueuedFrame::EndSession => Output::Transmit(ClientFrame::EndSession {}),
            QueuedFrame::ResumeSession(sessionkey) => {
                Output::Transmit(ClientFrame::ResumeSession { sessionkey })
            }
            QueuedFrame::PresenceConnect(visitor_id) => {
                Output::Transmit(ClientFrame::PresenceConnect { visitor_id })
            }
            QueuedFrame::PresenceDisconnect => Output::Transmit(ClientFrame::PresenceDisconnect {}),
            QueuedFrame::AppState(foreground) => {
                Output::Transmit(ClientFrame::AppState { foreground })
            }
            QueuedFrame::PresenceVisibility(visible) => {
                Output::Transmit(ClientFrame::PresenceVisibility { visible })
            }
            QueuedFrame::Pause(paused) => Output::Transmit(ClientFrame::Pause { paused }),
            QueuedFrame::Boxed(f) => Output::Transmit(*f),
        }
    }
}

impl Clone for Queued {
    fn clone(&self) -> Self {
        match self {
            Queued::Event(e) => Queued::Event(e.clone()),
            Queued::Connect => Queued::Connect,
            Queued::Frame(f) => Queued::transmit(f.to_frame()),
        }
    }
}

impl QueuedFrame {
    fn to_frame(&self) -> ClientFrame {
        match self {
            QueuedFrame::StartSession(key, max_guests, paused) => ClientFrame::StartSession {
                key: key.clone(),
                max_guests: *max_guests,
                paused: *paused,
            },
            QueuedFrame::EndSession => ClientFrame::EndSession {},
            QueuedFrame::ResumeSession(k) => ClientFrame::ResumeSession {
                sessionkey: k.clone(),
            },
            QueuedFrame::PresenceConnect(id) => ClientFrame::PresenceConnect {
                visitor_id: id.clone(),
            },
            QueuedFrame::PresenceDisconnect => ClientFrame::PresenceDisconnect {},
            QueuedFrame::AppState(foreground) => ClientFrame::AppState {
                foreground: *foreground,
            },
            QueuedFrame::Pause(paused) => ClientFrame::Pause { paused: *paused },
            QueuedFrame::PresenceVisibility(visible) => {
                ClientFrame::PresenceVisibility { visible: *visible }
            }
            QueuedFrame::Boxed(f) => (**f).clone(),
        }
    }
}

/// Prints as the [`Output`] it stands for.
impl std::fmt::Debug for Queued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Queued::Event(e) => f.debug_tuple("Event").field(e).finish(),
            Queued::Connect => f.write_str("Connect"),
            Queued::Frame(frame) => f.debug_tuple("Transmit").field(&frame.to_frame()).finish(),
        }
    }
}
