//! `cobrowse`: run scenarios through the simulator and check traces against the spec.
//!
//! - `cobrowse run SCENARIO [--format jsonl|timeline|mermaid] [--interleave]` plays a scenario
//!   (a path, or `-` for stdin) with the deterministic simulator and prints its transcript.
//! - `cobrowse check TRACE` reads a transcript (scenario lines may be interleaved), runs the
//!   invariant oracle and prints every violation.
//!
//! Exit status: 0 success (and, for `check`, no violation); 1 `check` found violations, or
//! `run`'s world did not settle (a step kept it moving for more than `--max-moves` moves: it
//! prints `FILE:LINE: the world did not settle within N moves`, LINE being the scenario line,
//! and no transcript); 2 the input is unusable (unreadable, not JSON, not the contract's
//! shape) or the command line is wrong.

#![forbid(unsafe_code)]

mod render;

use clap::{Parser, Subcommand, ValueEnum};
use cobrowse_visitor_conformance::oracle::{interleave, plain, CheckOptions, Invariant, Oracle};
use cobrowse_visitor_conformance::sim::{World, WorldOptions, MAX_SETTLE_MOVES};
use cobrowse_visitor_conformance::transcript::{
    parse_scenario, parse_trace, Observed, Record, Step, TraceLine, WireFrame, MAX_LINE_BYTES,
};
use cobrowse_visitor_core::{ClientFrame, Redaction};
use std::collections::BTreeSet;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::process::ExitCode;

/// Run cobrowse visitor scenarios and check transcripts against the spec's invariants.
#[derive(Debug, Parser)]
#[command(name = "cobrowse", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Play a scenario (JSON Lines of steps) and print its transcript.
    ///
    /// Exits 0 when the scenario played to its end (refusals inside are part of the
    /// transcript), 1 when a step's world did not settle within `--max-moves` moves
    /// (`FILE:LINE: the world did not settle within N moves` on stderr, no transcript), 2 on
    /// unusable input.
    Run {
        /// The scenario file, or `-` for stdin.
        scenario: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Jsonl)]
        format: Format,
        /// With jsonl: print each scenario line before the records it caused, so that
        /// `check` knows the causes. Without it, the records only, after the config line
        /// when the scenario's config sets a key of spec.md §13.1 (such as `consent_policy`,
        /// which `check` judges by).
        #[arg(long)]
        interleave: bool,
        /// Most moves (a frame, an output, a due timer handed on) the world may make to
        /// settle after one step; more is an error (exit 1).
        #[arg(long, default_value_t = MAX_SETTLE_MOVES)]
        max_moves: usize,
        /// Keep the visitor's secrets out of the output: `token`, `name`, `email` and `phone`
        /// of `init_visitor` calls and `init` frames become `<redacted>` (the driver's rule,
        /// `cobrowse_visitor_core::Redaction::ALL`); `check` reads such a trace as any other.
        #[arg(long)]
        redact: bool,
    },
    /// Check a transcript (scenario lines may be interleaved) against the invariants.
    Check {
        /// The transcript file, or `-` for stdin.
        trace: String,
        /// The trace was written by this crate's integration controller (`cobrowse run`, an
        /// SDK built on the bindings' `Controller`): also judge INV-CONTROLLER-REPLAY, that
        /// every `ui` record and every call the app makes is the one spec.md §6 gives. Leave
        /// it off for an app's own integration, which the contract leaves free there.
        #[arg(long)]
        reference_controller: bool,
    },
}

/// How `run` prints the transcript.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// The contract's JSON Lines records.
    Jsonl,
    /// An aligned, readable text timeline.
    Timeline,
    /// A Mermaid sequence diagram.
    Mermaid,
}

/// Exit status for an unusable input or command line.
const EXIT_UNUSABLE: u8 = 2;
/// Exit status of `check` when it found violations.
const EXIT_VIOLATIONS: u8 = 1;
/// Exit status of `run` when the world did not settle.
const EXIT_NOT_SETTLED: u8 = 1;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            scenario,
            format,
            interleave,
            max_moves,
            redact,
        } => run(&scenario, format, interleave, max_moves, redact),
        Command::Check {
            trace,
            reference_controller,
        } => check(
            &trace,
            CheckOptions::default().with_reference_controller(reference_controller),
        ),
    }
}

/// How an input is named in messages.
fn display_name(path: &str) -> &str {
    if path == "-" {
        "<stdin>"
    } else {
        path
    }
}

