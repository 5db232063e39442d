//! DNS lookups of an endpoint's names, and the comparison of their answers
//! with the addresses the endpoint's network interfaces hold.
//!
//! Lookups go through hickory-resolver, over UDP with the library's fallback
//! to TCP when an answer is truncated. Every name is looked up as fully
//! qualified, so no search domain from `/etc/resolv.conf` is ever appended.
//! With [`Resolver::Server`] the system configuration and the hosts file are
//! not read at all.

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use hickory_resolver::config::{LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError as LookupError, NetError, NoRecords};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::TokioResolver;

/// The port DNS servers listen on.
const DNS_PORT: u16 = 53;

/// The destination of lookups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolver {
    /// The name servers in `/etc/resolv.conf`, after the hosts file.
    ///
    /// NOTE: this reads the files directly rather than calling the C
    /// library's resolver, so NSS sources other than `files` and `dns` (mDNS,
    /// LDAP, systemd's `resolve` module) are not consulted.
    System,
    /// One DNS server at this address, queried over UDP and then TCP.
    Server(SocketAddr),
}

impl FromStr for Resolver {
    type Err = String;

    /// Parses `IP:PORT`, `[IPV6]:PORT`, or a bare IP address, which means
    /// port 53.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if let Ok(address) = text.parse::<SocketAddr>() {
            return Ok(Resolver::Server(address));
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(Resolver::Server(SocketAddr::new(ip, DNS_PORT)));
        }
        Err(format!(
            "invalid DNS server address {text:?}: expected IP:PORT, such as \
             10.0.0.2:53 or [fd00::2]:53, or an IP address alone for port 53"
        ))
    }
}

impl fmt::Display for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resolver::System => write!(f, "the system resolver"),
            Resolver::Server(address) => write!(f, "DNS server {address}"),
        }
    }
}

/// The kind of a failed lookup, for callers that act on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsErrorKind {
    /// The name does not exist (response code NXDOMAIN).
    NxDomain,
    /// No answer came within the timeout.
    Timeout,
    /// The server refused the query (response code REFUSED), or refused the
    /// connection.
    Refused,
    /// Anything else: another response code, an invalid name, an unreadable
    /// system configuration.
    Other,
}

/// A failed lookup of one name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsError {
    pub kind: DnsErrorKind,
    /// A sentence for users that names the name and the resolver.
    pub message: String,
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DnsError {}

/// The outcome of looking up one name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameAnswer {
    /// The name as the caller gave it.
    pub name: String,
    /// The IPv4 and IPv6 addresses in the answer. Empty when the name exists
    /// but has no A or AAAA record.
    pub result: Result<Vec<IpAddr>, DnsError>,
}

/// Looks up the A and AAAA records of each name, all at once, each within
/// `timeout`. The answers come back in the order of `names`.
pub async fn resolve_names<S: AsRef<str>>(
    names: &[S],
    resolver: &Resolver,
    timeout: Duration,
) -> Vec<NameAnswer> {
    let client = match build_client(resolver, timeout) {
        Ok(client) => client,
        Err(error) => {
            let message = format!("cannot configure {resolver}: {error}");
            return names
                .iter()
                .map(|name| failed(name.as_ref(), DnsErrorKind::Other, &message))
                .collect();
        }
    };

    // Each lookup runs as its own task, so that a name that times out does
    // not delay the others.
    let lookups: Vec<_> = names
        .iter()
        .map(|name| {
            let name = name.as_ref().to_string();
            let client = client.clone();
            let resolver = resolver.clone();
            tokio::spawn(async move { lookup(&client, &resolver, &name, timeout).await })
        })
        .collect();

    let mut answers = Vec::with_capacity(names.len());
    for (name, task) in names.iter().zip(lookups) {
        let name = name.as_ref();
        let result = task.await.unwrap_or_else(|error| {
            Err(DnsError {
                kind: DnsErrorKind::Other,
                message: format!("{name}: the lookup task failed: {error}"),
            })
        });
        answers.push(NameAnswer {
            name: name.to_string(),
            result,
        });
    }
    answers
}

fn failed(name: &str, kind: DnsErrorKind, message: &str) -> NameAnswer {
    NameAnswer {
        name: name.to_string(),
        result: Err(DnsError {
            kind,
            message: format!("{name}: {message}"),
        }),
    }
}

