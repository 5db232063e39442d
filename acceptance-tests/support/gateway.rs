//! A handle on the test gateway (`acceptance-tests/gateway.py`): an HTTP server on
//! 127.0.0.1 that forwards AWS requests to a moto emulator and, following the
//! rules a test adds, injects errors, bare statuses and latency or rewrites
//! moto's responses. The rule format is documented at the top of gateway.py.
//!
//! Point the provider's `endpoints { ec2 = ..., cloudwatch = ..., sts = ... }`, or
//! an SDK client's `endpoint_url`, at `Gateway::url` instead of the emulator's.

use std::fs::{self, File};
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const START_TIMEOUT: Duration = Duration::from_secs(30);
const CONTROL_TIMEOUT: Duration = Duration::from_secs(30);

/// A running gateway process, killed when dropped.
pub struct Gateway {
    process: Child,
    /// The gateway's base URL, such as `http://127.0.0.1:41234`.
    pub url: String,
    port: u16,
    log_path: PathBuf,
    /// Contains the port file and the gateway's log, and is deleted on drop.
    _dir: tempfile::TempDir,
}

impl Gateway {
    /// Starts a gateway that forwards to `upstream_url`, which must be a loopback
    /// URL such as `Emulator::url`, and waits until it accepts connections.
    pub fn start(upstream_url: &str) -> Gateway {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        // The same interpreter that support::tools() uses for world.py.
        let python = root.join(".venv/bin/python");
        let script = root.join("acceptance-tests/gateway.py");

        let dir = tempfile::tempdir().expect("creating the gateway's directory");
        let port_file = dir.path().join("port");
        let log_path = dir.path().join("gateway.log");
        let log = File::create(&log_path).expect("creating the gateway's log file");

        // The gateway exits when its stdin closes, so it does not outlive this
        // process even when the test binary is killed before Drop runs.
        let process = Command::new(&python)
            .arg(&script)
            .arg("--upstream")
            .arg(upstream_url)
            .arg("--port-file")
            .arg(&port_file)
            .arg("--exit-on-stdin-eof")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {} {}: {e}", python.display(), script.display()));

        let mut gateway = Gateway {
            process,
            url: String::new(),
            port: 0,
            log_path,
            _dir: dir,
        };
        gateway.port = gateway.wait_for_port(&port_file);
        gateway.url = format!("http://127.0.0.1:{}", gateway.port);
        gateway
    }

    fn wait_for_port(&mut self, port_file: &Path) -> u16 {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.process.try_wait() {
                panic!(
                    "the test gateway exited with {status} during startup\n--- log ---\n{}",
                    self.log()
                );
            }
            // gateway.py renames the finished file into place, so any text read
            // here is the whole port number.
            if let Ok(text) = fs::read_to_string(port_file) {
                let port = text.trim().parse().unwrap_or_else(|e| {
                    panic!("invalid port {text:?} in {}: {e}", port_file.display())
                });
                return port;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "the test gateway did not write its port within {START_TIMEOUT:?}\n--- log ---\n{}",
            self.log()
        );
    }

    /// Returns the gateway's log so far: startup, rules added and applied, and
    /// errors.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path)
            .unwrap_or_else(|e| format!("(cannot read {}: {e})", self.log_path.display()))
    }

    /// Adds a rule after the existing ones. Panics with the gateway's message if
    /// the rule is invalid.
    pub fn add_rule(&self, rule: serde_json::Value) {
        self.control("POST", "/__gateway/rules", Some(&rule));
    }

    /// Removes every rule, so that all requests are forwarded unchanged.
    pub fn clear_rules(&self) {
        self.control("DELETE", "/__gateway/rules", None);
    }

    /// Returns the rules in the order they were added, each with `remaining`
    /// (requests left, or null for no limit) and `applied` (requests handled so
    /// far).
    pub fn rules(&self) -> Vec<serde_json::Value> {
        into_array(self.control("GET", "/__gateway/rules", None))
    }

    /// Returns the AWS requests handled so far, oldest first, as objects with
    /// `action`, `service`, `params`, `status`, `forwarded` and `rule`.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        into_array(self.control("GET", "/__gateway/requests", None))
    }

    /// Returns the requests for one action, oldest first.
    pub fn requests_for(&self, action: &str) -> Vec<serde_json::Value> {
        self.requests()
            .into_iter()
            .filter(|request| request["action"] == action)
            .collect()
    }

    /// Empties the request list.
    pub fn clear_requests(&self) {
        self.control("DELETE", "/__gateway/requests", None);
    }

    /// Sends one control request over HTTP/1.0 and returns the JSON response
    /// body. Panics unless the gateway responds with 200.
    fn control(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> serde_json::Value {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))
            .unwrap_or_else(|e| panic!("connecting to the test gateway at {}: {e}", self.url));
        stream
            .set_read_timeout(Some(CONTROL_TIMEOUT))
            .expect("setting the control read timeout");
        let request = format!(
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream
            .write_all(request.as_bytes())
            .unwrap_or_else(|e| panic!("sending {method} {path} to the test gateway: {e}"));

        // The gateway closes the connection after responding to HTTP/1.0.
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .unwrap_or_else(|e| panic!("reading the response to {method} {path}: {e}"));
        let (head, payload) = response.split_once("\r\n\r\n").unwrap_or_else(|| {
            panic!("malformed response to {method} {path} from the test gateway: {response:?}")
        });
        let status = head.split(' ').nth(1).unwrap_or_default();
        assert_eq!(
            status,
            "200",
            "test gateway rejected {method} {path} {body}: {payload}\n--- log ---\n{}",
            self.log()
        );
        serde_json::from_str(payload).unwrap_or_else(|e| {
            panic!("invalid JSON in the response to {method} {path}: {e}: {payload}")
        })
    }
}

fn into_array(value: serde_json::Value) -> Vec<serde_json::Value> {
    match value {
        serde_json::Value::Array(items) => items,
        other => panic!("expected a JSON array from the test gateway, got {other}"),
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
