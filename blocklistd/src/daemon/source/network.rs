//! What the HTTP client needs on a corporate network: a forward proxy
//! (`sync.proxy`, else the environment's `HTTPS_PROXY`/`HTTP_PROXY`/
//! `ALL_PROXY`), the hosts reached directly (`sync.no_proxy`, else
//! `NO_PROXY`), extra CA roots (`sync.ca_file`) and a client certificate for
//! mutual TLS (`sync.client_cert`, `sync.client_key`).
//!
//! reqwest reads the same variables by itself when it is given no proxy; the
//! environment is read here instead so that each `[sync]` key replaces its
//! own variable and nothing else, a bad value is refused at start naming the
//! variable, and the proxy in use is logged once, password redacted.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use reqwest::{Certificate, Identity, NoProxy, Proxy, Url};
use tracing::info;

use crate::daemon::config::SyncConfig;
use crate::daemon::source::http::{error_chain, redact};
use crate::daemon::DaemonError;

/// Where the proxy for `https://` sources is looked for when `sync.proxy` is
/// unset, first set (and not empty) first: the order reqwest's own reading
/// of the environment uses, so that behaviour is unchanged where it was
/// relied on.
const HTTPS_PROXY_VARS: [&str; 4] = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"];
/// The same for `http://` sources.
const HTTP_PROXY_VARS: [&str; 4] = ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"];
/// Where the hosts reached directly are looked for when `sync.no_proxy` is unset.
const NO_PROXY_VARS: [&str; 2] = ["NO_PROXY", "no_proxy"];

/// One proxy setting and where it came from (a `[sync]` key or a variable).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Setting<T> {
    /// The key (`sync.proxy`) or the environment variable.
    from: &'static str,
    /// The value.
    value: T,
}

/// The proxies to use, each setting from the config or else the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyPlan {
    /// The proxy for `http://` sources.
    http: Option<Setting<Url>>,
    /// The proxy for `https://` sources.
    https: Option<Setting<Url>>,
    /// The hosts, domains and IP ranges reached directly, comma-separated.
    direct: Option<Setting<String>>,
}

