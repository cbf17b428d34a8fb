//! The test harness: a real server on 127.0.0.1:0 with its own data folder, and a plain HTTP
//! client that shows exactly what went over the wire (no automatic decompression).

pub mod at_rest;
pub mod booking;
pub mod clinician;
pub mod details;
pub mod documents;
pub mod insights;
pub mod old_database;
pub mod postgres;
pub mod questionnaire;
pub mod reminders;
pub mod routes;
pub mod s3;
pub mod tls;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::header::HeaderMap;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use settings::config::Overrides;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The practice's own details, for servers at a public address: until they are given and the
/// going-live checklist is done (here by the config file), such a server shows the "being set
/// up" page instead of the example practice.
pub const OWN_PRACTICE: &str = "[practice]\nname = \"Harbor Light Therapy\"\nclinician_name = \"Sam Rivera\"\nemail = \"sam@harborlight.example.org\"\nphone = \"(212) 555-0188\"\ncity = \"Brooklyn, New York\"\n\n[going_live]\nreviewed = [\"about\", \"credentials\", \"privacy\", \"crisis\"]\n";

/// The brotli quality of the test servers' prepared pages (production's is 11). At 5, building
/// each page's hash tables was most of the fast tier's CPU time; 3 still shrinks `/` threefold.
pub const TEST_BROTLI_QUALITY: u32 = 3;

/// A running server, stopped when dropped.
pub struct TestApp {
    pub addr: SocketAddr,
    /// The server's folder (its data directory is `data` inside), alive as long as the server.
    pub data_dir: tempfile::TempDir,
    pub state: web::AppState,
    /// What the server was started with, for starting the command line on the same data.
    pub overrides: Overrides,
    stop: Option<oneshot::Sender<()>>,
    client: Client<HttpConnector, Full<Bytes>>,
    outbox: Option<tokio::task::JoinHandle<()>>,
    /// When the server serves HTTPS itself (`addr` is then its TLS listener): the client that
    /// trusts its certificate, the host it asks for, and the plain listener that redirects.
    pub https: Option<Https>,
    _certificate_files: Option<tempfile::TempDir>,
}

/// How a test reaches a server that serves HTTPS itself.
pub struct Https {
    pub client: std::sync::Arc<rustls::ClientConfig>,
    pub host: String,
    /// The plain-HTTP listener (redirects, HTTP-01 answers, `/healthz`).
    pub plain: SocketAddr,
}

/// A response, read whole.
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body, decoded from the `content-encoding` it came with (none, `gzip` or `br`).
    pub fn decoded(&self) -> Vec<u8> {
        use std::io::Read;
        let mut decoded = Vec::new();
        match self.header("content-encoding") {
            None => return self.body.to_vec(),
            Some("gzip") => flate2::read::GzDecoder::new(&self.body[..]).read_to_end(&mut decoded),
            Some("br") => brotli::Decompressor::new(&self.body[..], 4096).read_to_end(&mut decoded),
            Some(other) => panic!("compressed with gzip or brotli, not {other}"),
        }
        .expect("decodes");
        decoded
    }

    /// The answer's page, which must have come with `status`.
    #[track_caller]
    pub fn page_with(&self, status: u16) -> String {
        let text = self.text();
        assert_eq!(self.status, status, "{text}");
        text
    }

    /// Asserts that the answer has `status` and that its page says `says`.
    #[track_caller]
    pub fn assert_shows(&self, status: u16, says: &str) {
        let text = self.text();
        assert_eq!(self.status, status, "{text}");
        assert!(text.contains(says), "{says:?} not in {text}");
    }
}

/// What runs on a data directory before the server opens it ([`Builder::before_open`]).
type BeforeOpen = Box<dyn FnOnce(&Path) + Send>;

/// How a test server is started: `TestApp::builder()`, then what the test needs, then
/// [`Builder::build`]. Unset, it is the built-in content with the default identity, on SQLite
/// (or a database of its own in the PostgreSQL run), served over plain HTTP.
#[derive(Default)]
pub struct Builder {
    overrides: Overrides,
    config: Option<String>,
    database: Option<(String, String)>,
    options: Option<web::server::Options>,
    tls: Option<std::sync::Arc<web::tls::Tls>>,
    https_host: Option<String>,
    before_open: Option<BeforeOpen>,
}

impl Builder {
    /// The command-line overrides the server starts with.
    pub fn overrides(mut self, overrides: Overrides) -> Builder {
        self.overrides = overrides;
        self
    }

    /// The text of the server's config file.
    pub fn config(mut self, text: &str) -> Builder {
        self.config = Some(text.to_string());
        self
    }

    /// The PostgreSQL database at `url` with the data key `key_hex`: several servers built
    /// with the same make the servers of one practice.
    pub fn database(mut self, url: &str, key_hex: &str) -> Builder {
        self.database = Some((url.to_string(), key_hex.to_string()));
        self
    }

