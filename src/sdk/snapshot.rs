//! Continuing after an app restart (spec.md §5.6): a versioned, serialisable snapshot of what
//! the SDK core must remember across a process, and the restore that resumes from it.
//!
//! The core reads no clock, so the caller supplies both times: the wall-clock milliseconds
//! when the snapshot is taken (`unix_ms`, which survives the process), and on restore the
//! wall clock again (to know how long the app was gone) and the new process's [`Instant`].

use super::config::Config;
use super::queue::{Queued, QUEUE_CAPACITY};
use super::state::{AppVisibility, Link, Lookup, Phase, Presence, Ready, Session, Settings, State};
use super::{Sdk, SdkConfig};
use crate::api::InitParams;
use crate::events::{Event, KeyType};
use crate::frames::ServerFrame;
use crate::rows::{Row, Rows};
use crate::time::Instant;
use crate::timers::{backoff, Timer, Timers};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;
use thiserror::Error;

/// The snapshot format this crate writes and reads.
pub const SNAPSHOT_FORMAT: u32 = 1;

/// The reason of the `EventSessionEnded` a restore gives for a session that was gone too long
/// (longer than `session_grace`) to resume.
pub const RESTART_EXPIRED: &str = "restart_expired";

/// What the SDK core keeps across an app restart ([`Sdk::snapshot`], [`Sdk::restore`]).
/// Serialise it with serde (JSON, say) into the app's storage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// [`SNAPSHOT_FORMAT`] of the crate that wrote it.
    pub format: u32,
    /// The writing crate's version (`CARGO_PKG_VERSION`); a restore refuses another one.
    pub crate_version: String,
    /// Wall-clock milliseconds (Unix epoch) when it was taken, as the caller gave them.
    pub saved_at_unix_ms: u64,
    /// The latest accepted `init_visitor` (its group id is the first call's).
    pub visitor: InitParams,
    /// The group's settings as they were.
    pub settings: Settings,
    /// The running session, if one was running and started with `persist` (a starting
    /// session is not kept: see spec.md §5.6).
    pub session: Option<SessionSnapshot>,
    /// An ending session (`end_session` accepted, its end not confirmed), or a running one
    /// started without `persist`: its key type. The restored core sends `end_session` on the
    /// new link (S-R04): the earlier one may never have reached the service (the link was
    /// down), as S-N02 does after a loss, and a session not persisted ends with its process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ending: Option<KeyType>,
    /// The visitor's presence data.
    pub presence_data: BTreeMap<String, String>,
    /// `set_default_ui`.
    pub default_ui: bool,
    /// `presence_set_default_ui`.
    pub presence_default_ui: bool,
}

/// A running session in a [`Snapshot`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSnapshot {
    /// Its key.
    pub key: String,
    /// How the key was chosen (a one-click session's key is never shown, after a restart
    /// too).
    pub keytype: KeyType,
    /// Paused.
    pub paused: bool,
    /// The user state set in it.
    pub user_state: BTreeMap<String, String>,
}

/// Why a snapshot was not restored; nothing was restored.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// Written by another format or crate version.
    #[error("snapshot of format {format} from version {crate_version}; this is format {SNAPSHOT_FORMAT}, version {}", env!("CARGO_PKG_VERSION"))]
    Version {
        /// The snapshot's format.
        format: u32,
        /// The snapshot's crate version.
        crate_version: String,
    },
    /// Of another group than the app's.
    #[error("snapshot of group {found}, the app's group is {expected}")]
    GroupId {
        /// The app's group id.
        expected: i32,
        /// The snapshot's.
        found: i32,
    },
    /// Not readable, or a field breaks the SDK's rules (a corrupted or edited file).
    #[error("corrupted snapshot: {0}")]
    Corrupt(String),
}

