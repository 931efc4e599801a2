//! The byte format of the structure-aware targets, read from an [`Unstructured`] and written
//! by [`Writer`].
//!
//! `arbitrary`'s derived format has no inverse, so a seed corpus could only be random bytes.
//! This format is read with a few explicit primitives instead (a tag byte, a small integer, a
//! text that is one of a few interesting choices or raw UTF-8), so that [`Writer`] can encode
//! the repository's scenarios as seeds byte for byte (`make-corpus`), and a decoded artifact
//! prints as the scenario it is. Every "anything" branch (tag `0xFF` for a call, a frame, an
//! intent or an SDK input) hands over to the core's derived `Arbitrary`, so the fuzzer can still
//! reach every value of the input alphabet.
//!
//! Reading never fails: a short input reads as zeros, and the rest of the input is the list.

use arbitrary::{Arbitrary, Unstructured};
use cobrowse_visitor_conformance::transcript::{AgentAction, ScenarioConfig};
use cobrowse_visitor_core::UserIntent;
use cobrowse_visitor_core::{ApiCall, InitParams, StartKey, StartOptions, StartParams};
use cobrowse_visitor_core::{ConsentPolicy, Limits, ServerFrame};
use cobrowse_visitor_core::{Lifecycle, NetworkChange};
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// The tag that hands a value over to the core's derived `Arbitrary`.
pub const DERIVED: u8 = 0xFF;

/// Interesting texts for each field: valid values, the boundaries of §3.3 / §8.3, and a few
/// that break them. A text byte below a list's length picks from it.
pub struct Choices {
    /// `login` / `init_visitor` visitor ids.
    pub visitor_ids: Vec<String>,
    /// `start_session` custom keys.
    pub custom_keys: Vec<String>,
    /// `session_started` keys from the server.
    pub session_keys: Vec<String>,
    /// `reason` fields.
    pub reasons: Vec<String>,
    /// token, name, email, phone.
    pub texts: Vec<String>,
    /// `presence_signal_agent` event names.
    pub signal_events: Vec<String>,
    /// Signal map keys.
    pub map_keys: Vec<String>,
    /// Signal map values.
    pub map_values: Vec<String>,
    /// The agent's `presence_signal` event names (spec.md §8.2: not `terms`).
    pub agent_events: Vec<String>,
}

/// The choices, built once.
pub static CHOICES: LazyLock<Choices> = LazyLock::new(|| {
    let v = |xs: &[&str]| xs.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let rep = |c: &str, n: usize| c.repeat(n);
    Choices {
        visitor_ids: {
            let mut ids = v(&["cust-42", "cust-7", "a", "A-z_0~9", "", "bad id", "é"]);
            ids.extend([rep("v", 62), rep("v", 63)]);
            ids
        },
        custom_keys: {
            let mut keys = v(&["abc", "cust-42", "GLANCE_KEYTYPE_RANDOM", "1234", "", "a~b"]);
            keys.extend([rep("k", 63), rep("k", 64)]);
            keys
        },
        session_keys: v(&[
            "1234",
            "0000",
            "cust-42",
            "abc",
            "12a4",
            "",
            "a b",
            "GLANCE_KEYTYPE_RANDOM",
            "cust-7",
            "~",
        ]),
        reasons: {
            let mut r = v(&[
                "visitor_ended",
                "agent_ended",
                "unknown_group",
                "session_exists",
                "unknown_visitor",
                "",
            ]);
            r.extend([rep("r", 256), rep("r", 257)]);
            r
        },
        texts: {
            let mut t = v(&["", "Ann"]);
            t.extend([rep("n", 63), rep("n", 64), rep("e", 128), rep("p", 32)]);
            t.push(rep("t", 1025));
            t
        },
        agent_events: {
            let mut e = v(&["open_page", "terms", "", "event"]);
            e.push(rep("e", 255));
            e.push(rep("e", 256));
            e
        },
        signal_events: {
            let mut e = v(&["terms", "hello", ""]);
            e.push(rep("e", 256));
            e
        },
        map_keys: {
            let mut k = v(&["status", "x", "page", "event"]);
            k.push(rep("k", 256));
            k
        },
        map_values: v(&["displayed", "accepted", "declined", "maybe", "", "cart"]),
    }
});

// ---- reading ---------------------------------------------------------------------------