    /// These server options instead of the ones the config gives.
    pub fn server_options(mut self, options: web::server::Options) -> Builder {
        self.options = Some(options);
        self
    }

    /// The server's state holds the HTTPS certificate `tls` (for what the inbox and `/healthz`
    /// say about it); it is still served over plain HTTP.
    pub fn tls_state(mut self, tls: std::sync::Arc<web::tls::Tls>) -> Builder {
        self.tls = Some(tls);
        self
    }

    /// The server serves HTTPS itself as in production: a TLS listener (HTTP/2 and HTTP/1.1
    /// by ALPN) with a certificate for `host` from a private test authority, beside the plain
    /// listener that redirects to it. Every request of [`TestApp::request`] goes over a new
    /// TLS connection, asking for `host`; the public address is `https://{host}:{port}` unless
    /// the config text sets one. The configuration names the certificate files (`[tls]`), as a
    /// server that serves HTTPS itself does.
    pub fn https(mut self, host: &str) -> Builder {
        self.https_host = Some(host.to_string());
        self
    }

    /// Runs `prepare` on the (not yet existing) data directory before the server opens it: to
    /// restore a backup into it, say.
    pub fn before_open(mut self, prepare: impl FnOnce(&Path) + Send + 'static) -> Builder {
        self.before_open = Some(Box::new(prepare));
        self
    }

    /// Starts the server and waits until it serves its finished site.
    pub async fn build(self) -> TestApp {
        let Builder {
            mut overrides,
            config,
            database,
            options,
            mut tls,
            https_host,
            before_open,
        } = self;
        let config_text = config.as_deref();
        let mut https = None;
        // Kept as long as the server: the certificate files it was started with.
        let mut certificate_files = None;
        if let Some(host) = https_host {
            let ca = tls::TestCa::new();
            let (cert, key) = ca.issue_for(&[host.as_str()]);
            let (files, cert_file, key_file) = tls::certificate_files(&cert, &key);
            overrides.tls_cert_file = Some(cert_file.display().to_string());
            overrides.tls_key_file = Some(key_file.display().to_string());
            overrides.tls_bind = Some("127.0.0.1:0".into());
            tls = Some(tls::from_files(cert_file, key_file, files.path()));
            https = Some((ca.client(), host));
            certificate_files = Some(files);
        }
        let key_hex = match database {
            Some((url, key)) => {
                overrides.database_url = Some(url);
                Some(key)
            }
            None => None,
        };
        let data_dir = tempfile::tempdir().expect("temporary data dir");
        if let Some(text) = config_text {
            let path = data_dir.path().join("kap-practice.toml");
            std::fs::write(&path, text).expect("write config");
            overrides.config_file = Some(path);
        } else if overrides.config_file.is_none() {
            // Never pick up a kap-practice.toml from the working directory in tests.
            let path = data_dir.path().join("empty.toml");
            std::fs::write(&path, "").expect("write config");
            overrides.config_file = Some(path);
        }
        overrides.data_dir = Some(data_dir.path().join("data"));
        if let Some(prepare) = before_open {
            prepare(&data_dir.path().join("data"));
        }
        if let Some(key) = key_hex {
            let data = data_dir.path().join("data");
            std::fs::create_dir_all(&data).expect("data dir");
            std::fs::write(data.join("data.key"), key).expect("data key");
        } else if let Some(admin) = postgres::admin_url()
            && overrides.database_url.is_none()
        {
            // The PostgreSQL run: a database of its own, and the data key given, as every
            // server sharing PostgreSQL must have it.
            overrides.database_url = Some(postgres::fresh_database(&admin));
            let data = data_dir.path().join("data");
            std::fs::create_dir_all(&data).expect("data dir");
            std::fs::write(data.join("data.key"), crypto::generate_key_hex()).expect("data key");
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let plain = match &https {
            Some(_) => Some(TcpListener::bind("127.0.0.1:0").await.expect("bind")),
            None => None,
        };
        if overrides.base_url.is_none() && !config_text.is_some_and(|t| t.contains("base_url")) {
            overrides.base_url = Some(match &https {
                Some((_, host)) => format!("https://{host}:{}", addr.port()),
                None => format!("http://{addr}"),
            });
        }
        if overrides.brotli_quality.is_none() {
            // Tests start hundreds of servers and wait for their finished site: a quick brotli,
            // not the smallest (11, as in production, where a test needs the real one).
            overrides.brotli_quality = Some(TEST_BROTLI_QUALITY);
        }
        if overrides.min_fill_seconds.is_none() {
            // Tests post at machine speed; the minimum fill time has tests of its own.
            overrides.min_fill_seconds = Some(0);
        }
        let (config, site) = kap_practice::prepare(&overrides).expect("valid config and content");
        let app = kap_practice::open(config, site)
            .await
            .expect("data key and database open");
        // Tests compare encodings and ETags from the first request on: serve them the finished
        // site (brotli follows a start by a moment).
        until_site_complete(&app.state).await;
        let state = match &tls {
            Some(tls) => app.state.clone().with_tls(tls.clone()),
            None => app.state.clone(),
        };
        let outbox = app
            .outbox
            .map(|o| tokio::spawn(o.run(tokio_util::sync::CancellationToken::new())));
        let (tx, rx) = oneshot::channel::<()>();
        let serve_state = state.clone();
        // The server options the config gives, as `serve` would use, unless the test sets its own.
        let options =
            options.unwrap_or_else(|| web::server::Options::from_config(&state.config().server));
        let stopped = async {
            let _ = rx.await;
        };
        let https = match (plain, tls, https) {
            (Some(plain), Some(tls), Some((client, host))) => {
                let plain_addr = plain.local_addr().expect("addr");
                tokio::spawn(async move {
                    web::server::serve_https(listener, plain, serve_state, tls, stopped, &options)
                        .await
                        .expect("server runs");
                });
                Some(Https {
                    client,
                    host,
                    plain: plain_addr,
                })
            }
            _ => {
                tokio::spawn(async move {
                    web::server::serve(listener, serve_state, stopped, &options)
                        .await
                        .expect("server runs");
                });
                None
            }
        };
        let client = Client::builder(TokioExecutor::new()).build_http();
        TestApp {
            addr,
            data_dir,
            state,
            overrides,
            stop: Some(tx),
            client,
            outbox,
            https,
            _certificate_files: certificate_files,
        }
    }
}

impl TestApp {
    /// The server with the built-in content and default identity: `TestApp::builder().build()`.
    pub async fn start() -> TestApp {
        Self::builder().build().await
    }

