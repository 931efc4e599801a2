//! The `cobrowse` binary end to end: `run` on every scenario, `check` on every violating trace
//! and on the transcripts `run` writes, and the exit status 2 with a line number for inputs
//! that are not usable.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the cli crate sits in the workspace root")
        .to_path_buf()
}

fn jsonl_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no {dir}/*.jsonl");
    files
}

fn cobrowse(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cobrowse"))
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let writer = stdin.map(|input| {
        let mut pipe = child.stdin.take().unwrap();
        let input = input.to_vec();
        // The binary may stop reading early (an over-long line): a closed pipe is fine.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        })
    });
    let out = child.wait_with_output().unwrap();
    if let Some(w) = writer {
        w.join().unwrap();
    }
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A scratch file with `content`, unique to `name`.
fn scratch(name: &str, content: &[u8]) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, content).unwrap();
    path
}

#[test]
fn run_plays_every_scenario_and_its_transcript_checks_clean() {
    for path in jsonl_files("scenarios") {
        let p = path.to_str().unwrap();
        for extra in [&[][..], &["--interleave"][..]] {
            let mut args = vec!["run", p];
            args.extend_from_slice(extra);
            let out = cobrowse(&args, None);
            assert_eq!(out.status.code(), Some(0), "{p}: {}", text(&out.stderr));
            assert!(!out.stdout.is_empty(), "{p}: no transcript");
            let checked = cobrowse(&["check", "-"], Some(&out.stdout));
            assert_eq!(
                checked.status.code(),
                Some(0),
                "{p} {extra:?}: {}{}",
                text(&checked.stdout),
                text(&checked.stderr)
            );
            assert!(text(&checked.stdout).contains("ok, no violations"));
        }
    }
}

#[test]
fn run_reads_stdin_and_renders_every_format() {
    let scenario = std::fs::read(repo().join("scenarios/prelogin_manual.jsonl")).unwrap();
    let out = cobrowse(&["run", "-", "--format", "timeline"], Some(&scenario));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let timeline = text(&out.stdout);
    assert!(timeline.contains("step 2: user tap_cobrowse"), "{timeline}");
    assert!(
        timeline.contains("  2  app → sdk    start_session(GLANCE_KEYTYPE_RANDOM)"),
        "{timeline}"
    );
    assert!(timeline.contains("  2  sdk → server send start_session"));
    assert!(timeline.contains("  2  sdk → app    EventConnectedToSession sessionkey="));
    assert!(timeline.contains("  2  ui           show session_key "));

    let out = cobrowse(&["run", "-", "--format", "mermaid"], Some(&scenario));
    assert_eq!(out.status.code(), Some(0));
    let mermaid = text(&out.stdout);
    assert!(mermaid.starts_with("sequenceDiagram\n"));
    for p in ["Customer", "App", "SDK", "Server", "Agent"] {
        assert!(mermaid.contains(&format!("participant {p}")), "{mermaid}");
    }

    let out = cobrowse(&["run", "-", "--format", "jsonl"], Some(&scenario));
    assert_eq!(out.status.code(), Some(0));
    let first = text(&out.stdout).lines().next().unwrap().to_owned();
    assert!(
        first.starts_with(r#"{"step":1,"api":{"call":"init_visitor""#),
        "{first}"
    );
}

#[test]
fn check_flags_every_violating_trace_with_its_id() {
    for path in jsonl_files("traces") {
        let p = path.to_str().unwrap();
        // `<ID>.jsonl`, or `<ID>.<what>.jsonl` for a second trace of one invariant
        let id = path.file_stem().unwrap().to_str().unwrap();
        let id = id.split('.').next().unwrap();
        // the controller's replay and its paused notice are judged on a trace of this
        // crate's controller only
        let out = if id == "INV-CONTROLLER-REPLAY" || id == "INV-PAUSE-SHOWN" {
            cobrowse(&["check", "--reference-controller", p], None)
        } else {
            cobrowse(&["check", p], None)
        };
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{p}: {stdout}{}",
            text(&out.stderr)
        );
        let prefix = format!("{p}:");
        let flagged: Vec<&str> = stdout
            .lines()
            .filter(|l| l.starts_with(&prefix) && (l.contains(": INV-") || l.contains(": LIVE-")))
            .collect();
        assert!(!flagged.is_empty(), "{stdout}");
        for line in flagged {
            // TRACE:LINE: ID: message (INV-… or LIVE-…)
            let rest = &line[prefix.len()..];
            let (number, rest) = rest.split_once(": ").unwrap();
            assert!(number.parse::<usize>().is_ok(), "{line}");
            // an SDK that breaks a rule also writes records its rows would not
            // the crate's controller's notice is its replay's too; a restored one-click
            // session's key is INV-KEY-HIDDEN-PRESENCE's too (traces/README.md)
            let also = match id {
                "INV-PAUSE-SHOWN" => "INV-CONTROLLER-REPLAY: ",
                "INV-RESTORE-KEY-HIDDEN" => "INV-KEY-HIDDEN-PRESENCE: ",
                _ => "INV-SDK-REPLAY: ",
            };
            assert!(
                rest.starts_with(&format!("{id}: "))
                    || rest.starts_with("INV-SDK-REPLAY: ")
                    || rest.starts_with(also),
                "{line}"
            );
        }
        assert!(stdout.lines().last().unwrap().contains("violation"));
    }
}

#[test]
fn check_passes_every_clean_counterpart() {
    for path in jsonl_files("traces/clean") {
        let p = path.to_str().unwrap();
        let out = cobrowse(&["check", p], None);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{p}: {stdout}");
        assert!(stdout.contains("ok, no violations"), "{stdout}");
    }
}

#[test]
fn run_rejects_unusable_scenarios_with_the_line() {
    let cases: [(&str, &str, &str); 5] = [
        (
            "bad_json.jsonl",
            "{\"user\":\"launch\"}\n{\"user\": \n",
            ":2: not JSON",
        ),
        (
            "unknown_step.jsonl",
            "{\"user\":\"launch\"}\n{\"advance_ms\":1}\n{\"teleport\":\"now\"}\n",
            ":3: expected a step with one of the keys",
        ),
        (
            "unknown_call.jsonl",
            "{\"user\":\"launch\"}\n{\"api\":{\"call\":\"fly\"}}\n",
            ":2: bad api call: unknown call `fly`",
        ),
        (
            "wrong_type.jsonl",
            "{\"user\":\"launch\"}\n{\"advance_ms\":\"soon\"}\n",
            ":2: `advance_ms` must be a whole number",
        ),
        (
            "unknown_user.jsonl",
            "{\"user\":\"fly\"}\n",
            ":1: unknown user action `fly`, expected launch",
        ),
    ];
    for (name, content, expected) in cases {
        let path = scratch(name, content.as_bytes());
        let p = path.to_str().unwrap();
        let out = cobrowse(&["run", p], None);
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(out.stdout.is_empty(), "{name}: partial output");
        let err = text(&out.stderr);
        assert!(err.contains(&format!("{p}{expected}")), "{name}: {err}");
    }
    let out = cobrowse(&["run", "/nonexistent/scenario.jsonl"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/scenario.jsonl: cannot read"));

    let out = cobrowse(&["run", "-"], Some(b"{\"user\":\"launch\"}\n[1]\n"));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("<stdin>:2: expected a JSON object"));

    let out = cobrowse(&["run", "-"], Some(b"{\"user\":\"launch\"}\n\xff\n"));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("<stdin>:2: not UTF-8"));
}

/// A group id is an `Int32`, as the seed's `initVisitor(groupId: Int32, …)`: a negative one
/// in an `api` step is the app's misuse and reaches the core, which refuses it
/// (`EventInvalidParameter` and an `error` record) and changes nothing; `run` exits 0 and
/// `check` finds nothing wrong with what it wrote. One outside the `Int32` range is refused
/// when the scenario is read, naming the line; so is a config group id that is not positive.
#[test]
fn a_negative_group_id_reaches_the_core_and_is_refused() {
    let scenario = br#"{"config": {"group_id": 19921, "custom_ui": true, "seed": 7}}
{"api": {"call": "init_visitor", "group_id": -5, "visitor_id": null}}
{"user": "launch"}
{"api": {"call": "init_visitor", "group_id": -5, "visitor_id": "cust-42"}}
{"user": "tap_cobrowse"}
"#;
    let out = cobrowse(&["run", "-"], Some(scenario));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let transcript = text(&out.stdout);
    let lines: Vec<serde_json::Value> = transcript
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let at = |i: usize| &lines[i];
    let refused = [
        "invalid parameter: group id must be positive (1..=2147483647)",
        "invalid_parameter",
    ];
    for (step, first) in [(1, 0), (3, 9)] {
        assert_eq!(at(first)["step"], step, "{transcript}");
        assert_eq!(at(first)["api"]["group_id"], -5, "{transcript}");
        assert_eq!(at(first + 1)["error"]["code"], refused[1], "{transcript}");
        assert_eq!(
            at(first + 1)["error"]["message"],
            refused[0],
            "{transcript}"
        );
        assert_eq!(
            at(first + 2)["event"]["code"],
            "EventInvalidParameter",
            "{transcript}"
        );
        // the refusal has no effect: nothing is sent for it
        assert!(at(first + 3)["step"] != step, "{transcript}");
    }
    // the refused call before launch left the SDK uninitialized: the launch's init is the
    // first one (its frame is sent, the lookup answered), and the refused one after it left
    // the anonymous visitor as it was (the manual button still starts a random-key session)
    assert_eq!(at(3)["api"]["group_id"], 19921, "{transcript}");
    assert_eq!(at(4)["send"]["type"], "init", "{transcript}");
    assert_eq!(at(6)["event"]["code"], "EventVisitorInitialized");
    assert!(
        transcript
            .contains(r#"{"step":4,"api":{"call":"start_session","key":"GLANCE_KEYTYPE_RANDOM"}}"#),
        "{transcript}"
    );
    let trace = scratch("negative_group.jsonl", &out.stdout);
    let checked = cobrowse(&["check", trace.to_str().unwrap()], None);
    assert_eq!(checked.status.code(), Some(0), "{}", text(&checked.stdout));
    let interleaved = cobrowse(&["run", "--interleave", "-"], Some(scenario));
    assert_eq!(interleaved.status.code(), Some(0));
    let checked = cobrowse(&["check", "-"], Some(&interleaved.stdout));
    assert_eq!(checked.status.code(), Some(0), "{}", text(&checked.stdout));

    let cases = [
        (
            "{\"user\":\"launch\"}\n{\"api\":{\"call\":\"init_visitor\",\"group_id\":2147483648}}\n",
            "<stdin>:2: bad api call: group_id 2147483648 is outside the seed's Int32 range (-2147483648..=2147483647)",
        ),
        (
            "{\"user\":\"launch\"}\n\n{\"api\":{\"call\":\"init_visitor\",\"group_id\":-2147483649}}\n",
            "<stdin>:3: bad api call: group_id -2147483649 is outside the seed's Int32 range (-2147483648..=2147483647)",
        ),
        (
            "{\"config\":{\"group_id\":-1}}\n{\"user\":\"launch\"}\n",
            "<stdin>:1: bad config: group_id -1 must be 1..=2147483647",
        ),
        (
            "{\"config\":{\"group_id\":0}}\n",
            "<stdin>:1: bad config: group_id 0 must be 1..=2147483647",
        ),
        (
            "{\"config\":{\"group_id\":2147483648}}\n",
            "<stdin>:1: bad config: group_id 2147483648 must be 1..=2147483647",
        ),
    ];
    for (scenario, expected) in cases {
        let out = cobrowse(&["run", "-"], Some(scenario.as_bytes()));
        assert_eq!(out.status.code(), Some(2), "{scenario}");
        assert!(out.stdout.is_empty(), "{scenario}: partial output");
        let err = text(&out.stderr);
        assert!(err.contains(expected), "{scenario}: {err}");
    }
    // the config's largest group id is the Int32's
    let out = cobrowse(
        &["run", "-"],
        Some(b"{\"config\":{\"group_id\":2147483647}}\n{\"user\":\"launch\"}\n"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(r#""group_id":2147483647"#));
}

#[test]
fn check_rejects_unusable_traces_with_the_line() {
    let good = r#"{"step":1,"api":{"call":"init_visitor","group_id":19921}}"#;
    let cases: [(&str, String, &str); 4] = [
        (
            "bad_json_trace.jsonl",
            format!("{good}\n{{\"step\":1,\n"),
            ":2: ",
        ),
        (
            "unknown_record.jsonl",
            format!("{good}\n\n{{\"step\":1,\"teleport\":{{}}}}\n"),
            ":3: expected a record",
        ),
        (
            "unknown_call_trace.jsonl",
            format!("{good}\n{{\"step\":1,\"api\":{{\"call\":\"fly\"}}}}\n"),
            ":2: expected a record",
        ),
        (
            "wrong_type_trace.jsonl",
            format!("{good}\n{{\"step\":\"one\",\"ui\":{{\"show\":\"terms\"}}}}\n"),
            ":2: expected a record",
        ),
    ];
    for (name, content, expected) in cases {
        let path = scratch(name, content.as_bytes());
        let p = path.to_str().unwrap();
        let out = cobrowse(&["check", p], None);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out.stdout));
        let err = text(&out.stderr);
        assert!(err.contains(&format!("{p}{expected}")), "{name}: {err}");
    }
    let out = cobrowse(&["check", "/nonexistent/trace.jsonl"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/trace.jsonl: cannot read"));

    // A line over the limit is refused without reading it whole.
    let mut long = format!("{good}\n").into_bytes();
    long.extend(std::iter::repeat_n(b' ', 200 * 1024));
    let out = cobrowse(&["check", "-"], Some(&long));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("<stdin>:2: line longer than"));
}

#[test]
fn check_accepts_an_empty_trace() {
    let out = cobrowse(&["check", "-"], Some(b""));
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("ok, no violations"));
}

#[test]
fn bad_command_lines_exit_2() {
    assert_eq!(cobrowse(&[], None).status.code(), Some(2));
    assert_eq!(cobrowse(&["fly"], None).status.code(), Some(2));
    let out = cobrowse(&["run", "x", "--format", "pdf"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn run_exits_1_naming_the_line_when_the_world_does_not_settle() {
    // No seed scenario keeps the world moving for 10 000 moves; a small `--max-moves` makes
    // the launch (line 3, after a blank line) one that does not settle.
    let path = scratch(
        "unsettled.jsonl",
        b"{\"config\":{\"group_id\":19921}}\n\n{\"user\":\"launch\"}\n{\"advance_ms\":1000}\n",
    );
    let file = path.to_str().unwrap();
    for format in ["jsonl", "timeline", "mermaid"] {
        let out = cobrowse(&["run", "--max-moves", "3", "--format", format, file], None);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert_eq!(
            text(&out.stderr),
            format!("{file}:3: the world did not settle within 3 moves\n")
        );
        assert!(out.stdout.is_empty(), "no partial transcript");
    }
    // the same scenario with the default bound plays to its end
    let out = cobrowse(&["run", "--interleave", file], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdin = cobrowse(
        &["run", "--max-moves", "3", "-"],
        Some(b"{\"user\":\"launch\"}\n"),
    );
    assert_eq!(stdin.status.code(), Some(1));
    assert_eq!(
        text(&stdin.stderr),
        "<stdin>:1: the world did not settle within 3 moves\n"
    );
}

/// `run --redact` keeps the visitor's secrets out of the transcript (the `api` record and
/// the `init` frame alike), and `check` reads the redacted trace as any other.
#[test]
fn run_redact_keeps_secrets_out_and_check_accepts_it() {
    let scenario = br#"{"user":"launch"}
{"api":{"call":"init_visitor","group_id":19921,"token":"s3cret-token","name":"Ann Lee","email":"ann@example.com","phone":"555-0100","visitor_id":"cust-42"}}
"#;
    let plain = cobrowse(&["run", "--interleave", "-"], Some(scenario));
    assert!(
        text(&plain.stdout).contains("s3cret-token"),
        "without --redact the token is there"
    );
    let out = cobrowse(&["run", "--interleave", "--redact", "-"], Some(scenario));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let trace = text(&out.stdout);
    for secret in ["s3cret-token", "Ann Lee", "ann@example.com", "555-0100"] {
        assert!(!trace.contains(secret), "{secret} in {trace}");
    }
    assert!(trace.contains("<redacted>"));
    assert!(trace.contains("cust-42"), "identifiers are kept");
    let checked = cobrowse(&["check", "-"], Some(trace.as_bytes()));
    assert_eq!(checked.status.code(), Some(0), "{}", text(&checked.stdout));
}
