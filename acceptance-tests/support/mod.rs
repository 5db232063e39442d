//! The acceptance harness: a moto emulator per test on a free loopback port,
//! a seeded "world" (VPC, subnets, endpoint service), a Terraform working
//! directory that loads the provider binary cargo built through a filesystem
//! mirror, and an EC2 client to inspect the emulator.
//!
//! Tools come from the virtualenv that `scripts/setup-tools` creates. Set
//! `PLINK_SKIP_ACCEPTANCE=1` to skip these tests on a machine without it.

pub mod cloudwatch;
pub mod gateway;
pub mod stack;
pub mod verify_servers;

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};

pub const REGION: &str = "us-east-1";
const PROVIDER_VERSION: &str = "0.1.0";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether the acceptance tests were switched off for this run.
pub fn skipped() -> bool {
    if std::env::var("PLINK_SKIP_ACCEPTANCE").is_ok_and(|v| v == "1") {
        eprintln!("PLINK_SKIP_ACCEPTANCE=1: skipping acceptance test");
        return true;
    }
    false
}

/// Paths of the tools `scripts/setup-tools` installs.
struct Tools {
    terraform: PathBuf,
    python: PathBuf,
    moto_server: PathBuf,
}

fn tools() -> &'static Tools {
    static TOOLS: OnceLock<Tools> = OnceLock::new();
    TOOLS.get_or_init(|| {
        let venv = repo_root().join(".venv");
        let terraform = match std::env::var_os("PLINK_TERRAFORM") {
            Some(path) => PathBuf::from(path),
            None => {
                let recorded = venv.join("terraform-path");
                let text = fs::read_to_string(&recorded).unwrap_or_else(|e| {
                    panic!(
                        "cannot read {}: {e}. Run scripts/setup-tools first, or set \
                         PLINK_SKIP_ACCEPTANCE=1",
                        recorded.display()
                    )
                });
                PathBuf::from(text.trim())
            }
        };
        Tools {
            terraform,
            python: venv.join("bin/python"),
            moto_server: venv.join("bin/moto_server"),
        }
    })
}

/// A moto server on 127.0.0.1, stopped when dropped.
pub struct Emulator {
    process: Child,
    pub url: String,
}

