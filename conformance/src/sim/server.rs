//! The simulated Glance service for one visitor: settings lookup, sessions and guests,
//! presence and one-click requests (spec.md §13).

use crate::transcript::AgentAction;
use cobrowse_visitor_core::{ClientFrame, Instant, ServerFrame, PROTOCOL_VERSION};
use std::collections::VecDeque;
use std::time::Duration;

/// Digits in the simulated group's random keys.
pub const SIM_KEY_LENGTH: u8 = 4;

/// A small deterministic generator (SplitMix64) for the server's random keys.
#[derive(Clone, Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[derive(Clone, Debug)]
struct ServerSession {
    key: String,
    guests: u32,
    /// The guest count the visitor was last told (a frame that was delivered).
    guests_sent: u32,
}

/// The simulated Glance service for one visitor: settings lookup, sessions and guests,
/// presence and one-click requests.
#[derive(Clone, Debug)]
pub struct Server {
    group_id: i32,
    key_length: u8,
    session_grace: Duration,
    rng: SplitMix64,
    visitor_id: Option<String>,
    session: Option<ServerSession>,
    presence: bool,
    next_request: u64,
    offline_since: Option<Instant>,
    /// What the visitor's current connection said in its `init`: `None` until it sends one
    /// (every connection starts with `init`; a frame before it is refused), else its
    /// visitor id.
    announced: Option<Option<String>>,
    /// Why the session ended while the visitor was offline (told on `resume_session`).
    ended_offline: Option<(String, String)>,
    /// Frames the service refused because the connection had not identified itself.
    refusals: u32,
    out: VecDeque<ServerFrame>,
}

impl Server {
    /// A server that knows `group_id` (any other group's settings lookup fails).
    pub fn new(group_id: i32, seed: u64, session_grace: Duration) -> Self {
        Server {
            group_id,
            key_length: SIM_KEY_LENGTH,
            session_grace,
            rng: SplitMix64(seed),
            visitor_id: None,
            session: None,
            presence: false,
            next_request: 0,
            offline_since: None,
            announced: None,
            ended_offline: None,
            refusals: 0,
            out: VecDeque::new(),
        }
    }

    /// Whether the visitor is connected (frames reach it).
    pub fn online(&self) -> bool {
        self.offline_since.is_none()
    }

    /// Whether the visitor's current connection has sent `init`, and with which visitor id.
    pub fn announced(&self) -> Option<Option<&str>> {
        self.announced.as_ref().map(Option::as_deref)
    }

    /// Frames refused because the connection had not sent `init` (a strict service answers
    /// them with a failure; a correct SDK never causes one).
    pub fn refusals(&self) -> u32 {
        self.refusals
    }

    /// Queues a frame for the visitor; one sent while it is offline is lost, as on a real
    /// network.
    fn push(&mut self, frame: ServerFrame) {
        if self.online() {
            self.out.push_back(frame);
        }
    }

    /// The next frame for the SDK.
    pub fn poll(&mut self) -> Option<ServerFrame> {
        self.out.pop_front()
    }

    /// The running session's key and guest count.
    pub fn session(&self) -> Option<(&str, u32)> {
        self.session.as_ref().map(|s| (s.key.as_str(), s.guests))
    }

    /// The visitor id of the latest `init` frame.
    pub fn visitor_id(&self) -> Option<&str> {
        self.visitor_id.as_deref()
    }

    /// Whether the visitor is present (connected to presence).
    pub fn presence(&self) -> bool {
        self.presence
    }

    /// The latest one-click request id (0 before the first).
    pub fn last_request(&self) -> u64 {
        self.next_request
    }

    /// Since when the visitor has been offline, if it is.
    pub fn offline_since(&self) -> Option<Instant> {
        self.offline_since
    }

    fn random_key(&mut self) -> String {
        (0..self.key_length)
            .map(|_| char::from(b'0' + (self.rng.next() % 10) as u8))
            .collect()
    }

