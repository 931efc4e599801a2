//! `check_trace`: arbitrary bytes as a trace file into the check (`transcript::parse_trace`
//! and the oracle), the way `cobrowse check` reads one.
//!
//! - A trace over [`MAX_TRACE_BYTES`] is refused up front (a file that large is not a trace);
//!   bytes that are not UTF-8 are an error (`check` says so). Neither reaches the parser.
//! - Read line by line as `cobrowse check` does (one line parsed at a time into a streaming
//!   `Oracle`) and read whole (`parse_trace` + `check_trace`), the answer is the same: the
//!   same parse error at the same line, or the same violations.
//! - Line by line, the heap never holds more than a few times the longest line plus a few
//!   times the trace (the violations found): memory is bounded per line, not per trace.
//! - What the oracle reports makes sense for a trace: never a machine-level invariant, never
//!   one that needs scenario lines when there are none, never a line past the end.

use crate::memory;
use crate::report::Failure;
use cobrowse_visitor_conformance::oracle::{check_trace, InvariantKind, Oracle, Violation};
use cobrowse_visitor_conformance::transcript::{parse_trace, ParseError, TraceLine};

const TARGET: &str = "check_trace";

/// Largest trace the target reads.
pub const MAX_TRACE_BYTES: usize = 1 << 20;

/// Heap allowed for the line-by-line check: this many times the longest line, …
const PER_LINE_FACTOR: usize = 64;
/// … plus this many times the trace (the violations found, a few per line at most), …
const PER_TRACE_FACTOR: usize = 32;
/// … plus this much.
const SLACK: usize = 1 << 20;

/// `cobrowse check`'s way: one line at a time.
fn line_by_line(text: &str) -> Result<Vec<Violation>, ParseError> {
    let mut oracle = Oracle::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let parsed = parse_trace(line).map_err(|e| ParseError {
            line: n,
            message: e.message,
        })?;
        for (_, item) in &parsed {
            oracle.observe(n, item);
        }
    }
    Ok(oracle.finish())
}

/// Judges one input; `Err` is the finding, ready to print.
pub fn run(data: &[u8]) -> Result<(), Failure> {
    if data.len() > MAX_TRACE_BYTES {
        return Ok(());
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return Ok(());
    };
    let fail = |headline: String| {
        Failure::new(TARGET, headline).section(
            "the trace",
            String::from_utf8_lossy(&data[..data.len().min(16 * 1024)]).into_owned(),
        )
    };

    let base = memory::live();
    memory::reset_peak();
    let streamed = line_by_line(text);
    let used = memory::peak().saturating_sub(base);
    let longest = text.lines().map(str::len).max().unwrap_or(0);
    let allowed = PER_LINE_FACTOR
        .saturating_mul(longest)
        .saturating_add(PER_TRACE_FACTOR.saturating_mul(text.len()))
        .saturating_add(SLACK);
    if memory::installed() && used > allowed {
        return Err(fail(format!(
            "checking {} bytes line by line (longest line {longest}) used {used} heap bytes, over {allowed}",
            text.len()
        )));
    }

    let whole = parse_trace(text);
    match (&whole, &streamed) {
        (Err(a), Err(b)) if a == b => Ok(()),
        (Ok(lines), Ok(found)) => {
            let batch = check_trace(lines);
            if &batch != found {
                return Err(fail(format!(
                    "the whole-trace check found {batch:?}, the line-by-line check {found:?}"
                )));
            }
            sensible(lines, &batch).map_err(fail)
        }
        (whole, streamed) => Err(fail(format!(
            "parsed whole: {:?}; parsed line by line: {:?}",
            whole.as_ref().map(Vec::len),
            streamed.as_ref().map(Vec::len)
        ))),
    }
}

fn sensible(lines: &[(usize, TraceLine)], violations: &[Violation]) -> Result<(), String> {
    let with_steps = lines.iter().any(|(_, l)| matches!(l, TraceLine::Step(_)));
    let last = lines.last().map_or(0, |(n, _)| *n);
    for v in violations {
        if v.invariant.kind() == InvariantKind::Machine {
            return Err(format!(
                "a trace cannot show a machine-level invariant: {v}"
            ));
        }
        if v.invariant.needs_scenario() && !with_steps {
            return Err(format!("judged without scenario lines: {v}"));
        }
        if v.line > last {
            return Err(format!("a violation past the last line {last}: {v}"));
        }
    }
    Ok(())
}
