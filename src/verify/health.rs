//! One HTTPS request to a service behind an endpoint, to prove that it
//! answers with the expected status.
//!
//! The host is resolved through the same [`Resolver`] choice as the DNS
//! check, so a test or a caller can point the name at a chosen address. TLS
//! uses rustls with the aws-lc-rs provider and trusts the system's CAs plus
//! an optional extra PEM bundle. The system's CAs come from
//! rustls-native-certs rather than webpki-roots: the crate is already in the
//! dependency tree through the AWS SDK, and services reached over
//! PrivateLink often present certificates from a company CA that only the
//! system store contains.
//!
//! Only `https://` URLs are accepted, because header values may carry
//! credentials. Those values never appear in logs, errors or `Debug` output.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, HOST};
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use rustls::crypto::aws_lc_rs;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::dns::{resolve_names, Resolver};

const HTTPS_PORT: u16 = 443;

/// How long a check may take when the caller sets no timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// One HTTPS request and the status it must return.
#[derive(Clone)]
pub struct HealthCheck {
    /// An absolute `https://` URL without user info.
    pub url: String,
    /// The HTTP method, such as `GET`. Letters are upper-cased before use.
    pub method: String,
    pub expected_status: u16,
    /// Request headers as (name, value). The values are secrets.
    pub headers: Vec<(String, String)>,
    /// The limit on the whole check: DNS lookup, connection, TLS handshake
    /// and response.
    pub timeout: Duration,
    /// The resolver that looks up the URL's host.
    pub resolver: Resolver,
    /// PEM certificates trusted in addition to the system's CAs.
    pub extra_ca_pem: Option<String>,
}

impl HealthCheck {
    /// Builds a check of `url` with GET, status 200, no headers,
    /// [`DEFAULT_TIMEOUT`], the system resolver and the system's CAs.
    pub fn new(url: impl Into<String>) -> HealthCheck {
        HealthCheck {
            url: url.into(),
            method: Method::GET.to_string(),
            expected_status: StatusCode::OK.as_u16(),
            headers: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            resolver: Resolver::System,
            extra_ca_pem: None,
        }
    }
}

impl fmt::Debug for HealthCheck {
    /// Shows header names only, because the values are secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("HealthCheck")
            .field("url", &self.url)
            .field("method", &self.method)
            .field("expected_status", &self.expected_status)
            .field("header_names", &header_names)
            .field("timeout", &self.timeout)
            .field("resolver", &self.resolver)
            .field("extra_ca_pem", &self.extra_ca_pem.as_ref().map(|_| "<PEM>"))
            .finish()
    }
}

/// The step of a check that was under way when its time ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Connect,
    TlsHandshake,
    Response,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Connect => "connecting",
            Step::TlsHandshake => "during the TLS handshake",
            Step::Response => "waiting for the response",
        })
    }
}

/// The reason a check failed. No variant carries a header value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HealthError {
    /// The URL is not an absolute `https://` URL without user info.
    InvalidUrl(String),
    /// The method, a header or the extra CA bundle is invalid.
    InvalidRequest(String),
    /// The URL's host could not be resolved, or resolved to no address.
    Resolve(String),
    /// Every address of the host refused the connection.
    ConnectionRefused(SocketAddr),
    /// Connecting failed for another reason.
    Connect {
        address: SocketAddr,
        reason: String,
    },
    /// The TLS handshake failed, such as for an untrusted certificate.
    Tls(String),
    TimedOut {
        step: Step,
        after: Duration,
    },
    UnexpectedStatus {
        expected: u16,
        actual: u16,
    },
    /// The HTTP exchange failed after the TLS handshake.
    Http(String),
}