    /// A server as [`TestApp::start`] gives, with the clinician's account
    /// ([`TestApp::add_clinician`]).
    pub async fn with_clinician() -> TestApp {
        let app = TestApp::start().await;
        app.add_clinician().await;
        app
    }

    /// The server with the built-in content and `config` as its config file:
    /// `TestApp::builder().config(config).build()`.
    pub async fn with_config(config: &str) -> TestApp {
        Self::builder().config(config).build().await
    }

    /// A server to start: see [`Builder`].
    pub fn builder() -> Builder {
        Builder::default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Runs `sql` through the server's own store, as a change made by hand in the database:
    /// how many rows changed.
    pub async fn execute(&self, sql: &str) -> u64 {
        self.state.store.execute_unchecked(sql).await.expect(sql)
    }

    /// Runs `sql` with `blobs` bound as `$1`, `$2`, ... on the server's database directly, as
    /// someone with the database but not the key could; returns how many rows changed.
    pub async fn database_write(&self, sql: &str, blobs: &[&[u8]]) -> u64 {
        match &self.overrides.database_url {
            Some(url) => {
                let mut q = sqlx::query::<sqlx::Postgres>(sql);
                for b in blobs {
                    q = q.bind(b.to_vec());
                }
                let mut conn = postgres_connection(url).await;
                q.execute(&mut conn).await.expect(sql).rows_affected()
            }
            None => {
                let mut q = sqlx::query::<sqlx::Sqlite>(sql);
                for b in blobs {
                    q = q.bind(b.to_vec());
                }
                let mut conn = self.sqlite().await;
                q.execute(&mut conn).await.expect(sql).rows_affected()
            }
        }
    }

    /// The first column of every row `sql` selects from the server's database, as bytes.
    pub async fn database_blobs(&self, sql: &str) -> Vec<Vec<u8>> {
        self.database_column(sql).await
    }

    /// The first column of every row `sql` selects from the server's database, as text.
    pub async fn database_texts(&self, sql: &str) -> Vec<String> {
        self.database_column(sql).await
    }

    /// The first column of every row `sql` selects from the server's database, read directly.
    async fn database_column<T>(&self, sql: &str) -> Vec<T>
    where
        T: Send + Unpin,
        T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
        T: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
    {
        match &self.overrides.database_url {
            Some(url) => sqlx::query_scalar(sql)
                .fetch_all(&mut postgres_connection(url).await)
                .await
                .expect(sql),
            None => sqlx::query_scalar(sql)
                .fetch_all(&mut self.sqlite().await)
                .await
                .expect(sql),
        }
    }

    async fn sqlite(&self) -> sqlx::SqliteConnection {
        use sqlx::ConnectOptions;
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(self.data_dir.path().join("data").join("kap-practice.db"))
            .busy_timeout(std::time::Duration::from_secs(10))
            .connect()
            .await
            .expect("open the database")
    }

    /// The server's data key, as hex.
    pub fn data_key(&self) -> String {
        std::fs::read_to_string(self.data_dir.path().join("data").join("data.key"))
            .expect("the test's data key")
            .trim()
            .to_string()
    }

    /// Runs `kap-practice` with `args` on this server's data, as an operator on the server
    /// would: (exit code, stdout, stderr).
    pub fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kap-practice"));
        cmd.args(args)
            .env("KAP_DATA_DIR", self.data_dir.path().join("data"))
            .env_remove("RUST_LOG");
        if let Some(config) = &self.overrides.config_file {
            cmd.env("KAP_CONFIG", config);
        }
        if let Some(url) = &self.overrides.database_url {
            cmd.env("DATABASE_URL", url);
        }
        outcome(cmd.output().expect("run kap-practice"))
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[], Bytes::new()).await
    }