/// One byte (zero when the input is used up).
pub fn byte(u: &mut Unstructured<'_>) -> u8 {
    u8::arbitrary(u).unwrap_or(0)
}

fn raw<const N: usize>(u: &mut Unstructured<'_>) -> [u8; N] {
    let mut out = [0u8; N];
    let n = N.min(u.len());
    if let Ok(b) = u.bytes(n) {
        out[..n].copy_from_slice(b);
    }
    out
}

/// Up to `n` bytes (fewer when the input is used up).
pub fn take<'a>(u: &mut Unstructured<'a>, n: usize) -> &'a [u8] {
    let n = n.min(u.len());
    u.bytes(n).unwrap_or(&[])
}

/// A small integer: one byte below `0xF0`, else 4 bytes little-endian.
pub fn small_u32(u: &mut Unstructured<'_>) -> u32 {
    match byte(u) {
        b if b < 0xF0 => u32::from(b),
        _ => u32::from_le_bytes(raw(u)),
    }
}

/// A small integer: one byte below `0xF0`, else 8 bytes little-endian.
pub fn small_u64(u: &mut Unstructured<'_>) -> u64 {
    match byte(u) {
        b if b < 0xF0 => u64::from(b),
        _ => u64::from_le_bytes(raw(u)),
    }
}

/// Two bytes little-endian.
pub fn u16_le(u: &mut Unstructured<'_>) -> u16 {
    u16::from_le_bytes(raw(u))
}

/// A text: a byte below `choices.len()` picks a choice; `0xFF` is followed by a length byte
/// and that many bytes, `0xFE` by a 2-byte length (lossy UTF-8); any other byte picks a
/// choice modulo the list.
pub fn text(u: &mut Unstructured<'_>, choices: &[String]) -> String {
    let b = byte(u);
    let raw_text =
        |u: &mut Unstructured<'_>, len: usize| String::from_utf8_lossy(take(u, len)).into_owned();
    match b {
        0xFF => {
            let len = usize::from(byte(u));
            raw_text(u, len)
        }
        0xFE => {
            let len = usize::from(u16_le(u));
            raw_text(u, len)
        }
        _ => choices
            .get(usize::from(b) % choices.len().max(1))
            .cloned()
            .unwrap_or_default(),
    }
}

/// A group id (an `Int32`): `0` is 19921 (the simulated group), `1..0xF0` is the byte minus
/// one, else 4 raw bytes (little-endian two's complement: negative ids too).
pub fn group_id(u: &mut Unstructured<'_>) -> i32 {
    match byte(u) {
        0 => cobrowse_visitor_core::SEED_GROUP_ID,
        b if b < 0xF0 => i32::from(b) - 1,
        _ => i32::from_le_bytes(raw(u)),
    }
}

/// Start options (spec.md §3.3) from a code 0..=7 and two flags: code bit 0 `paused`, bit 1
/// `persist: false`, bits 2–4 `max_guests`: 0–3 absent, 4 `1`, 5 `2`, 6 the refused `0`, 7
/// the refused `32768` (S-A27). Code 0 is the defaults.
pub fn start_options_of(code: u8) -> StartOptions {
    StartOptions {
        paused: code & 1 == 1,
        persist: code & 2 == 0,
        max_guests: match (code >> 2) & 7 {
            4 => Some(1),
            5 => Some(2),
            6 => Some(0),
            7 => Some(32768),
            _ => None,
        },
    }
}

/// The code [`start_options_of`] reads back as `o`, when there is one.
pub fn start_options_code(o: &StartOptions) -> Option<u8> {
    let guests = match o.max_guests {
        None => 0,
        Some(1) => 4,
        Some(2) => 5,
        Some(0) => 6,
        Some(32768) => 7,
        Some(_) => return None,
    };
    Some(u8::from(o.paused) | u8::from(!o.persist) << 1 | guests << 2)
}

