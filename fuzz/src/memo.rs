//! The JSON round trip of one trace line, remembered for the process.
//!
//! Reading a trace line (`transcript::parse_trace`) is a function of the line's text alone:
//! the reader takes the text line by line and no line's reading depends on another's. So once
//! a line is known to read back as a value, it reads back as that value every time, and a
//! fuzz target that meets the same line again (a mutated input replays most of its parent's
//! records) need not read it again to prove its round trip: [`reads_back_as`] remembers the
//! lines it has proven, with what they read as. A line not proven before is read in full;
//! a line that reads as something else than the record that wrote it is never remembered, so
//! the caller's full path (which reads the whole trace and reports) sees it every time.
//!
//! The memo is per thread and bounded ([`CAPACITY`] lines, then it starts afresh), so memory
//! stays flat over a long fuzzing run. The verdict on an input never depends on what the memo
//! holds (the remembered reading is the reading): only the cost does. The readers themselves
//! are fuzzed on arbitrary text by `check_trace` and `decode_frame`, memo or not.

use cobrowse_visitor_conformance::transcript::{parse_scenario, parse_trace, Step, TraceLine};
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Most lines remembered before the memo starts afresh.
pub const CAPACITY: usize = 1 << 16;

/// A fast, non-cryptographic hash of a line's bytes, eight at a time (the keys are the fuzz
/// target's own lines; a collision costs a comparison, never a wrong verdict).
#[derive(Default)]
struct LineHasher(u64);

impl Hasher for LineHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for b in chunks.remainder() {
            h = (h.rotate_left(5) ^ u64::from(*b)).wrapping_mul(K);
        }
        self.0 = h;
    }
}

/// Lines proven to read back, with what they read as; at most `capacity` of them.
struct Memo<T> {
    proven: HashMap<Box<str>, T, BuildHasherDefault<LineHasher>>,
    capacity: usize,
    /// The reader: what one line reads as, if it reads as exactly one value.
    read: fn(&str) -> Option<T>,
}

impl<T: PartialEq + Clone> Memo<T> {
    fn new(capacity: usize, read: fn(&str) -> Option<T>) -> Memo<T> {
        Memo {
            proven: HashMap::default(),
            capacity,
            read,
        }
    }

    fn reads_back_as(&mut self, line: &str, original: &T) -> bool {
        if let Some(known) = self.proven.get(line) {
            return known == original;
        }
        let back = (self.read)(line).is_some_and(|read| read == *original);
        if back {
            if self.proven.len() >= self.capacity {
                self.proven.clear();
            }
            self.proven.insert(line.into(), original.clone());
        }
        back
    }
}

/// A trace line as `cobrowse check` reads it.
fn read_trace_line(line: &str) -> Option<TraceLine> {
    match parse_trace(line) {
        Ok(mut lines) if lines.len() == 1 && lines[0].0 == 1 => lines.pop().map(|(_, l)| l),
        _ => None,
    }
}

/// A scenario line as `cobrowse run` reads it.
fn read_scenario_line(line: &str) -> Option<Step> {
    match parse_scenario(line) {
        Ok(mut steps) if steps.len() == 1 => steps.pop(),
        _ => None,
    }
}

thread_local! {
    static TRACE: RefCell<Memo<TraceLine>> = RefCell::new(Memo::new(CAPACITY, read_trace_line));
    static SCENARIO: RefCell<Memo<Step>> = RefCell::new(Memo::new(CAPACITY, read_scenario_line));
}

/// Whether `line` (one line of JSON, without its newline) reads back through `parse_trace`
/// as exactly `original`, and as nothing else: the answer of
/// `parse_trace(line) == Ok(vec![(1, original)])`, remembered for lines that read back.
pub fn reads_back_as(line: &str, original: &TraceLine) -> bool {
    TRACE.with(|memo| memo.borrow_mut().reads_back_as(line, original))
}

/// Whether `line` reads back through `parse_scenario` as exactly `[original]`, remembered
/// in the same way. (Where a `config` line may stand is the caller's to judge: that depends
/// on the lines before it.)
pub fn scenario_line_reads_back_as(line: &str, original: &Step) -> bool {
    SCENARIO.with(|memo| memo.borrow_mut().reads_back_as(line, original))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cobrowse_visitor_conformance::transcript::{Observed, Record};
    use cobrowse_visitor_core::ApiCall;

    fn record(step: usize) -> TraceLine {
        TraceLine::Record(Record {
            step,
            observed: Observed::Api(ApiCall::EndSession),
        })
    }

    fn json(line: &TraceLine) -> String {
        crate::report::trace_line_json(line)
    }

    #[test]
    fn a_line_reads_back_as_what_wrote_it_and_as_nothing_else() {
        let mut memo = Memo::new(CAPACITY, read_trace_line);
        let mut reads_back_as =
            |line: &str, original: &TraceLine| memo.reads_back_as(line, original);
        let a = record(3);
        let text = json(&a);
        // first read in full, then remembered: the same answers both times
        for _ in 0..2 {
            assert!(reads_back_as(&text, &a));
            assert!(
                !reads_back_as(&text, &record(4)),
                "another record, the same text"
            );
        }
        let step = TraceLine::Step(Step::AdvanceMs(5));
        assert!(reads_back_as(&json(&step), &step));
        assert!(!reads_back_as(&json(&step), &a));
    }

    #[test]
    fn lines_that_do_not_read_back_are_never_remembered() {
        let mut memo = Memo::new(CAPACITY, read_trace_line);
        let a = record(9);
        for bad in [
            "",
            "not json",
            "{\"step\": 9}",
            "{\"step\":9,\"api\":{\"call\":\"nope\"}}",
        ] {
            assert!(!memo.reads_back_as(bad, &a), "{bad:?}");
        }
        // two lines of text are not one line
        let two = format!("{}\n{}", json(&a), json(&a));
        assert!(!memo.reads_back_as(&two, &a));
        assert!(memo.proven.is_empty());
        // the public entry is the same reading
        assert!(reads_back_as(&json(&a), &a));
        assert!(!reads_back_as(&two, &a));
    }

    #[test]
    fn a_scenario_line_reads_back_as_its_step() {
        let step = Step::AdvanceMs(5);
        let text = step.to_json().to_string();
        for _ in 0..2 {
            assert!(scenario_line_reads_back_as(&text, &step));
            assert!(!scenario_line_reads_back_as(&text, &Step::AdvanceMs(6)));
        }
        // a record is not a scenario line
        let r = record(1);
        assert!(!scenario_line_reads_back_as(&json(&r), &step));
        assert!(!scenario_line_reads_back_as("", &step));
    }

    #[test]
    fn the_memo_stays_bounded() {
        let mut memo = Memo::new(8, read_trace_line);
        for step in 0..20 {
            let r = record(step);
            assert!(memo.reads_back_as(&json(&r), &r));
            assert!(memo.proven.len() <= 8);
            // remembered now: the same answer, from the memo
            assert!(memo.proven.contains_key(json(&r).as_str()));
            assert!(memo.reads_back_as(&json(&r), &r));
        }
    }

    #[test]
    fn the_hash_reads_every_byte() {
        let hash = |b: &[u8]| {
            let mut h = LineHasher::default();
            h.write(b);
            h.finish()
        };
        assert_ne!(hash(b"0123456789abcdef"), hash(b"0123456789abcdeg"));
        assert_ne!(hash(b"01234567x"), hash(b"01234567y"));
        assert_ne!(hash(b"x1234567"), hash(b"y1234567"));
    }
}