impl Snapshot {
    /// The snapshot as JSON, for the app's storage.
    pub fn to_json(&self) -> String {
        // plain data with string keys: serialising cannot fail
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a snapshot from the app's storage; anything that is not exactly a snapshot (a
    /// truncated or edited file, unknown fields) is [`RestoreError::Corrupt`].
    pub fn from_json(text: &str) -> Result<Snapshot, RestoreError> {
        serde_json::from_str(text).map_err(|e| RestoreError::Corrupt(e.to_string()))
    }
}

impl Sdk {
    /// A snapshot of what must survive an app restart, at wall-clock `unix_ms`; `None`
    /// before the first `EventVisitorInitialized` and after terminate (nothing to continue).
    pub fn snapshot(&self, unix_ms: u64) -> Option<Snapshot> {
        let Phase::Ready(r) = &self.state.phase else {
            return None;
        };
        Some(Snapshot {
            format: SNAPSHOT_FORMAT,
            crate_version: env!("CARGO_PKG_VERSION").to_owned(),
            saved_at_unix_ms: unix_ms,
            visitor: r.visitor.clone(),
            settings: r.settings,
            session: match &r.session {
                Session::Running {
                    key,
                    keytype,
                    paused,
                    user_state,
                    persist: true,
                    ..
                } => Some(SessionSnapshot {
                    key: key.clone(),
                    keytype: *keytype,
                    paused: *paused,
                    user_state: user_state.clone(),
                }),
                Session::Idle
                | Session::Starting { .. }
                | Session::Running { persist: false, .. }
                | Session::Ending { .. } => None,
            },
            // a session started without `persist` is ended on the next launch, as an ending
            // one is (S-R04 / S-R02): the service still has it, and its agent waits on it
            ending: match &r.session {
                Session::Ending { keytype }
                | Session::Running {
                    keytype,
                    persist: false,
                    ..
                } => Some(*keytype),
                _ => None,
            },
            presence_data: r.presence_data.clone(),
            default_ui: self.state.default_ui,
            presence_default_ui: self.state.presence_default_ui,
        })
    }

