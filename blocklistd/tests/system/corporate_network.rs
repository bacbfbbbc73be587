//! `blocklistd` (and `blocklist verify`) on a corporate network: a forward
//! proxy written here (absolute-form GETs and CONNECT tunnels, every request
//! recorded), the proxy environment variables, and HTTPS from a private CA
//! with client certificates (a TLS front, here, that requires one and
//! forwards to the centre's real `blocklist serve`).
//!
//! reqwest sends loopback destinations through a proxy like any other, so
//! the sources are named `centre.test`, a name only the proxy resolves:
//! a version that arrives from there came through the proxy.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio_rustls::rustls;

use crate::daemon::{polling, publish, Daemon, Site};
use crate::support::*;

/// The name the test proxy resolves (to 127.0.0.1) and nothing else does
/// (`.test` is reserved, RFC 2606).
const ONLY_THE_PROXY_RESOLVES: &str = "centre.test";

/// The proxy variables a daemon could inherit from the test's environment.
const PROXY_VARS: [&str; 8] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// One request the proxy was asked to carry.
#[derive(Clone, Debug)]
struct Carried {
    /// `GET http://centre.test:1234/manifest` or `CONNECT centre.test:1234`.
    request: String,
    /// The `Proxy-Authorization` header, if sent.
    auth: Option<String>,
}

/// A forward proxy on a free loopback port: each connection carries one
/// absolute-form request (sent on with `Connection: close`) or one CONNECT
/// tunnel. Threads end with their connections.
struct ForwardProxy {
    /// `http://127.0.0.1:PORT`.
    url: String,
    carried: Arc<Mutex<Vec<Carried>>>,
}

impl ForwardProxy {
    fn start() -> ForwardProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let carried = Arc::new(Mutex::new(Vec::new()));
        let log = carried.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let log = log.clone();
                std::thread::spawn(move || {
                    let _ = carry(stream, &log);
                });
            }
        });
        ForwardProxy { url, carried }
    }

    fn carried(&self) -> Vec<Carried> {
        self.carried.lock().unwrap().clone()
    }

    /// The proxy URL with credentials in it.
    fn url_with(&self, userinfo: &str) -> String {
        self.url
            .replacen("http://", &format!("http://{userinfo}@"), 1)
    }
}

/// Serves one proxy connection.
fn carry(client: TcpStream, log: &Mutex<Vec<Carried>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut words = line.split_whitespace();
    let (Some(method), Some(target)) = (words.next(), words.next()) else {
        return Ok(());
    };
    let (method, target) = (method.to_owned(), target.to_owned());
    let mut auth = None;
    let mut headers = String::new();
    // Bounded: a request has a few headers.
    for _ in 0..100 {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
        let lower = header.to_ascii_lowercase();
        if let Some(value) = lower.strip_prefix("proxy-authorization:") {
            // The value as sent (base64 is case-sensitive).
            auth = Some(header[header.len() - value.len()..].trim().to_owned());
        } else if !lower.starts_with("proxy-connection:") && !lower.starts_with("connection:") {
            headers.push_str(&header);
        }
    }
    log.lock().unwrap().push(Carried {
        request: format!("{method} {target}"),
        auth,
    });
    let resolve = |authority: &str| authority.replace(ONLY_THE_PROXY_RESOLVES, "127.0.0.1");
    let mut client = client;
    if method == "CONNECT" {
        let upstream = TcpStream::connect(resolve(&target))?;
        client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
        splice(client, upstream);
        return Ok(());
    }
    let rest = target.strip_prefix("http://").unwrap_or(&target);
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut upstream = TcpStream::connect(resolve(authority))?;
    let path = if path.is_empty() { "/" } else { path };
    write!(
        upstream,
        "{method} {path} HTTP/1.1\r\n{headers}Connection: close\r\n\r\n"
    )?;
    std::io::copy(&mut upstream, &mut client)?;
    Ok(())
}

/// Copies both ways until either side closes.
fn splice(client: TcpStream, upstream: TcpStream) {
    let (Ok(mut client_in), Ok(mut upstream_out)) = (client.try_clone(), upstream.try_clone())
    else {
        return;
    };
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_in, &mut upstream_out);
        let _ = upstream_out.shutdown(Shutdown::Write);
    });
    let (mut client, mut upstream) = (client, upstream);
    let _ = std::io::copy(&mut upstream, &mut client);
    let _ = client.shutdown(Shutdown::Both);
    let _ = upstream.shutdown(Shutdown::Both);
    let _ = up.join();
}