/// A scenario config: flags (bit 0 `custom_ui`, bit 1 `consent_policy: agent_may_start`,
/// bit 2 `agent_start`, bit 3 `presence: false`, bits 4–5 the limits profile: 0 and 3
/// `glance5`, 1 `glance_core`, 2 `web_compatible`, bit 6 `presence_unavailable`, bit 7: a
/// byte of start options follows the seed, [`start_options_of`] its low 5 bits, refused
/// `max_guests` read as absent: a config line with them is refused), group id, seed. A flags
/// byte of 0 or 1 is the contract's config of before spec.md §13.1.
pub fn config(u: &mut Unstructured<'_>) -> ScenarioConfig {
    let flags = byte(u);
    let group_id = group_id(u);
    let seed = small_u64(u);
    let mut start_options = if flags & 128 == 128 {
        start_options_of(byte(u) & 31)
    } else {
        StartOptions::default()
    };
    if start_options.validate().is_err() {
        start_options.max_guests = None;
    }
    ScenarioConfig {
        custom_ui: flags & 1 == 1,
        group_id,
        seed,
        consent_policy: if flags & 2 == 2 {
            ConsentPolicy::AgentMayStart
        } else {
            ConsentPolicy::TermsRequired
        },
        agent_start: flags & 4 == 4,
        presence: flags & 8 == 0,
        limits: match (flags >> 4) & 3 {
            1 => Limits::GlanceCore,
            2 => Limits::WebCompatible,
            _ => Limits::Glance5,
        },
        presence_unavailable: flags & 64 == 64,
        start_options,
    }
}

/// A string map: a byte of entries (at most `max`), then each key and value from `keys` and
/// `values`.
pub fn map(
    u: &mut Unstructured<'_>,
    max: usize,
    keys: &[String],
    values: &[String],
) -> BTreeMap<String, String> {
    let entries = usize::from(byte(u)).min(max);
    let mut map = BTreeMap::new();
    for _ in 0..entries {
        let k = text(u, keys);
        let v = text(u, values);
        map.insert(k, v);
    }
    map
}

/// Entries of a presence data map (`presence_data`): up to 40 (the merged bound is 32).
pub const MAX_DATA_ENTRIES: usize = 40;

/// The agent's custom signal (`{"agent": "signal", …}`): an event and a map.
pub fn agent_signal(u: &mut Unstructured<'_>) -> (String, BTreeMap<String, String>) {
    let c = &*CHOICES;
    let event = text(u, &c.agent_events);
    (event, map(u, 20, &c.map_keys, &c.map_values))
}

/// A user message (`send_user_message`, the agent's `user_message`): a name and a map, from
/// the agent's event names (valid ones, the empty one, one too long) and the map choices.
pub fn user_message(u: &mut Unstructured<'_>) -> (String, BTreeMap<String, String>) {
    let c = &*CHOICES;
    let name = text(u, &c.agent_events);
    (name, map(u, 20, &c.map_keys, &c.map_values))
}

/// A user state (`set_user_state`): a name from the map keys and a value from the map
/// values.
pub fn user_state(u: &mut Unstructured<'_>) -> (String, String) {
    let c = &*CHOICES;
    let name = text(u, &c.map_keys);
    (name, text(u, &c.map_values))
}

/// `connect(maxAttempts)`: byte 0 is `-1` (forever), `1..0xF0` the byte minus one (so 0, the
/// refused bound, and small bounds), else 4 raw bytes.
pub fn max_attempts(u: &mut Unstructured<'_>) -> i32 {
    match byte(u) {
        0 => cobrowse_visitor_core::ATTEMPTS_FOREVER,
        b if b < 0xF0 => i32::from(b) - 1,
        _ => i32::from_le_bytes(raw(u)),
    }
}

/// A user intent (`0xFF`: derived).
pub fn intent(u: &mut Unstructured<'_>) -> UserIntent {
    match byte(u) {
        DERIVED => UserIntent::arbitrary(u).unwrap_or(UserIntent::Launch),
        b => match b % 12 {
            0 => UserIntent::Launch,
            1 => UserIntent::TapCobrowse,
            2 => UserIntent::Login {
                visitor_id: text(u, &CHOICES.visitor_ids),
            },
            3 => UserIntent::AcceptTerms,
            4 => UserIntent::DeclineTerms,
            5 => UserIntent::EndSession,
            6 => UserIntent::Logout,
            7 => UserIntent::Exit,
            8 => UserIntent::PresenceData {
                map: map(u, MAX_DATA_ENTRIES, &CHOICES.map_keys, &CHOICES.map_values),
            },
            9 => UserIntent::TogglePause,
            10 => {
                let (name, map) = user_message(u);
                UserIntent::SendMessage { name, map }
            }
            _ => {
                let (name, value) = user_state(u);
                UserIntent::SetUserState { name, value }
            }
        },
    }
}

