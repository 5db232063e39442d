//! Handles on the verification layer's test servers, each a Python process on
//! 127.0.0.1 started from the virtualenv that `scripts/setup-tools` makes:
//! - [`DnsServer`] runs `acceptance-tests/dns_server.py`, which answers A and
//!   AAAA queries from a JSON map over UDP and TCP on one port.
//! - [`HttpsServer`] runs `acceptance-tests/https_server.py`, which serves
//!   `/health` over TLS with a certificate from a test CA made at start.
//!
//! Each server exits when its stdin closes and is killed when its handle is
//! dropped. The options are documented at the top of each script.

use std::ffi::OsString;
use std::fs::{self, File};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Files the scripts write in their helper's directory.
const QUERY_LOG: &str = "queries.jsonl";
const CA_FILE: &str = "ca.pem";
const REQUEST_LOG: &str = "requests.jsonl";

/// A started helper script with its working directory and log.
struct Helper {
    process: Child,
    name: &'static str,
    log_path: PathBuf,
    /// Contains the port file, the log and the files the script writes, and
    /// is deleted on drop.
    dir: tempfile::TempDir,
}

impl Helper {
    /// Starts `acceptance-tests/SCRIPT` with the arguments `args` builds from
    /// the helper's directory, plus `--port-file`, then waits until the port
    /// file appears.
    fn start(script: &'static str, args: impl FnOnce(&Path) -> Vec<OsString>) -> (Helper, u16) {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let python = root.join(".venv/bin/python");
        let script_path = root.join("acceptance-tests").join(script);

        let dir = tempfile::tempdir().expect("creating a test server's directory");
        let port_file = dir.path().join("port");
        let log_path = dir.path().join("server.log");
        let log = File::create(&log_path).expect("creating a test server's log file");

        // The script exits when its stdin closes, so it does not outlive this
        // process even when the test binary is killed before Drop runs.
        let process = Command::new(&python)
            .arg(&script_path)
            .args(args(dir.path()))
            .arg("--port-file")
            .arg(&port_file)
            .arg("--exit-on-stdin-eof")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "starting {} {}: {e}",
                    python.display(),
                    script_path.display()
                )
            });

        let mut helper = Helper {
            process,
            name: script,
            log_path,
            dir,
        };
        let port = helper.wait_for_port(&port_file);
        (helper, port)
    }

    fn wait_for_port(&mut self, port_file: &Path) -> u16 {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.process.try_wait() {
                panic!(
                    "{} exited with {status} during startup\n--- log ---\n{}",
                    self.name,
                    self.log()
                );
            }
            // The scripts rename the finished file into place, so any text
            // read here is the whole port number.
            if let Ok(text) = fs::read_to_string(port_file) {
                return text.trim().parse().unwrap_or_else(|e| {
                    panic!("invalid port {text:?} in {}: {e}", port_file.display())
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "{} did not write its port within {START_TIMEOUT:?}\n--- log ---\n{}",
            self.name,
            self.log()
        );
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log_path)
            .unwrap_or_else(|e| format!("(cannot read {}: {e})", self.log_path.display()))
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Reads a file of JSON lines. A missing file means no line yet.
fn read_json_lines(path: &Path) -> Vec<Value> {
    let Ok(text) = fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("invalid JSON line in {}: {e}: {line}", path.display()))
        })
        .collect()
}

/// The zone and failure options of a [`DnsServer`].
#[derive(Clone, Debug, Default)]
pub struct DnsConfig {
    /// A JSON object of names to an address or a list of addresses.
    pub records: Value,
    /// Names answered with REFUSED.
    pub refused: Vec<String>,
    /// Whether every UDP answer is empty and truncated, forcing TCP.
    pub truncate_udp: bool,
}

impl DnsConfig {
    pub fn records(records: Value) -> DnsConfig {
        DnsConfig {
            records,
            ..DnsConfig::default()
        }
    }
}

/// A running `dns_server.py`.
pub struct DnsServer {
    helper: Helper,
    /// The server's UDP and TCP address, on 127.0.0.1.
    pub addr: SocketAddr,
}

impl DnsServer {
    /// Starts a server that answers from `config` and waits until it listens.
    pub fn start(config: &DnsConfig) -> DnsServer {
        let (helper, port) = Helper::start("dns_server.py", |dir| {
            let mut args: Vec<OsString> =
                vec!["--records".into(), config.records.to_string().into()];
            for name in &config.refused {
                args.extend(["--refuse".into(), name.into()]);
            }
            if config.truncate_udp {
                args.push("--truncate-udp".into());
            }
            args.extend(["--query-log".into(), dir.join(QUERY_LOG).into()]);
            args
        });
        DnsServer {
            helper,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        }
    }

    /// Returns the queries received so far, oldest first, as objects with
    /// `transport` ("udp" or "tcp"), `name` and `type`.
    pub fn queries(&self) -> Vec<Value> {
        read_json_lines(&self.helper.path(QUERY_LOG))
    }

    pub fn log(&self) -> String {
        self.helper.log()
    }
}

/// A running `https_server.py`.
pub struct HttpsServer {
    helper: Helper,
    /// The DNS name in the server certificate.
    pub name: String,
    pub port: u16,
    /// The test CA's certificate, PEM-encoded.
    pub ca_pem: String,
}

impl HttpsServer {
    /// Starts a server with a certificate for `name` whose `/health` returns
    /// `health_status`, and waits until it listens.
    pub fn start(name: &str, health_status: u16) -> HttpsServer {
        let (helper, port) = Helper::start("https_server.py", |dir| {
            vec![
                "--name".into(),
                name.into(),
                "--health-status".into(),
                health_status.to_string().into(),
                "--ca-file".into(),
                dir.join(CA_FILE).into(),
                "--request-log".into(),
                dir.join(REQUEST_LOG).into(),
            ]
        });
        // The script writes the CA file before the port file.
        let ca_path = helper.path(CA_FILE);
        let ca_pem = fs::read_to_string(&ca_path)
            .unwrap_or_else(|e| panic!("reading the test CA {}: {e}", ca_path.display()));
        HttpsServer {
            helper,
            name: name.to_string(),
            port,
            ca_pem,
        }
    }

    /// Returns `https://NAME:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("https://{}:{}{path}", self.name, self.port)
    }

    /// Returns the requests received so far, oldest first, as objects with
    /// `method`, `path` and `headers` (a list of [name, value] pairs).
    pub fn requests(&self) -> Vec<Value> {
        read_json_lines(&self.helper.path(REQUEST_LOG))
    }

    pub fn log(&self) -> String {
        self.helper.log()
    }
}
