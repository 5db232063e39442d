//! The verification layer (`plink::verify`) against real servers on
//! 127.0.0.1: `dns_server.py` for lookups and `https_server.py` for the
//! health check. Every lookup, the health check's included, goes to the test
//! DNS server, so no test sends a query to the system resolver.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::time::{Duration, Instant};

use plink::verify::dns::{
    compare_answers, resolve_names, DnsErrorKind, NameAnswer, Problem, Resolver,
};
use plink::verify::health::{self, HealthCheck, HealthError, HealthReport, Step};
use serde_json::{json, Value};

use crate::support::verify_servers::{DnsConfig, DnsServer, HttpsServer};
use crate::support::{self, block_on};

/// The name in the test server's certificate. `.test` is reserved for
/// testing (RFC 6761), so no public DNS zone contains it.
const NAME: &str = "api.plink.test";
const MISSING: &str = "missing.plink.test";
const SECRET: &str = "plink-test-secret-7f3a";

const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);
const SHORT_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a check given `SHORT_TIMEOUT` may take before the test calls its
/// timeout broken. It leaves room for a slow, loaded machine.
const SHORT_TIMEOUT_LIMIT: Duration = Duration::from_secs(5);

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address")
}

fn lookup(server: SocketAddr, names: &[&str], timeout: Duration) -> Vec<NameAnswer> {
    block_on(resolve_names(names, &Resolver::Server(server), timeout))
}

/// Starts a DNS server that maps `NAME` to `address`.
fn dns_with(address: Value) -> DnsServer {
    DnsServer::start(&DnsConfig::records(json!({ NAME: address })))
}

/// Builds a check of `path` on `https` that trusts its CA and resolves
/// through `dns`.
fn check_of(dns: &DnsServer, https: &HttpsServer, path: &str) -> HealthCheck {
    let mut check = HealthCheck::new(https.url(path));
    check.resolver = Resolver::Server(dns.addr);
    check.extra_ca_pem = Some(https.ca_pem.clone());
    check
}

fn run(check: &HealthCheck) -> HealthReport {
    block_on(health::check(check))
}

/// Returns a port on 127.0.0.1 that nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("binding a free port");
    listener.local_addr().expect("local address").port()
}