/// An agent action.
pub fn agent(u: &mut Unstructured<'_>) -> AgentAction {
    match byte(u) % 5 {
        0 => AgentAction::Join,
        1 => AgentAction::Leave,
        2 => AgentAction::StartPresenceSession,
        3 => AgentAction::EndSession,
        _ => AgentAction::StartWithoutTerms,
    }
}

/// A network change.
pub fn network(u: &mut Unstructured<'_>) -> NetworkChange {
    if byte(u).is_multiple_of(2) {
        NetworkChange::Lost
    } else {
        NetworkChange::Restored
    }
}

/// A lifecycle change; `terminate` only when `with_terminate` (a scenario cannot say it).
pub fn lifecycle(u: &mut Unstructured<'_>, with_terminate: bool) -> Lifecycle {
    let n = if with_terminate { 3 } else { 2 };
    match byte(u) % n {
        0 => Lifecycle::Background,
        1 => Lifecycle::Foreground,
        _ => Lifecycle::Terminate,
    }
}

/// A span of time in ms: class byte 0 is 2 bytes of ms (up to 65.5 s), 1 is a byte of tens
/// of seconds (up to 42.5 min: past every timer of spec.md §7), 2 (only when `huge`) is 8
/// raw bytes of ms. Longer spans only make retry loops longer, and the run slower.
pub fn duration_ms(u: &mut Unstructured<'_>, huge: bool) -> u64 {
    let classes = if huge { 3 } else { 2 };
    match byte(u) % classes {
        0 => u64::from(u16_le(u)),
        1 => u64::from(byte(u)) * 10_000,
        _ => u64::from_le_bytes(raw(u)),
    }
}

/// An API call (`0xFF`: derived).
pub fn call(u: &mut Unstructured<'_>) -> ApiCall {
    let c = &*CHOICES;
    match byte(u) {
        DERIVED => ApiCall::arbitrary(u).unwrap_or(ApiCall::EndSession),
        b => match b % 13 {
            0 => {
                let group_id = group_id(u);
                let token = text(u, &c.texts);
                let name = text(u, &c.texts);
                let email = text(u, &c.texts);
                let phone = text(u, &c.texts);
                let visitor_id = match byte(u) % 2 {
                    0 => None,
                    _ => Some(text(u, &c.visitor_ids)),
                };
                ApiCall::InitVisitor(InitParams {
                    group_id,
                    token,
                    name,
                    email,
                    phone,
                    visitor_id,
                })
            }
            1 => ApiCall::SetDefaultUi {
                enabled: byte(u) % 2 == 1,
            },
            // one byte: the key's kind (modulo 3) and the options' code (the quotient)
            2 => {
                let b = byte(u);
                let key = match b % 3 {
                    0 => StartKey::Random,
                    1 => StartKey::VisitorId,
                    _ => StartKey::Custom(text(u, &c.custom_keys)),
                };
                ApiCall::StartSession(StartParams {
                    key,
                    options: start_options_of((b / 3) & 31),
                })
            }
            3 => ApiCall::EndSession,
            4 => ApiCall::PresenceConnect {
                max_attempts: max_attempts(u),
            },
            5 => ApiCall::PresenceSetDefaultUi {
                enabled: byte(u) % 2 == 1,
            },
            6 => {
                let event = text(u, &c.signal_events);
                let map = map(u, 20, &c.map_keys, &c.map_values);
                ApiCall::PresenceSignalAgent { event, map }
            }
            7 => ApiCall::PresenceDisconnect,
            8 => ApiCall::PresenceData {
                map: map(u, MAX_DATA_ENTRIES, &c.map_keys, &c.map_values),
            },
            9 => ApiCall::PresenceSignalVisibility {
                visible: byte(u) % 2 == 1,
            },
            10 => ApiCall::Pause {
                paused: byte(u) % 2 == 1,
            },
            11 => {
                let (name, map) = user_message(u);
                ApiCall::SendUserMessage { name, map }
            }
            _ => {
                let (name, value) = user_state(u);
                ApiCall::SetUserState { name, value }
            }
        },
    }
}