    /// The page at `path`, which must be there (200).
    pub async fn page(&self, path: &str) -> String {
        self.get(path).await.page_with(200)
    }

    /// A fresh contact form's token.
    pub async fn token(&self) -> String {
        token_in(&self.get("/contact").await.text())
    }

    /// Posts the contact form with `pairs` (add `form_token` yourself, or use `submit`).
    pub async fn post_form(&self, pairs: &[(&str, &str)]) -> Reply {
        self.request(
            "POST",
            "/contact",
            // As a person's browser sends it: insights count a request by the rule its
            // form's views are counted by, which leaves out scripts.
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("user-agent", insights::FIREFOX),
            ],
            form_body(pairs),
        )
        .await
    }

    /// The id of the request stored last.
    pub async fn last_request_id(&self) -> i64 {
        self.state
            .store
            .all_requests()
            .await
            .expect("read")
            .last()
            .expect("stored")
            .id
    }

    /// Request `id` as stored, which must exist.
    pub async fn stored_request(&self, id: i64) -> store::StoredRequest {
        self.state
            .store
            .request(id)
            .await
            .expect("read")
            .expect("exists")
    }

    /// The id of a stored request other than `id` (where two are stored).
    pub async fn other_request_id(&self, id: i64) -> i64 {
        self.state
            .store
            .all_requests()
            .await
            .expect("read")
            .into_iter()
            .find(|r| r.id != id)
            .expect("another request")
            .id
    }

    /// How many lines of the audit log record `action`.
    pub async fn audit_lines(&self, action: &str) -> usize {
        let (rows, _) = self.state.store.audit_log(1000, 0).await.expect("audit");
        rows.iter().filter(|r| r.action == action).count()
    }

    /// The kinds of the mail queued about request `id`, oldest first.
    pub async fn mail_kinds(&self, id: i64) -> Vec<String> {
        let states = self.state.store.mail_states(id).await.expect("mail");
        states.into_iter().map(|m| m.kind).collect()
    }

    /// The answers of each questionnaire of request `id`, oldest first (they open).
    pub async fn answers(&self, id: i64) -> Vec<practice::questionnaire::Answers> {
        let questionnaires = self.state.store.questionnaires(id).await;
        let questionnaires = questionnaires.expect("the answers open");
        questionnaires.into_iter().map(|q| q.answers).collect()
    }

    /// How many outbox rows wait to be sent.
    pub async fn mail_pending(&self) -> i64 {
        let counts = self.state.store.outbox_counts().await.expect("counts");
        counts.pending
    }

    /// Whether the audit log has a line recording `action` on the request `id`.
    pub async fn audited(&self, action: &str, id: i64) -> bool {
        let (rows, _) = self.state.store.audit_log(1000, 0).await.expect("audit");
        rows.iter()
            .any(|r| r.action == action && r.request_id == Some(id))
    }

    /// Asserts that no detail of the audit log, nor of the history of the request `id`, holds
    /// any of `markers` (personal details the test wrote).
    pub async fn assert_nothing_personal_logged(&self, id: i64, markers: &[&str]) {
        let (audit, _) = self.state.store.audit_log(1000, 0).await.expect("audit");
        let history = self.state.store.history(id).await.expect("history");
        for text in audit
            .iter()
            .filter_map(|r| r.detail.clone())
            .chain(history.iter().filter_map(|h| h.detail.clone()))
        {
            for marker in markers {
                assert!(!text.contains(marker), "{marker} in {text}");
            }
        }
    }

    /// The names of the stored requests, in the order received.
    pub async fn request_names(&self) -> Vec<String> {
        request_names(&self.state.store).await
    }

    /// A first-run setup token issued now (the practice has no account yet).
    pub async fn setup_token(&self) -> String {
        self.state
            .store
            .issue_setup_token(jiff::Timestamp::now())
            .await
            .expect("store")
            .expect("no account yet")
    }

    /// Sends a valid request (changed by `changes`) with a fresh token.
    pub async fn submit(&self, name: &str, changes: &[(&str, &str)]) -> Reply {
        let token = self.token().await;
        let mut fields: Vec<(&str, String)> = valid_fields(name);
        for (k, v) in changes {
            match fields.iter_mut().find(|(f, _)| f == k) {
                Some(slot) => slot.1 = v.to_string(),
                None => fields.push((k, v.to_string())),
            }
        }
        let mut pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        pairs.push(("form_token", &token));
        self.post_form(&pairs).await
    }

    /// Sends the contact form as [`TestApp::submit`] does and checks that it was taken (the
    /// answer is the redirect to the thank-you page).
    pub async fn submitted(&self, name: &str, changes: &[(&str, &str)]) -> Reply {
        let r = self.submit(name, changes).await;
        assert_eq!(r.status, 303, "the form was taken: {}", r.text());
        r
    }

    /// Sends the contact form as [`TestApp::submitted`] does and reads the words of the
    /// thank-you page it leads to.
    pub async fn thanked_for(&self, name: &str, changes: &[(&str, &str)]) -> String {
        let r = self.submitted(name, changes).await;
        let thanks = self.get(r.header("location").expect("location")).await;
        visible_text(&thanks.text())
    }

    /// A request sent from another loopback address (127.0.0.2, …).
    pub async fn request_from(
        &self,
        local: std::net::IpAddr,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        let mut connector = HttpConnector::new();
        connector.set_local_address(Some(local));
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build(connector);
        Self::send(&client, &self.url(path), method, headers, body.into()).await
    }

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        if let Some(https) = &self.https {
            let answer = tls::https_request(
                &https.client,
                self.addr,
                &https.host,
                method,
                path,
                headers,
                body.into(),
            )
            .await
            .unwrap_or_else(|e| panic!("{method} {path} over HTTPS: {e}"));
            return Reply {
                status: answer.status,
                headers: answer.headers,
                body: answer.body,
            };
        }
        Self::send(&self.client, &self.url(path), method, headers, body.into()).await
    }

    async fn send(
        client: &Client<HttpConnector, Full<Bytes>>,
        url: &str,
        method: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(body)).expect("request");
        let res = client.request(req).await.expect("response");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.expect("body").to_bytes();
        Reply {
            status,
            headers,
            body,
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(worker) = self.outbox.take() {
            worker.abort();
        }
    }
}