/// Returns the values of header `name` (case-insensitive) in one request
/// logged by `https_server.py`.
fn header_values(request: &Value, name: &str) -> Vec<String> {
    let headers = request["headers"].as_array().expect("headers list");
    headers
        .iter()
        .filter(|pair| {
            pair[0]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .map(|pair| pair[1].as_str().expect("header value").to_string())
        .collect()
}

#[test]
fn dns_resolves_expected() {
    if support::skipped() {
        return;
    }
    let dns = dns_with(json!("127.0.0.1"));

    let answers = lookup(dns.addr, &[NAME], LOOKUP_TIMEOUT);

    assert_eq!(answers.len(), 1, "one answer per name: {answers:?}");
    assert_eq!(answers[0].name, NAME, "answer name");
    assert_eq!(
        answers[0].result,
        Ok(vec![ip("127.0.0.1")]),
        "addresses\n--- DNS server log ---\n{}",
        dns.log()
    );
    let expected = BTreeSet::from([ip("127.0.0.1")]);
    let mismatches = compare_answers(&answers, &expected);
    assert!(
        mismatches.is_empty(),
        "unexpected mismatches: {mismatches:?}"
    );
}

#[test]
fn dns_ipv4_and_ipv6() {
    if support::skipped() {
        return;
    }
    let dns = dns_with(json!(["127.0.0.1", "::1"]));

    let answers = lookup(dns.addr, &[NAME], LOOKUP_TIMEOUT);

    let addresses: BTreeSet<IpAddr> = answers[0]
        .result
        .clone()
        .expect("lookup")
        .into_iter()
        .collect();
    assert_eq!(
        addresses,
        BTreeSet::from([ip("127.0.0.1"), ip("::1")]),
        "A and AAAA"
    );
}

#[test]
fn dns_wrong_address_reported() {
    if support::skipped() {
        return;
    }
    // 10.0.9.9 is only data in the answer; nothing connects to it.
    let dns = dns_with(json!("10.0.9.9"));
    let expected = BTreeSet::from([ip("10.0.1.5"), ip("10.0.2.7")]);

    let answers = lookup(dns.addr, &[NAME], LOOKUP_TIMEOUT);
    let mismatches = compare_answers(&answers, &expected);

    assert_eq!(mismatches.len(), 1, "one mismatch: {mismatches:?}");
    assert_eq!(mismatches[0].name, NAME, "mismatched name");
    assert_eq!(
        mismatches[0].problem,
        Problem::Unexpected(vec![ip("10.0.9.9")]),
        "problem"
    );
    let message = mismatches[0].to_string();
    assert!(
        message.contains("10.0.9.9"),
        "message names the answer: {message}"
    );
    assert!(
        message.contains("10.0.1.5, 10.0.2.7"),
        "message names the expected: {message}"
    );
}

#[test]
fn dns_nxdomain_reported() {
    if support::skipped() {
        return;
    }
    let dns = dns_with(json!("127.0.0.1"));

    let answers = lookup(dns.addr, &[MISSING], LOOKUP_TIMEOUT);

    let error = answers[0]
        .result
        .clone()
        .expect_err("the name does not exist");
    assert_eq!(error.kind, DnsErrorKind::NxDomain, "kind of {error}");
    assert!(
        error.message.contains(MISSING),
        "message names the name: {error}"
    );
    assert!(
        error.message.contains("NXDOMAIN"),
        "message names the code: {error}"
    );
    let mismatches = compare_answers(&answers, &BTreeSet::from([ip("127.0.0.1")]));
    assert_eq!(
        mismatches.first().map(|m| &m.problem),
        Some(&Problem::LookupFailed(error)),
        "comparison reports the failed lookup"
    );
}

#[test]
fn dns_names_keep_order() {
    if support::skipped() {
        return;
    }
    let dns = dns_with(json!("127.0.0.1"));

    let answers = lookup(dns.addr, &[MISSING, NAME], LOOKUP_TIMEOUT);

    let names: Vec<&str> = answers.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, [MISSING, NAME], "answers in the order asked");
    assert!(
        answers[0].result.is_err(),
        "first name fails: {:?}",
        answers[0]
    );
    assert_eq!(
        answers[1].result,
        Ok(vec![ip("127.0.0.1")]),
        "second name resolves"
    );
}

#[test]
fn dns_refused_reported() {
    if support::skipped() {
        return;
    }
    let dns = DnsServer::start(&DnsConfig {
        records: json!({ NAME: "127.0.0.1" }),
        refused: vec![NAME.to_string()],
        truncate_udp: false,
    });

    let answers = lookup(dns.addr, &[NAME], LOOKUP_TIMEOUT);

    let error = answers[0].result.clone().expect_err("the server refuses");
    assert_eq!(error.kind, DnsErrorKind::Refused, "kind of {error}");
    assert!(
        error.message.contains("REFUSED"),
        "message names the code: {error}"
    );
}

#[test]
fn dns_timeout_reported() {
    if support::skipped() {
        return;
    }
    // A bound UDP socket that never reads: queries arrive and go unanswered.
    let silent = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("binding a UDP socket");
    let address = silent.local_addr().expect("local address");

    let started = Instant::now();
    let answers = lookup(address, &[NAME], SHORT_TIMEOUT);
    let elapsed = started.elapsed();

    let error = answers[0].result.clone().expect_err("no server answers");
    assert_eq!(error.kind, DnsErrorKind::Timeout, "kind of {error}");
    assert!(
        error.message.contains("500ms"),
        "message names the timeout: {error}"
    );
    assert!(elapsed < SHORT_TIMEOUT_LIMIT, "the lookup took {elapsed:?}");
}

#[test]
fn dns_tcp_fallback() {
    if support::skipped() {
        return;
    }
    let dns = DnsServer::start(&DnsConfig {
        records: json!({ NAME: "127.0.0.1" }),
        refused: Vec::new(),
        truncate_udp: true,
    });

    let answers = lookup(dns.addr, &[NAME], LOOKUP_TIMEOUT);

    assert_eq!(
        answers[0].result,
        Ok(vec![ip("127.0.0.1")]),
        "addresses over TCP\n--- DNS server log ---\n{}",
        dns.log()
    );
    let transports: BTreeSet<String> = dns
        .queries()
        .iter()
        .map(|q| q["transport"].as_str().expect("transport").to_string())
        .collect();
    assert!(
        transports.contains("udp"),
        "UDP tried first: {transports:?}"
    );
    assert!(
        transports.contains("tcp"),
        "TCP used after truncation: {transports:?}"
    );
}

#[test]
fn health_200_passes() {
    if support::skipped() {
        return;
    }
    let dns = dns_with(json!("127.0.0.1"));
    let https = HttpsServer::start(NAME, 200);

    let report = run(&check_of(&dns, &https, "/health"));

    assert_eq!(
        report.error,
        None,
        "error\n--- server log ---\n{}",
        https.log()
    );
    assert_eq!(report.status, Some(200), "status");
    assert!(report.passed(), "passed");
    assert!(report.elapsed > Duration::ZERO, "elapsed is measured");
    let requests = https.requests();
    assert_eq!(requests.len(), 1, "one request: {requests:?}");
    assert_eq!(requests[0]["method"], "GET", "default method");
    assert_eq!(requests[0]["path"], "/health", "path");
    assert_eq!(
        header_values(&requests[0], "host"),
        [format!("{NAME}:{}", https.port)],
        "Host header"
    );
}

#[test]
fn health_503_fails() {
    if support::skipped() {
        return;
    }
    let dns = dns_with(json!("127.0.0.1"));
    let https = HttpsServer::start(NAME, 503);

    let report = run(&check_of(&dns, &https, "/health"));

    assert_eq!(report.status, Some(503), "status");
    assert_eq!(
        report.error,
        Some(HealthError::UnexpectedStatus {
            expected: 200,
            actual: 503
        }),
        "error"
    );
    assert!(!report.passed(), "a 503 must fail");
    let message = report.error.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.contains("503"),
        "message names the status: {message}"
    );
}