/// Writes `text` to stdout. A closed pipe (`cobrowse run … | head`) is not an error: the
/// reader has what it wanted. Any other failure is reported.
fn write_stdout(text: &str) -> Result<(), String> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("cannot write to stdout: {e}")),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("{message}");
    ExitCode::from(EXIT_UNUSABLE)
}

/// The 1-based line of byte offset `at` in `bytes`.
fn line_of(bytes: &[u8], at: usize) -> usize {
    bytes
        .get(..at)
        .map_or(0, |b| b.iter().filter(|c| **c == b'\n').count())
        .saturating_add(1)
}

/// Reads a whole input as UTF-8 text.
fn read_all(path: &str) -> Result<String, String> {
    let name = display_name(path);
    let mut bytes = Vec::new();
    let read = if path == "-" {
        io::stdin().lock().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut bytes).map(|_| ()))
    };
    read.map_err(|e| format!("{name}: cannot read: {e}"))?;
    String::from_utf8(bytes).map_err(|e| {
        let line = line_of(e.as_bytes(), e.utf8_error().valid_up_to());
        format!("{name}:{line}: not UTF-8 text; expected JSON Lines in UTF-8")
    })
}

/// The 1-based line of `text` that holds scenario step `index` (blank lines hold none).
fn scenario_line(text: &str, index: usize) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .nth(index)
        .map_or(0, |(i, _)| i)
        .saturating_add(1)
}

/// `steps` and `records` with the visitor's secrets replaced (`--redact`).
fn redacted(steps: &mut [Step], records: &mut [Record]) {
    let rule = Redaction::ALL;
    for s in steps.iter_mut() {
        if let Step::Api(call) = s {
            *call = rule.redact_call(call);
        }
    }
    for r in records.iter_mut() {
        match &mut r.observed {
            Observed::Api(call) => *call = rule.redact_call(call),
            Observed::Send(sent) => {
                // the simulator's frames are the core's own; another shape stays as it is
                let frame = match sent {
                    WireFrame::Typed(f) => Some(f.clone()),
                    WireFrame::Json(v) => serde_json::from_value::<ClientFrame>(v.clone()).ok(),
                };
                if let Some(frame) = frame {
                    *sent = WireFrame::Typed(rule.redact_frame(&frame));
                }
            }
            _ => {}
        }
    }
}