/// A test CA, a server certificate (for `centre.test`, `localhost` and
/// 127.0.0.1) and a client certificate, as PEM files in `dir`.
struct Pki {
    ca: PathBuf,
    client_cert: PathBuf,
    /// Mode 0600.
    client_key: PathBuf,
    /// The server's chain and key, and the CA, for the TLS front.
    server_chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    server_key: Vec<u8>,
    ca_der: rustls::pki_types::CertificateDer<'static>,
}

impl Pki {
    fn generate(dir: &Path) -> Pki {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
            KeyPair, KeyUsagePurpose,
        };
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "blocklist test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf = |names: Vec<String>, purpose: ExtendedKeyUsagePurpose| {
            let mut params = CertificateParams::new(names).unwrap();
            params.extended_key_usages = vec![purpose];
            params.use_authority_key_identifier_extension = true;
            let key = KeyPair::generate().unwrap();
            let cert = params.signed_by(&key, &issuer).unwrap();
            (cert, key)
        };
        let (server, server_key) = leaf(
            vec![
                ONLY_THE_PROXY_RESOLVES.into(),
                "localhost".into(),
                "127.0.0.1".into(),
            ],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client, client_key) = leaf(
            vec!["member.test".into()],
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        let write = |name: &str, text: String, mode: u32| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            path
        };
        Pki {
            ca: write("ca.pem", ca_cert.pem(), 0o644),
            client_cert: write("client.pem", client.pem(), 0o644),
            client_key: write("client.key", client_key.serialize_pem(), 0o600),
            server_chain: vec![server.der().clone()],
            server_key: server_key.serialize_der(),
            ca_der: ca_cert.der().clone(),
        }
    }

    /// The TLS front's configuration, requiring a client certificate from
    /// the test CA or not.
    fn server_config(&self, require_client_cert: bool) -> rustls::ServerConfig {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = if require_client_cert {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(self.ca_der.clone()).unwrap();
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .unwrap();
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let key = rustls::pki_types::PrivatePkcs8KeyDer::from(self.server_key.clone());
        builder
            .with_single_cert(self.server_chain.clone(), key.into())
            .unwrap()
    }
}

/// HTTPS in front of an HTTP server: TLS on a free loopback port, each
/// connection forwarded to `upstream` once its handshake succeeds.
struct TlsFront {
    port: u16,
    /// Handshakes refused (no client certificate, an unknown CA, ...).
    refused: Arc<AtomicUsize>,
    /// Runs the front; dropped with it.
    _runtime: tokio::runtime::Runtime,
}

impl TlsFront {
    fn start(config: rustls::ServerConfig, upstream: &str) -> TlsFront {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let refused = Arc::new(AtomicUsize::new(0));
        let counted = refused.clone();
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, upstream, counted) =
                    (acceptor.clone(), upstream.clone(), counted.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        counted.fetch_add(1, Ordering::SeqCst);
                        return;
                    };
                    if let Ok(mut plain) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                    }
                });
            }
        });
        TlsFront {
            port,
            refused,
            _runtime: runtime,
        }
    }

    /// The front's URL under the name only the proxy resolves.
    fn proxied_url(&self) -> String {
        format!("https://{ONLY_THE_PROXY_RESOLVES}:{}", self.port)
    }

    fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }
}

/// `config` with `keys` added to its `[sync]` table (which [`polling`] ends
/// with `[drop]`).
fn with_sync(config: &str, keys: &str) -> String {
    config.replacen("[drop]", &format!("{keys}\n[drop]"), 1)
}

/// Starts a daemon on `config` in a new site with only the proxy variables
/// of `env` (none inherited from the test's environment). The site is
/// returned to be kept as long as the daemon runs.
fn start_with_env(config: &str, env: &[(&str, &str)]) -> (Site, Daemon) {
    let site = Site::new();
    let mut command = Command::new(env!("CARGO_BIN_EXE_blocklistd"));
    command.args(["--config", s(&site.write_config(config))]);
    only_proxy_env(&mut command, env);
    let daemon = Daemon::spawn_command(command, &site.log());
    (site, daemon)
}

