//! The real binary as a process: it never writes a secret to its log, and on SIGTERM it lets the
//! request in flight finish before it exits.

mod support;

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use support::{FakeUpstream, Fault};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn spawn_gateway(fake: &FakeUpstream, config: &str) -> (Child, String, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("geopf-process-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    let config_file = dir.join("config.toml");
    std::fs::write(&config_file, config).unwrap();
    let log = dir.join("gateway.log");
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_geopf-gateway"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--upstream",
            &fake.base_url(),
        ])
        .arg("--config")
        .arg(&config_file)
        .env("RUST_LOG", "debug")
        .env("GEOPF_UPSTREAM__API_KEY", "upstream-private-key")
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if reqwest::get(format!("{base}/health")).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    (child, base, log)
}

fn uuid_like() -> String {
    format!(
        "{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

const KEYS: &str = "[[auth.keys]]\nname = \"alice\"\ntoken = \"alice-secret-token\"\n";

#[tokio::test]
async fn no_secret_reaches_the_log() {
    let fake = FakeUpstream::start().await;
    let (mut child, base, log) = spawn_gateway(&fake, KEYS).await;
    let http = reqwest::Client::new();
    http.get(format!(
        "{base}/collections/addresses/items?q=rue%20farges&token=alice-secret-token"
    ))
    .send()
    .await
    .unwrap();
    http.get(format!(
        "{base}/collections/addresses/items?q=rue%20de%20la%20paix"
    ))
    .bearer_auth("alice-secret-token")
    .send()
    .await
    .unwrap();
    http.get(format!("{base}/?token=wrong-guess-token"))
        .send()
        .await
        .unwrap();
    fake.fault("/geocodage", Fault::unavailable(), None);
    http.get(format!(
        "{base}/collections/addresses/items?q=rue%20farges%20bis"
    ))
    .bearer_auth("alice-secret-token")
    .send()
    .await
    .unwrap();
    // The log is written in batches every 20 ms: let the last one out before the kill.
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().unwrap();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("/collections/addresses/items"),
        "the log has the requests: {text}"
    );
    for secret in [
        "alice-secret-token",
        "upstream-private-key",
        "wrong-guess-token",
    ] {
        assert!(!text.contains(secret), "{secret} is in the log");
    }
    assert_eq!(fake.log()[0].headers["x-key"], "upstream-private-key");
}

#[tokio::test]
async fn sigterm_lets_the_request_in_flight_finish() {
    let fake = FakeUpstream::start().await;
    fake.fault(
        "/geocodage/search",
        Fault::Slow(Duration::from_millis(1500)),
        None,
    );
    let (mut child, base, _) = spawn_gateway(&fake, "").await;
    let request = tokio::spawn(reqwest::get(format!(
        "{base}/collections/addresses/items?q=rue%20farges"
    )));
    while fake.count("/geocodage/search") == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let response = request.await.unwrap().unwrap();
    assert_eq!(response.status(), 200, "the request in flight completed");
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "exit status {exit:?}");
    assert!(
        reqwest::get(format!("{base}/health")).await.is_err(),
        "no longer accepting"
    );
}