fn run(path: &str, format: Format, interleaved: bool, max_moves: usize, redact: bool) -> ExitCode {
    let name = display_name(path);
    let text = match read_all(path) {
        Ok(t) => t,
        Err(message) => return fail(&message),
    };
    // The whole scenario is read before anything is printed: no partial transcript.
    let steps = match parse_scenario(&text) {
        Ok(s) => s,
        Err(e) => return fail(&format!("{name}:{}: {}", e.line, e.message)),
    };
    let options = WorldOptions {
        max_moves,
        ..WorldOptions::default()
    };
    let mut steps = steps;
    let mut records = match World::run_with(&steps, options) {
        Ok(records) => records,
        Err(e) => {
            eprintln!(
                "{name}:{}: the world did not settle within {} moves",
                scenario_line(&text, e.step),
                e.moves
            );
            return ExitCode::from(EXIT_NOT_SETTLED);
        }
    };
    if redact {
        redacted(&mut steps, &mut records);
    }
    let output = match format {
        Format::Jsonl if interleaved => render::jsonl(&interleave(&steps, &records)),
        Format::Jsonl => render::jsonl(&plain(&steps, &records)),
        Format::Timeline => render::timeline(&interleave(&steps, &records)),
        Format::Mermaid => render::mermaid(&interleave(&steps, &records)),
    };
    let output = match output {
        Ok(o) => o,
        Err(message) => return fail(&format!("{name}: {message}")),
    };
    match write_stdout(&output) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

/// One line of at most `max` bytes (without its line ending), read without holding more than
/// `max + 2` bytes.
enum BoundedLine {
    Line,
    TooLong,
    Eof,
}

fn read_bounded_line(
    reader: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<BoundedLine> {
    buf.clear();
    let limit = u64::try_from(max.saturating_add(2)).unwrap_or(u64::MAX);
    let n = reader.take(limit).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(BoundedLine::Eof);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    }
    if buf.len() > max {
        return Ok(BoundedLine::TooLong);
    }
    Ok(BoundedLine::Line)
}

fn check(path: &str, options: CheckOptions) -> ExitCode {
    let name = display_name(path);
    let mut reader: Box<dyn BufRead> = if path == "-" {
        Box::new(BufReader::new(io::stdin()))
    } else {
        match std::fs::File::open(path) {
            Ok(f) => Box::new(BufReader::new(f)),
            Err(e) => return fail(&format!("{name}: cannot read: {e}")),
        }
    };
    // Streamed line by line: memory is one line plus the oracle's fixed state and findings.
    let mut oracle = Oracle::with_options(options);
    let mut buf = Vec::new();
    let mut number = 0usize;
    let mut records = 0usize;
    let mut scenario_lines = 0usize;
    loop {
        number = number.saturating_add(1);
        match read_bounded_line(reader.as_mut(), &mut buf, MAX_LINE_BYTES) {
            Ok(BoundedLine::Eof) => break,
            Ok(BoundedLine::TooLong) => {
                return fail(&format!(
                    "{name}:{number}: line longer than {MAX_LINE_BYTES} bytes; expected one JSON record a line"
                ))
            }
            Ok(BoundedLine::Line) => {}
            Err(e) => return fail(&format!("{name}:{number}: cannot read: {e}")),
        }
        let Ok(text) = std::str::from_utf8(&buf) else {
            return fail(&format!(
                "{name}:{number}: not UTF-8 text; expected JSON Lines in UTF-8"
            ));
        };
        let parsed = match parse_trace(text) {
            Ok(p) => p,
            Err(e) => return fail(&format!("{name}:{number}: {}", e.message)),
        };
        for (_, item) in &parsed {
            match item {
                TraceLine::Step(_) => scenario_lines = scenario_lines.saturating_add(1),
                TraceLine::Record(_) => records = records.saturating_add(1),
            }
            if let Err(e) = oracle.read(number, item) {
                return fail(&format!("{name}:{}: {}", e.line, e.message));
            }
        }
    }
    let interleaved = oracle.interleaved();
    let violations = oracle.finish();
    let mut out = String::new();
    for v in &violations {
        out.push_str(&format!(
            "{name}:{}: {}: {}\n",
            v.line,
            v.invariant.id(),
            v.message
        ));
    }
    let broken: BTreeSet<&str> = violations.iter().map(|v| v.invariant.id()).collect();
    let skipped = if scenario_lines == 0 {
        let n = Invariant::ALL.iter().filter(|i| i.needs_scenario()).count();
        format!("; no scenario lines, so {n} invariants that need them were not judged")
    } else if !interleaved {
        // a plain trace after a config line: the config gives INV-CUSTOM-UI what it needs
        let n = Invariant::ALL
            .iter()
            .filter(|i| i.needs_scenario() && **i != Invariant::CustomUi)
            .count();
        format!("; a plain trace after a config line, so {n} invariants that need the scenario lines were not judged")
    } else {
        String::new()
    };
    if violations.is_empty() {
        out.push_str(&format!(
            "{name}: ok, no violations in {records} records and {scenario_lines} scenario lines{skipped}\n"
        ));
    } else {
        out.push_str(&format!(
            "{name}: {} violation{} of {} invariant{} ({}) in {records} records and {scenario_lines} scenario lines{skipped}\n",
            violations.len(),
            if violations.len() == 1 { "" } else { "s" },
            broken.len(),
            if broken.len() == 1 { "" } else { "s" },
            broken.into_iter().collect::<Vec<_>>().join(", "),
        ));
    }
    if let Err(message) = write_stdout(&out) {
        return fail(&message);
    }
    if violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_VIOLATIONS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_lines() {
        let mut input: &[u8] = b"ab\r\ncd\nxxxxxxxx\nlast";
        let mut buf = Vec::new();
        assert!(matches!(
            read_bounded_line(&mut input, &mut buf, 4).unwrap(),
            BoundedLine::Line
        ));
        assert_eq!(buf, b"ab");
        assert!(matches!(
            read_bounded_line(&mut input, &mut buf, 4).unwrap(),
            BoundedLine::Line
        ));
        assert_eq!(buf, b"cd");
        assert!(matches!(
            read_bounded_line(&mut input, &mut buf, 4).unwrap(),
            BoundedLine::TooLong
        ));
    }

    #[test]
    fn scenario_lines_skip_blank_lines() {
        let text = "{\"config\":{}}\n\n  \n{\"user\":\"launch\"}\n{\"advance_ms\":1}";
        assert_eq!(scenario_line(text, 0), 1);
        assert_eq!(scenario_line(text, 1), 4);
        assert_eq!(scenario_line(text, 2), 5);
    }

    #[test]
    fn line_numbers_of_bytes() {
        assert_eq!(line_of(b"a\nb\nc", 0), 1);
        assert_eq!(line_of(b"a\nb\nc", 2), 2);
        assert_eq!(line_of(b"a\nb\nc", 4), 3);
        assert_eq!(line_of(b"a", 99), 1);
    }

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