/// `command` with the proxy variables of `env` and no other.
fn only_proxy_env<'a>(command: &'a mut Command, env: &[(&str, &str)]) -> &'a mut Command {
    for name in PROXY_VARS {
        command.env_remove(name);
    }
    command.envs(env.iter().copied())
}

/// The source URL of `server` under the name only the proxy resolves.
fn proxied(server: &Server) -> String {
    server.url.replace("127.0.0.1", ONLY_THE_PROXY_RESOLVES)
}

/// Waits for a failed round and returns its error message; the daemon must
/// hold no version.
fn failed_round(daemon: &Daemon) -> String {
    let status = daemon.wait_status("a failed round", |s| !s["last_error"].is_null());
    assert!(status["version"].is_null(), "{status:#}");
    status["last_error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{status:#}"))
        .to_owned()
}

#[test]
fn sync_proxy_carries_every_request_with_its_credentials_shown_nowhere() {
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["proxied.example"], &[]);
    let server = Server::start(&centre.dir);
    let proxy = ForwardProxy::start();
    let config = with_sync(
        &polling(&centre.first_root(), &[&proxied(&server)]),
        &format!("proxy = {:?}", proxy.url_with("blocklist:s3cret")),
    );
    // A proxy variable in the environment too: the key wins over it.
    let (_site, daemon) = start_with_env(&config, &[("HTTP_PROXY", "http://127.0.0.1:9")]);
    daemon.wait_version(1);
    assert!(daemon.listed("domain", "proxied.example"));
    let carried = proxy.carried();
    let manifest = format!("GET {}/manifest", proxied(&server));
    assert!(
        carried.iter().any(|c| c.request == manifest),
        "{manifest} not among {carried:#?}"
    );
    // base64("blocklist:s3cret"): the credentials of the proxy URL, on every request.
    assert!(
        carried
            .iter()
            .all(|c| c.auth.as_deref() == Some("Basic YmxvY2tsaXN0OnMzY3JldA==")),
        "{carried:#?}"
    );
    let (_, metrics) = daemon.get("/metrics");
    let log = daemon.log_text();
    let shown = format!("{}{metrics}{log}", daemon.status());
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(log.contains("blocklist:***@127.0.0.1"), "{log}");
}

#[test]
fn proxy_variables_are_honoured_when_sync_proxy_is_unset_by_the_daemon_and_by_verify() {
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["env.example"], &[]);
    let server = Server::start(&centre.dir);
    let proxy = ForwardProxy::start();
    let (_site, daemon) = start_with_env(
        &polling(&centre.first_root(), &[&proxied(&server)]),
        &[("http_proxy", &proxy.url)],
    );
    daemon.wait_version(1);
    let manifest = format!("GET {}/manifest", proxied(&server));
    assert!(proxy.carried().iter().any(|c| c.request == manifest));
    assert!(daemon.log_text().contains("from http_proxy"));

    // The centre's audit of a published URL reads the same variables.
    let before = proxy.carried().len();
    let out = only_proxy_env(&mut blocklist(), &[("ALL_PROXY", &proxy.url)])
        .args([
            "verify",
            &proxied(&server),
            "--root",
            s(&centre.first_root()),
        ])
        .output()
        .unwrap();
    assert_verified_version_1(&out);
    assert!(
        proxy.carried().len() > before,
        "verify went around the proxy"
    );
}

#[test]
fn no_proxy_sends_listed_hosts_direct_and_loopback_is_proxied_unless_listed() {
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["direct.example"], &[]);
    let server = Server::start(&centre.dir);
    let config = polling(&centre.first_root(), &[&server.url]);
    // Unlisted, 127.0.0.1 goes through the proxy: the bypasses below are the
    // lists' doing, not a loopback exception.
    let proxy = ForwardProxy::start();
    let (_site, daemon) = start_with_env(&config, &[("HTTP_PROXY", &proxy.url)]);
    daemon.wait_version(1);
    assert!(!proxy.carried().is_empty());

    let proxy = ForwardProxy::start();
    let by_key = with_sync(
        &config,
        &format!("proxy = {:?}\nno_proxy = [\"127.0.0.0/8\"]", proxy.url),
    );
    let by_env = [
        ("HTTP_PROXY", proxy.url.as_str()),
        ("no_proxy", "localhost, 127.0.0.1"),
    ];
    for (config, env) in [(&by_key, &[][..]), (&config, &by_env[..])] {
        let (_site, daemon) = start_with_env(config, env);
        daemon.wait_version(1);
        assert!(daemon.listed("domain", "direct.example"));
    }
    assert!(proxy.carried().is_empty(), "{:#?}", proxy.carried());
}