impl fmt::Display for HealthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HealthError::InvalidUrl(reason) => write!(f, "invalid health check URL: {reason}"),
            HealthError::InvalidRequest(reason) => write!(f, "invalid health check: {reason}"),
            HealthError::Resolve(reason) => write!(f, "resolving the host failed: {reason}"),
            HealthError::ConnectionRefused(address) => {
                write!(f, "connection to {address} refused")
            }
            HealthError::Connect { address, reason } => {
                write!(f, "connecting to {address} failed: {reason}")
            }
            HealthError::Tls(reason) => write!(f, "TLS handshake failed: {reason}"),
            HealthError::TimedOut { step, after } => write!(f, "timed out after {after:?} {step}"),
            HealthError::UnexpectedStatus { expected, actual } => {
                write!(
                    f,
                    "expected HTTP status {expected}, got {}",
                    describe_status(*actual)
                )
            }
            HealthError::Http(reason) => write!(f, "HTTP request failed: {reason}"),
        }
    }
}

impl std::error::Error for HealthError {}

fn describe_status(code: u16) -> String {
    let reason = StatusCode::from_u16(code)
        .ok()
        .and_then(|status| status.canonical_reason());
    match reason {
        Some(reason) => format!("{code} {reason}"),
        None => code.to_string(),
    }
}

/// The result of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthReport {
    /// The response status, when a response arrived.
    pub status: Option<u16>,
    /// Time from the start of the check to its end, DNS lookup included.
    pub elapsed: Duration,
    /// The reason the check failed, or `None` when it passed.
    pub error: Option<HealthError>,
}

impl HealthReport {
    pub fn passed(&self) -> bool {
        self.error.is_none()
    }
}

/// The parts of a URL a request needs.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Target {
    /// The host without IPv6 brackets, for DNS and the TLS server name.
    host: String,
    port: u16,
    /// `host[:port]` as written in the URL, for the Host header.
    authority: String,
    path_and_query: String,
}

/// Splits an `https://` URL into its parts. Messages never repeat the URL,
/// since its path or query may carry a token.
fn parse_url(url: &str) -> Result<Target, HealthError> {
    let invalid = |reason: &str| HealthError::InvalidUrl(reason.to_string());
    let uri: Uri = url
        .trim()
        .parse()
        .map_err(|error| HealthError::InvalidUrl(format!("not a URL: {error}")))?;

    match uri.scheme_str() {
        Some("https") => {}
        Some("http") => {
            return Err(invalid(
                "http:// is not allowed. Use https:// so that headers, which may carry \
                 credentials, are encrypted",
            ))
        }
        Some(other) => {
            return Err(HealthError::InvalidUrl(format!(
                "unsupported scheme {other:?}, expected https://"
            )))
        }
        None => return Err(invalid("expected an absolute URL starting with https://")),
    }

    let authority = uri
        .authority()
        .ok_or_else(|| invalid("the URL has no host"))?;
    if authority.as_str().contains('@') {
        return Err(invalid(
            "user info (user:password@) is not allowed in the URL. Send credentials in \
             a header instead",
        ));
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    if host.is_empty() {
        return Err(invalid("the URL has no host"));
    }

    Ok(Target {
        host: host.to_string(),
        port: authority.port_u16().unwrap_or(HTTPS_PORT),
        authority: authority.as_str().to_string(),
        path_and_query: uri
            .path_and_query()
            .map_or("/", |path| path.as_str())
            .to_string(),
    })
}

/// A check with every input parsed.
struct Prepared {
    target: Target,
    method: Method,
    headers: HeaderMap,
    extra_cas: Vec<CertificateDer<'static>>,
}

/// Checks the URL, method, headers and extra CA bundle without any network
/// access, so a caller can report a mistake before any resource changes.
pub fn validate(check: &HealthCheck) -> Result<(), HealthError> {
    prepare(check).map(|_| ())
}

fn prepare(check: &HealthCheck) -> Result<Prepared, HealthError> {
    let target = parse_url(&check.url)?;
    let method = parse_method(&check.method)?;
    let headers = build_headers(&check.headers, &target)?;
    let extra_cas = match &check.extra_ca_pem {
        Some(pem) => parse_ca_bundle(pem)?,
        None => Vec::new(),
    };
    StatusCode::from_u16(check.expected_status).map_err(|_| {
        HealthError::InvalidRequest(format!(
            "expected status {} is not an HTTP status (100 to 999)",
            check.expected_status
        ))
    })?;
    Ok(Prepared {
        target,
        method,
        headers,
        extra_cas,
    })
}

fn parse_method(text: &str) -> Result<Method, HealthError> {
    let text = text.trim();
    let text = if text.is_empty() { "GET" } else { text };
    Method::from_bytes(text.to_ascii_uppercase().as_bytes())
        .map_err(|_| HealthError::InvalidRequest(format!("invalid HTTP method {text:?}")))
}

/// Builds the header map. Every value is marked sensitive, which makes the
/// `http` crate print it as `Sensitive` in `Debug` output. A URL's host is
/// sent as the Host header unless the caller sets one.
fn build_headers(pairs: &[(String, String)], target: &Target) -> Result<HeaderMap, HealthError> {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        let header_name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
            HealthError::InvalidRequest(format!("invalid HTTP header name {name:?}"))
        })?;
        let mut header_value = HeaderValue::from_str(value).map_err(|_| {
            HealthError::InvalidRequest(format!(
                "the value of header {header_name} is not a valid HTTP header value \
                 (the value is not shown because it may be a secret)"
            ))
        })?;
        header_value.set_sensitive(true);
        headers.append(header_name, header_value);
    }
    if !headers.contains_key(HOST) {
        let host = HeaderValue::from_str(&target.authority).map_err(|_| {
            HealthError::InvalidUrl("the host is not valid in a Host header".to_string())
        })?;
        headers.insert(HOST, host);
    }
    Ok(headers)
}

