//! The JSON round trip of one trace line, remembered for the process.
//!
//! Writing a trace line (`serde_json` on the record, `Step::to_json` on a scenario line) is a
//! function of the value, and reading it back (`transcript::parse_trace`, `parse_scenario`) a
//! function of the line's text alone: both readers take their text line by line and no line's
//! reading depends on another's (bar where a scenario's `config` line may stand, which the
//! caller judges). So once a value is known to write a line that reads back as the value, it
//! does so every time, and a fuzz target that meets the same value again (a mutated input
//! replays most of its parent's records) need not write and read it again to prove its round
//! trip: [`trace_line_reads_back`] and [`scenario_step_reads_back`] remember the values they
//! have proven. A value not proven before is written and read in full; one that does not read
//! back as itself is never remembered, so the caller's full path (which reads the whole trace
//! and reports) sees it every time.
//!
//! The memo is per thread and bounded ([`CAPACITY`] values, then it starts afresh), so memory
//! stays flat over a long fuzzing run. The verdict on an input never depends on what the memo
//! holds, only the cost does. The readers themselves are fuzzed on arbitrary text
//! by `check_trace` and `decode_frame`, memo or not.

use cobrowse_visitor_conformance::transcript::{parse_scenario, parse_trace, Step, TraceLine};
use std::cell::RefCell;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// Most values remembered before the memo starts afresh.
pub const CAPACITY: usize = 1 << 16;

/// A fast, non-cryptographic hasher (the keys are the fuzz target's own values; a collision
/// costs a comparison, never a wrong verdict).
#[derive(Default)]
struct FastHasher(u64);

impl FastHasher {
    const K: u64 = 0x517c_c1b7_2722_0a95;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::K);
    }
}

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        for b in chunks.remainder() {
            self.add(u64::from(*b));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

/// Values proven to read back as themselves; at most `capacity` of them.
struct Memo<T> {
    proven: HashSet<T, BuildHasherDefault<FastHasher>>,
    capacity: usize,
    /// The round trip itself: whether the value writes a line that reads back as the value.
    round_trip: fn(&T) -> bool,
}

impl<T: Eq + Hash + Clone> Memo<T> {
    fn new(capacity: usize, round_trip: fn(&T) -> bool) -> Memo<T> {
        Memo {
            proven: HashSet::default(),
            capacity,
            round_trip,
        }
    }

    fn reads_back(&mut self, value: &T) -> bool {
        if self.proven.contains(value) {
            return true;
        }
        let back = (self.round_trip)(value);
        if back {
            if self.proven.len() >= self.capacity {
                self.proven.clear();
            }
            self.proven.insert(value.clone());
        }
        back
    }
}

/// A trace line written as `cobrowse run --interleave` writes it (a scenario line as
/// `Step::to_json`, a record by serde), if it writes.
fn trace_line_json(line: &TraceLine) -> Option<String> {
    match line {
        TraceLine::Step(s) => serde_json::to_string(&s.to_json()).ok(),
        TraceLine::Record(r) => serde_json::to_string(r).ok(),
    }
}

/// Whether `line` writes one line of text that `parse_trace` reads back as exactly
/// `[(1, line)]`.
fn trace_round_trip(line: &TraceLine) -> bool {
    trace_line_json(line).is_some_and(
        |text| matches!(parse_trace(&text).as_deref(), Ok([(1, read)]) if read == line),
    )
}

/// Whether `step` writes one line that `parse_scenario` reads back as exactly `[step]`.
fn scenario_round_trip(step: &Step) -> bool {
    serde_json::to_string(&step.to_json())
        .is_ok_and(|text| matches!(parse_scenario(&text).as_deref(), Ok([read]) if read == step))
}

thread_local! {
    static TRACE: RefCell<Memo<TraceLine>> = RefCell::new(Memo::new(CAPACITY, trace_round_trip));
    static SCENARIO: RefCell<Memo<Step>> = RefCell::new(Memo::new(CAPACITY, scenario_round_trip));
}

/// Whether `line`, written as JSON ([`trace_line_json`]), reads back through `parse_trace` as
/// exactly itself, and as one line: remembered for the lines that do.
pub fn trace_line_reads_back(line: &TraceLine) -> bool {
    TRACE.with(|memo| memo.borrow_mut().reads_back(line))
}

/// Whether `step`, written as its scenario line, reads back through `parse_scenario` as
/// exactly itself: remembered likewise. (Where a `config` line may stand is the caller's to
/// judge: that depends on the lines before it.)
pub fn scenario_step_reads_back(step: &Step) -> bool {
    SCENARIO.with(|memo| memo.borrow_mut().reads_back(step))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cobrowse_visitor_conformance::transcript::{Observed, Record, WireFrame};
    use cobrowse_visitor_core::{ApiCall, ServerFrame};

    fn record(step: usize) -> TraceLine {
        TraceLine::Record(Record {
            step,
            observed: Observed::Api(ApiCall::EndSession),
        })
    }

    #[test]
    fn a_line_reads_back_and_is_remembered() {
        let mut memo = Memo::new(CAPACITY, trace_round_trip);
        let a = record(3);
        for _ in 0..2 {
            assert!(memo.reads_back(&a));
            assert!(memo.proven.contains(&a));
        }
        let step = TraceLine::Step(Step::AdvanceMs(5));
        assert!(memo.reads_back(&step));
        // the public entry is the same round trip
        assert!(trace_line_reads_back(&a));
        assert!(scenario_step_reads_back(&Step::AdvanceMs(5)));
    }

    #[test]
    fn a_value_that_does_not_read_back_is_never_remembered() {
        // a frame kept as JSON that is exactly one of the core's frames reads back typed:
        // not as itself
        let typed = ServerFrame::PresenceBlur {};
        let json = serde_json::to_value(&typed).unwrap();
        let line = TraceLine::Record(Record {
            step: 0,
            observed: Observed::Recv(WireFrame::Json(json)),
        });
        let mut memo = Memo::new(CAPACITY, trace_round_trip);
        for _ in 0..2 {
            assert!(!memo.reads_back(&line));
        }
        assert!(memo.proven.is_empty());
        // and the round trip that refuses is the one asked
        let mut never = Memo::new(CAPACITY, |_: &TraceLine| false);
        assert!(!never.reads_back(&record(1)));
        assert!(never.proven.is_empty());
    }

    #[test]
    fn the_memo_stays_bounded() {
        let mut memo = Memo::new(8, trace_round_trip);
        for step in 0..20 {
            let r = record(step);
            assert!(memo.reads_back(&r));
            assert!(memo.proven.len() <= 8);
            assert!(memo.proven.contains(&r));
        }
    }

    #[test]
    fn the_hash_reads_every_byte() {
        let hash = |b: &[u8]| {
            let mut h = FastHasher::default();
            h.write(b);
            h.finish()
        };
        assert_ne!(hash(b"0123456789abcdef"), hash(b"0123456789abcdeg"));
        assert_ne!(hash(b"01234567x"), hash(b"01234567y"));
        assert_ne!(hash(b"x1234567"), hash(b"y1234567"));
    }
}
