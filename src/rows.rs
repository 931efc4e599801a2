//! The transition-table rows of spec.md §5 (SDK core) and §6 (integration controller), as one
//! type. Each machine names the rows an input went through ([`crate::Sdk::last_rows`],
//! [`crate::Controller::last_rows`]); the spec-table test holds every row of spec.md against
//! this enum and the machines against the rows they name.

use std::fmt;

macro_rules! rows {
    ($( $(#[$doc:meta])* $variant:ident = $id:literal, )*) => {
        /// A row of spec.md's transition tables; prints as its ID (`S-A20`, `C-E10`).
        #[allow(clippy::upper_case_acronyms)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum Row {
            $( $(#[$doc])* $variant, )*
        }

        impl Row {
            /// Every row, in the order of spec.md's tables.
            pub const ALL: &'static [Row] = &[$(Row::$variant),*];

            /// The row's ID in spec.md (`S-A20`).
            pub const fn id(self) -> &'static str {
                match self {
                    $(Row::$variant => $id,)*
                }
            }

            /// The row with this ID, if spec.md has it.
            pub fn from_id(id: &str) -> Option<Row> {
                match id {
                    $($id => Some(Row::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

rows! {
    // §5.1 API calls
    /// Any call after terminate.
    SA90 = "S-A90",
    /// `init_visitor` with a bad field.
    SA06 = "S-A06",
    /// The first `init_visitor`.
    SA01 = "S-A01",
    /// `init_visitor` with another group id.
    SA02 = "S-A02",
    /// `init_visitor` again before the first completed.
    SA03 = "S-A03",
    /// A re-init that changes the visitor id while presence is on.
    SA05 = "S-A05",
    /// A re-init once ready.
    SA04 = "S-A04",
    /// A call before `init_visitor`.
    SA91 = "S-A91",
    /// A session or presence call while the first init is pending.
    SA92 = "S-A92",
    /// `set_default_ui`.
    SA10 = "S-A10",
    /// `presence_set_default_ui`.
    SA11 = "S-A11",
    /// `start_session` while a session is active.
    SA21 = "S-A21",
    /// `start_session` with a bad custom key.
    SA25 = "S-A25",
    /// `start_session` with options that break §3.3 (`max_guests`).
    SA27 = "S-A27",
    /// `start_session()` without a visitor id: a random key.
    SA22 = "S-A22",
    /// `start_session()` with the visitor id after accepted terms (one-click).
    SA23 = "S-A23",
    /// `start_session()` with the visitor id after an agent start the policy allows.
    SA26 = "S-A26",
    /// `start_session()` with the visitor id without accepted terms.
    SA24 = "S-A24",
    /// `start_session` accepted.
    SA20 = "S-A20",
    /// `end_session` of a running session.
    SA30 = "S-A30",
    /// `end_session` of a starting session.
    SA31 = "S-A31",
    /// `end_session` with no session.
    SA32 = "S-A32",
    /// `end_session` while ending.
    SA33 = "S-A33",
    /// `presence_connect` with a bad `max_attempts`.
    SA45 = "S-A45",
    /// `presence_connect` without a visitor id.
    SA41 = "S-A41",
    /// `presence_connect` after `EventPresenceNotConfigured`.
    SA46 = "S-A46",
    /// `presence_connect` while presence is on.
    SA42 = "S-A42",
    /// `presence_connect` with the link up after a failed settings lookup: the lookup again.
    SA44 = "S-A44",
    /// `presence_connect` with the link up.
    SA40 = "S-A40",
    /// `presence_connect` with the link down.
    SA43 = "S-A43",
    /// `presence_signal_agent` with a bad event or map.
    SA57 = "S-A57",
    /// `presence_signal_agent` while presence is off or not configured.
    SA51 = "S-A51",
    /// `presence_signal_agent` while presence is wanted but not connected.
    SA58 = "S-A58",
    /// A signal other than `terms`.
    SA50 = "S-A50",
    /// `terms displayed`.
    SA52 = "S-A52",
    /// `terms accepted`.
    SA53 = "S-A53",
    /// `terms declined`.
    SA54 = "S-A54",
    /// `terms displayed` out of order.
    SA55 = "S-A55",
    /// `terms accepted` / `declined` out of order.
    SA56 = "S-A56",
    /// `presence_disconnect` while presence is off.
    SA61 = "S-A61",
    /// `presence_disconnect`.
    SA60 = "S-A60",
    /// `presence_signal_visibility` while presence is off or not configured.
    SA72 = "S-A72",
    /// `presence_signal_visibility` while presence is wanted but not connected.
    SA71 = "S-A71",
    /// `presence_signal_visibility` while connected.
    SA70 = "S-A70",
    /// `presence_data` with a bad map.
    SA81 = "S-A81",
    /// `presence_data`.
    SA80 = "S-A80",
    /// `pause` with no running session.
    SA101 = "S-A101",
    /// `pause(p)`.
    SA100 = "S-A100",
    /// `send_user_message` with a bad name or map.
    SA112 = "S-A112",
    /// `send_user_message` with no running session.
    SA111 = "S-A111",
    /// `send_user_message`.
    SA110 = "S-A110",
    /// `set_user_state` with a bad name or value, or too many states.
    SA122 = "S-A122",
    /// `set_user_state` with no running session.
    SA121 = "S-A121",
    /// `set_user_state`.
    SA120 = "S-A120",
    // §5.2 server frames
    /// An invalid frame.
    SF98 = "S-F98",
    /// The first init's settings.
    SF01 = "S-F01",
    /// The first init's lookup failed.
    SF02 = "S-F02",
    /// A re-init's settings.
    SF03 = "S-F03",
    /// A re-init's lookup failed.
    SF04 = "S-F04",
    /// The settings answer to an `init` re-sent on a new link.
    SF05 = "S-F05",
    /// The failed answer to an `init` re-sent on a new link.
    SF06 = "S-F06",
    /// A random key that is not digits.
    SF16 = "S-F16",
    /// A key other than the one asked for.
    SF15 = "S-F15",
    /// `session_started`.
    SF10 = "S-F10",
    /// `session_refused`.
    SF11 = "S-F11",
    /// `guest_count` while running.
    SF12 = "S-F12",
    /// `guest_count` while ending.
    SF13 = "S-F13",
    /// `session_ended`.
    SF14 = "S-F14",
    /// `presence_connected`.
    SF20 = "S-F20",
    /// `presence_connect_failed`, the last attempt.
    SF21b = "S-F21b",
    /// `presence_connect_failed`.
    SF21 = "S-F21",
    /// `presence_show_terms`.
    SF22 = "S-F22",
    /// `presence_blur`.
    SF23 = "S-F23",
    /// `presence_signal`: a custom signal from the agent.
    SF24 = "S-F24",
    /// `presence_start_session` that the policy and the group both allow.
    SF25 = "S-F25",
    /// `presence_start_session` otherwise: the terms flow.
    SF26 = "S-F26",
    /// `presence_not_configured`.
    SF27 = "S-F27",
    /// `user_message` from an agent while the session runs.
    SF30 = "S-F30",
    /// A frame the state does not expect.
    SF99 = "S-F99",
    // §5.3 lifecycle
    /// Background or foreground as the app already is.
    SL03 = "S-L03",
    /// To the background.
    SL01 = "S-L01",
    /// To the foreground with presence suspended or blurred.
    SL02b = "S-L02b",
    /// To the foreground.
    SL02a = "S-L02a",
    /// Terminate once ready.
    SL04 = "S-L04",
    /// Terminate before ready.
    SL05 = "S-L05",
    // §5.4 network
    /// A network change after terminate.
    SN05 = "S-N05",
    /// The link already as reported.
    SN03 = "S-N03",
    /// The link is lost.
    SN01 = "S-N01",
    /// The link is back.
    SN02 = "S-N02",
    // §5.5 timers
    /// The first init's lookup is overdue.
    ST01 = "S-T01",
    /// A re-init's lookup is overdue.
    ST02 = "S-T02",
    /// The start is overdue.
    ST03 = "S-T03",
    /// The end is overdue, link up.
    ST04 = "S-T04",
    /// The end is overdue, link down.
    ST04b = "S-T04b",
    /// The grace of a starting session is over.
    ST05a = "S-T05a",
    /// The grace of a running or ending session is over.
    ST05b = "S-T05b",
    /// The last presence connect attempt is overdue.
    ST06c = "S-T06c",
    /// A presence connect is overdue.
    ST06a = "S-T06a",
    /// A presence retry is due.
    ST06b = "S-T06b",
    /// Presence is suspended in the background.
    ST07 = "S-T07",
    /// Presence stays up in the background for a terms request the customer sees.
    ST07b = "S-T07b",
    /// A reconnect is due.
    ST08 = "S-T08",
    // §5.6 restore after an app restart
    /// A snapshot with a session young enough to resume.
    SR01 = "S-R01",
    /// A snapshot with a session gone longer than the grace.
    SR02 = "S-R02",
    /// A snapshot without a running or ending session.
    SR03 = "S-R03",
    /// A snapshot with an ending session young enough to end.
    SR04 = "S-R04",
    // §6 controller
    /// `launch`.
    CU01 = "C-U01",
    /// `launch` again.
    CU02 = "C-U02",
    /// Any intent after `exit`.
    CU03 = "C-U03",
    /// Any intent before `launch`.
    CU04 = "C-U04",
    /// `tap_cobrowse` on the shown button.
    CU10 = "C-U10",
    /// `tap_cobrowse` otherwise.
    CU11 = "C-U11",
    /// `login` with a bad visitor id.
    CU21 = "C-U21",
    /// `login` while logged in.
    CU22 = "C-U22",
    /// `login`.
    CU20 = "C-U20",
    /// `accept_terms` / `decline_terms` without terms shown.
    CU32 = "C-U32",
    /// `accept_terms`.
    CU30 = "C-U30",
    /// `decline_terms`.
    CU31 = "C-U31",
    /// `end_session`.
    CU40 = "C-U40",
    /// `end_session` without a session.
    CU41 = "C-U41",
    /// `logout` while anonymous.
    CU51 = "C-U51",
    /// `logout`.
    CU50 = "C-U50",
    /// `exit`.
    CU60 = "C-U60",
    /// `presence_data` before the first `EventVisitorInitialized`.
    CU72 = "C-U72",
    /// `presence_data` the core would refuse.
    CU71 = "C-U71",
    /// `presence_data`: the app's data for the agent's view, passed through.
    CU70 = "C-U70",
    /// `toggle_pause` with no running session.
    CU81 = "C-U81",
    /// `toggle_pause`.
    CU80 = "C-U80",
    /// `send_message` / `set_user_state` with no running session.
    CU85 = "C-U85",
    /// `send_message` / `set_user_state` with a field the core would refuse.
    CU84 = "C-U84",
    /// `send_message`: the app's message to the agents, passed through.
    CU82 = "C-U82",
    /// `set_user_state`: passed through.
    CU83 = "C-U83",
    /// Background / foreground.
    CL01 = "C-L01",
    /// The first `EventVisitorInitialized`.
    CE01 = "C-E01",
    /// `EventVisitorInitialized` after login.
    CE02 = "C-E02",
    /// `EventConnectedToSession`.
    CE10 = "C-E10",
    /// `EventStartSessionFailed`.
    CE11 = "C-E11",
    /// `EventSessionEnded`.
    CE12 = "C-E12",
    /// `EventPresenceConnected`.
    CE20 = "C-E20",
    /// `EventPresenceShowTerms`.
    CE22 = "C-E22",
    /// `EventPresenceDisconnected`.
    CE23 = "C-E23",
    /// `EventPresenceBlur`.
    CE24 = "C-E24",
    /// `EventConnectionWarning`.
    CE25 = "C-E25",
    /// `EventPresenceStartSession`: the one-click session the agent started.
    CE26 = "C-E26",
    /// `EventPresenceSignal`: handed to the app.
    CE27 = "C-E27",
    /// `EventPresenceNotConfigured`: presence is no longer offered.
    CE28 = "C-E28",
    /// `EventPresenceConnectFail` after the last attempt: presence is off.
    CE29 = "C-E29",
    /// `EventMessageReceived`: handed to the app.
    CE31 = "C-E31",
    /// A refused `start_session` of the controller's own.
    CE30 = "C-E30",
    /// Events that change nothing.
    CE40 = "C-E40",
    /// Any event before launch or after exit.
    CE99 = "C-E99",
    // §6.1 restore
    /// The controller restored after an app restart.
    CR01 = "C-R01",
}

impl Row {
    /// Whether the row belongs to the SDK core's table (§5), else the controller's (§6).
    pub fn is_sdk(self) -> bool {
        self.id().starts_with("S-")
    }
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// The rows one input went through, in order: a small fixed buffer (no allocation, 1 byte a
/// row), rewritten on every input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Rows {
    ids: [Row; Rows::CAPACITY],
    len: u8,
}

impl Default for Rows {
    fn default() -> Self {
        // the filler is never read: only the first `len` slots are
        Rows {
            ids: [Row::SA90; Rows::CAPACITY],
            len: 0,
        }
    }
}

impl Rows {
    /// Most rows one input goes through: every timer firing at once, plus one.
    pub(crate) const CAPACITY: usize = crate::timers::Timer::ALL.len() + 1;

    pub(crate) fn push(&mut self, row: Row) {
        if let Some(slot) = self.ids.get_mut(usize::from(self.len)) {
            *slot = row;
            self.len += 1;
        }
    }

    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    pub(crate) fn as_slice(&self) -> &[Row] {
        self.ids.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for row in Row::ALL {
            assert_eq!(Row::from_id(row.id()), Some(*row));
            assert!(seen.insert(row.id()), "{row} twice");
        }
        assert_eq!(Row::from_id("S-A00"), None);
    }
}