fn parse_ca_bundle(pem: &str) -> Result<Vec<CertificateDer<'static>>, HealthError> {
    let certificates = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| {
            HealthError::InvalidRequest(format!("the extra CA bundle is not valid PEM: {error}"))
        })?;
    if certificates.is_empty() {
        return Err(HealthError::InvalidRequest(
            "the extra CA bundle contains no PEM CERTIFICATE block".to_string(),
        ));
    }
    Ok(certificates)
}

/// Runs the check and reports its status, duration and any error.
pub async fn check(check: &HealthCheck) -> HealthReport {
    let started = Instant::now();
    let deadline = started + check.timeout;

    let outcome = match prepare(check) {
        Ok(prepared) => send(&prepared, check, deadline).await,
        Err(error) => Err(error),
    };
    let elapsed = started.elapsed();

    let (status, error) = match outcome {
        Ok(actual) if actual == check.expected_status => (Some(actual), None),
        Ok(actual) => {
            let expected = check.expected_status;
            (
                Some(actual),
                Some(HealthError::UnexpectedStatus { expected, actual }),
            )
        }
        Err(error) => (None, Some(error)),
    };
    match &error {
        None => tracing::debug!(?status, ?elapsed, "health check passed"),
        Some(error) => tracing::debug!(?status, ?elapsed, %error, "health check failed"),
    }
    HealthReport {
        status,
        elapsed,
        error,
    }
}

/// Sends the request and returns the response status.
async fn send(
    prepared: &Prepared,
    check: &HealthCheck,
    deadline: Instant,
) -> Result<u16, HealthError> {
    let target = &prepared.target;
    let timed_out = |step| HealthError::TimedOut {
        step,
        after: check.timeout,
    };
    tracing::debug!(
        host = %target.host,
        port = target.port,
        method = %prepared.method,
        "health check"
    );
    let tls_config = client_config(&prepared.extra_cas)?;
    let server_name = ServerName::try_from(target.host.clone()).map_err(|error| {
        HealthError::InvalidUrl(format!("the host is not a valid TLS server name: {error}"))
    })?;

    let addresses = resolve_host(target, &check.resolver, deadline).await?;
    let tcp = timeout_at(deadline, connect_any(&addresses))
        .await
        .map_err(|_| timed_out(Step::Connect))??;

    let connector = TlsConnector::from(Arc::new(tls_config));
    let tls = timeout_at(deadline, connector.connect(server_name, tcp))
        .await
        .map_err(|_| timed_out(Step::TlsHandshake))?
        .map_err(|error| HealthError::Tls(tls_reason(&error)))?;

    timeout_at(deadline, exchange(tls, prepared))
        .await
        .map_err(|_| timed_out(Step::Response))?
}