/// The names of the requests in `store`, in the order received.
pub async fn request_names(store: &store::Store) -> Vec<String> {
    store
        .all_requests()
        .await
        .expect("requests open")
        .into_iter()
        .map(|r| r.name)
        .collect()
}

/// A connection of its own to the PostgreSQL database at `url`.
async fn postgres_connection(url: &str) -> sqlx::PgConnection {
    use sqlx::ConnectOptions;
    url.parse::<sqlx::postgres::PgConnectOptions>()
        .expect("database URL")
        .connect()
        .await
        .expect("connect to PostgreSQL")
}

/// The practice's page copy, one line per entry, as the practice wrote it.
pub fn seed_lines() -> Vec<String> {
    let path = seed_path();
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .lines()
        .map(|l| l.trim().trim_start_matches("- ").to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn seed_path() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [root.join("tests/fixtures/kap-page.txt")];
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .expect("tests/fixtures/kap-page.txt")
}

/// Decodes HTML entities that the templates produce, and drops tags, for text comparisons.
pub fn visible_text(html: &str) -> String {
    // Inline elements join their neighbours; block elements separate them.
    const INLINE: &[&str] = &[
        "a", "span", "em", "strong", "small", "b", "i", "code", "abbr",
    ];
    let mut out = String::with_capacity(html.len());
    let mut tag: Option<String> = None;
    for c in html.chars() {
        match (&mut tag, c) {
            (None, '<') => tag = Some(String::new()),
            (Some(t), '>') => {
                let name: String = t
                    .trim_start_matches('/')
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect::<String>()
                    .to_ascii_lowercase();
                if !INLINE.contains(&name.as_str()) {
                    out.push(' ');
                }
                tag = None;
            }
            (Some(t), c) => t.push(c),
            (None, c) => out.push(c),
        }
    }
    let decoded = out
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// In the PostgreSQL run: the environment that gives the binary the database belonging to
/// `data_dir` (created on first use, the same on every later start) and, unless the caller
/// gives one itself, the data key for it. Empty in the SQLite run.
pub fn database_env(data_dir: &Path, has_key: bool) -> Vec<(String, String)> {
    let Some(admin) = postgres::admin_url() else {
        return Vec::new();
    };
    let side = |ext: &str| PathBuf::from(format!("{}.{ext}", data_dir.display()));
    let url_file = side("database-url");
    let url = match std::fs::read_to_string(&url_file) {
        Ok(url) => url,
        Err(_) => {
            let url = postgres::fresh_database(&admin);
            std::fs::write(&url_file, &url).expect("remember the database");
            url
        }
    };
    let mut env = vec![("DATABASE_URL".to_string(), url)];
    if !has_key {
        let key_file = side("key");
        if !key_file.is_file() {
            std::fs::write(&key_file, crypto::generate_key_hex()).expect("data key");
        }
        env.push((
            "KAP_DATA_KEY_FILE".to_string(),
            key_file.display().to_string(),
        ));
    }
    env
}

/// How many times a spawned server is given a new port when another process took the one
/// chosen for it.
const PORT_TRIES: usize = 5;
/// What the server says when its port is taken.
const PORT_TAKEN: &str = "Address already in use";

/// How a spawned server's start ended.
pub enum Ready {
    Up,
    PortTaken,
}

/// The real binary, started as a process (for signals, exit codes and logs).
pub struct Process {
    pub child: std::process::Child,
    pub addr: SocketAddr,
    pub stderr_path: PathBuf,
    pub dir: tempfile::TempDir,
}

impl Process {
    /// Starts `kap-practice serve` with `extra` arguments and waits until it answers.
    pub fn serve(extra: &[&str], env: &[(&str, &str)]) -> Process {
        Self::serve_on([127, 0, 0, 1], extra, env)
    }

    /// As [`Process::serve`], bound to `ip` (another loopback address stands for a network
    /// address in tests).
    pub fn serve_on(ip: [u8; 4], extra: &[&str], env: &[(&str, &str)]) -> Process {
        let mut dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("kap-practice.toml");
        if !extra.contains(&"--config") {
            std::fs::write(&config, "").expect("config");
        }
        let own_data_dir = !extra.contains(&"--data-dir");
        let data_dir = match extra.iter().position(|a| *a == "--data-dir") {
            Some(i) => PathBuf::from(extra[i + 1]),
            None => dir.path().join("data"),
        };
        let stderr_path = dir.path().join("stderr.log");
        // A free port is free when it is chosen; another process may take it before this one
        // binds it. The server then stops at once, saying so, and starts again on another.
        for _ in 0..PORT_TRIES {
            let addr = SocketAddr::from((ip, free_port()));
            let stderr = std::fs::File::create(&stderr_path).expect("log file");
            let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kap-practice"));
            cmd.arg("serve").arg("--bind").arg(addr.to_string());
            if own_data_dir {
                cmd.arg("--data-dir").arg(&data_dir);
            }
            if !extra.contains(&"--config") {
                cmd.arg("--config").arg(&config);
            }
            if !env.iter().any(|(k, _)| *k == "DATABASE_URL") {
                cmd.envs(database_env(
                    &data_dir,
                    env.iter().any(|(k, _)| *k == "KAP_DATA_KEY"),
                ));
            }
            cmd.args(extra)
                .env_remove("RUST_LOG")
                .envs(env.iter().copied())
                .stdout(std::process::Stdio::null())
                .stderr(stderr);
            let child = cmd.spawn().expect("spawn kap-practice");
            let mut p = Process {
                child,
                addr,
                stderr_path: stderr_path.clone(),
                dir,
            };
            match p.wait_ready(|p| {
                blocking_get(p.addr, "/healthz").is_some_and(|r| r.starts_with("HTTP/1.1 200"))
                    // The log is written by a thread of its own: the line that ends the start,
                    // logged after every warning of the start, says they are all in the file.
                    && p.stderr().contains("serving address=")
            }) {
                Ready::Up => return p,
                Ready::PortTaken => {
                    if own_data_dir {
                        let _ = std::fs::remove_dir_all(&data_dir);
                    }
                    dir = std::mem::replace(&mut p.dir, tempfile::tempdir().expect("tempdir"));
                }
            }
        }
        panic!("kap-practice found its port taken {PORT_TRIES} times");
    }

    /// Waits until `up` holds. [`Ready::PortTaken`] if the server stopped because another
    /// process took its port first; any other early stop fails the test.
    pub fn wait_ready(&mut self, up: impl Fn(&Process) -> bool) -> Ready {
        let deadline = std::time::Instant::now() + PATIENCE;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = self.stderr();
                if log.contains(PORT_TAKEN) {
                    return Ready::PortTaken;
                }
                panic!("kap-practice exited early ({status}): {log}");
            }
            if up(self) {
                return Ready::Up;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!(
            "kap-practice did not answer within {PATIENCE:?}: {}",
            self.stderr()
        );
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// The log once it holds `line` (lines reach the file a moment after they are logged), or
    /// as it is after [`PATIENCE`], for the assertion to show.
    pub fn log_with(&self, line: &str) -> String {
        let deadline = std::time::Instant::now() + PATIENCE;
        loop {
            let log = self.stderr();
            if log.contains(line) || std::time::Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    pub fn get(&self, path: &str) -> String {
        blocking_get(self.addr, path).unwrap_or_default()
    }

    pub fn signal(&self, name: &str) {
        let ok = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -{name} failed");
    }

    /// Waits for the process to exit and returns whether it succeeded.
    pub fn wait_exit(&mut self, within: std::time::Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody is listening on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A minimal blocking HTTP/1.1 GET returning the raw response text.
pub fn blocking_get(addr: SocketAddr, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s =
        std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// Whether one of the audit log's `rows` has a detail that says `words`.
pub fn a_detail_says(rows: &[store::AuditRow], words: &str) -> bool {
    rows.iter()
        .any(|r| r.detail.as_deref().is_some_and(|d| d.contains(words)))
}

/// What a finished program said: (exit code, stdout, stderr).
pub fn outcome(out: std::process::Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// What a finished program wrote to stdout; it must have succeeded (`what`: the program, for
/// the failure message, which quotes its stderr).
#[track_caller]
pub fn stdout_of(out: std::process::Output, what: &str) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs the binary with `args` to completion: (exit code, stdout, stderr).
pub fn run_binary(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kap-practice"));
    if let Some(i) = args.iter().position(|a| *a == "--data-dir")
        && let Some(dir) = args.get(i + 1)
        && Path::new(&format!("{dir}.database-url")).is_file()
    {
        cmd.envs(database_env(Path::new(dir), false));
    }
    let out = cmd
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .output()
        .expect("run kap-practice");
    outcome(out)
}

/// Every request kept in `data`, decrypted by `kap-practice inquiries export` in `format`.
pub fn export(data: &Path, format: &str) -> String {
    let cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kap-practice"));
    export_with(cmd, data, format, None)
}

/// The same, run by `cmd` (the binary, or a command that runs it, such as `nsenter`), with
/// `key` as its data key if given. In the PostgreSQL run a data folder that has a database of
/// its own (see [`database_env`]) is exported from it.
pub fn export_with(
    mut cmd: std::process::Command,
    data: &Path,
    format: &str,
    key: Option<&str>,
) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("empty.toml");
    std::fs::write(&config, "").expect("config");
    if Path::new(&format!("{}.database-url", data.display())).is_file() {
        cmd.envs(database_env(data, key.is_some()));
    }
    if let Some(key) = key {
        cmd.env("KAP_DATA_KEY", key);
    }
    let out = cmd
        .args(["inquiries", "export", "--format", format, "--data-dir"])
        .arg(data)
        .arg("--config")
        .arg(&config)
        .env_remove("RUST_LOG")
        .output()
        .expect("run the export");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "export failed: {stderr}");
    String::from_utf8(out.stdout).expect("utf-8")
}

/// A copy of the built-in content in `dir/content`, to edit in a test.
pub fn copy_content(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("content");
    let dst = dir.join("content");
    copy_dir(&src, &dst);
    dst
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("mkdir");
    for entry in std::fs::read_dir(src).expect("read dir") {
        let entry = entry.expect("entry");
        let to = dst.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), to).expect("copy");
        }
    }
}

/// The SMTP server: aiosmtpd on 127.0.0.1 at the port given (argument 1; 0 for any), storing
/// mail in the Maildir given (argument 2); prints the port once it listens.
const SMTP_SERVER: &str = include_str!("smtp_server.py");

/// A real SMTP server on loopback (Debian's python3-aiosmtpd) that stores mail in a Maildir.
pub struct SmtpServer {
    child: std::process::Child,
    pub port: u16,
    pub maildir: PathBuf,
}

impl SmtpServer {
    /// Starts on a port the system gives it, with a new Maildir in `dir`.
    pub fn start(dir: &Path) -> SmtpServer {
        Self::start_on(0, &dir.join("maildir"))
    }

    /// Starts on `port` (0: one the system gives, so no other process can take it first),
    /// keeping mail in `maildir` (so a restarted server adds to the same box).
    pub fn start_on(port: u16, maildir: &Path) -> SmtpServer {
        use std::io::BufRead;
        let python = ["/usr/bin/python3", "python3"]
            .into_iter()
            .find(|p| {
                std::process::Command::new(p)
                    .args(["-c", "import aiosmtpd"])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            })
            .expect("python3 with aiosmtpd (Debian's python3-aiosmtpd): run `cargo xtask test`, which installs it");
        // aiosmtpd's own server and Maildir handler, as `python3 -m aiosmtpd -n -c
        // aiosmtpd.handlers.Mailbox` runs them, listening before it prints its port.
        let mut child = std::process::Command::new(python)
            .args(["-c", SMTP_SERVER])
            .arg(port.to_string())
            .arg(maildir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = std::io::BufReader::new(out).read_line(&mut line);
        }
        let port: u16 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("aiosmtpd did not start on port {port}: {line:?}"));
        SmtpServer {
            child,
            port,
            maildir: maildir.to_path_buf(),
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, raw.
    pub fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(entries) = std::fs::read_dir(self.maildir.join(sub)) {
                for e in entries.flatten() {
                    if let Ok(text) = std::fs::read_to_string(e.path()) {
                        out.push(text);
                    }
                }
            }
        }
        out
    }

    /// The subject of every message received so far, with the message raw: read here, by
    /// mail-parser, so that waiting for a message starts no process. (What a real reader makes
    /// of a message is Python's to say: [`booking::python_read`].)
    pub fn subjects(&self) -> Vec<(String, String)> {
        self.messages()
            .into_iter()
            .map(|raw| {
                let subject = mail_parser::MessageParser::new()
                    .parse_headers(raw.as_bytes())
                    .and_then(|m| m.subject().map(str::to_string))
                    .unwrap_or_default();
                (subject, raw)
            })
            .collect()
    }

    /// The raw messages whose subject starts with `subject`.
    pub fn with_subject(&self, subject: &str) -> Vec<String> {
        self.subjects()
            .into_iter()
            .filter(|(s, _)| s.starts_with(subject))
            .map(|(_, raw)| raw)
            .collect()
    }

    /// Waits until at least `n` messages arrived (or [`PATIENCE`] is up) and returns them all.
    pub fn wait_for(&self, n: usize) -> Vec<String> {
        let deadline = std::time::Instant::now() + PATIENCE;
        loop {
            let m = self.messages();
            if m.len() >= n || std::time::Instant::now() >= deadline {
                return m;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `application/x-www-form-urlencoded` for `pairs`.
pub fn form_body(pairs: &[(&str, &str)]) -> String {
    fn enc(s: &str) -> String {
        let mut out = String::new();
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    out.push(b as char)
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
        out
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A valid request's fields (without the token).
pub fn valid_fields(name: &str) -> Vec<(&'static str, String)> {
    vec![
        ("name", name.to_string()),
        ("email", "person@example.com".into()),
        ("phone", "".into()),
        ("contact_method", "email".into()),
        ("state", "CA".into()),
        ("for_whom", "myself".into()),
        ("age_group", "adult".into()),
        ("message", "".into()),
        ("referral_source", "".into()),
        ("consent", "yes".into()),
        ("website", "".into()),
    ]
}

/// The token in a served contact page.
pub fn token_in(html: &str) -> String {
    let start = html
        .find("name=\"form_token\" value=\"")
        .expect("form token")
        + 25;
    html[start..start + html[start..].find('"').expect("end")].to_string()
}

/// A minimal blocking HTTP/1.1 POST: (status, raw head, body).
pub fn blocking_post(
    addr: SocketAddr,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> Option<(u16, String, String)> {
    use std::io::{Read, Write};
    let mut s =
        std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok()?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .ok()?;
    s.write_all(body).ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.get(9..12)?.parse().ok()?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Some((status, head.to_string(), body.to_string()))
}

/// The Content-Security-Policy source that allows exactly the inline styles or script
/// `text`: `'sha256-…'` of its bytes (CSP Level 3, 8.3).
pub fn csp_source(text: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The content-hashed URL of an asset the page links, e.g. `/static/css/site.<hash>.css` for
/// `prefix` `/static/css/site.` and `suffix` `.css`.
pub fn asset_url(html: &str, prefix: &str, suffix: &str) -> String {
    let start = html
        .find(prefix)
        .unwrap_or_else(|| panic!("{prefix} linked from the page"));
    let end = html[start..].find(suffix).expect("suffix") + start + suffix.len();
    html[start..end].to_string()
}

/// A value as the store sealed it before values were bound to their rows (format 1): version 1,
/// the key's id, a nonce, and the ciphertext bound to the field's name only.
pub fn sealed_the_old_way(key_hex: &str, field: &str, plaintext: &str) -> Vec<u8> {
    use chacha20poly1305::XChaCha20Poly1305;
    use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
    use sha2::Digest;
    let key = crypto::hex::unhex(key_hex).expect("hex key");
    let cipher = XChaCha20Poly1305::new_from_slice(&key).expect("32-byte key");
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let ciphertext = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext.as_bytes(),
                aad: field.as_bytes(),
            },
        )
        .expect("seal");
    let mut out = vec![1];
    out.extend_from_slice(&sha2::Sha256::digest(&key)[..4]);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    out
}

/// How long a test waits for something that must happen — a server or the mail server ready, a
/// message, background work done — before it fails. Each wait ends as soon as the thing happens,
/// so the figure costs nothing when all is well; it is long so that a machine whose cores are
/// all busy (another build, the other tests) is not taken for a broken program.
pub const PATIENCE: std::time::Duration = std::time::Duration::from_secs(120);

/// Looks with `look` until it finds what it looks for (`Ok`), for up to [`PATIENCE`]: what it
/// found; past that, the test fails with the last look's words (`Err`).
pub async fn patiently<T, F, Fut>(mut look: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        match look().await {
            Ok(found) => return found,
            Err(why) => assert!(std::time::Instant::now() < deadline, "{why}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// [`patiently`], for a look that waits on nothing (from a test's plain thread).
pub fn patiently_blocking<T>(mut look: impl FnMut() -> Result<T, String>) -> T {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        match look() {
            Ok(found) => return found,
            Err(why) => assert!(std::time::Instant::now() < deadline, "{why}"),
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Waits until `state` serves its site with every encoding made.
pub async fn until_site_complete(state: &web::AppState) {
    let deadline = std::time::Instant::now() + PATIENCE;
    while !state.site_complete() {
        assert!(
            std::time::Instant::now() < deadline,
            "the brotli variants were not made within {PATIENCE:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}
