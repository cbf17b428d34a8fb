//! Connections: each bound the server sets on its clients — header size, slow headers, idle
//! keep-alive, HTTP/2 streams and rapid reset, connections per address, request time — holds,
//! and a request being answered is not cut off by any of them.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::common::TestApp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use web::server::Options;

const HEADERS: Duration = Duration::from_secs(1);
const IDLE: Duration = Duration::from_secs(2);
/// The request time of the test that waits it out.
const REQUEST_TIME: Duration = Duration::from_secs(2);

fn options() -> Options {
    Options {
        header_read_timeout: HEADERS,
        idle_timeout: IDLE,
        max_connections_per_address: 16,
        ..Options::default()
    }
}

async fn server() -> TestApp {
    TestApp::builder().server_options(options()).build().await
}

/// Reads one response to a GET (headers and a body of `Content-Length` bytes); returns its head.
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

/// Asserts that a GET of `path` over the open connection `stream` is answered with 200.
async fn assert_answered(stream: &mut TcpStream, path: &str) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let head = read_response(stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}

/// Asserts that the server closes `stream` once the header time has passed, and not long after
/// (`what`: the case, for the failure message).
async fn assert_closed_after_the_header_time(stream: &mut TcpStream, what: &str) {
    let waited = closed_within(stream, HEADERS * 4).await;
    assert!(
        waited >= HEADERS.mul_f32(0.9),
        "{what}: closed after {waited:?}, before the header time"
    );
}

/// Waits for the server to close `stream`; returns how long that took.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Duration {
    let start = Instant::now();
    let mut sink = [0u8; 4096];
    loop {
        match tokio::time::timeout(
            limit.saturating_sub(start.elapsed()),
            stream.read(&mut sink),
        )
        .await
        {
            Ok(Ok(0)) | Ok(Err(_)) => return start.elapsed(),
            // An error page on its way out; the close follows.
            Ok(Ok(_)) => continue,
            Err(_) => panic!("still open after {limit:?}"),
        }
    }
}

/// A connection to `to` from the loopback address `from` (any 127.x.y.z is this machine).
async fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((from, 0)))
        .expect("bind a loopback address");
    socket.connect(to).await.expect("connect")
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_time() {
    let app = server().await;
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    for _ in 0..3 {
        assert_answered(&mut stream, "/").await;
    }
    assert_closed_after_the_header_time(&mut stream, "an idle connection").await;
}

/// A client that opens a connection and then sends nothing, half of HTTP/2's opening
/// ("preface"), or the whole preface and nothing after it, is let go after the header time,
/// long before the idle time: the header time counts from the connection's first moment,
/// whichever protocol it turns out to speak.
#[tokio::test]
async fn a_client_that_never_sends_a_request_is_let_go_after_the_header_time() {
    let app = TestApp::builder()
        .server_options(Options {
            idle_timeout: Duration::from_secs(60),
            ..options()
        })
        .build()
        .await;
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    for (what, sent) in [
        ("nothing", &b""[..]),
        ("half the HTTP/2 preface", &PREFACE[..10]),
        ("the whole HTTP/2 preface", PREFACE),
    ] {
        let mut stream = TcpStream::connect(app.addr).await.expect("connect");
        stream.write_all(sent).await.expect("send");
        assert_closed_after_the_header_time(&mut stream, what).await;
    }
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
    while start.elapsed() < HEADERS * 6 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if stream.write_all(b"a").await.is_err() {
            cut_off = true;
            break;
        }
        let mut byte = [0u8; 1];
        if let Ok(Ok(0) | Err(_)) =
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
    assert!(start.elapsed() >= HEADERS.mul_f32(0.9));
    // Meanwhile everyone else is answered.
    assert_eq!(app.get("/").await.status, 200);
}

#[tokio::test]
async fn headers_past_the_limit_are_refused_with_431() {
    let app = server().await;
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    let big = "a".repeat(Options::default().max_header_bytes + 1024);
    stream
        .write_all(format!("GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: {big}\r\n\r\n").as_bytes())
        .await
        .expect("send");
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut got)).await;
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 431"),
        "too-large headers: {text:?}"
    );
    // Headers within the limit are fine.
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    let fits = "a".repeat(Options::default().max_header_bytes / 2);
    stream
        .write_all(format!("GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: {fits}\r\n\r\n").as_bytes())
        .await
        .expect("send");
    let head = read_response(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}

