//! The conformance runner, `.ci/autobahn/run`, checked without the suite:
//! a stand-in `wstest` (a few lines of Python, named by `WS101_WSTEST` as
//! a real one would be) reads the spec the runner wrote, records it, and
//! writes the report a run of those cases would give, with the verdicts
//! the test asks for. The runner must pass the shipped spec on with the
//! run's URL, cases and report folder, count the verdicts per section,
//! name every case that is not strictly OK, and exit 0 only when all are.
//!
//! The real suite is run by hand (`docs/13-conformance.md`). Needs
//! `python3` (`WS101_PYTHON`); without it the tests are skipped with a
//! notice, unless `CI=true`, where that is a failure.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The stand-in: `wstest -m fuzzingclient -s SPEC`. Its cases are a few
/// of each section; verdicts from `FAKE_VERDICTS` (`6.4.3=NON-STRICT`).
const FAKE_WSTEST: &str = r#"
import fnmatch, json, os, sys
spec_path = sys.argv[sys.argv.index("-s") + 1]
spec = json.load(open(spec_path))
server = spec["servers"][0] if "servers" in spec else {"url": spec["url"], "agent": "-"}
with open(os.environ["FAKE_RECORD"], "w") as record:
    for key, value in [("argv", " ".join(sys.argv[1:3])), ("url", server["url"]), ("agent", server["agent"]),
                       ("cases", ",".join(spec["cases"])), ("exclude", ",".join(spec["exclude-cases"])),
                       ("outdir", spec["outdir"])]:
        record.write(f"{key}={value}\n")
every = ["1.1.1", "1.1.2", "2.1", "5.20", "6.4.3", "6.4.4", "7.1.6", "7.9.1", "9.1.6", "10.1.1", "12.1.1", "13.7.18"]
chosen = [c for c in every if any(fnmatch.fnmatch(c, p) for p in spec["cases"])
          and not any(fnmatch.fnmatch(c, p) for p in spec["exclude-cases"])]
verdicts = dict(v.split("=") for v in os.environ.get("FAKE_VERDICTS", "").split(",") if v)
agent = spec["servers"][0]["agent"] if "servers" in spec else "ws101"
index = {agent: {c: {"behavior": verdicts.get(c, "INFORMATIONAL" if c == "7.1.6" else "OK"),
                     "behaviorClose": "OK", "duration": 3, "remoteCloseCode": 1000,
                     "reportfile": "ws101_case_" + c.replace(".", "_") + ".json"} for c in chosen}}
os.makedirs(spec["outdir"], exist_ok=True)
json.dump(index, open(os.path.join(spec["outdir"], "index.json"), "w"))
"#;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// `python3`, or `None` after a notice when it is missing outside CI.
fn python() -> Option<String> {
    let program = std::env::var("WS101_PYTHON").unwrap_or_else(|_| "python3".to_string());
    match Command::new(&program).arg("--version").output() {
        Ok(out) if out.status.success() => Some(program),
        _ => {
            let why = format!("{program} not found (apt-get install -y python3, or set WS101_PYTHON)");
            assert!(!in_ci(), "{why}; CI=true, so this is a failure, not a skip");
            // Written to the real stderr: the harness captures eprintln!.
            let _ = writeln!(std::io::stderr(), "SKIPPED runner test: {why}");
            None
        }
    }
}

/// A run of the runner against the stand-in, in a folder of its own.
struct Run {
    out: Output,
    /// What the stand-in was given: `key=value` lines.
    record: String,
    reports: PathBuf,
}

impl Run {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }

    /// A value of the spec as the stand-in recorded it.
    fn given(&self, key: &str) -> &str {
        let prefix = format!("{key}=");
        self.record
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {key} in {}", self.record))
    }
}

