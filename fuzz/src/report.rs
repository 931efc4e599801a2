//! What a failing input looks like to a person: the finding, the input as a contract scenario
//! (replay with `cobrowse run`), and the trace the oracle read.

use cobrowse_visitor_conformance::transcript::{Step, TraceLine};
use std::fmt;

/// Most trace lines a report prints (the last ones; the finding is at the end).
const MAX_TRACE_LINES: usize = 400;

/// A finding of a fuzz target, with everything needed to replay it.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The target that found it.
    pub target: &'static str,
    /// One line: which invariant or property broke, and how.
    pub headline: String,
    /// Titled blocks of detail, in order.
    pub sections: Vec<(String, String)>,
}

impl Failure {
    /// A finding with no detail yet.
    pub fn new(target: &'static str, headline: impl Into<String>) -> Self {
        Failure {
            target,
            headline: headline.into(),
            sections: Vec::new(),
        }
    }

    /// Adds a titled block.
    pub fn section(mut self, title: impl Into<String>, body: impl Into<String>) -> Self {
        self.sections.push((title.into(), body.into()));
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {}", self.target, self.headline)?;
        for (title, body) in &self.sections {
            writeln!(f, "\n--- {title} ---")?;
            writeln!(f, "{}", body.trim_end())?;
        }
        Ok(())
    }
}

/// A scenario as the contract's JSON Lines (what `cobrowse run` reads).
pub fn scenario_jsonl(steps: &[Step]) -> String {
    let mut out = String::new();
    for s in steps {
        out.push_str(&s.to_json().to_string());
        out.push('\n');
    }
    out
}

/// One trace line as JSON (a scenario line or a transcript record).
pub fn trace_line_json(line: &TraceLine) -> String {
    match line {
        TraceLine::Step(s) => s.to_json().to_string(),
        TraceLine::Record(r) => serde_json::to_string(r).unwrap_or_else(|e| format!("<{e}>")),
    }
}

/// A trace as JSON Lines (what `cobrowse check` reads).
pub fn trace_jsonl(lines: &[TraceLine]) -> String {
    let mut out = String::new();
    for l in lines {
        out.push_str(&trace_line_json(l));
        out.push('\n');
    }
    out
}

/// The last lines of a trace, numbered as the oracle numbered them.
pub fn numbered_tail(lines: &[TraceLine]) -> String {
    let skip = lines.len().saturating_sub(MAX_TRACE_LINES);
    let mut out = String::new();
    if skip > 0 {
        out.push_str(&format!("… {skip} earlier lines not shown\n"));
    }
    for (i, l) in lines.iter().enumerate().skip(skip) {
        out.push_str(&format!("{:>4}  {}\n", i + 1, trace_line_json(l)));
    }
    out
}
