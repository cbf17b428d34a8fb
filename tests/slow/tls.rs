//! Automatic certificates from Debian's `pebble` ACME test server on loopback: obtained,
//! renewed and kept when the authority fails, as served by the binary and as the inbox says.

use std::net::SocketAddr;
use std::time::Duration;

use crate::common::free_port;
use crate::common::tls::{
    HttpsProcess, TestCa, client_config, https_get, replace_file, until_some,
};

/// Debian's `pebble` ACME test server on loopback ports of its own, its HTTPS certificate from
/// `ca`, issuing certificates valid for `validity_seconds` and accepting every challenge.
struct Pebble {
    child: std::process::Child,
    directory: String,
    management: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Pebble {
    fn start(ca: &TestCa, validity_seconds: u64) -> Pebble {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, key) = ca.issue_for(&["localhost", "127.0.0.1"]);
        replace_file(&dir.path().join("cert.pem"), &cert);
        replace_file(&dir.path().join("key.pem"), &key);
        let listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let management: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let config = serde_json::json!({
            "pebble": {
                "listenAddress": listen.to_string(),
                "managementListenAddress": management.to_string(),
                "certificate": dir.path().join("cert.pem"),
                "privateKey": dir.path().join("key.pem"),
                "httpPort": free_port(),
                "tlsPort": free_port(),
                "ocspResponderURL": "",
                "externalAccountBindingRequired": false,
                "certificateValidityPeriod": validity_seconds,
            }
        });
        let config_path = dir.path().join("pebble.json");
        std::fs::write(&config_path, config.to_string()).expect("pebble config");
        let log = std::fs::File::create(dir.path().join("pebble.log")).expect("log");
        let child = std::process::Command::new("/usr/bin/pebble")
            .arg("-config")
            .arg(&config_path)
            .env("PEBBLE_VA_ALWAYS_VALID", "1")
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start /usr/bin/pebble (apt-get install pebble)");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(listen).is_err()
            || std::net::TcpStream::connect(management).is_err()
        {
            assert!(std::time::Instant::now() < deadline, "pebble did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Pebble {
            child,
            directory: format!("https://127.0.0.1:{}/dir", listen.port()),
            management,
            _dir: dir,
        }
    }

    /// The root that signs pebble's certificates (its management API), as PEM.
    async fn root(&self, ca: &TestCa) -> Vec<u8> {
        let client = client_config(ca.pem.as_bytes());
        let answer = https_get(&client, self.management, "127.0.0.1", "/roots/0")
            .await
            .expect("pebble's root");
        assert_eq!(answer.status, 200);
        answer.body.to_vec()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Automatic certificates from an ACME authority (pebble): obtained at first start and served
/// over HTTP/2, renewed when due without a restart, and, with the authority gone, the last
/// certificate keeps serving while `/healthz` and the log say renewal is failing.
#[tokio::test]
async fn acme_certificates_are_obtained_renewed_and_kept_when_the_authority_fails() {
    const SITE: &str = "practice.test";
    let ca = TestCa::new();
    // A day and 15 s: with renewal a day before expiry, each certificate is due 15 s after issue.
    let mut pebble = Pebble::start(&ca, 86_400 + 15);
    let ca_file = tempfile::NamedTempFile::new().expect("ca file");
    std::fs::write(ca_file.path(), &ca.pem).expect("ca file");
    let p = HttpsProcess::start_for(
        SITE,
        &format!(
            "acme_domains = [\"{SITE}\"]\nacme_email = \"clinician@{SITE}\"\nacme_directory = \"{}\"\nacme_ca_file = \"{}\"\nacme_renew_days_before = 1\nacme_check_seconds = 1\n",
            pebble.directory,
            ca_file.path().display()
        ),
        &[],
    );
    let client = client_config(&pebble.root(&ca).await);

    let first = until_some(Duration::from_secs(30), "the first certificate", || {
        let client = client.clone();
        async move { https_get(&client, p.https, SITE, "/").await.ok() }
    })
    .await;
    assert_eq!(first.version, hyper::Version::HTTP_2);
    assert_eq!(first.status, 200);
    let info = web::tls::CertificateInfo::from_der(&first.certificate).expect("x509");
    assert_eq!(info.names, vec![SITE.to_string()]);
    let kept = p.data_dir().join("tls").join("certificate.pem");
    assert!(
        kept.is_file(),
        "the certificate is kept in the data directory"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in ["certificate.pem", "key.pem", "account.json"] {
            let mode = std::fs::metadata(p.data_dir().join("tls").join(file))
                .expect(file)
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }

    // Renewed when due, by the same process.
    let renewed = until_some(Duration::from_secs(60), "a renewed certificate", || {
        let client = client.clone();
        let old = first.certificate.clone();
        async move {
            https_get(&client, p.https, SITE, "/")
                .await
                .ok()
                .map(|a| a.certificate)
                .filter(|c| *c != old)
        }
    })
    .await;
    let renewed_info = web::tls::CertificateInfo::from_der(&renewed).expect("x509");
    assert_ne!(renewed_info.serial, info.serial);

    // The authority goes away: renewal fails, the last certificate keeps serving.
    pebble.kill();
    until_some(Duration::from_secs(60), "renewal reported failing", || {
        let client = client.clone();
        async move {
            https_get(&client, p.https, SITE, "/healthz")
                .await
                .ok()
                .filter(|a| {
                    String::from_utf8_lossy(&a.body).contains("\"certificate_renewal\":\"failing\"")
                })
        }
    })
    .await;
    let last = https_get(&client, p.https, SITE, "/")
        .await
        .expect("still served after the authority failed");
    assert_eq!(last.status, 200);
    let last_info = web::tls::CertificateInfo::from_der(&last.certificate).expect("x509");
    assert!(last_info.not_after > jiff::Timestamp::now());
    assert!(
        p.process.stderr().contains("cannot obtain a certificate"),
        "{}",
        p.process.stderr()
    );
}

/// With the certificate authority gone and the certificate it issued expiring within 14 days
/// (pebble's live a day), the inbox shows the warning with what to check; before, it shows
/// none.
#[tokio::test]
async fn the_inbox_warns_when_the_authority_fails() {
    const SITE: &str = "practice.test";
    let ca = TestCa::new();
    // Due for renewal 15 s after issue, as in the test above.
    let mut pebble = Pebble::start(&ca, 86_400 + 15);
    let dir = tempfile::tempdir().expect("tempdir");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.pem).expect("ca file");
    let acme = settings::config::AcmeConfig {
        domains: vec![SITE.to_string()],
        email: Some(format!("clinician@{SITE}")),
        directory: pebble.directory.clone(),
        ca_file: Some(ca_file),
        renew_days_before: 1,
        check_seconds: 1,
    };
    let data = dir.path().join("data");
    let tls = web::tls::Tls::start(
        &settings::config::TlsConfig {
            bind: "127.0.0.1:0".parse().expect("addr"),
            certificate: settings::config::CertificateSource::Acme(acme.clone()),
        },
        &data,
    )
    .expect("tls");
    let renewal = tokio::spawn(web::tls::acme::run(tls.clone(), acme, data));
    until_some(Duration::from_secs(30), "the first certificate", || {
        let info = tls.info();
        async move { info }
    })
    .await;

    let app = crate::common::tls::app_holding(tls.clone()).await;
    let mut clinician = crate::common::clinician::Clinician::signed_in(&app).await;
    let inbox = clinician.get("/admin").await.text();
    assert!(!inbox.contains("HTTPS certificate not renewed"), "{inbox}");

    pebble.kill();
    until_some(Duration::from_secs(60), "renewal reported failing", || {
        let failure = tls.failure();
        async move { failure }
    })
    .await;
    let inbox = clinician.get("/admin").await.text();
    assert!(inbox.contains("HTTPS certificate not renewed"), "{inbox}");
    assert!(inbox.contains("port 80 is open"), "{inbox}");
    renewal.abort();
}
