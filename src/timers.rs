//! The SDK core's timers: a small fixed table, one slot per [`Timer`]. The next deadline is the
//! table's minimum; no timer fires before its deadline.

use crate::time::Instant;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Every timer the SDK core may arm. Each belongs to one state (spec.md, "Timers").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Timer {
    /// The settings lookup of `init_visitor` is overdue: go on with defaults.
    InitLookup,
    /// `start_session` got no answer: `EventStartSessionFailed`.
    SessionStart,
    /// `end_session` got no confirmation: end locally.
    SessionEnd,
    /// The link has been down too long for the session to survive.
    SessionGrace,
    /// `presence_connect` got no answer: count it as a failure.
    PresenceConnect,
    /// Backoff after a failed presence connect is over: try again.
    PresenceRetry,
    /// The app has been in the background long enough to suspend presence.
    PresenceSuspend,
    /// Backoff while the link is down is over: ask the IO layer to reconnect.
    Reconnect,
}

impl Timer {
    /// All timers, in the order ties fire.
    pub const ALL: &'static [Timer] = &[
        Timer::InitLookup,
        Timer::SessionStart,
        Timer::SessionEnd,
        Timer::SessionGrace,
        Timer::PresenceConnect,
        Timer::PresenceRetry,
        Timer::PresenceSuspend,
        Timer::Reconnect,
    ];

    /// How many timers there are (the table's size).
    pub const COUNT: usize = Timer::ALL.len();

    fn slot(self) -> usize {
        self as usize
    }
}

/// The timer table: a deadline per timer, or none.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Timers {
    deadlines: [Option<Instant>; Timer::COUNT],
}

impl Timers {
    /// Arms `timer` to fire at `at` (replacing an earlier deadline).
    pub(crate) fn arm(&mut self, timer: Timer, at: Instant) {
        self.deadlines[timer.slot()] = Some(at);
    }

    /// Disarms `timer`.
    pub(crate) fn disarm(&mut self, timer: Timer) {
        self.deadlines[timer.slot()] = None;
    }

    /// Disarms every timer.
    pub(crate) fn clear(&mut self) {
        self.deadlines = [None; Timer::COUNT];
    }

    /// The deadline of `timer`, if armed.
    pub fn deadline(&self, timer: Timer) -> Option<Instant> {
        self.deadlines[timer.slot()]
    }

    /// The earliest deadline of all.
    pub fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Whether any timer is due at `now` (cheaper than [`Timers::due`]: checked on every
    /// input, spec.md §2).
    pub fn any_due(&self, now: Instant) -> bool {
        self.deadlines
            .iter()
            .any(|d| matches!(d, Some(t) if *t <= now))
    }

    /// The first timer due at `now` (earliest deadline; ties in [`Timer::ALL`] order).
    pub fn due(&self, now: Instant) -> Option<Timer> {
        // One pass over the table, in `Timer::ALL` order (a timer's slot is its place there),
        // keeping the first of the earliest: the minimum of `(deadline, timer)`, without the
        // iterator chain's tuples (BENCHMARKS.md, issue 13 round 3).
        let mut first: Option<(Instant, Timer)> = None;
        for (timer, deadline) in Timer::ALL.iter().zip(&self.deadlines) {
            if let Some(d) = *deadline {
                if d <= now && first.is_none_or(|(f, _)| d < f) {
                    first = Some((d, *timer));
                }
            }
        }
        first.map(|(_, t)| t)
    }

    /// The armed timers, in [`Timer::ALL`] order.
    pub fn armed(&self) -> impl Iterator<Item = (Timer, Instant)> + '_ {
        Timer::ALL
            .iter()
            .filter_map(|t| self.deadline(*t).map(|d| (*t, d)))
    }
}

/// Exponential backoff: `base · 2^attempt`, at most `max`.
pub(crate) fn backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    let factor = 1u32 << attempt.min(16);
    base.saturating_mul(factor).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_the_minimum_and_due_respects_deadlines() {
        let mut t = Timers::default();
        assert_eq!(t.next(), None);
        t.arm(Timer::Reconnect, Instant::from_millis(50));
        t.arm(Timer::SessionStart, Instant::from_millis(20));
        assert_eq!(t.next(), Some(Instant::from_millis(20)));
        assert_eq!(t.due(Instant::from_millis(19)), None);
        assert_eq!(t.due(Instant::from_millis(20)), Some(Timer::SessionStart));
        t.disarm(Timer::SessionStart);
        assert_eq!(t.due(Instant::from_millis(60)), Some(Timer::Reconnect));
    }

    #[test]
    fn slots_follow_all_and_ties_fire_in_its_order() {
        for (i, t) in Timer::ALL.iter().enumerate() {
            assert_eq!(t.slot(), i);
        }
        let mut t = Timers::default();
        let at = Instant::from_millis(10);
        t.arm(Timer::Reconnect, at);
        t.arm(Timer::PresenceRetry, at);
        t.arm(Timer::SessionGrace, Instant::from_millis(11));
        assert_eq!(t.due(Instant::from_millis(9)), None);
        assert_eq!(t.due(Instant::from_millis(20)), Some(Timer::PresenceRetry));
        t.disarm(Timer::PresenceRetry);
        assert_eq!(t.due(Instant::from_millis(20)), Some(Timer::Reconnect));
        t.disarm(Timer::Reconnect);
        assert_eq!(t.due(Instant::from_millis(20)), Some(Timer::SessionGrace));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let b = Duration::from_secs(1);
        let m = Duration::from_secs(30);
        assert_eq!(backoff(b, m, 0), Duration::from_secs(1));
        assert_eq!(backoff(b, m, 3), Duration::from_secs(8));
        assert_eq!(backoff(b, m, 5), Duration::from_secs(30));
        assert_eq!(backoff(b, m, u32::MAX), Duration::from_secs(30));
    }
}
