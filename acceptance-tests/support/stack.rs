//! A whole test set-up: emulator, seeded world, the test gateway in front of
//! the emulator, and a workspace whose provider talks to the gateway.

use serde_json::json;

use super::gateway::Gateway;
use super::{assert_vpc_empty, Emulator, Workspace, World, REGION};

pub struct Stack {
    pub world: World,
    pub workspace: Workspace,
    /// Dropped before the emulator (fields drop in declaration order).
    pub gateway: Gateway,
    pub emulator: Emulator,
}

/// The resource's address in every stack configuration.
pub const ADDRESS: &str = "plink_consumer_endpoint.test";

impl Stack {
    /// Starts everything and writes a configuration with one endpoint whose
    /// body is the common arguments plus `extra` (HCL lines).
    pub fn new(extra: &str) -> Stack {
        let emulator = Emulator::start();
        let world = emulator.seed_world();
        let gateway = Gateway::start(&emulator.url);
        let workspace = Workspace::empty();
        let stack = Stack {
            world,
            workspace,
            gateway,
            emulator,
        };
        stack.configure(extra);
        stack.workspace.init();
        stack
    }

    /// Rewrites the configuration with a new `extra` body.
    pub fn configure(&self, extra: &str) {
        let config = format!(
            r#"
terraform {{
  required_providers {{
    plink = {{
      source = "plink/plink"
    }}
  }}
}}

provider "plink" {{
  region = "{REGION}"
  endpoints {{
    ec2        = "{url}"
    cloudwatch = "{url}"
    sts        = "{url}"
  }}
  default_tags {{
    tags = {{
      suite = "acceptance"
    }}
  }}
}}

resource "plink_consumer_endpoint" "test" {{
  vpc_id       = "{vpc_id}"
  service_name = "{service_name}"
{extra}
}}

output "endpoint_id" {{
  value = plink_consumer_endpoint.test.endpoint_id
}}

output "security_group_id" {{
  value = plink_consumer_endpoint.test.security_group_id
}}

output "state" {{
  value = plink_consumer_endpoint.test.state
}}
"#,
            url = self.gateway.url,
            vpc_id = self.world.vpc_id,
            service_name = self.world.service_name,
        );
        self.workspace.write("main.tf", &config);
    }

    /// HCL for `subnet_ids` with the world's subnets at `indexes`.
    pub fn subnets(&self, indexes: &[usize]) -> String {
        let ids: Vec<String> = indexes
            .iter()
            .map(|i| format!("{:?}", self.world.subnet_ids[*i]))
            .collect();
        format!("  subnet_ids = [{}]", ids.join(", "))
    }

    pub fn output(&self, name: &str) -> String {
        let outputs = self.workspace.outputs();
        outputs
            .get(name)
            .and_then(|v| v.as_str())
            .unwrap_or_else(|| panic!("output {name} missing: {outputs:?}"))
            .to_string()
    }

    /// The endpoint's attributes in state, from `terraform show -json`.
    pub fn attributes(&self) -> serde_json::Value {
        let shown = self.workspace.ok(&["show", "-json"]);
        let state: serde_json::Value =
            serde_json::from_slice(&shown.output.stdout).expect("show -json");
        state["values"]["root_module"]["resources"]
            .as_array()
            .and_then(|resources| resources.iter().find(|r| r["address"] == ADDRESS))
            .map(|r| r["values"].clone())
            .unwrap_or_else(|| panic!("{ADDRESS} not in state: {state}"))
    }

    /// Applies, then checks that a second plan is empty.
    pub fn apply_clean(&self) {
        self.workspace.apply();
        self.workspace.assert_plan_empty();
    }

    /// Destroys and checks that the emulator contains nothing of the test's.
    pub fn destroy_clean(&self) {
        self.gateway.clear_rules();
        self.workspace.destroy();
        assert_vpc_empty(&self.emulator.ec2(), &self.world.vpc_id);
    }

    /// The parameters of every forwarded or answered request for `action`.
    pub fn calls(&self, action: &str) -> Vec<serde_json::Value> {
        self.gateway
            .requests_for(action)
            .into_iter()
            .map(|r| r["params"].clone())
            .collect()
    }

    /// An EC2 client that goes through the gateway, so that its changes
    /// pass the gateway's stand-ins for what moto lacks.
    pub fn ec2_via_gateway(&self) -> aws_sdk_ec2::Client {
        super::ec2_client(&self.gateway.url)
    }

    /// Makes DescribeVpcEndpoints report `state` for the next `times` calls.
    pub fn report_state(&self, state: &str, times: Option<u32>) {
        let mut rule = json!({
            "action": "DescribeVpcEndpoints",
            "then": {"rewrite": [{
                "pattern": "<state>available</state>",
                "replacement": format!("<state>{state}</state>"),
            }]},
        });
        if let Some(times) = times {
            rule["times"] = times.into();
        }
        self.gateway.add_rule(rule);
    }
}
