//! The command line: `--help`, `check-config` (masked secrets, invalid keys named), and `serve`
//! listening at once without the upstream.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Duration,
};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_geopf-gateway"))
}

#[test]
fn help_on_every_command() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["check-config", "--help"],
        vec!["seed", "--help"],
        vec!["catalog", "--help"],
        vec!["adapters", "check", "--help"],
    ] {
        let out = bin().args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage"), "{args:?}: {text}");
    }
    let serve = bin().args(["serve", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&serve.stdout);
    for flag in ["--listen", "--upstream", "--config", "--cache-dir"] {
        assert!(text.contains(flag), "serve --help lacks {flag}");
    }
}

#[test]
fn check_config_prints_the_effective_config_with_secrets_masked() {
    let out = bin()
        .arg("check-config")
        .env("GEOPF_UPSTREAM__API_KEY", "top-secret")
        .env("GEOPF_UPSTREAM__TIMEOUT_MS", "4321")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let config: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(config["upstream"]["timeout_ms"], 4321);
    assert_eq!(config["upstream"]["api_key"], "***");
    assert!(!text.contains("top-secret"));
}

#[test]
fn an_invalid_config_is_refused_naming_the_key() {
    let dir = std::env::temp_dir().join(format!("geopf-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(&file, "[upstream]\nbase_url = \"not a url\"\n").unwrap();
    for (args, needle) in [
        (
            vec!["check-config", "--config", file.to_str().unwrap()],
            "upstream.base_url",
        ),
        (
            vec!["serve", "--config", file.to_str().unwrap()],
            "upstream.base_url",
        ),
        (
            vec!["check-config", "--config", "/nonexistent/x.toml"],
            "/nonexistent/x.toml",
        ),
    ] {
        let out = bin().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let out = bin()
        .arg("check-config")
        .env("GEOPF_CACHE__MEMORY_MB", "0")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("cache.memory_mb"));
}

#[test]
fn serve_listens_at_once_without_the_upstream() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = bin()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--upstream",
            "http://127.0.0.1:9",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let started = std::time::Instant::now();
    let mut listening = false;
    while started.elapsed() < Duration::from_secs(20) {
        match lines.next() {
            Some(Ok(line)) if line.contains("listening") => {
                // stderr is a pipe here, not a terminal: plain text, no colour codes.
                assert!(
                    !line.contains('\u{1b}'),
                    "colour codes in a log file: {line:?}"
                );
                listening = true;
                break;
            }
            Some(_) => continue,
            None => break,
        }
    }
    let health = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
    child.kill().unwrap();
    let _ = child.wait();
    assert!(listening && health, "the gateway did not start listening");
}

#[test]
fn adapters_check_names_each_file_and_what_is_wrong() {
    let dir = std::env::temp_dir().join(format!("geopf-cli-adapters-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/adapters/examples/elevation-points.toml"
    );
    std::fs::copy(example, dir.join("good.toml")).unwrap();
    std::fs::write(
        dir.join("wrong.toml"),
        std::fs::read_to_string(example)
            .unwrap()
            .replace("id = \"elevation-points\"", "id = \"other\"")
            .replace(
                "features = \"$.elevations[*]\"",
                "features = \"$.elevations[\"",
            ),
    )
    .unwrap();
    let out = bin()
        .args(["adapters", "check", dir.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("good.toml") && text.contains("elevation-points"),
        "{text}"
    );
    assert!(
        text.contains("search-layers"),
        "the shipped adapters are checked too: {text}"
    );
    let wrong = text.lines().find(|l| l.contains("wrong.toml")).unwrap();
    assert!(
        wrong.starts_with("error")
            && wrong.contains("response.features")
            && wrong.contains("JSONPath"),
        "{wrong}"
    );
    std::fs::remove_file(dir.join("wrong.toml")).unwrap();
    let out = bin()
        .args(["adapters", "check", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    std::fs::remove_dir_all(dir).unwrap();
}
