//! Connections: idle and slow clients are let go, a request being answered is not, and every
//! event loop serves.

use std::time::{Duration, Instant};

use crate::common::TestApp;
use kap_practice::web::server::Options;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const IDLE: Duration = Duration::from_secs(1);

async fn server() -> TestApp {
    TestApp::start_serving_with(Options {
        threads: 2,
        idle_timeout: IDLE,
    })
    .await
}

/// Reads one response to a GET (headers and a body of `Content-Length` bytes).
async fn read_response(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk))
            .await
            .expect("a response within 5 s")
            .expect("read");
        assert!(n > 0, "closed before the response was whole");
        got.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().expect("a number"))
                })
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return text[..end].to_string();
            }
        }
    }
}

/// Waits for the server to close `stream`; returns how long that took.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Duration {
    let start = Instant::now();
    let mut byte = [0u8; 1];
    match tokio::time::timeout(limit, stream.read(&mut byte)).await {
        Ok(Ok(0)) | Ok(Err(_)) => start.elapsed(),
        Ok(Ok(_)) => panic!("unexpected bytes from the server"),
        Err(_) => panic!("still open after {limit:?}"),
    }
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_time() {
    let app = server().await;
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    for _ in 0..3 {
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .expect("send");
        let head = read_response(&mut stream).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    }
    let waited = closed_within(&mut stream, IDLE * 4).await;
    assert!(
        waited >= IDLE.mul_f32(0.9),
        "closed after {waited:?}, before the idle time"
    );
}

#[tokio::test]
async fn a_client_sending_its_headers_a_byte_at_a_time_is_cut_off() {
    let app = server().await;
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    let start = Instant::now();
    // Never finishes: a header line that goes on and on, one byte every 100 ms.
    stream
        .write_all(b"GET / HTTP/1.1\r\nX-Slow: ")
        .await
        .expect("send");
    let mut cut_off = false;
    while start.elapsed() < IDLE * 6 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if stream.write_all(b"a").await.is_err() {
            cut_off = true;
            break;
        }
        let mut byte = [0u8; 1];
        if let Ok(Ok(0)) =
            tokio::time::timeout(Duration::from_millis(1), stream.read(&mut byte)).await
        {
            cut_off = true;
            break;
        }
    }
    assert!(
        cut_off,
        "a client trickling its headers still held the connection after {:?}",
        start.elapsed()
    );
    assert!(start.elapsed() >= IDLE.mul_f32(0.9));
    // Meanwhile everyone else is answered.
    assert_eq!(app.get("/").await.status, 200);
}

#[tokio::test]
async fn a_request_still_being_answered_is_not_cut_off() {
    let app = server().await;
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    // A form whose body arrives slowly, over three times the idle time: the request has begun,
    // so the connection stays until it is answered.
    let body = b"name=Ada&email=ada%40example.com&message=hello";
    let head = format!(
        "POST /contact HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("send");
    let pause = IDLE * 3 / body.len() as u32;
    for byte in body {
        tokio::time::sleep(pause).await;
        stream
            .write_all(&[*byte])
            .await
            .expect("the connection stays open");
    }
    let head = read_response(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 "), "{head}");
    assert!(
        !head.starts_with("HTTP/1.1 5"),
        "a slow body is the client's pace, not our failure: {head}"
    );
}

#[tokio::test]
async fn connections_are_served_by_every_event_loop_at_once() {
    let app = server().await;
    // Many connections at once, each asking a few times: all answered, none refused.
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let addr = app.addr;
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            for _ in 0..5 {
                stream
                    .write_all(b"GET /privacy HTTP/1.1\r\nHost: localhost\r\n\r\n")
                    .await
                    .expect("send");
                let head = read_response(&mut stream).await;
                assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            }
        }));
    }
    for t in tasks {
        t.await.expect("every connection answered");
    }
    let threads = std::fs::read_dir("/proc/self/task")
        .expect("threads")
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("http-"))
        .count();
    assert!(threads >= 2, "{threads} event loops running");
}