#[test]
fn health_method_and_status() {
    if support::skipped() {
        return;
    }
    let dns = dns_with(json!("127.0.0.1"));
    let https = HttpsServer::start(NAME, 200);
    let mut check = check_of(&dns, &https, "/status/204");
    check.method = "post".to_string();
    check.expected_status = 204;

    let report = run(&check);

    assert_eq!(report.error, None, "error");
    assert_eq!(report.status, Some(204), "status");
    let requests = https.requests();
    assert_eq!(
        requests.first().map(|r| &r["method"]),
        Some(&json!("POST")),
        "method sent"
    );
}

#[test]
fn health_untrusted_ca() {
    if support::skipped() {
        return;
    }
    let dns = dns_with(json!("127.0.0.1"));
    let https = HttpsServer::start(NAME, 200);
    let mut check = check_of(&dns, &https, "/health");
    check.extra_ca_pem = None;

    let report = run(&check);

    let Some(HealthError::Tls(reason)) = &report.error else {
        panic!("expected a TLS error, got {:?}", report.error);
    };
    assert!(
        reason.contains("UnknownIssuer"),
        "reason names the cause: {reason}"
    );
    assert_eq!(report.status, None, "no status without a response");
    assert!(
        https.requests().is_empty(),
        "no request after a failed handshake"
    );
}

#[test]
fn health_name_mismatch() {
    if support::skipped() {
        return;
    }
    let other = "other.plink.test";
    let dns = DnsServer::start(&DnsConfig::records(json!({ other: "127.0.0.1" })));
    let https = HttpsServer::start(NAME, 200);
    let mut check = check_of(&dns, &https, "/health");
    check.url = format!("https://{other}:{}/health", https.port);

    let report = run(&check);

    let Some(HealthError::Tls(reason)) = &report.error else {
        panic!("expected a TLS error, got {:?}", report.error);
    };
    assert!(
        reason.contains("not valid for name"),
        "reason names the cause: {reason}"
    );
}