    /// Handles a frame from the SDK. Every connection starts with `init`; any other frame
    /// before it is refused as a real service would (a failure answer where the frame has
    /// one), and counted in [`Server::refusals`].
    pub fn receive(&mut self, frame: &ClientFrame) {
        if let ClientFrame::Init {
            group_id,
            visitor_id,
            ..
        } = frame
        {
            self.visitor_id = visitor_id.clone();
            self.announced = Some(visitor_id.clone());
            let answer = if *group_id == self.group_id {
                ServerFrame::Settings {
                    v: PROTOCOL_VERSION,
                    key_length: self.key_length,
                }
            } else {
                ServerFrame::InitFailed {
                    reason: "unknown_group".into(),
                }
            };
            self.push(answer);
            return;
        }
        if self.announced.is_none() {
            self.refusals += 1;
            let refusal = match frame {
                ClientFrame::StartSession { .. } => Some(ServerFrame::SessionRefused {
                    reason: "unknown_visitor".into(),
                }),
                ClientFrame::PresenceConnect { .. } => Some(ServerFrame::PresenceConnectFailed {
                    reason: "unknown_visitor".into(),
                }),
                _ => None,
            };
            if let Some(f) = refusal {
                self.push(f);
            }
            return;
        }
        match frame {
            ClientFrame::Init { .. } => {}
            ClientFrame::StartSession { key } => {
                let reply = match (&self.session, key) {
                    // a start sent again after a reconnect: the same session
                    (Some(s), None) => ServerFrame::SessionStarted {
                        sessionkey: s.key.clone(),
                    },
                    (Some(s), Some(k)) if *k == s.key => ServerFrame::SessionStarted {
                        sessionkey: s.key.clone(),
                    },
                    (Some(_), Some(_)) => ServerFrame::SessionRefused {
                        reason: "session_exists".into(),
                    },
                    (None, k) => {
                        let key = k.clone().unwrap_or_else(|| self.random_key());
                        self.ended_offline = None;
                        self.session = Some(ServerSession {
                            key: key.clone(),
                            guests: 0,
                            guests_sent: 0,
                        });
                        ServerFrame::SessionStarted { sessionkey: key }
                    }
                };
                self.push(reply);
            }
            ClientFrame::EndSession {} => {
                if self.session.take().is_some() {
                    self.push(ServerFrame::SessionEnded {
                        reason: "visitor_ended".into(),
                    });
                }
            }
            ClientFrame::ResumeSession { sessionkey } => match &mut self.session {
                Some(s) if s.key == *sessionkey => {
                    // the agent count, always: a count sent just before the link died may
                    // never have arrived, and the service cannot know
                    s.guests_sent = s.guests;
                    let guestcount = s.guests;
                    self.push(ServerFrame::GuestCount { guestcount });
                }
                _ => {
                    let reason = match self.ended_offline.take() {
                        Some((key, reason)) if key == *sessionkey => reason,
                        _ => "expired".into(),
                    };
                    self.push(ServerFrame::SessionEnded { reason });
                }
            },
            ClientFrame::PresenceConnect { visitor_id } => {
                // presence is for the visitor this connection identified
                if matches!(&self.announced, Some(Some(a)) if a == visitor_id) {
                    self.presence = true;
                    self.push(ServerFrame::PresenceConnected {});
                } else {
                    self.push(ServerFrame::PresenceConnectFailed {
                        reason: "unknown_visitor".into(),
                    });
                }
            }
            ClientFrame::PresenceDisconnect {} => self.presence = false,
            ClientFrame::PresenceSignal { .. } | ClientFrame::AppState { .. } => {}
        }
    }

    /// The visitor's connection dropped: presence goes with it, and the next connection
    /// must identify itself again.
    pub fn connection_lost(&mut self, now: Instant) {
        self.presence = false;
        self.announced = None;
        if self.offline_since.is_none() {
            self.offline_since = Some(now);
        }
    }

    /// A new connection from the visitor is up; a session offline longer than the grace is
    /// gone.
    pub fn connection_restored(&mut self, now: Instant) {
        self.announced = None;
        if let Some(since) = self.offline_since.take() {
            if now.saturating_since(since) >= self.session_grace {
                self.session = None;
            }
        }
    }

    /// An agent acts; `Err` when the action is not possible now. What the agent does while
    /// the visitor is offline is told on `resume_session`.
    pub fn agent(&mut self, action: AgentAction) -> Result<(), AgentRefusal> {
        let online = self.online();
        match action {
            AgentAction::Join | AgentAction::Leave => {
                let s = self.session.as_mut().ok_or(AgentRefusal::NoSession)?;
                if action == AgentAction::Leave {
                    if s.guests == 0 {
                        return Err(AgentRefusal::NoAgentInSession);
                    }
                    s.guests -= 1;
                } else {
                    s.guests += 1;
                }
                if online {
                    s.guests_sent = s.guests;
                    let guestcount = s.guests;
                    self.push(ServerFrame::GuestCount { guestcount });
                }
            }
            AgentAction::StartPresenceSession => {
                if !self.presence {
                    return Err(AgentRefusal::VisitorNotPresent);
                }
                self.next_request += 1;
                let request_id = self.next_request;
                self.push(ServerFrame::PresenceShowTerms { request_id });
            }
            AgentAction::EndSession => {
                let s = self.session.take().ok_or(AgentRefusal::NoSession)?;
                if online {
                    self.push(ServerFrame::SessionEnded {
                        reason: "agent_ended".into(),
                    });
                } else {
                    self.ended_offline = Some((s.key, "agent_ended".into()));
                }
            }
        }
        Ok(())
    }
}

/// Why the simulated agent cannot act now (the transcript's `error.code`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AgentRefusal {
    /// `join`, `leave` or `end_session` with no session.
    NoSession,
    /// `leave` with no agent in the session.
    NoAgentInSession,
    /// `start_presence_session` while the visitor is not present.
    VisitorNotPresent,
}

impl AgentRefusal {
    /// The snake_case code.
    pub const fn code(self) -> &'static str {
        match self {
            AgentRefusal::NoSession => "no_session",
            AgentRefusal::NoAgentInSession => "no_agent_in_session",
            AgentRefusal::VisitorNotPresent => "visitor_not_present",
        }
    }
}