impl ProxyPlan {
    /// The plan for `proxy` and `no_proxy` (the `[sync]` keys, `None` when
    /// unset), reading what they leave unset from the environment through
    /// `env` (the process environment, or a map in tests).
    fn new(
        proxy: Option<&str>,
        no_proxy: Option<&[String]>,
        env: impl Fn(&'static str) -> Option<String>,
    ) -> Result<ProxyPlan, DaemonError> {
        let from_env = |names: &[&'static str]| {
            names.iter().find_map(|&name| match env(name) {
                Some(value) if !value.trim().is_empty() => Some(Setting { from: name, value }),
                _ => None,
            })
        };
        let proxy_for = |names: &[&'static str]| {
            let setting = match proxy {
                Some(value) => Some(Setting {
                    from: "sync.proxy",
                    value: value.to_owned(),
                }),
                None => from_env(names),
            };
            setting
                .map(|s| {
                    proxy_url(&s).map(|value| Setting {
                        from: s.from,
                        value,
                    })
                })
                .transpose()
        };
        let direct = match no_proxy {
            Some(hosts) => Some(Setting {
                from: "sync.no_proxy",
                value: hosts.join(","),
            }),
            None => from_env(&NO_PROXY_VARS),
        };
        Ok(ProxyPlan {
            http: proxy_for(&HTTP_PROXY_VARS)?,
            https: proxy_for(&HTTPS_PROXY_VARS)?,
            direct,
        })
    }

    /// The plan for `[sync]`, the rest from the process environment.
    pub fn from_config(config: &SyncConfig) -> Result<ProxyPlan, DaemonError> {
        ProxyPlan::new(
            config.proxy.as_deref(),
            config.no_proxy.as_deref(),
            |name| std::env::var(name).ok(),
        )
    }

    /// The plan's proxies, for a client builder that was told `no_proxy()`
    /// first (so that reqwest adds nothing of its own).
    pub fn proxies(&self) -> Result<Vec<Proxy>, DaemonError> {
        let direct = self
            .direct
            .as_ref()
            .and_then(|d| NoProxy::from_string(&d.value));
        let mut proxies = Vec::new();
        if let Some(http) = &self.http {
            proxies.push(Proxy::http(http.value.clone()).map_err(|e| bad_proxy(http, e))?);
        }
        if let Some(https) = &self.https {
            proxies.push(Proxy::https(https.value.clone()).map_err(|e| bad_proxy(https, e))?);
        }
        Ok(proxies
            .into_iter()
            .map(|p| p.no_proxy(direct.clone()))
            .collect())
    }

    /// Logs the proxies in use, passwords redacted (nothing without one).
    fn log(&self) {
        if self.http.is_none() && self.https.is_none() {
            return;
        }
        let shown = |s: &Option<Setting<Url>>| match s {
            Some(s) => format!("{} (from {})", redact(s.value.as_str()), s.from),
            None => "none".to_owned(),
        };
        let direct = match &self.direct {
            Some(d) => format!("{} (from {})", d.value, d.from),
            None => "none".to_owned(),
        };
        info!(
            http = shown(&self.http),
            https = shown(&self.https),
            direct,
            "sources are reached through a proxy"
        );
    }
}

/// `setting` as a proxy URL: `http://` or `https://` with a host (a bare
/// `host:port` meaning `http://`, as curl takes it).
fn proxy_url(setting: &Setting<String>) -> Result<Url, DaemonError> {
    let text = setting.value.trim();
    let with_scheme = if text.contains("://") {
        text.to_owned()
    } else {
        format!("http://{text}")
    };
    let refused = |why: &str| DaemonError::Network {
        setting: setting.from,
        reason: format!("{:?} {why}", redact(text)),
    };
    let url = Url::parse(&with_scheme).map_err(|e| refused(&format!("is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(refused(
            "is not an http:// or https:// proxy URL with a host (SOCKS is not supported)",
        ));
    }
    Ok(url)
}

fn bad_proxy(setting: &Setting<Url>, e: reqwest::Error) -> DaemonError {
    DaemonError::Network {
        setting: setting.from,
        reason: format!(
            "{:?} cannot be used as a proxy: {}",
            redact(setting.value.as_str()),
            e.without_url()
        ),
    }
}

/// `builder` with the proxies of `[sync]` (or the environment) and its TLS
/// settings: the CA bundle, the client certificate.
pub fn configure(
    builder: reqwest::ClientBuilder,
    config: &SyncConfig,
) -> Result<reqwest::ClientBuilder, DaemonError> {
    let plan = ProxyPlan::from_config(config)?;
    plan.log();
    let mut builder = builder.no_proxy();
    for proxy in plan.proxies()? {
        builder = builder.proxy(proxy);
    }
    if let Some(path) = &config.ca_file {
        let certs = Certificate::from_pem_bundle(&read("ca_file", path)?)
            .map_err(|e| tls_file("ca_file", path, e.to_string()))?;
        if certs.is_empty() {
            return Err(tls_file("ca_file", path, "no PEM certificate in it".into()));
        }
        alone(
            "ca_file",
            path,
            reqwest::Client::builder().tls_certs_only(certs.clone()),
        )?;
        builder = if config.ca_only {
            builder.tls_certs_only(certs)
        } else {
            builder.tls_certs_merge(certs)
        };
    } else if config.ca_only {
        return Err(DaemonError::Network {
            setting: "sync.ca_only",
            reason: "needs sync.ca_file, the certificates to trust".into(),
        });
    }
    match (&config.client_cert, &config.client_key) {
        (Some(cert), Some(key)) => {
            let identity = identity(cert, key)?;
            alone(
                "client_key",
                key,
                reqwest::Client::builder().identity(identity.clone()),
            )?;
            Ok(builder.identity(identity))
        }
        (None, None) => Ok(builder),
        (Some(_), None) => Err(DaemonError::Network {
            setting: "sync.client_cert",
            reason: "needs sync.client_key, its private key".into(),
        }),
        (None, Some(_)) => Err(DaemonError::Network {
            setting: "sync.client_key",
            reason: "needs sync.client_cert, the certificate it goes with".into(),
        }),
    }
}

/// The client certificate and its key, the key refused if other users have
/// any access to it. Group access is allowed: certificate tooling commonly
/// hands keys to a service's group (mode 0640, as Debian's `ssl-cert`).
fn identity(cert: &Path, key: &Path) -> Result<Identity, DaemonError> {
    let mode = std::fs::metadata(key)
        .map_err(|e| tls_file("client_key", key, format!("cannot read: {e}")))?
        .permissions()
        .mode();
    if mode & 0o007 != 0 {
        return Err(DaemonError::KeyPermissions {
            path: key.to_owned(),
            mode: mode & 0o777,
        });
    }
    let cert_pem = read("client_cert", cert)?;
    // Checked alone first, so that a bad file is named, not "the identity".
    match Certificate::from_pem_bundle(&cert_pem) {
        Ok(certs) if !certs.is_empty() => {}
        Ok(_) => {
            return Err(tls_file(
                "client_cert",
                cert,
                "no PEM certificate in it".into(),
            ))
        }
        Err(e) => return Err(tls_file("client_cert", cert, e.to_string())),
    }
    let mut pem = read("client_key", key)?;
    pem.push(b'\n');
    pem.extend_from_slice(&cert_pem);
    let identity = Identity::from_pem(&pem).map_err(|e| {
        tls_file(
            "client_key",
            key,
            format!("no usable PEM private key (PKCS#8, RSA or EC) in it: {e}"),
        )
    });
    pem.fill(0);
    identity
}

/// Builds a throwaway client with one setting alone: reqwest refuses some
/// only when the client is built (a certificate that is not DER inside its
/// PEM armour, a key that does not match its certificate), and the whole
/// client's "builder error" would not say which key and file to fix.
fn alone(
    key: &'static str,
    path: &Path,
    builder: reqwest::ClientBuilder,
) -> Result<(), DaemonError> {
    builder
        .no_proxy()
        .build()
        .map(drop)
        .map_err(|e| tls_file(key, path, format!("refused by TLS: {}", error_chain(&e))))
}

fn read(key: &'static str, path: &Path) -> Result<Vec<u8>, DaemonError> {
    std::fs::read(path).map_err(|e| tls_file(key, path, format!("cannot read: {e}")))
}

fn tls_file(key: &'static str, path: &Path, reason: String) -> DaemonError {
    DaemonError::TlsFile {
        key,
        path: path.to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn plan(
        proxy: Option<&str>,
        no_proxy: Option<&[String]>,
        env: &[(&str, &str)],
    ) -> Result<ProxyPlan, DaemonError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ProxyPlan::new(proxy, no_proxy, |name| env.get(name).cloned())
    }

    fn from(setting: &Option<Setting<Url>>) -> Option<(&'static str, String)> {
        setting.as_ref().map(|s| (s.from, s.value.to_string()))
    }

    #[test]
    fn the_proxy_key_replaces_the_proxy_variables_and_no_proxy_falls_back_on_its_own() {
        let env = [
            ("HTTPS_PROXY", "http://env:1"),
            ("http_proxy", "http://env:2"),
            ("NO_PROXY", "centre.internal"),
        ];
        let p = plan(Some("http://key:3"), None, &env).unwrap();
        assert_eq!(
            from(&p.https),
            Some(("sync.proxy", "http://key:3/".to_owned()))
        );
        assert_eq!(
            from(&p.http),
            Some(("sync.proxy", "http://key:3/".to_owned()))
        );
        assert_eq!(p.direct.unwrap().from, "NO_PROXY");
        let p = plan(None, Some(&[]), &env).unwrap();
        assert_eq!(
            from(&p.https),
            Some(("HTTPS_PROXY", "http://env:1/".to_owned()))
        );
        assert_eq!(
            from(&p.http),
            Some(("http_proxy", "http://env:2/".to_owned()))
        );
        assert_eq!(p.direct.unwrap().from, "sync.no_proxy");
    }

    #[test]
    fn all_proxy_serves_when_the_scheme_variable_is_unset_or_empty() {
        let env = [
            ("HTTPS_PROXY", " "),
            ("all_proxy", "proxy.corp:3128"),
            ("no_proxy", "a, b"),
        ];
        let p = plan(None, None, &env).unwrap();
        assert_eq!(
            from(&p.https),
            Some(("all_proxy", "http://proxy.corp:3128/".to_owned()))
        );
        assert_eq!(from(&p.http), from(&p.https));
        assert_eq!(p.direct.clone().unwrap().value, "a, b");
        assert_eq!(p.proxies().unwrap().len(), 2);
        assert_eq!(plan(None, None, &[]).unwrap().proxies().unwrap().len(), 0);
    }

    #[test]
    fn tls_settings_that_cannot_be_used_are_refused_naming_the_key_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let not_pem = dir.path().join("ca.pem");
        std::fs::write(&not_pem, "not a certificate\n").unwrap();
        let missing = dir.path().join("missing.pem");
        let refused = |config: SyncConfig| {
            configure(reqwest::Client::builder(), &config)
                .unwrap_err()
                .to_string()
        };
        let err = refused(SyncConfig {
            ca_file: Some(not_pem.clone()),
            ..SyncConfig::default()
        });
        assert_eq!(
            err,
            format!(
                "sync.ca_file {}: no PEM certificate in it",
                not_pem.display()
            )
        );
        let err = refused(SyncConfig {
            ca_file: Some(missing.clone()),
            ..SyncConfig::default()
        });
        assert!(
            err.starts_with(&format!("sync.ca_file {}: cannot read", missing.display())),
            "{err}"
        );
        let err = refused(SyncConfig {
            ca_only: true,
            ..SyncConfig::default()
        });
        assert!(err.starts_with("sync.ca_only: needs sync.ca_file"), "{err}");
        let err = refused(SyncConfig {
            client_cert: Some(not_pem.clone()),
            ..SyncConfig::default()
        });
        assert!(
            err.starts_with("sync.client_cert: needs sync.client_key"),
            "{err}"
        );
        let err = refused(SyncConfig {
            client_cert: Some(not_pem),
            client_key: Some(missing.clone()),
            ..SyncConfig::default()
        });
        assert!(
            err.starts_with(&format!(
                "sync.client_key {}: cannot read",
                missing.display()
            )),
            "{err}"
        );
        let armoured_junk = dir.path().join("junk.pem");
        std::fs::write(
            &armoured_junk,
            "-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let err = refused(SyncConfig {
            ca_file: Some(armoured_junk.clone()),
            ..SyncConfig::default()
        });
        assert!(
            err.starts_with(&format!(
                "sync.ca_file {}: refused by TLS",
                armoured_junk.display()
            )) && err.contains("BadEncoding"),
            "{err}"
        );
    }

    #[test]
    fn a_client_key_that_is_not_the_certificates_is_refused_naming_the_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let (signing, other) = (
            rcgen::KeyPair::generate().unwrap(),
            rcgen::KeyPair::generate().unwrap(),
        );
        let cert = rcgen::CertificateParams::new(vec!["member.test".to_owned()])
            .unwrap()
            .self_signed(&signing)
            .unwrap();
        let (cert_path, key_path) = (dir.path().join("client.pem"), dir.path().join("client.key"));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, other.serialize_pem()).unwrap();
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = configure(
            reqwest::Client::builder(),
            &SyncConfig {
                client_cert: Some(cert_path),
                client_key: Some(key_path.clone()),
                ..SyncConfig::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(&format!(
                "sync.client_key {}: refused by TLS",
                key_path.display()
            )) && err.contains("KeyMismatch"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_proxy_is_refused_naming_its_setting_without_its_password() {
        let err = plan(Some("socks5://u:secret@h:1"), None, &[]).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("sync.proxy: "), "{text}");
        assert!(text.contains("SOCKS") && !text.contains("secret"), "{text}");
        let err = plan(None, None, &[("HTTP_PROXY", "http://")]).unwrap_err();
        assert!(err.to_string().starts_with("HTTP_PROXY: "), "{err}");
    }
}