/// Builds a TLS client that trusts the system's CAs and `extra_cas`.
fn client_config(extra_cas: &[CertificateDer<'static>]) -> Result<ClientConfig, HealthError> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::debug!(%error, "skipped part of the system CA store");
    }
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(added, ignored, "loaded the system CA store");

    for (index, certificate) in extra_cas.iter().enumerate() {
        roots.add(certificate.clone()).map_err(|error| {
            HealthError::InvalidRequest(format!(
                "certificate {} of the extra CA bundle is not a valid CA certificate: {error}",
                index + 1
            ))
        })?;
    }

    let provider = Arc::new(aws_lc_rs::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| HealthError::Tls(format!("configuring TLS failed: {error}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // Only HTTP/1.1 is spoken, so the server must not pick HTTP/2.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

async fn resolve_host(
    target: &Target,
    resolver: &Resolver,
    deadline: Instant,
) -> Result<Vec<SocketAddr>, HealthError> {
    if let Ok(ip) = target.host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, target.port)]);
    }

    let remaining = deadline.saturating_duration_since(Instant::now());
    let answers = resolve_names(&[target.host.as_str()], resolver, remaining).await;
    let addresses = match answers.into_iter().next().map(|answer| answer.result) {
        Some(Ok(addresses)) => addresses,
        Some(Err(error)) => return Err(HealthError::Resolve(error.message)),
        None => Vec::new(),
    };
    if addresses.is_empty() {
        return Err(HealthError::Resolve(format!(
            "{} has no A or AAAA record",
            target.host
        )));
    }
    Ok(addresses
        .into_iter()
        .map(|ip| SocketAddr::new(ip, target.port))
        .collect())
}

/// Connects to the addresses in order and returns the first connection. When
/// all fail, the last failure is returned.
async fn connect_any(addresses: &[SocketAddr]) -> Result<TcpStream, HealthError> {
    let mut last_error = None;
    for &address in addresses {
        match TcpStream::connect(address).await {
            Ok(stream) => return Ok(stream),
            Err(error) => {
                tracing::debug!(%address, %error, "connecting failed");
                last_error = Some(connect_error(address, &error));
            }
        }
    }
    Err(last_error.unwrap_or_else(|| HealthError::Resolve("no address to connect to".to_string())))
}

fn connect_error(address: SocketAddr, error: &io::Error) -> HealthError {
    if error.kind() == io::ErrorKind::ConnectionRefused {
        return HealthError::ConnectionRefused(address);
    }
    HealthError::Connect {
        address,
        reason: error.to_string(),
    }
}

/// Takes the rustls error out of an I/O error, because its text names the
/// cause (such as `invalid peer certificate: UnknownIssuer`).
fn tls_reason(error: &io::Error) -> String {
    let rustls_error = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match rustls_error {
        Some(rustls_error) => rustls_error.to_string(),
        None if error.kind() == io::ErrorKind::UnexpectedEof => {
            "the server closed the connection".to_string()
        }
        None => error.to_string(),
    }
}

