//! A gateway safe to leave running: hostile requests get a clear error and leave the process
//! answering; idle, half-sent and oversized connections are closed or refused, never held.

mod support;

use std::time::Duration;

use support::{assert_problem, TestApp};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const COMMUNE: &str = "LIMITES_ADMINISTRATIVES_EXPRESS.LATEST:commune";

/// Reads until the peer closes the connection (or `limit` passes); returns what arrived and
/// whether the peer closed.
async fn read_to_close(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok();
    (String::from_utf8_lossy(&got).into_owned(), closed)
}

#[tokio::test]
async fn a_deeply_nested_filter_is_a_400_and_the_gateway_lives_on() {
    let app = TestApp::start().await;
    for _ in 0..200 {
        if app.get_json(&format!("/collections/{COMMUNE}")).await.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let filter = format!("{}nom = 'a'{}", "(".repeat(2000), ")".repeat(2000));
    let got = app
        .get_json(&format!(
            "/collections/{COMMUNE}/items?filter={}",
            urlencode(&filter)
        ))
        .await;
    assert_problem(&got, 400, "nests deeper than 64");
    assert_eq!(got.2["parameter"], "filter");
    assert_eq!(app.get("/health").await.status(), 200);
}

/// Encodes what a query string cannot carry as is (parentheses can: 4 KB of them fit the URI).
fn urlencode(s: &str) -> String {
    s.replace(' ', "%20").replace('\'', "%27")
}

#[tokio::test]
async fn idle_and_half_sent_connections_are_closed() {
    let app = TestApp::start_with(|c| c.server.idle_timeout_s = 1).await;
    let mut silent = TcpStream::connect(app.addr).await.unwrap();
    let mut trickling = TcpStream::connect(app.addr).await.unwrap();
    trickling
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let mut kept_alive = TcpStream::connect(app.addr).await.unwrap();
    kept_alive
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    for (name, stream) in [
        ("silent", &mut silent),
        ("trickling", &mut trickling),
        ("kept alive", &mut kept_alive),
    ] {
        let (text, closed) = read_to_close(stream, Duration::from_secs(20)).await;
        assert!(closed, "the {name} connection was left open");
        if name == "kept alive" {
            assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        }
    }
}

#[tokio::test]
async fn beyond_the_connection_cap_the_idlest_makes_room() {
    let app = TestApp::start_with(|c| c.server.max_connections = 16).await;
    let mut idle = Vec::new();
    for _ in 0..64 {
        idle.push(TcpStream::connect(app.addr).await.unwrap());
    }
    // Every new connection closed an idle one: a real client is still served.
    let r = app.get("/health").await;
    assert_eq!(r.status(), 200);
    let mut closed = 0;
    for stream in &mut idle {
        let mut buf = [0u8; 16];
        if let Ok(Ok(0)) =
            tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await
        {
            closed += 1;
        }
    }
    assert!(
        closed >= 48,
        "only {closed} of 64 idle connections were closed"
    );
}

/// Opens a connection and sends the head of an execute request declaring a 20 MB body, with
/// `extra` (header lines, the blank line, the start of a body) after it.
async fn send_oversized_head(app: &TestApp, extra: &str) -> TcpStream {
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /processes/geocode/execution HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Content-Type: application/json\r\nContent-Length: 20000000\r\n{extra}"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

#[tokio::test]
async fn an_oversized_declared_body_is_refused_before_it_is_sent() {
    let app = TestApp::start().await;
    let mut stream = send_oversized_head(&app, "\r\n{").await;
    // Nothing more is sent: the answer must not wait for the 20 MB.
    let (text, closed) = read_to_close(&mut stream, Duration::from_secs(20)).await;
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("application/problem+json"), "{text}");
    assert!(text.contains("server.body_limit_mb"), "{text}");
    assert!(closed, "the connection stayed open after the 413");
}

/// A client that waits for `100 Continue` before sending an oversized body is told 413 instead,
/// never invited to send it, and the connection is not held open for it.
#[tokio::test]
async fn an_oversized_body_awaiting_continue_is_refused_without_a_continue() {
    let app = TestApp::start().await;
    let mut stream = send_oversized_head(&app, "Expect: 100-continue\r\n\r\n").await;
    // Nothing is read of a body that will not come: the connection is done with at once.
    let (text, closed) = read_to_close(&mut stream, Duration::from_secs(3)).await;
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(!text.contains("100 Continue"), "{text}");
    assert!(closed, "the connection was kept waiting for a body");
}

/// Connections are served on their own threads (`server.connection_threads`), not on the runtime
/// that accepted them: a kept-alive connection is answered while that runtime is blocked.
#[tokio::test]
async fn a_connection_is_answered_while_the_accepting_runtime_is_blocked() {
    use std::io::{Read, Write};
    let app = TestApp::start_with(|c| c.server.connection_threads = 2).await;
    let addr = app.addr;
    let (first_tx, first_rx) = std::sync::mpsc::channel::<String>();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let (second_tx, second_rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut ask = || {
            write!(stream, "GET /health HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            String::from_utf8_lossy(&buf[..n]).into_owned()
        };
        first_tx.send(ask()).unwrap();
        go_rx.recv().unwrap();
        second_tx.send(ask()).unwrap();
    });
    // The first answer needs the accepting runtime (this test's) to run: wait without blocking it.
    let first = tokio::task::spawn_blocking(move || first_rx.recv().unwrap())
        .await
        .unwrap();
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    // Now block this runtime's only thread until the second answer arrives (or 5 s pass).
    go_tx.send(()).unwrap();
    let second = second_rx
        .recv_timeout(Duration::from_secs(5))
        .unwrap_or_default();
    assert!(
        second.starts_with("HTTP/1.1 200"),
        "no answer while the accepting runtime was blocked: {second:?}"
    );
}