/// A server frame (`0xFF`: derived).
pub fn frame(u: &mut Unstructured<'_>) -> ServerFrame {
    let c = &*CHOICES;
    match byte(u) {
        DERIVED => ServerFrame::arbitrary(u).unwrap_or(ServerFrame::PresenceBlur {}),
        b => match b % 14 {
            0 => ServerFrame::Settings {
                v: small_u32(u) ^ 1,
                key_length: byte(u),
                agent_start: byte(u) % 2 == 1,
            },
            1 => ServerFrame::InitFailed {
                reason: text(u, &c.reasons),
            },
            2 => ServerFrame::SessionStarted {
                sessionkey: text(u, &c.session_keys),
            },
            3 => ServerFrame::SessionRefused {
                reason: text(u, &c.reasons),
            },
            4 => ServerFrame::GuestCount {
                guestcount: small_u32(u),
            },
            5 => ServerFrame::SessionEnded {
                reason: text(u, &c.reasons),
            },
            6 => ServerFrame::PresenceConnected {},
            7 => ServerFrame::PresenceConnectFailed {
                reason: text(u, &c.reasons),
            },
            8 => ServerFrame::PresenceShowTerms {
                request_id: small_u64(u),
            },
            9 => ServerFrame::PresenceBlur {},
            10 => {
                let (event, map) = agent_signal(u);
                ServerFrame::PresenceSignal { event, map }
            }
            11 => ServerFrame::PresenceStartSession {
                request_id: small_u64(u),
            },
            12 => ServerFrame::PresenceNotConfigured {},
            _ => {
                let (name, map) = user_message(u);
                ServerFrame::UserMessage { name, map }
            }
        },
    }
}

// ---- writing ---------------------------------------------------------------------------

/// Writes values so that the readers above read them back exactly (for values the choices or
/// raw texts can express; see [`Writer::text`]).
#[derive(Default, Debug)]
pub struct Writer {
    bytes: Vec<u8>,
}

impl Writer {
    /// The bytes written.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// One byte.
    pub fn byte(&mut self, b: u8) {
        self.bytes.push(b);
    }

    /// See [`small_u32`].
    pub fn small_u32(&mut self, v: u32) {
        match u8::try_from(v) {
            Ok(b) if b < 0xF0 => self.byte(b),
            _ => {
                self.byte(0xF0);
                self.bytes.extend(v.to_le_bytes());
            }
        }
    }

    /// See [`small_u64`].
    pub fn small_u64(&mut self, v: u64) {
        match u8::try_from(v) {
            Ok(b) if b < 0xF0 => self.byte(b),
            _ => {
                self.byte(0xF0);
                self.bytes.extend(v.to_le_bytes());
            }
        }
    }

    /// See [`u16_le`].
    pub fn u16_le(&mut self, v: u16) {
        self.bytes.extend(v.to_le_bytes());
    }

    /// See [`text`]. Panics on a text longer than 65535 bytes (no seed has one).
    pub fn text(&mut self, s: &str, choices: &[String]) {
        if let Some(i) = choices.iter().position(|c| c == s) {
            if let Ok(b) = u8::try_from(i) {
                if b < 0xFE {
                    self.byte(b);
                    return;
                }
            }
        }
        match u8::try_from(s.len()) {
            Ok(len) => {
                self.byte(0xFF);
                self.byte(len);
            }
            Err(_) => {
                let len = u16::try_from(s.len()).expect("a seed text longer than 65535 bytes");
                self.byte(0xFE);
                self.u16_le(len);
            }
        }
        self.bytes.extend(s.as_bytes());
    }

    /// See [`group_id`].
    pub fn group_id(&mut self, g: i32) {
        match g {
            cobrowse_visitor_core::SEED_GROUP_ID => self.byte(0),
            g if (0..0xEF).contains(&g) => self.byte(u8::try_from(g + 1).unwrap_or(0xF0)),
            g => {
                self.byte(0xF0);
                self.bytes.extend(g.to_le_bytes());
            }
        }
    }

    /// See [`config`].
    pub fn config(&mut self, c: &ScenarioConfig) {
        let limits = match c.limits {
            Limits::Glance5 => 0,
            Limits::GlanceCore => 1,
            Limits::WebCompatible => 2,
        };
        self.byte(
            u8::from(c.custom_ui)
                | u8::from(c.consent_policy == ConsentPolicy::AgentMayStart) << 1
                | u8::from(c.agent_start) << 2
                | u8::from(!c.presence) << 3
                | limits << 4
                | u8::from(c.presence_unavailable) << 6
                | u8::from(!c.start_options.is_default()) << 7,
        );
        self.group_id(c.group_id);
        self.small_u64(c.seed);
        if !c.start_options.is_default() {
            self.byte(start_options_code(&c.start_options).unwrap_or(0));
        }
    }