/// Sends the request over HTTP/1.1 and returns the response status. The body
/// is not read.
async fn exchange(tls: TlsStream<TcpStream>, prepared: &Prepared) -> Result<u16, HealthError> {
    let http_error = |error: hyper::Error| HealthError::Http(error.to_string());
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(http_error)?;
    // The connection task does the I/O. Aborting it once the status is known
    // closes the socket without reading the body.
    let driver = tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "health check connection ended");
        }
    });

    let mut request = Request::builder()
        .method(prepared.method.clone())
        .uri(prepared.target.path_and_query.as_str())
        .body(Empty::<Bytes>::new())
        .map_err(|error| HealthError::InvalidUrl(format!("invalid request target: {error}")))?;
    *request.headers_mut() = prepared.headers.clone();

    let response = async {
        sender.ready().await?;
        sender.send_request(request).await
    }
    .await;
    driver.abort();
    Ok(response.map_err(http_error)?.status().as_u16())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(host: &str, port: u16, authority: &str, path: &str) -> Target {
        Target {
            host: host.to_string(),
            port,
            authority: authority.to_string(),
            path_and_query: path.to_string(),
        }
    }

    #[test]
    fn url_table() {
        let cases: &[(&str, &str, Result<Target, &str>)] = &[
            (
                "default port",
                "https://api.example.com/health",
                Ok(target("api.example.com", 443, "api.example.com", "/health")),
            ),
            (
                "explicit port and query",
                "https://api.example.com:8443/v1/ping?deep=1",
                Ok(target(
                    "api.example.com",
                    8443,
                    "api.example.com:8443",
                    "/v1/ping?deep=1",
                )),
            ),
            (
                "no path",
                "https://api.example.com",
                Ok(target("api.example.com", 443, "api.example.com", "/")),
            ),
            (
                "ipv6 literal",
                "https://[::1]:9443/health",
                Ok(target("::1", 9443, "[::1]:9443", "/health")),
            ),
            (
                "upper-case scheme",
                "HTTPS://api.example.com/",
                Ok(target("api.example.com", 443, "api.example.com", "/")),
            ),
            ("http", "http://api.example.com/health", Err("Use https://")),
            (
                "other scheme",
                "ftp://api.example.com/",
                Err("unsupported scheme"),
            ),
            ("relative", "/health", Err("absolute URL")),
            (
                "user info",
                "https://user:pw@api.example.com/",
                Err("user info"),
            ),
            ("not a URL", "https://exa mple.com/", Err("not a URL")),
            ("empty", "", Err("not a URL")),
        ];
        for (case, url, expected) in cases {
            match (parse_url(url), expected) {
                (Ok(parsed), Ok(target)) => assert_eq!(&parsed, target, "case {case}"),
                (Err(HealthError::InvalidUrl(message)), Err(fragment)) => assert!(
                    message.contains(fragment),
                    "case {case}: {message:?} should contain {fragment:?}"
                ),
                (outcome, _) => panic!("case {case}: unexpected outcome {outcome:?}"),
            }
        }
    }

    #[test]
    fn url_errors_hide_secrets() {
        let urls = [
            "https://user:hunter2@api.example.com/",
            "http://api.example.com/health?token=hunter2",
        ];
        for url in urls {
            let error = parse_url(url).expect_err("the URL is rejected").to_string();
            assert!(
                !error.contains("hunter2"),
                "{url}: message repeats a secret: {error}"
            );
        }
    }

    #[test]
    fn method_table() {
        let cases = [
            ("default", "", Some(Method::GET)),
            ("lower case", "head", Some(Method::HEAD)),
            ("post", "POST", Some(Method::POST)),
            (
                "extension",
                "PURGE",
                Some(Method::from_bytes(b"PURGE").expect("method")),
            ),
            ("space inside", "GE T", None),
        ];
        for (case, text, expected) in cases {
            assert_eq!(parse_method(text).ok(), expected, "case {case}");
        }
    }

    #[test]
    fn header_table() {
        let url = target("api.example.com", 443, "api.example.com", "/");
        let pair = |name: &str, value: &str| (name.to_string(), value.to_string());
        let cases = [
            ("valid", vec![pair("Authorization", "Bearer abc")], true),
            ("invalid name", vec![pair("Bad Header", "x")], false),
            ("newline in value", vec![pair("X-Key", "a\nb")], false),
            ("empty name", vec![pair("", "x")], false),
        ];
        for (case, pairs, valid) in cases {
            assert_eq!(build_headers(&pairs, &url).is_ok(), valid, "case {case}");
        }
    }

    #[test]
    fn header_error_hides_value() {
        let url = target("api.example.com", 443, "api.example.com", "/");
        let pairs = [("X-Api-Key".to_string(), "hunter2\r\n".to_string())];
        let error = build_headers(&pairs, &url)
            .expect_err("invalid value")
            .to_string();
        assert!(
            error.contains("x-api-key"),
            "message should name the header: {error}"
        );
        assert!(
            !error.contains("hunter2"),
            "message repeats the value: {error}"
        );
    }

    #[test]
    fn host_header() {
        let url = target("api.example.com", 8443, "api.example.com:8443", "/");
        let defaulted = build_headers(&[], &url).expect("headers");
        assert_eq!(
            defaulted[HOST], "api.example.com:8443",
            "default Host header"
        );

        let pairs = [("Host".to_string(), "other.example.com".to_string())];
        let overridden = build_headers(&pairs, &url).expect("headers");
        assert_eq!(
            overridden.get_all(HOST).iter().count(),
            1,
            "one Host header"
        );
        assert_eq!(
            overridden[HOST], "other.example.com",
            "caller's Host header"
        );
    }

    #[test]
    fn debug_hides_header_values() {
        let mut check = HealthCheck::new("https://api.example.com/health");
        check.headers = vec![("Authorization".to_string(), "Bearer hunter2".to_string())];
        let shown = format!("{check:?}");
        assert!(
            shown.contains("Authorization"),
            "header name shown: {shown}"
        );
        assert!(!shown.contains("hunter2"), "header value shown: {shown}");

        let target = parse_url(&check.url).expect("url");
        let headers = build_headers(&check.headers, &target).expect("headers");
        let shown = format!("{headers:?}");
        assert!(
            !shown.contains("hunter2"),
            "header map shows the value: {shown}"
        );
    }

    #[test]
    fn ca_bundle_table() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let params = rcgen::CertificateParams::new(vec!["ca.test".to_string()]).expect("params");
        let pem = params.self_signed(&key).expect("certificate").pem();
        let cases = [
            ("one certificate", pem.clone(), Ok(1)),
            ("two certificates", format!("{pem}{pem}"), Ok(2)),
            (
                "no certificate",
                "not a PEM file".to_string(),
                Err("no PEM CERTIFICATE"),
            ),
            (
                "broken base64",
                "-----BEGIN CERTIFICATE-----\n@@@\n-----END CERTIFICATE-----\n".to_string(),
                Err("not valid PEM"),
            ),
        ];
        for (case, text, expected) in cases {
            match (parse_ca_bundle(&text), expected) {
                (Ok(certificates), Ok(count)) => {
                    assert_eq!(certificates.len(), count, "case {case}")
                }
                (Err(error), Err(fragment)) => assert!(
                    error.to_string().contains(fragment),
                    "case {case}: {error} should contain {fragment:?}"
                ),
                (outcome, _) => panic!("case {case}: unexpected outcome {outcome:?}"),
            }
        }
    }

    #[test]
    fn expected_status_checked() {
        let mut check = HealthCheck::new("https://api.example.com/health");
        check.expected_status = 42;
        let error = validate(&check)
            .expect_err("status 42 is invalid")
            .to_string();
        assert!(
            error.contains("42"),
            "message should name the status: {error}"
        );
    }

    #[test]
    fn error_messages() {
        let address: SocketAddr = "127.0.0.1:8443".parse().expect("address");
        let cases = [
            (
                HealthError::UnexpectedStatus {
                    expected: 200,
                    actual: 503,
                },
                "expected HTTP status 200, got 503 Service Unavailable",
            ),
            (
                HealthError::UnexpectedStatus {
                    expected: 200,
                    actual: 599,
                },
                "expected HTTP status 200, got 599",
            ),
            (
                HealthError::ConnectionRefused(address),
                "connection to 127.0.0.1:8443 refused",
            ),
            (
                HealthError::TimedOut {
                    step: Step::TlsHandshake,
                    after: Duration::from_secs(2),
                },
                "timed out after 2s during the TLS handshake",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text, "message for {error:?}");
        }
    }
}
