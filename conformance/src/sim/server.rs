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
    guests_sent: u32,
}

/// The simulated Glance service for one visitor: settings lookup, sessions and guests,
/// presence and one-click requests.
#[derive(Clone, Debug)]
pub struct Server {
    group_id: u32,
    key_length: u8,
    session_grace: Duration,
    rng: SplitMix64,
    visitor_id: Option<String>,
    session: Option<ServerSession>,
    presence: bool,
    next_request: u64,
    offline_since: Option<Instant>,
    out: VecDeque<ServerFrame>,
}

impl Server {
    /// A server that knows `group_id` (any other group's settings lookup fails).
    pub fn new(group_id: u32, seed: u64, session_grace: Duration) -> Self {
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
            out: VecDeque::new(),
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

    /// Frames queued for the SDK (empty once the world has settled).
    pub fn queued(&self) -> usize {
        self.out.len()
    }

    fn random_key(&mut self) -> String {
        (0..self.key_length)
            .map(|_| char::from(b'0' + (self.rng.next() % 10) as u8))
            .collect()
    }

    /// Handles a frame from the SDK.
    pub fn receive(&mut self, frame: &ClientFrame) {
        match frame {
            ClientFrame::Init {
                group_id,
                visitor_id,
                ..
            } => {
                self.visitor_id = visitor_id.clone();
                self.out.push_back(if *group_id == self.group_id {
                    ServerFrame::Settings {
                        v: PROTOCOL_VERSION,
                        key_length: self.key_length,
                    }
                } else {
                    ServerFrame::InitFailed {
                        reason: "unknown_group".into(),
                    }
                });
            }
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
                        self.session = Some(ServerSession {
                            key: key.clone(),
                            guests: 0,
                            guests_sent: 0,
                        });
                        ServerFrame::SessionStarted { sessionkey: key }
                    }
                };
                self.out.push_back(reply);
            }
            ClientFrame::EndSession {} => {
                if self.session.take().is_some() {
                    self.out.push_back(ServerFrame::SessionEnded {
                        reason: "visitor_ended".into(),
                    });
                }
            }
            ClientFrame::ResumeSession { sessionkey } => match &mut self.session {
                Some(s) if s.key == *sessionkey => {
                    if s.guests != s.guests_sent {
                        s.guests_sent = s.guests;
                        self.out.push_back(ServerFrame::GuestCount {
                            guestcount: s.guests,
                        });
                    }
                }
                _ => self.out.push_back(ServerFrame::SessionEnded {
                    reason: "expired".into(),
                }),
            },
            ClientFrame::PresenceConnect { visitor_id } => {
                if self.visitor_id.as_ref() == Some(visitor_id) {
                    self.presence = true;
                    self.out.push_back(ServerFrame::PresenceConnected {});
                } else {
                    self.out.push_back(ServerFrame::PresenceConnectFailed {
                        reason: "unknown_visitor".into(),
                    });
                }
            }
            ClientFrame::PresenceDisconnect {} => self.presence = false,
            ClientFrame::PresenceSignal { .. } | ClientFrame::AppState { .. } => {}
        }
    }

    /// The visitor's connection dropped.
    pub fn connection_lost(&mut self, now: Instant) {
        self.presence = false;
        self.offline_since = Some(now);
    }

    /// The visitor's connection is back; a session offline longer than the grace is gone.
    pub fn connection_restored(&mut self, now: Instant) {
        if let Some(since) = self.offline_since.take() {
            if now.saturating_since(since) >= self.session_grace {
                self.session = None;
            }
        }
    }

    /// An agent acts; `Err` when the action is not possible now.
    pub fn agent(&mut self, action: AgentAction) -> Result<(), AgentRefusal> {
        match action {
            AgentAction::Join => {
                let s = self.session.as_mut().ok_or(AgentRefusal::NoSession)?;
                s.guests += 1;
                s.guests_sent = s.guests;
                self.out.push_back(ServerFrame::GuestCount {
                    guestcount: s.guests,
                });
            }
            AgentAction::Leave => {
                let s = self.session.as_mut().ok_or(AgentRefusal::NoSession)?;
                if s.guests == 0 {
                    return Err(AgentRefusal::NoAgentInSession);
                }
                s.guests -= 1;
                s.guests_sent = s.guests;
                self.out.push_back(ServerFrame::GuestCount {
                    guestcount: s.guests,
                });
            }
            AgentAction::StartPresenceSession => {
                if !self.presence {
                    return Err(AgentRefusal::VisitorNotPresent);
                }
                self.next_request += 1;
                self.out.push_back(ServerFrame::PresenceShowTerms {
                    request_id: self.next_request,
                });
            }
            AgentAction::EndSession => {
                self.session.take().ok_or(AgentRefusal::NoSession)?;
                self.out.push_back(ServerFrame::SessionEnded {
                    reason: "agent_ended".into(),
                });
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