/// Builds a hickory client for `resolver`. A fresh client per call has an
/// empty cache, so an answer cached before a DNS change cannot hide it.
fn build_client(resolver: &Resolver, timeout: Duration) -> Result<TokioResolver, NetError> {
    let mut builder = match resolver {
        Resolver::System => TokioResolver::builder_tokio()?,
        Resolver::Server(address) => {
            let mut server = NameServerConfig::udp_and_tcp(address.ip());
            for connection in &mut server.connections {
                connection.port = address.port();
            }
            let config = ResolverConfig::from_parts(None, Vec::new(), vec![server]);
            let mut builder =
                TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
            // The hosts file could answer before the server is asked, which
            // would defeat the point of naming a server.
            builder.options_mut().use_hosts_file = ResolveHosts::Never;
            builder
        }
    };

    let options = builder.options_mut();
    options.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
    // hickory's own per-query timeout is 5 s by default. Matching it to ours
    // lets a longer timeout take effect, and the deadline in `lookup` still
    // bounds the retries.
    options.timeout = timeout;
    builder.build()
}

async fn lookup(
    client: &TokioResolver,
    resolver: &Resolver,
    name: &str,
    timeout: Duration,
) -> Result<Vec<IpAddr>, DnsError> {
    let fully_qualified = if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    };
    tracing::debug!(name, %resolver, "DNS lookup");

    let outcome = tokio::time::timeout(timeout, client.lookup_ip(fully_qualified)).await;
    let result = match outcome {
        Err(_elapsed) => Err(timed_out(name, resolver, timeout)),
        Ok(Ok(answer)) => Ok(answer.iter().collect()),
        Ok(Err(error)) if is_no_data(&error) => Ok(Vec::new()),
        Ok(Err(error)) => Err(classify(&error, name, resolver, timeout)),
    };

    match &result {
        Ok(addresses) => tracing::debug!(name, ?addresses, "DNS answer"),
        Err(error) => tracing::debug!(name, %error, "DNS lookup failed"),
    }
    result
}

/// Whether the server replied that the name exists but has no record of the
/// requested type (NOERROR with an empty answer, often called NODATA).
fn is_no_data(error: &NetError) -> bool {
    matches!(
        error,
        NetError::Dns(LookupError::NoRecordsFound(NoRecords {
            response_code: ResponseCode::NoError,
            ..
        }))
    )
}

fn timed_out(name: &str, resolver: &Resolver, timeout: Duration) -> DnsError {
    // A caller may pass what remains of a larger deadline, such as
    // 4.998731s, so the message shows whole milliseconds.
    let millis = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    let shown = Duration::from_millis(millis);
    DnsError {
        kind: DnsErrorKind::Timeout,
        message: format!("{name}: no answer from {resolver} within {shown:?}"),
    }
}

/// Maps a hickory error to a kind and a message for users.
fn classify(error: &NetError, name: &str, resolver: &Resolver, timeout: Duration) -> DnsError {
    if error.is_nx_domain() {
        return DnsError {
            kind: DnsErrorKind::NxDomain,
            message: format!("{name}: {resolver} returned NXDOMAIN: the name does not exist"),
        };
    }
    match error {
        NetError::Timeout => timed_out(name, resolver, timeout),
        NetError::Dns(LookupError::ResponseCode(ResponseCode::Refused)) => DnsError {
            kind: DnsErrorKind::Refused,
            message: format!("{name}: {resolver} refused the query (REFUSED)"),
        },
        NetError::Io(io_error) if io_error.kind() == io::ErrorKind::ConnectionRefused => DnsError {
            kind: DnsErrorKind::Refused,
            message: format!("{name}: {resolver} refused the connection"),
        },
        other => DnsError {
            kind: DnsErrorKind::Other,
            message: format!("{name}: lookup through {resolver} failed: {other}"),
        },
    }
}

/// The problem found in the answer for one name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The lookup failed.
    LookupFailed(DnsError),
    /// The name exists but has no A or AAAA record.
    NoAddresses,
    /// These addresses of the answer are not among the expected ones.
    Unexpected(Vec<IpAddr>),
}

/// A name whose answer does not match the expected addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    pub name: String,
    pub problem: Problem,
    /// The expected addresses, kept for the message.
    pub expected: Vec<IpAddr>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let expected = join(&self.expected);
        match &self.problem {
            Problem::LookupFailed(error) => write!(f, "{error}"),
            Problem::NoAddresses => write!(
                f,
                "{} has no A or AAAA record, but one of {expected} was expected",
                self.name
            ),
            Problem::Unexpected(outside) => write!(
                f,
                "{} resolves to {}, which is not among the expected addresses {expected}",
                self.name,
                join(outside)
            ),
        }
    }
}

fn join(addresses: &[IpAddr]) -> String {
    let texts: Vec<String> = addresses.iter().map(IpAddr::to_string).collect();
    texts.join(", ")
}