impl Emulator {
    pub fn start() -> Emulator {
        let port = free_port();
        let process = Command::new(&tools().moto_server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", tools().moto_server.display()));
        let emulator = Emulator {
            process,
            url: format!("http://127.0.0.1:{port}"),
        };
        emulator.wait_until_ready(port);
        emulator
    }

    fn wait_until_ready(&self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if http_get_ok(port, "/moto-api/") {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("moto did not respond on {} within 30 s", self.url);
    }

    /// Seeds the emulator with a customer VPC, two subnets and an endpoint
    /// service (see `world.py`).
    pub fn seed_world(&self) -> World {
        let output = Command::new(&tools().python)
            .arg(repo_root().join("acceptance-tests/world.py"))
            .args(["--endpoint", &self.url, "--region", REGION])
            .output()
            .expect("running world.py");
        assert!(
            output.status.success(),
            "world.py failed:\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let json: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("world.py printed JSON");
        World {
            vpc_id: json["vpc_id"].as_str().expect("vpc_id").to_string(),
            vpc_cidr: json["vpc_cidr"].as_str().expect("vpc_cidr").to_string(),
            subnet_ids: json["subnet_ids"]
                .as_array()
                .expect("subnet_ids")
                .iter()
                .map(|s| s.as_str().expect("subnet id").to_string())
                .collect(),
            service_name: json["service_name"]
                .as_str()
                .expect("service_name")
                .to_string(),
        }
    }

    /// An EC2 client for inspecting the emulator.
    pub fn ec2(&self) -> aws_sdk_ec2::Client {
        ec2_client(&self.url)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Builds an EC2 client with test credentials for the emulator or gateway
/// at `url`.
pub fn ec2_client(url: &str) -> aws_sdk_ec2::Client {
    let config = aws_sdk_ec2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(url)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .build();
    aws_sdk_ec2::Client::from_conf(config)
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("binding a free port");
    listener.local_addr().expect("local address").port()
}

fn http_get_ok(port: u16, path: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200")
}

/// The objects `world.py` created.
#[derive(Clone, Debug)]
pub struct World {
    pub vpc_id: String,
    pub vpc_cidr: String,
    pub subnet_ids: Vec<String>,
    pub service_name: String,
}

/// A Terraform working directory with its own CLI configuration.
pub struct Workspace {
    _root: tempfile::TempDir,
    pub dir: PathBuf,
    cli_config: PathBuf,
}

/// The mirror is shared by every test in this process: one copy of the
/// provider binary, laid out as Terraform's unpacked filesystem mirror.
fn mirror() -> &'static Path {
    static MIRROR: OnceLock<tempfile::TempDir> = OnceLock::new();
    MIRROR
        .get_or_init(|| {
            let root = tempfile::tempdir().expect("mirror directory");
            let platform = root.path().join(format!(
                "registry.terraform.io/plink/plink/{PROVIDER_VERSION}/{}",
                terraform_platform()
            ));
            fs::create_dir_all(&platform).expect("mirror layout");
            let binary = PathBuf::from(env!("CARGO_BIN_EXE_terraform-provider-plink"));
            let target = platform.join(format!("terraform-provider-plink_v{PROVIDER_VERSION}"));
            fs::copy(&binary, &target).expect("copying the provider into the mirror");
            root
        })
        .path()
}

/// Terraform's name for this platform, such as `linux_amd64`.
fn terraform_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    format!("{}_{arch}", std::env::consts::OS)
}

impl Workspace {
    /// A workspace holding a copy of `examples/NAME` and its variables.
    pub fn from_example(name: &str, emulator: &Emulator, variables: serde_json::Value) -> Self {
        let workspace = Workspace::empty();
        let example = repo_root().join("examples").join(name);
        for entry in fs::read_dir(&example).expect("reading the example") {
            let path = entry.expect("example entry").path();
            if path.extension().is_some_and(|e| e == "tf") {
                fs::copy(&path, workspace.dir.join(path.file_name().unwrap())).expect("copy");
            }
        }
        let mut variables = variables;
        variables["aws_endpoint_url"] = emulator.url.clone().into();
        variables["region"] = REGION.into();
        workspace.write("terraform.tfvars.json", &variables.to_string());
        workspace
    }

    pub fn empty() -> Workspace {
        let root = tempfile::tempdir().expect("workspace directory");
        let dir = root.path().join("config");
        fs::create_dir_all(&dir).expect("config directory");
        let cli_config = root.path().join("terraformrc");
        let mirror = mirror().display().to_string();
        let text = format!(
            "provider_installation {{\n  filesystem_mirror {{\n    path    = {mirror:?}\n    \
             include = [\"plink/plink\"]\n  }}\n}}\n"
        );
        fs::write(&cli_config, text).expect("CLI config");
        Workspace {
            _root: root,
            dir,
            cli_config,
        }
    }

    pub fn write(&self, file: &str, text: &str) {
        fs::write(self.dir.join(file), text).expect("writing a workspace file");
    }

    pub fn read(&self, file: &str) -> String {
        fs::read_to_string(self.dir.join(file)).expect("reading a workspace file")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&tools().terraform);
        command.args(args).current_dir(&self.dir);
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy().to_string();
            if key.starts_with("AWS_") || key.starts_with("TF_") {
                command.env_remove(&key);
            }
        }
        command
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
        command
    }

    /// Runs terraform and returns its output, whatever its exit code.
    pub fn run(&self, args: &[&str]) -> TerraformRun {
        let output = self
            .command(args)
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", tools().terraform.display()));
        TerraformRun {
            command: format!("terraform {}", args.join(" ")),
            output,
        }
    }

    /// Runs terraform and panics, printing everything, unless it exits 0.
    pub fn ok(&self, args: &[&str]) -> TerraformRun {
        let run = self.run(args);
        run.expect_exit(0);
        run
    }

    pub fn init(&self) {
        self.ok(&["init", "-input=false", "-no-color"]);
    }

    pub fn apply(&self) -> TerraformRun {
        self.ok(&["apply", "-auto-approve", "-input=false", "-no-color"])
    }

    pub fn destroy(&self) -> TerraformRun {
        self.ok(&["destroy", "-auto-approve", "-input=false", "-no-color"])
    }

    /// Asserts that a plan proposes no change.
    pub fn assert_plan_empty(&self) {
        self.run(&["plan", "-detailed-exitcode", "-input=false", "-no-color"])
            .expect_exit(0);
    }

    /// Asserts that a plan changes no resource. Output changes are allowed,
    /// because `terraform state rm` drops outputs from state and the next
    /// plan adds them back.
    pub fn assert_no_resource_changes(&self) {
        self.ok(&["plan", "-input=false", "-no-color", "-out=check.tfplan"]);
        let shown = self.ok(&["show", "-json", "check.tfplan"]);
        let plan: serde_json::Value =
            serde_json::from_slice(&shown.output.stdout).expect("terraform show -json");
        let empty = Vec::new();
        let changes = plan["resource_changes"].as_array().unwrap_or(&empty);
        for change in changes {
            assert_eq!(
                change["change"]["actions"],
                serde_json::json!(["no-op"]),
                "{} would change:\n{}",
                change["address"],
                serde_json::to_string_pretty(&change["change"]).unwrap_or_default()
            );
        }
    }

    /// Runs a plan expected to propose changes (exit code 2) and returns it.
    pub fn plan_with_changes(&self) -> TerraformRun {
        let run = self.run(&["plan", "-detailed-exitcode", "-input=false", "-no-color"]);
        run.expect_exit(2);
        run
    }

    /// The root module's outputs.
    pub fn outputs(&self) -> BTreeMap<String, serde_json::Value> {
        let run = self.ok(&["output", "-json"]);
        let json: serde_json::Value =
            serde_json::from_slice(&run.output.stdout).expect("terraform output -json");
        json.as_object()
            .expect("outputs object")
            .iter()
            .map(|(name, output)| (name.clone(), output["value"].clone()))
            .collect()
    }
}

/// One finished terraform command.
pub struct TerraformRun {
    pub command: String,
    pub output: Output,
}

impl TerraformRun {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).to_string()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).to_string()
    }

    pub fn expect_exit(&self, code: i32) {
        assert_eq!(
            self.output.status.code(),
            Some(code),
            "`{}` exited with {:?}, expected {code}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command,
            self.output.status.code(),
            self.stdout(),
            self.stderr()
        );
    }

    /// Panics, printing the whole run, unless the combined output contains
    /// `text`.
    pub fn assert_mentions(&self, text: &str) {
        let combined = format!("{}{}", self.stdout(), self.stderr());
        assert!(
            combined.contains(text),
            "`{}` output does not mention {text:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command,
            self.stdout(),
            self.stderr()
        );
    }
}