#[test]
fn health_header_arrives() {
    if support::skipped() {
        return;
    }
    let dns = dns_with(json!("127.0.0.1"));
    let https = HttpsServer::start(NAME, 200);
    let mut check = check_of(&dns, &https, "/health");
    check.headers = vec![("X-Api-Key".to_string(), SECRET.to_string())];

    let report = run(&check);

    assert_eq!(report.error, None, "error");
    let requests = https.requests();
    assert_eq!(requests.len(), 1, "one request: {requests:?}");
    assert_eq!(
        header_values(&requests[0], "x-api-key"),
        [SECRET],
        "header sent"
    );
}

#[test]
fn health_error_hides_secret() {
    if support::skipped() {
        return;
    }
    let dns = dns_with(json!("127.0.0.1"));
    let https = HttpsServer::start(NAME, 503);
    let mut check = check_of(&dns, &https, "/health");
    check.headers = vec![("Authorization".to_string(), format!("Bearer {SECRET}"))];

    let report = run(&check);

    assert!(!report.passed(), "a 503 must fail");
    let shown = format!(
        "{report:?} {} {check:?}",
        report.error.clone().expect("error")
    );
    assert!(!shown.contains(SECRET), "the secret appears in: {shown}");
}

#[test]
fn health_http_rejected() {
    if support::skipped() {
        return;
    }
    let dns = dns_with(json!("127.0.0.1"));
    let mut check = HealthCheck::new(format!("http://{NAME}:{}/health", closed_port()));
    check.resolver = Resolver::Server(dns.addr);

    let report = run(&check);

    let Some(HealthError::InvalidUrl(reason)) = &report.error else {
        panic!("expected an invalid URL, got {:?}", report.error);
    };
    assert!(
        reason.contains("https://"),
        "reason says what to use: {reason}"
    );
    assert!(
        dns.queries().is_empty(),
        "no lookup for a rejected URL: {:?}",
        dns.queries()
    );
}

#[test]
fn health_refused_reported() {
    if support::skipped() {
        return;
    }
    let dns = dns_with(json!("127.0.0.1"));
    let port = closed_port();
    let mut check = HealthCheck::new(format!("https://{NAME}:{port}/health"));
    check.resolver = Resolver::Server(dns.addr);

    let report = run(&check);

    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    assert_eq!(
        report.error,
        Some(HealthError::ConnectionRefused(address)),
        "error"
    );
}

#[test]
fn health_nxdomain_reported() {
    if support::skipped() {
        return;
    }
    let dns = dns_with(json!("127.0.0.1"));
    let mut check = HealthCheck::new(format!("https://{MISSING}/health"));
    check.resolver = Resolver::Server(dns.addr);

    let report = run(&check);

    let Some(HealthError::Resolve(reason)) = &report.error else {
        panic!("expected a DNS error, got {:?}", report.error);
    };
    assert!(
        reason.contains("NXDOMAIN"),
        "reason names the code: {reason}"
    );
}

#[test]
fn health_timeout_reported() {
    if support::skipped() {
        return;
    }
    // The kernel completes TCP handshakes for a listener that never accepts,
    // so the connection opens and the TLS handshake then waits forever.
    let silent = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("binding a listener");
    let port = silent.local_addr().expect("local address").port();
    let dns = dns_with(json!("127.0.0.1"));
    let mut check = HealthCheck::new(format!("https://{NAME}:{port}/health"));
    check.resolver = Resolver::Server(dns.addr);
    check.timeout = SHORT_TIMEOUT;

    let report = run(&check);

    assert_eq!(
        report.error,
        Some(HealthError::TimedOut {
            step: Step::TlsHandshake,
            after: SHORT_TIMEOUT
        }),
        "error"
    );
    assert!(
        report.elapsed < SHORT_TIMEOUT_LIMIT,
        "the check took {:?}",
        report.elapsed
    );
}