/// Compares each answer with `expected` and returns the names whose lookup
/// failed, whose answer is empty, or whose answer holds an address outside
/// `expected`. An answer that holds only some of the expected addresses
/// matches, because a zonal name resolves to the address in its zone alone.
pub fn compare_answers(answers: &[NameAnswer], expected: &BTreeSet<IpAddr>) -> Vec<Mismatch> {
    let mut mismatches = Vec::new();
    for answer in answers {
        let problem = match &answer.result {
            Err(error) => Problem::LookupFailed(error.clone()),
            Ok(addresses) if addresses.is_empty() => Problem::NoAddresses,
            Ok(addresses) => {
                let outside: BTreeSet<IpAddr> = addresses
                    .iter()
                    .filter(|address| !expected.contains(address))
                    .copied()
                    .collect();
                if outside.is_empty() {
                    continue;
                }
                Problem::Unexpected(outside.into_iter().collect())
            }
        };
        mismatches.push(Mismatch {
            name: answer.name.clone(),
            problem,
            expected: expected.iter().copied().collect(),
        });
    }
    mismatches
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::sync::Arc;

    use hickory_resolver::proto::op::Query;
    use hickory_resolver::proto::rr::{Name, RecordType};

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address")
    }

    fn answer(name: &str, addresses: &[&str]) -> NameAnswer {
        NameAnswer {
            name: name.to_string(),
            result: Ok(addresses.iter().map(|a| ip(a)).collect()),
        }
    }

    fn nxdomain(name: &str) -> NameAnswer {
        NameAnswer {
            name: name.to_string(),
            result: Err(DnsError {
                kind: DnsErrorKind::NxDomain,
                message: format!("{name}: does not exist"),
            }),
        }
    }

    #[test]
    fn resolver_parse() {
        let server = |text: &str| Ok(Resolver::Server(text.parse().expect("socket address")));
        let cases: &[(&str, &str, Result<Resolver, ()>)] = &[
            ("ipv4 with port", "127.0.0.1:5353", server("127.0.0.1:5353")),
            ("ipv4 alone", "10.0.0.2", server("10.0.0.2:53")),
            ("ipv6 with port", "[::1]:5353", server("[::1]:5353")),
            ("ipv6 alone", "fd00::2", server("[fd00::2]:53")),
            ("spaces trimmed", " 127.0.0.1:53 ", server("127.0.0.1:53")),
            ("host name", "dns.example.com:53", Err(())),
            ("empty", "", Err(())),
            ("port too large", "127.0.0.1:70000", Err(())),
        ];
        for (case, text, expected) in cases {
            let parsed = text.parse::<Resolver>().map_err(|_| ());
            assert_eq!(&parsed, expected, "case {case}: {text:?}");
        }
    }

    #[test]
    fn resolver_parse_error_names_input() {
        let error = "dns.example.com".parse::<Resolver>().unwrap_err();
        assert!(
            error.contains("\"dns.example.com\""),
            "message should quote the input: {error}"
        );
    }

    #[test]
    fn compare_table() {
        let expected: BTreeSet<IpAddr> = [ip("10.0.1.5"), ip("10.0.2.7"), ip("fd00::5")].into();
        let cases: &[(&str, NameAnswer, Option<Problem>)] = &[
            (
                "all expected",
                answer("a.test", &["10.0.1.5", "10.0.2.7"]),
                None,
            ),
            ("subset", answer("a.test", &["10.0.2.7"]), None),
            ("ipv6 expected", answer("a.test", &["fd00::5"]), None),
            (
                "one outside",
                answer("a.test", &["10.0.1.5", "10.0.9.9"]),
                Some(Problem::Unexpected(vec![ip("10.0.9.9")])),
            ),
            (
                "outside sorted and deduplicated",
                answer("a.test", &["10.0.9.9", "10.0.8.8", "10.0.9.9"]),
                Some(Problem::Unexpected(vec![ip("10.0.8.8"), ip("10.0.9.9")])),
            ),
            (
                "ipv6 outside",
                answer("a.test", &["fd00::9"]),
                Some(Problem::Unexpected(vec![ip("fd00::9")])),
            ),
            (
                "empty answer",
                answer("a.test", &[]),
                Some(Problem::NoAddresses),
            ),
            (
                "lookup failed",
                nxdomain("a.test"),
                Some(Problem::LookupFailed(
                    nxdomain("a.test").result.expect_err("nxdomain"),
                )),
            ),
        ];
        for (case, answer, problem) in cases {
            let mismatches = compare_answers(std::slice::from_ref(answer), &expected);
            let found = mismatches.first().map(|m| m.problem.clone());
            assert_eq!(&found, problem, "case {case}");
            assert!(mismatches.len() <= 1, "case {case}: {mismatches:?}");
        }
    }

    #[test]
    fn compare_keeps_order_and_names() {
        let expected: BTreeSet<IpAddr> = [ip("10.0.1.5")].into();
        let answers = [
            answer("ok.test", &["10.0.1.5"]),
            answer("wrong.test", &["10.0.9.9"]),
            nxdomain("missing.test"),
        ];
        let names: Vec<String> = compare_answers(&answers, &expected)
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(names, ["wrong.test", "missing.test"], "mismatched names");
    }

    #[test]
    fn compare_empty_expected() {
        let mismatches = compare_answers(&[answer("a.test", &["10.0.1.5"])], &BTreeSet::new());
        assert_eq!(mismatches.len(), 1, "every address is outside an empty set");
    }

    #[test]
    fn mismatch_messages() {
        let expected = vec![ip("10.0.1.5"), ip("10.0.2.7")];
        let cases = [
            (
                "unexpected",
                Problem::Unexpected(vec![ip("10.0.9.9")]),
                "a.test resolves to 10.0.9.9, which is not among the expected addresses \
                 10.0.1.5, 10.0.2.7",
            ),
            (
                "no addresses",
                Problem::NoAddresses,
                "a.test has no A or AAAA record, but one of 10.0.1.5, 10.0.2.7 was expected",
            ),
            (
                "lookup failed",
                Problem::LookupFailed(DnsError {
                    kind: DnsErrorKind::Timeout,
                    message: "a.test: no answer".to_string(),
                }),
                "a.test: no answer",
            ),
        ];
        for (case, problem, text) in cases {
            let mismatch = Mismatch {
                name: "a.test".to_string(),
                problem,
                expected: expected.clone(),
            };
            assert_eq!(mismatch.to_string(), text, "case {case}");
        }
    }

    fn no_records(code: ResponseCode) -> NetError {
        let name = Name::from_ascii("a.test.").expect("name");
        let query = Query::query(name, RecordType::A);
        NetError::Dns(LookupError::NoRecordsFound(NoRecords::new(query, code)))
    }

    #[test]
    fn classify_table() {
        let resolver = Resolver::Server(SocketAddr::from((Ipv4Addr::LOCALHOST, 5353)));
        let refused_io = io::Error::from(io::ErrorKind::ConnectionRefused);
        let cases = [
            (
                "nxdomain",
                no_records(ResponseCode::NXDomain),
                DnsErrorKind::NxDomain,
            ),
            ("timeout", NetError::Timeout, DnsErrorKind::Timeout),
            (
                "refused code",
                NetError::Dns(LookupError::ResponseCode(ResponseCode::Refused)),
                DnsErrorKind::Refused,
            ),
            (
                "refused connection",
                NetError::Io(Arc::new(refused_io)),
                DnsErrorKind::Refused,
            ),
            (
                "servfail",
                NetError::Dns(LookupError::ResponseCode(ResponseCode::ServFail)),
                DnsErrorKind::Other,
            ),
            (
                "no connections",
                NetError::NoConnections,
                DnsErrorKind::Other,
            ),
        ];
        for (case, error, kind) in cases {
            let classified = classify(&error, "a.test", &resolver, Duration::from_secs(2));
            assert_eq!(classified.kind, kind, "case {case}: {classified}");
            assert!(
                classified.message.starts_with("a.test: "),
                "case {case}: message should start with the name: {classified}"
            );
            assert!(
                classified.message.contains("127.0.0.1:5353"),
                "case {case}: message should name the server: {classified}"
            );
        }
    }

    #[test]
    fn timeout_message_rounds() {
        let resolver = Resolver::Server(SocketAddr::from((Ipv4Addr::LOCALHOST, 53)));
        let error = timed_out("a.test", &resolver, Duration::from_micros(4_998_731));
        assert_eq!(
            error.message, "a.test: no answer from DNS server 127.0.0.1:53 within 4.998s",
            "message"
        );
    }

    #[test]
    fn no_data_detected() {
        assert!(
            is_no_data(&no_records(ResponseCode::NoError)),
            "NOERROR without records"
        );
        assert!(
            !is_no_data(&no_records(ResponseCode::NXDomain)),
            "NXDOMAIN is not NODATA"
        );
        assert!(!is_no_data(&NetError::Timeout), "a timeout is not NODATA");
    }

    #[test]
    fn resolver_display() {
        let server = Resolver::Server(SocketAddr::from((Ipv6Addr::LOCALHOST, 53)));
        assert_eq!(server.to_string(), "DNS server [::1]:53", "server display");
        assert_eq!(
            Resolver::System.to_string(),
            "the system resolver",
            "system display"
        );
    }
}
