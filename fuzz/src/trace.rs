//! `check_trace`: arbitrary bytes as a trace file into the check (`transcript::parse_trace`
//! and the oracle), the way `cobrowse check` reads one.
//!
//! - A trace over [`MAX_TRACE_BYTES`] is refused up front (a file that large is not a trace);
//!   bytes that are not UTF-8 are an error (`check` says so). Neither reaches the parser.
//! - Read line by line as `cobrowse check` does (one line parsed at a time into a streaming
//!   `Oracle` through [`Oracle::read`], so the contract's reading rules refuse an unusable
//!   trace at its line) and read whole (`parse_trace` + `read_trace`), the answer is the same:
//!   the same parse error at the same line, the same unusable line and reason, or the same
//!   violations.
//! - `parse_trace` (with its one-pass record reader) reads every trace as
//!   `parse_trace_general` (every line through the general reader) does: the same lines or the
//!   same error.
//! - Line by line, the heap never holds more than a few times the longest line plus a few
//!   times the trace (the violations found): memory is bounded per line, not per trace.
//! - What the oracle reports makes sense for a trace: never a machine-level invariant, never
//!   one that needs scenario lines when there are none, never a line past the end.

use crate::memory;
use crate::report::Failure;
use cobrowse_visitor_conformance::oracle::{
    read_trace, InvariantKind, Oracle, Unusable, Violation,
};
use cobrowse_visitor_conformance::transcript::{
    parse_trace, parse_trace_general, ParseError, TraceLine,
};

const TARGET: &str = "check_trace";

/// Largest trace the target reads.
pub const MAX_TRACE_BYTES: usize = 1 << 20;

/// Heap allowed for the line-by-line check: this many times the longest line, …
const PER_LINE_FACTOR: usize = 64;
/// … plus this many times the trace (the violations found, a few per line at most), …
const PER_TRACE_FACTOR: usize = 32;
/// … plus this much.
const SLACK: usize = 1 << 20;

/// Why a trace gets no verdict: it does not parse, or it breaks a reading rule.
#[derive(Debug, PartialEq, Eq)]
enum Refused {
    Parse(ParseError),
    Unusable(Unusable),
}

/// `cobrowse check`'s way: one line at a time, each through the reading rules.
fn line_by_line(text: &str) -> Result<Vec<Violation>, Refused> {
    let mut oracle = Oracle::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let parsed = parse_trace(line).map_err(|e| {
            Refused::Parse(ParseError {
                line: n,
                message: e.message,
            })
        })?;
        for (_, item) in &parsed {
            oracle.read(n, item).map_err(Refused::Unusable)?;
        }
    }
    Ok(oracle.finish())
}

/// A whole-text reader's way: `parse_trace`, then `read_trace`. The trace is refused at its
/// first unusable line: when a line does not parse, the lines before it are read through the
/// reading rules first, and a rule they break names an earlier line (found by this target:
/// a misaligned `step` on line 6 and a line 13 that is not JSON are refused at line 6, as
/// `cobrowse check` refuses it, not at line 13).
fn whole(
    text: &str,
    parsed: &Result<Vec<(usize, TraceLine)>, ParseError>,
) -> Result<Vec<Violation>, Refused> {
    match parsed {
        Ok(lines) => read_trace(lines).map_err(Refused::Unusable),
        Err(e) => {
            let before: String = text
                .lines()
                .take(e.line.saturating_sub(1))
                .flat_map(|l| [l, "\n"])
                .collect();
            match parse_trace(&before).map(|lines| read_trace(&lines)) {
                Ok(Err(unusable)) => Err(Refused::Unusable(unusable)),
                _ => Err(Refused::Parse(e.clone())),
            }
        }
    }
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

    let parsed = parse_trace(text);
    let whole = whole(text, &parsed);
    // the one-pass record reader reads as the general one
    let general = parse_trace_general(text);
    if parsed != general {
        return Err(fail(format!(
            "parse_trace: {parsed:?}; the general reader: {general:?}"
        )));
    }
    if whole != streamed {
        return Err(fail(format!(
            "read whole: {whole:?}; read line by line: {streamed:?}"
        )));
    }
    match (&parsed, &whole) {
        (Ok(lines), Ok(found)) => sensible(lines, found).map_err(fail),
        (_, Err(Refused::Unusable(u))) if u.line == 0 || u.line > text.lines().count() => {
            Err(fail(format!("an unusable line outside the trace: {u:?}")))
        }
        _ => Ok(()),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn streamed(text: &str) -> Result<Vec<Violation>, Refused> {
        line_by_line(text)
    }

    /// An unusable trace is refused at its line, as `cobrowse check` refuses it (exit 2), and
    /// the whole read agrees: the target reads through the reading rules, not around them.
    #[test]
    fn an_unusable_trace_is_refused_at_its_line() {
        let late_config =
            "{\"user\":\"launch\"}\n{\"config\":{\"group_id\":1,\"custom_ui\":true,\"seed\":7}}\n";
        match streamed(late_config) {
            Err(Refused::Unusable(u)) => assert_eq!(u.line, 2),
            other => panic!("{other:?}"),
        }
        let misaligned = "{\"user\":\"launch\"}\n{\"step\":3,\"event\":{\"code\":\"EventClearWarning\",\"properties\":{}}}\n";
        match streamed(misaligned) {
            Err(Refused::Unusable(u)) => assert_eq!(u.line, 2),
            other => panic!("{other:?}"),
        }
        assert!(run(late_config.as_bytes()).is_ok());
        assert!(run(misaligned.as_bytes()).is_ok());
    }

    /// crash-dda818d4: a misaligned `step` on one line and a line that is not JSON after it:
    /// both readers refuse the trace at the first of them, the misaligned line.
    #[test]
    fn the_first_unusable_line_wins_over_a_later_parse_error() {
        let text = "{\"user\":\"launch\"}\n{\"step\":3,\"event\":{\"code\":\"EventClearWarning\",\"properties\":{}}}\n{\"step\";0}\n";
        let parsed = parse_trace(text);
        assert_eq!(parsed.as_ref().map_err(|e| e.line), Err(3));
        for answer in [streamed(text), whole(text, &parsed)] {
            match answer {
                Err(Refused::Unusable(u)) => assert_eq!(u.line, 2),
                other => panic!("{other:?}"),
            }
        }
        assert!(run(text.as_bytes()).is_ok());
        // a parse error with nothing unusable before it is the parse error, at its line
        let bad = "{\"user\":\"launch\"}\n{\"step\";0}\n";
        assert!(matches!(whole(bad, &parse_trace(bad)), Err(Refused::Parse(e)) if e.line == 2));
        assert!(run(bad.as_bytes()).is_ok());
    }

    /// Every committed violating trace reads to a verdict, the same whole and line by line.
    #[test]
    fn the_committed_traces_give_verdicts() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../traces");
        let mut n = 0;
        for e in std::fs::read_dir(dir).expect("traces/") {
            let path = e.expect("entry").path();
            if path.extension().is_some_and(|x| x == "jsonl") {
                let text = std::fs::read_to_string(&path).expect("readable");
                let found = streamed(&text).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
                // judged only with `--reference-controller`, which `check_trace` reads without
                let reference_only = path
                    .file_stem()
                    .is_some_and(|s| s == "INV-CONTROLLER-REPLAY" || s == "INV-PAUSE-SHOWN");
                assert_eq!(found.is_empty(), reference_only, "{}", path.display());
                assert!(run(text.as_bytes()).is_ok(), "{}", path.display());
                n += 1;
            }
        }
        assert!(n >= 20, "{n} traces");
    }
}