#[tokio::test]
async fn a_request_still_being_answered_is_not_cut_off() {
    let app = server().await;
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    // A form whose body arrives slowly, over the idle time and many times the header time: the
    // request has begun, so the connection stays until it is answered.
    let body = b"name=Ada&email=ada%40example.com&message=hello";
    let head = format!(
        "POST /contact HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("send");
    let pause = IDLE * 2 / body.len() as u32;
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

/// Reads what the server sends on `stream` until it closes it (a reset counts as closed);
/// panics if it is still open after `limit`.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Vec<u8> {
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline.into(), stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return got,
            Ok(Ok(n)) => got.extend_from_slice(&chunk[..n]),
            Err(_) => panic!("still open after {limit:?}"),
        }
    }
}

#[tokio::test]
async fn half_sent_connections_from_one_address_cannot_starve_the_health_check() {
    // Header and idle times far longer than the test: a held connection stays open until the
    // test lets it go, however slowly a busy machine runs the steps between.
    let app = TestApp::builder()
        .server_options(Options {
            header_read_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            ..options()
        })
        .build()
        .await;
    let limit = options().max_connections_per_address;
    // A whole request, after which a server that answers closes the connection.
    const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    // One client opens many connections and leaves each with half a request.
    let mut held = Vec::new();
    for _ in 0..limit {
        let mut s = connect_from([127, 0, 0, 2], app.addr).await;
        s.write_all(b"GET / HTTP/1.1\r\nX-Half: ")
            .await
            .expect("send");
        held.push(s);
    }
    // Past its share, each new connection is closed at once: a whole request on it gets no
    // answer, where a connection served would be answered at once. (The bound is half the
    // header time, so no other limit can be what closed it; it only ends a failure.)
    for _ in 0..limit {
        let mut s = connect_from([127, 0, 0, 2], app.addr).await;
        // The server may have closed it before the request is written.
        let _ = s.write_all(GET).await;
        let answer = read_until_closed(&mut s, Duration::from_secs(30)).await;
        assert!(
            answer.is_empty(),
            "a connection past the share was answered: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    // Everyone else is answered, the health check included.
    let health = app.get("/healthz").await;
    assert_eq!(health.status, 200, "{}", health.text());
    let mut other = connect_from([127, 0, 0, 3], app.addr).await;
    assert_answered(&mut other, "/healthz").await;
    // The connections held are still open: the cap closed only the new ones. The first one's
    // request, finished now, is answered.
    held[0]
        .write_all(b"half\r\nHost: localhost\r\n\r\n")
        .await
        .expect("a held connection is still open");
    let head = read_response(&mut held[0]).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // When they go, the client may connect again: as soon as the server has seen them close,
    // which a connection closed unanswered shows has not happened yet. (The deadline only ends
    // a failure: a share never given back.)
    drop(held);
    let deadline = Instant::now() + crate::common::PATIENCE;
    loop {
        let mut again = connect_from([127, 0, 0, 2], app.addr).await;
        let _ = again.write_all(GET).await;
        let answer = read_until_closed(&mut again, Duration::from_secs(30)).await;
        if !answer.is_empty() {
            let answer = String::from_utf8_lossy(&answer);
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the share was not given back when the held connections closed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An HTTP/2 connection without TLS (the client knows the server speaks it: "prior knowledge").
async fn h2_client(app: &TestApp) -> h2::client::SendRequest<bytes::Bytes> {
    let tcp = TcpStream::connect(app.addr).await.expect("connect");
    let (client, connection) = h2::client::handshake(tcp).await.expect("HTTP/2 handshake");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client.ready().await.expect("ready")
}

fn h2_get(app: &TestApp, path: &str) -> axum::http::Request<()> {
    axum::http::Request::get(format!("http://{}{path}", app.addr))
        .body(())
        .expect("request")
}

#[tokio::test]
async fn http2_is_served_with_the_same_headers_and_a_stream_limit() {
    let app = server().await;
    let mut client = h2_client(&app).await;
    let (response, _) = client.send_request(h2_get(&app, "/"), true).expect("send");
    let response = response.await.expect("response");
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), axum::http::Version::HTTP_2);
    let headers = response.headers();
    for name in [
        "content-security-policy",
        "x-content-type-options",
        "x-request-id",
    ] {
        assert!(headers.contains_key(name), "HTTP/2 response without {name}");
    }
    let mut body = response.into_body();
    let mut length = 0;
    while let Some(chunk) = body.data().await {
        let chunk = chunk.expect("body");
        length += chunk.len();
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    assert!(length > 0);
    // The server told the client how many requests it may have open at once.
    assert_eq!(
        client.current_max_send_streams(),
        options().max_concurrent_streams as usize
    );
}

/// A client that opens HTTP/2 streams and resets them at once, faster than they can be
/// served ("rapid reset"), has its connection closed with `ENHANCE_YOUR_CALM` (past
/// [`Options::max_pending_accept_reset_streams`]); other clients are still served.
///
/// The frames are written by hand, all in one write, as an attacker's client would: a client
/// library would not send them this way.
#[tokio::test]
async fn an_http2_client_resetting_streams_as_it_opens_them_is_closed() {
    const STREAMS: u32 = 1000;
    let app = server().await;
    let frame = |kind: u8, flags: u8, stream: u32, payload: &[u8]| {
        let length = u32::try_from(payload.len()).expect("length").to_be_bytes();
        let mut f = vec![length[1], length[2], length[3], kind, flags];
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend_from_slice(payload);
        f
    };
    let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    bytes.extend(frame(0x4, 0, 0, &[])); // SETTINGS, none changed
    for i in 0..STREAMS {
        let stream = 2 * i + 1;
        // HEADERS (END_STREAM | END_HEADERS): GET, http, / from HPACK's static table.
        bytes.extend(frame(0x1, 0x5, stream, &[0x82, 0x86, 0x84]));
        // RST_STREAM with CANCEL.
        bytes.extend(frame(0x3, 0, stream, &0x8u32.to_be_bytes()));
    }
    let mut tcp = TcpStream::connect(app.addr).await.expect("connect");
    // The server may close before reading everything; what it wrote before is still read.
    let _ = tcp.write_all(&bytes).await;
    let mut answer = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline.into(), tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the connection is still open after 10 s"),
        }
    }
    // The server's frames: a GOAWAY (type 7) with ENHANCE_YOUR_CALM (0xb).
    let mut go_away = None;
    let mut rest = &answer[..];
    while rest.len() >= 9 {
        let length = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
        let Some(payload) = rest.get(9..9 + length) else {
            break;
        };
        if rest[3] == 0x7 && payload.len() >= 8 {
            go_away = Some(u32::from_be_bytes([
                payload[4], payload[5], payload[6], payload[7],
            ]));
        }
        rest = &rest[9 + length..];
    }
    assert_eq!(
        go_away,
        Some(0xb),
        "GOAWAY with ENHANCE_YOUR_CALM after {STREAMS} streams opened and reset"
    );

    let mut other = h2_client(&app).await;
    let (response, _) = other.send_request(h2_get(&app, "/"), true).expect("send");
    assert_eq!(response.await.expect("response").status(), 200);
}

/// A request that takes longer than the request time (`server.request_timeout_seconds`, set
/// to [`REQUEST_TIME`] here; 30 s in production) on a route that does real work —
/// here a form whose body arrives a byte a second — is answered 503 with the page a person can
/// read, not left hanging; the connection is not held past it.
#[tokio::test]
async fn a_request_past_the_request_time_is_answered_503() {
    let app = TestApp::builder()
        .server_options(options())
        .config(&format!(
            "[server]\nrequest_timeout_seconds = {}\n",
            REQUEST_TIME.as_secs()
        ))
        .build()
        .await;
    let mut tcp = TcpStream::connect(app.addr).await.expect("connect");
    tcp.write_all(
        format!(
            "POST /contact HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n",
            app.addr
        )
        .as_bytes(),
    )
    .await
    .expect("head");
    let started = Instant::now();
    let mut got = Vec::new();
    let mut chunk = [0u8; 16384];
    let head = loop {
        // Only ends a failure: the body would take 1000 s, so a server without a request
        // time never answers.
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no answer after 60 s"
        );
        // A byte of the body now and then; the server may stop reading once it has answered.
        let _ = tcp.write_all(b"a").await;
        if let Ok(read) = tokio::time::timeout(Duration::from_secs(1), tcp.read(&mut chunk)).await {
            let n = read.expect("read");
            assert!(n > 0, "closed without an answer");
            got.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&got).into_owned();
            if text.contains("\r\n\r\n") {
                break text;
            }
        }
    };
    let waited = started.elapsed();
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    // Not before the request time (its clock starts as the head arrives, a moment before
    // `started`). After it, a loaded machine may be slow to run the timer, so the upper bound
    // leaves 8 s: far more than any such delay, and still far short of the 1000 s a server
    // without a request time would need to read the body.
    assert!(
        waited >= REQUEST_TIME - Duration::from_millis(250)
            && waited < REQUEST_TIME + Duration::from_secs(8),
        "answered after {waited:?}, not at the {REQUEST_TIME:?} request time"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/html"),
        "{head}"
    );
}