    /// A core for the next app launch, from `snapshot`, for the app's `group_id`, at the new
    /// process's `now` and wall-clock `unix_ms` (spec.md §5.6, row S-R01 / S-R02).
    ///
    /// The restored core is `ready`, in the foreground, with presence off (the app connects
    /// it again, as after any launch) and the link down: its first output is
    /// [`crate::Output::Connect`], and the new link's `init` (S-N02) re-attaches the visitor
    /// and resumes a running session with `resume_session` (the service answers with the
    /// agent count, or ends a session it no longer has). A session older than
    /// `session_grace` is not resumed: the restore queues `EventSessionEnded`
    /// ([`RESTART_EXPIRED`]). A snapshot of another version or group, or one whose fields
    /// break the SDK's rules, is refused whole.
    pub fn restore(
        config: SdkConfig,
        snapshot: Snapshot,
        group_id: i32,
        now: Instant,
        unix_ms: u64,
    ) -> Result<Sdk, RestoreError> {
        if snapshot.format != SNAPSHOT_FORMAT || snapshot.crate_version != env!("CARGO_PKG_VERSION")
        {
            return Err(RestoreError::Version {
                format: snapshot.format,
                crate_version: snapshot.crate_version,
            });
        }
        if snapshot.visitor.group_id != group_id {
            return Err(RestoreError::GroupId {
                expected: group_id,
                found: snapshot.visitor.group_id,
            });
        }
        let config = config.sanitized();
        snapshot
            .visitor
            .validate_for(config.limits)
            .map_err(|e| RestoreError::Corrupt(format!("visitor: {e}")))?;
        let settings_frame = ServerFrame::Settings {
            v: crate::frames::PROTOCOL_VERSION,
            key_length: snapshot.settings.key_length,
            agent_start: false,
        };
        settings_frame
            .validate()
            .map_err(|e| RestoreError::Corrupt(format!("settings: {e}")))?;
        crate::api::validate_presence_data(&BTreeMap::new(), &snapshot.presence_data)
            .map_err(|e| RestoreError::Corrupt(format!("presence data: {e}")))?;
        if let Some(s) = &snapshot.session {
            let key_ok = match s.keytype {
                KeyType::Random => !s.key.is_empty() && s.key.bytes().all(|b| b.is_ascii_digit()),
                // a visitor id as §3.3 reads one, not necessarily the current visitor's: a
                // re-init with another id (a logout) keeps the running session (S-A04)
                KeyType::VisitorId => config.limits.validate_visitor_id(&s.key).is_ok(),
                KeyType::Custom => crate::api::validate_session_key(&s.key).is_ok(),
            } && s.key.len()
                <= crate::api::MAX_SESSION_KEY.max(crate::api::MAX_VISITOR_ID_CORE);
            if !key_ok {
                return Err(RestoreError::Corrupt("session key".to_owned()));
            }
            let mut probe = BTreeMap::new();
            for (name, value) in &s.user_state {
                crate::api::validate_user_state(&probe, name, value)
                    .map_err(|e| RestoreError::Corrupt(format!("user state: {e}")))?;
                probe.insert(name.clone(), value.clone());
            }
        }
        let away = Duration::from_millis(unix_ms.saturating_sub(snapshot.saved_at_unix_ms));
        let mut out = VecDeque::with_capacity(QUEUE_CAPACITY);
        let mut timers = Timers::default();
        out.push_back(Queued::Connect);
        timers.arm(
            Timer::Reconnect,
            now.saturating_add(backoff(
                config.reconnect_backoff_base,
                config.reconnect_backoff_max,
                0,
            )),
        );
        let (row, session) = match snapshot.session {
            Some(s) if away < config.session_grace => {
                // what is left of the grace; the link is down until the IO layer connects
                timers.arm(
                    Timer::SessionGrace,
                    now.saturating_add(config.session_grace - away),
                );
                (
                    Row::SR01,
                    Session::Running {
                        key: s.key,
                        keytype: s.keytype,
                        guests: 0,
                        paused: s.paused,
                        user_state: s.user_state,
                        persist: true, // only a persisted session is kept
                    },
                )
            }
            Some(_) => {
                out.push_back(Queued::Event(Event::SessionEnded {
                    reason: RESTART_EXPIRED.to_owned(),
                }));
                (Row::SR02, Session::Idle)
            }
            None => match snapshot.ending {
                // an end that may not have reached the service: sent again on the new link
                // (S-N02), within what is left of the grace
                Some(keytype) if away < config.session_grace => {
                    timers.arm(
                        Timer::SessionGrace,
                        now.saturating_add(config.session_grace - away),
                    );
                    (Row::SR04, Session::Ending { keytype })
                }
                Some(_) => {
                    out.push_back(Queued::Event(Event::SessionEnded {
                        reason: RESTART_EXPIRED.to_owned(),
                    }));
                    (Row::SR02, Session::Idle)
                }
                None => (Row::SR03, Session::Idle),
            },
        };
        // the link is down until the IO layer connects: the app's banner says so, so that
        // S-N02's EventClearWarning on the new link has its pair (INV-WARNING-PAIRED)
        out.push_back(Queued::Event(Event::ConnectionWarning));
        let mut rows = Rows::default();
        rows.push(row);
        Ok(Sdk {
            config: Config::new(config),
            state: State {
                phase: Phase::Ready(Ready {
                    visitor: snapshot.visitor,
                    settings: snapshot.settings,
                    lookup: Lookup::Done,
                    session,
                    presence: Presence::Off,
                    max_attempts: None,
                    presence_data: snapshot.presence_data,
                }),
                link: Link::Down { attempt: 0 },
                app: AppVisibility::Foreground,
                default_ui: snapshot.default_ui,
                presence_default_ui: snapshot.presence_default_ui,
                timers,
                now,
            },
            out,
            rows,
        })
    }
}
