//! A real S3-compatible server for the backup tests: moto's server (the S3 implementation the
//! boto3 project tests against), started on loopback by the test, with its own port.
//!
//! moto checks access keys only on requests signed in the `Authorization` header, and the
//! program signs in the query string (presigned requests), so a wrong key cannot be shown with
//! it: how a refusal is reported is tested on the answer S3 gives (`backup::target`).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// moto's S3 server on 127.0.0.1, on a port the system gives; prints the port once it listens.
const MOTO_SERVER: &str = "
import threading
from moto.server import ThreadedMotoServer

server = ThreadedMotoServer(ip_address='127.0.0.1', port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
threading.Event().wait()
";

/// A running moto server, stopped when dropped.
pub struct S3Server {
    child: Option<Child>,
    pub port: u16,
}

/// The access key the tests use (moto accepts any while it does not check credentials).
pub const ACCESS_KEY: &str = "kaptestkey";
pub const SECRET_KEY: &str = "kaptestsecret";

impl S3Server {
    pub fn start() -> S3Server {
        let python = ["python3", "/usr/bin/python3"]
            .into_iter()
            .find(|p| {
                Command::new(p)
                    .args(["-c", "import moto.server"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            })
            .expect("python3 with moto's server (pip install 'moto[server]'): run `cargo xtask test`, which installs it");
        // moto's server on a port the system gives it (no other process can take it first),
        // printed once it listens.
        let mut child = Command::new(python)
            .args(["-c", MOTO_SERVER])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto");
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line);
        }
        let server = S3Server {
            child: Some(child),
            port: line
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("moto did not start: {line:?}")),
        };
        let deadline = Instant::now() + super::PATIENCE;
        while super::blocking_get(([127, 0, 0, 1], server.port).into(), "/moto-api/").is_none() {
            assert!(
                Instant::now() < deadline,
                "moto did not answer on {}",
                server.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Sends a plain request (moto takes unsigned requests while it does not check
    /// credentials): creating and deleting buckets, emptying them.
    pub fn plain(&self, method: &str, path: &str) -> u16 {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )
        .expect("write");
        let mut answer = String::new();
        s.read_to_string(&mut answer).expect("read");
        answer
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }

    pub fn create_bucket(&self, bucket: &str) {
        assert_eq!(self.plain("PUT", &format!("/{bucket}")), 200);
    }

    /// Turns moto's checking of access keys on or off (its `reset-auth`: from now on, every
    /// request must be signed by a key it knows). With it on, moto refuses the program's
    /// query-signed requests whatever the key (it reads signatures from the header only).
    pub fn check_access_keys(&self, on: bool) {
        use std::io::{Read, Write};
        let body = if on { "0" } else { "inf" };
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        write!(
            s,
            "POST /moto-api/reset-auth HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )
        .expect("write");
        let mut answer = String::new();
        s.read_to_string(&mut answer).expect("read");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }

    /// Stops the server (what it held is gone with it).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The `[backup]` lines for a bucket here.
    pub fn config(&self, bucket: &str) -> String {
        format!(
            "s3_endpoint = \"{}\"\ns3_bucket = \"{bucket}\"\ns3_prefix = \"practice/\"\ns3_access_key_id = \"{ACCESS_KEY}\"\ns3_secret_access_key = \"{SECRET_KEY}\"\n",
            self.endpoint()
        )
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}