/// Runs a future to completion on a fresh single-threaded runtime.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(future)
}

/// The objects in one VPC that plink could have made.
#[derive(Debug, Default)]
pub struct VpcContents {
    /// Endpoints not in state `deleted`, as (id, state).
    pub endpoints: Vec<(String, String)>,
    /// Security groups other than the VPC's default group.
    pub security_groups: Vec<String>,
    /// Network interfaces in the VPC.
    pub network_interfaces: Vec<String>,
}

impl VpcContents {
    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
            && self.security_groups.is_empty()
            && self.network_interfaces.is_empty()
    }
}

pub fn vpc_contents(ec2: &aws_sdk_ec2::Client, vpc_id: &str) -> VpcContents {
    use aws_sdk_ec2::types::Filter;

    let vpc_filter = || Filter::builder().name("vpc-id").values(vpc_id).build();
    block_on(async {
        let endpoints = ec2
            .describe_vpc_endpoints()
            .filters(vpc_filter())
            .send()
            .await
            .expect("DescribeVpcEndpoints");
        let groups = ec2
            .describe_security_groups()
            .filters(vpc_filter())
            .send()
            .await
            .expect("DescribeSecurityGroups");
        let interfaces = ec2
            .describe_network_interfaces()
            .filters(vpc_filter())
            .send()
            .await
            .expect("DescribeNetworkInterfaces");
        VpcContents {
            endpoints: endpoints
                .vpc_endpoints()
                .iter()
                .map(|e| {
                    let state = e
                        .state()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default();
                    (e.vpc_endpoint_id().unwrap_or_default().to_string(), state)
                })
                .filter(|(_, state)| state != "deleted")
                .collect(),
            security_groups: groups
                .security_groups()
                .iter()
                .filter(|g| g.group_name() != Some("default"))
                .filter_map(|g| g.group_id().map(str::to_string))
                .collect(),
            network_interfaces: interfaces
                .network_interfaces()
                .iter()
                .filter_map(|i| i.network_interface_id().map(str::to_string))
                .collect(),
        }
    })
}

/// Asserts that the VPC contains nothing a test could have created.
pub fn assert_vpc_empty(ec2: &aws_sdk_ec2::Client, vpc_id: &str) {
    let contents = vpc_contents(ec2, vpc_id);
    assert!(contents.is_empty(), "VPC {vpc_id} still holds {contents:?}");
}