#[test]
fn an_https_source_from_a_private_ca_is_refused_without_ca_file_and_synced_with_it_and_verified_with_ssl_cert_file(
) {
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["tls.example"], &[]);
    let server = Server::start(&centre.dir);
    let pki = Pki::generate(centre.tmp.path());
    let front = TlsFront::start(pki.server_config(false), &server.url);
    let url = format!("https://127.0.0.1:{}", front.port);
    let config = polling(&centre.first_root(), &[&url]);

    let (_site, daemon) = start_with_env(&config, &[]);
    let message = failed_round(&daemon);
    assert!(
        message.contains(&url) && message.contains("invalid peer certificate: UnknownIssuer"),
        "{message}"
    );
    assert!(front.refused() > 0);

    let trusting = with_sync(&config, &format!("ca_file = {:?}", s(&pki.ca)));
    let (_site, daemon) = start_with_env(&trusting, &[]);
    daemon.wait_version(1);
    assert!(daemon.listed("domain", "tls.example"));

    // `blocklist verify` has no CA option: SSL_CERT_FILE gives it the bundle.
    let out = only_proxy_env(&mut blocklist(), &[])
        .args(["verify", &url, "--root", s(&centre.first_root())])
        .env("SSL_CERT_FILE", &pki.ca)
        .output()
        .unwrap();
    assert_verified_version_1(&out);
}

#[test]
fn a_source_requiring_client_certificates_refuses_a_daemon_without_one_and_serves_one_through_a_connect_proxy(
) {
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["mtls.example"], &[]);
    let server = Server::start(&centre.dir);
    let pki = Pki::generate(centre.tmp.path());
    let front = TlsFront::start(pki.server_config(true), &server.url);
    let url = format!("https://127.0.0.1:{}", front.port);
    let trusting = format!("ca_file = {:?}\nca_only = true", s(&pki.ca));

    let anonymous = with_sync(&polling(&centre.first_root(), &[&url]), &trusting);
    let (_site, daemon) = start_with_env(&anonymous, &[]);
    let message = failed_round(&daemon);
    assert!(
        message.contains(&url) && message.contains("CertificateRequired"),
        "{message}"
    );
    assert!(front.refused() > 0);

    // Through HTTPS_PROXY, to a name only the proxy resolves: a tunnel.
    let proxy = ForwardProxy::start();
    let member = with_sync(
        &polling(&centre.first_root(), &[&front.proxied_url()]),
        &format!(
            "{trusting}\nclient_cert = {:?}\nclient_key = {:?}",
            s(&pki.client_cert),
            s(&pki.client_key)
        ),
    );
    let (_site, daemon) = start_with_env(&member, &[("HTTPS_PROXY", &proxy.url)]);
    daemon.wait_version(1);
    assert!(daemon.listed("domain", "mtls.example"));
    let tunnel = format!("CONNECT {ONLY_THE_PROXY_RESOLVES}:{}", front.port);
    assert!(
        proxy.carried().iter().any(|c| c.request == tunnel),
        "{tunnel} not among {:#?}",
        proxy.carried()
    );
}

#[test]
fn a_client_key_other_users_can_read_is_refused_at_start_naming_the_file_and_its_mode() {
    let centre = Centre::new();
    let pki = Pki::generate(centre.tmp.path());
    std::fs::set_permissions(&pki.client_key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let site = Site::new();
    let config = with_sync(
        &polling(&centre.first_root(), &["https://127.0.0.1:9"]),
        &format!(
            "client_cert = {:?}\nclient_key = {:?}",
            s(&pki.client_cert),
            s(&pki.client_key)
        ),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_blocklistd"))
        .args(["--config", s(&site.write_config(&config))])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("sync.client_key {}", pki.client_key.display()))
            && stderr.contains("mode 644"),
        "{stderr}"
    );
}

/// `blocklist verify` succeeded and audited version 1.
fn assert_verified_version_1(out: &std::process::Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("OK: list th-test version 1"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
