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
    // each line as `Value`'s `Display` writes it, straight into one buffer
    let mut out = Vec::with_capacity(steps.len() * 32);
    for s in steps {
        if serde_json::to_writer(&mut out, &s.to_json()).is_err() {
            // (a `Value` always writes; were it not so, the line as `Display` writes it)
            out.extend_from_slice(s.to_json().to_string().as_bytes());
        }
        out.push(b'\n');
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
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
    // each line as [`trace_line_json`] writes it, straight into one buffer
    let mut out = Vec::with_capacity(lines.len() * 128);
    for l in lines {
        let start = out.len();
        let written = match l {
            TraceLine::Step(s) => serde_json::to_writer(&mut out, &s.to_json()),
            TraceLine::Record(r) => serde_json::to_writer(&mut out, r),
        };
        if let Err(e) = written {
            out.truncate(start);
            out.extend_from_slice(format!("<{e}>").as_bytes());
        }
        out.push(b'\n');
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
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

#[cfg(test)]
mod tests {
    use super::*;
    use cobrowse_visitor_conformance::oracle::interleave;
    use cobrowse_visitor_conformance::sim::World;
    use cobrowse_visitor_conformance::transcript::parse_scenario;

    /// `trace_jsonl` writes each line as `trace_line_json` does, one a line; `scenario_jsonl`
    /// each step as its JSON `Value` displays.
    #[test]
    fn jsonl_is_the_lines_one_a_line() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            let steps = parse_scenario(&text).unwrap();
            let lines = interleave(&steps, &World::run(&steps).unwrap());
            let each: String = lines
                .iter()
                .map(|l| format!("{}\n", trace_line_json(l)))
                .collect();
            assert_eq!(trace_jsonl(&lines), each);
            let each: String = steps.iter().map(|s| format!("{}\n", s.to_json())).collect();
            assert_eq!(scenario_jsonl(&steps), each);
            n += lines.len();
        }
        assert!(n > 100, "{n}");
        assert_eq!(trace_jsonl(&[]), "");
    }
}