fn run(name: &str, args: &[&str], verdicts: &str) -> Option<Run> {
    let python = python()?;
    let dir = std::env::temp_dir().join(format!("ws101-autobahn-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let fake = dir.join("wstest.py");
    std::fs::write(&fake, FAKE_WSTEST).unwrap();
    let (record, reports) = (dir.join("record.json"), dir.join("reports"));
    let out = Command::new(&python)
        .arg(root().join(".ci/autobahn/run"))
        .args(args)
        .env("WS101_WSTEST", format!("{python} {}", fake.display()))
        .env("WS101_AUTOBAHN_OUT", &reports)
        .env("FAKE_RECORD", &record)
        .env("FAKE_VERDICTS", verdicts)
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&record)
        .unwrap_or_else(|_| panic!("the stand-in wstest was not run: {}", String::from_utf8_lossy(&out.stderr)));
    let _ = std::fs::remove_dir_all(&dir);
    Some(Run { out, record: text, reports })
}

/// A listening socket, so that `--url` names a real address (the stand-in
/// does not connect).
fn some_url() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    (listener, url)
}

#[test]
fn the_server_spec_is_passed_on_with_the_runs_url_cases_and_folder() {
    let (_listener, url) = some_url();
    let Some(run) = run("spec", &["server", "--url", &url, "--cases", "1.*,6.4.*,12.*"], "") else { return };
    assert_eq!(run.given("argv"), "-m fuzzingclient");
    assert_eq!(run.given("url"), url);
    assert_eq!(run.given("agent"), "ws101");
    assert_eq!(run.given("cases"), "1.*,6.4.*,12.*");
    // Without --deflate, the permessage-deflate sections stay out.
    assert_eq!(run.given("exclude"), "12.*,13.*");
    assert_eq!(Path::new(run.given("outdir")), run.reports);
    assert!(run.out.status.success(), "{}", run.stdout());
}

#[test]
fn deflate_brings_sections_12_and_13_back() {
    let (_listener, url) = some_url();
    let Some(run) = run("deflate", &["server", "--url", &url, "--deflate", "--exclude", "9.*"], "") else { return };
    assert_eq!(run.given("cases"), "*");
    assert_eq!(run.given("exclude"), "9.*");
    let stdout = run.stdout();
    assert!(stdout.contains("\n12 ") && stdout.contains("\n13 "), "{stdout}");
    assert!(!stdout.contains("\n9 "), "{stdout}");
}

#[test]
fn the_summary_counts_each_section_and_passes_only_when_all_are_strictly_ok() {
    let (_listener, url) = some_url();
    let Some(run) = run("pass", &["server", "--url", &url], "") else { return };
    let stdout = run.stdout();
    assert!(run.out.status.success(), "{stdout}");
    // 1.1.1, 1.1.2, 2.1, 5.20, 6.4.3, 6.4.4, 7.1.6, 7.9.1, 9.1.6, 10.1.1.
    assert!(stdout.contains("agent ws101: 10 cases"), "{stdout}");
    let row = |section: &str| -> Vec<String> {
        let line = stdout.lines().find(|l| l.split_whitespace().next() == Some(section)).unwrap_or("");
        line.split_whitespace().skip(1).map(String::from).collect()
    };
    // cases, OK, NON-STRICT, INFORMATIONAL, UNIMPLEMENTED, FAILED, close not OK
    assert_eq!(row("1"), ["2", "2", "0", "0", "0", "0", "0"], "{stdout}");
    assert_eq!(row("7"), ["2", "1", "0", "1", "0", "0", "0"], "{stdout}");
    assert_eq!(row("all"), ["10", "9", "0", "1", "0", "0", "0"], "{stdout}");
    assert!(stdout.contains("PASS: 10/10 strictly OK"), "{stdout}");
}

#[test]
fn a_case_that_is_not_strictly_ok_is_named_and_fails_the_run() {
    let (_listener, url) = some_url();
    let Some(run) = run("fail", &["server", "--url", &url], "6.4.3=NON-STRICT,9.1.6=FAILED") else { return };
    let stdout = run.stdout();
    assert_eq!(run.out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("not strictly OK (2):"), "{stdout}");
    assert!(stdout.contains("6.4.3    behavior NON-STRICT, close OK"), "{stdout}");
    assert!(stdout.contains("9.1.6    behavior FAILED, close OK"), "{stdout}");
    assert!(stdout.contains("FAIL: 8/10 strictly OK"), "{stdout}");
}