    /// See [`intent`].
    pub fn intent(&mut self, i: &UserIntent) {
        match i {
            UserIntent::Launch => self.byte(0),
            UserIntent::TapCobrowse => self.byte(1),
            UserIntent::Login { visitor_id } => {
                self.byte(2);
                self.text(visitor_id, &CHOICES.visitor_ids);
            }
            UserIntent::AcceptTerms => self.byte(3),
            UserIntent::DeclineTerms => self.byte(4),
            UserIntent::EndSession => self.byte(5),
            UserIntent::Logout => self.byte(6),
            UserIntent::Exit => self.byte(7),
            UserIntent::PresenceData { map } => {
                self.byte(8);
                self.map(
                    map,
                    MAX_DATA_ENTRIES,
                    &CHOICES.map_keys,
                    &CHOICES.map_values,
                );
            }
            UserIntent::TogglePause => self.byte(9),
            UserIntent::SendMessage { name, map } => {
                self.byte(10);
                self.user_message(name, map);
            }
            UserIntent::SetUserState { name, value } => {
                self.byte(11);
                self.user_state(name, value);
            }
        }
    }

    /// See [`user_message`].
    pub fn user_message(&mut self, name: &str, map: &BTreeMap<String, String>) {
        let c = &*CHOICES;
        self.text(name, &c.agent_events);
        self.map(map, 20, &c.map_keys, &c.map_values);
    }

    /// See [`user_state`].
    pub fn user_state(&mut self, name: &str, value: &str) {
        let c = &*CHOICES;
        self.text(name, &c.map_keys);
        self.text(value, &c.map_values);
    }

    /// See [`map`]: at most `max` entries are written.
    pub fn map(
        &mut self,
        map: &BTreeMap<String, String>,
        max: usize,
        keys: &[String],
        values: &[String],
    ) {
        let n = map.len().min(max);
        self.byte(u8::try_from(n).unwrap_or(u8::MAX));
        for (k, v) in map.iter().take(n) {
            self.text(k, keys);
            self.text(v, values);
        }
    }

    /// See [`agent_signal`].
    pub fn agent_signal(&mut self, event: &str, map: &BTreeMap<String, String>) {
        let c = &*CHOICES;
        self.text(event, &c.agent_events);
        self.map(map, 20, &c.map_keys, &c.map_values);
    }

    /// See [`max_attempts`].
    pub fn max_attempts(&mut self, n: i32) {
        match n {
            cobrowse_visitor_core::ATTEMPTS_FOREVER => self.byte(0),
            n if (0..0xEF).contains(&n) => self.byte(u8::try_from(n + 1).unwrap_or(0xF0)),
            n => {
                self.byte(0xF0);
                self.bytes.extend(n.to_le_bytes());
            }
        }
    }

    /// See [`agent`].
    pub fn agent(&mut self, a: AgentAction) {
        self.byte(match a {
            AgentAction::Join => 0,
            AgentAction::Leave => 1,
            AgentAction::StartPresenceSession => 2,
            AgentAction::EndSession => 3,
            AgentAction::StartWithoutTerms => 4,
        });
    }

    /// See [`network`].
    pub fn network(&mut self, n: NetworkChange) {
        self.byte(match n {
            NetworkChange::Lost => 0,
            NetworkChange::Restored => 1,
        });
    }

    /// See [`lifecycle`].
    pub fn lifecycle(&mut self, l: Lifecycle) {
        self.byte(match l {
            Lifecycle::Background => 0,
            Lifecycle::Foreground => 1,
            Lifecycle::Terminate => 2,
        });
    }

    /// See [`duration_ms`]; `huge` must match the reader's.
    pub fn duration_ms(&mut self, ms: u64, huge: bool) {
        if let Ok(short) = u16::try_from(ms) {
            self.byte(0);
            self.u16_le(short);
        } else if let Some(tens) = ms
            .is_multiple_of(10_000)
            .then(|| u8::try_from(ms / 10_000).ok())
            .flatten()
        {
            self.byte(1);
            self.byte(tens);
        } else if huge {
            self.byte(2);
            self.bytes.extend(ms.to_le_bytes());
        } else {
            // not expressible without the huge class: the longest span that is
            self.byte(1);
            self.byte(u8::MAX);
        }
    }

    /// See [`call`].
    pub fn call(&mut self, call: &ApiCall) {
        let c = &*CHOICES;
        match call {
            ApiCall::InitVisitor(p) => {
                self.byte(0);
                self.group_id(p.group_id);
                for t in [&p.token, &p.name, &p.email, &p.phone] {
                    self.text(t, &c.texts);
                }
                match &p.visitor_id {
                    None => self.byte(0),
                    Some(id) => {
                        self.byte(1);
                        self.text(id, &c.visitor_ids);
                    }
                }
            }
            ApiCall::SetDefaultUi { enabled } => {
                self.byte(1);
                self.byte(u8::from(*enabled));
            }
            ApiCall::StartSession(StartParams { key, options }) => {
                self.byte(2);
                // options without a code are written as the defaults (a seed approximates)
                let code = start_options_code(options).unwrap_or(0);
                let kind = match key {
                    StartKey::Random => 0,
                    StartKey::VisitorId => 1,
                    StartKey::Custom(_) => 2,
                };
                self.byte(kind + 3 * code);
                if let StartKey::Custom(k) = key {
                    self.text(k, &c.custom_keys);
                }
            }
            ApiCall::EndSession => self.byte(3),
            ApiCall::PresenceConnect { max_attempts } => {
                self.byte(4);
                self.max_attempts(*max_attempts);
            }
            ApiCall::PresenceSetDefaultUi { enabled } => {
                self.byte(5);
                self.byte(u8::from(*enabled));
            }
            ApiCall::PresenceSignalAgent { event, map } => {
                self.byte(6);
                self.text(event, &c.signal_events);
                self.map(map, 20, &c.map_keys, &c.map_values);
            }
            ApiCall::PresenceDisconnect => self.byte(7),
            ApiCall::PresenceData { map } => {
                self.byte(8);
                self.map(map, MAX_DATA_ENTRIES, &c.map_keys, &c.map_values);
            }
            ApiCall::PresenceSignalVisibility { visible } => {
                self.byte(9);
                self.byte(u8::from(*visible));
            }
            ApiCall::Pause { paused } => {
                self.byte(10);
                self.byte(u8::from(*paused));
            }
            ApiCall::SendUserMessage { name, map } => {
                self.byte(11);
                self.user_message(name, map);
            }
            ApiCall::SetUserState { name, value } => {
                self.byte(12);
                self.user_state(name, value);
            }
        }
    }

    /// See [`frame`].
    pub fn frame(&mut self, f: &ServerFrame) {
        let c = &*CHOICES;
        match f {
            ServerFrame::Settings {
                v,
                key_length,
                agent_start,
            } => {
                self.byte(0);
                self.small_u32(v ^ 1);
                self.byte(*key_length);
                self.byte(u8::from(*agent_start));
            }
            ServerFrame::InitFailed { reason } => {
                self.byte(1);
                self.text(reason, &c.reasons);
            }
            ServerFrame::SessionStarted { sessionkey } => {
                self.byte(2);
                self.text(sessionkey, &c.session_keys);
            }
            ServerFrame::SessionRefused { reason } => {
                self.byte(3);
                self.text(reason, &c.reasons);
            }
            ServerFrame::GuestCount { guestcount } => {
                self.byte(4);
                self.small_u32(*guestcount);
            }
            ServerFrame::SessionEnded { reason } => {
                self.byte(5);
                self.text(reason, &c.reasons);
            }
            ServerFrame::PresenceConnected {} => self.byte(6),
            ServerFrame::PresenceConnectFailed { reason } => {
                self.byte(7);
                self.text(reason, &c.reasons);
            }
            ServerFrame::PresenceShowTerms { request_id } => {
                self.byte(8);
                self.small_u64(*request_id);
            }
            ServerFrame::PresenceBlur {} => self.byte(9),
            ServerFrame::PresenceSignal { event, map } => {
                self.byte(10);
                self.agent_signal(event, map);
            }
            ServerFrame::PresenceStartSession { request_id } => {
                self.byte(11);
                self.small_u64(*request_id);
            }
            ServerFrame::PresenceNotConfigured {} => self.byte(12),
            ServerFrame::UserMessage { name, map } => {
                self.byte(13);
                self.user_message(name, map);
            }
        }
    }
}
