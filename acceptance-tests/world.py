"""Seed a moto emulator with the AWS resources the acceptance tests expect.

The "world" is a customer VPC with two subnets in different availability
zones, plus a SaaS provider VPC whose network load balancer is published as
a VPC endpoint service. Prints one JSON object describing it to stdout.

Run with the interpreter from scripts/setup-tools:
    .venv/bin/python acceptance-tests/world.py --endpoint URL --region us-east-1
"""

import argparse
import json
import os
import sys
from urllib.parse import urlparse

import boto3

CUSTOMER_VPC_CIDR = "10.0.0.0/16"
CUSTOMER_SUBNET_CIDRS = ["10.0.1.0/24", "10.0.2.0/24"]
PROVIDER_VPC_CIDR = "10.1.0.0/16"
PROVIDER_SUBNET_CIDRS = ["10.1.1.0/24", "10.1.2.0/24"]
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
# The SaaS API's public name, which private DNS points at the endpoint. The
# .example domain is reserved, so this name never resolves anywhere real.
SERVICE_PRIVATE_DNS_NAME = "api.saas-provider.example"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="emulator URL, e.g. http://127.0.0.1:5000")
    parser.add_argument("--region", default="us-east-1", help="AWS region name (default: us-east-1)")
    return parser.parse_args()


def isolate_from_real_aws():
    """Replace any real AWS credentials and config with fake, local-only ones."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull


def name_tags(resource_type, name):
    return [{"ResourceType": resource_type, "Tags": [{"Key": "Name", "Value": name}]}]


def create_vpc(ec2, cidr, name):
    vpc_id = ec2.create_vpc(CidrBlock=cidr, TagSpecifications=name_tags("vpc", name))["Vpc"]["VpcId"]
    # ModifyVpcAttribute accepts only one attribute per call.
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": True})
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    return vpc_id


def create_subnets(ec2, vpc_id, cidrs, zones, name):
    subnet_ids = []
    for index, (cidr, zone) in enumerate(zip(cidrs, zones)):
        subnet = ec2.create_subnet(
            VpcId=vpc_id,
            CidrBlock=cidr,
            AvailabilityZone=zone,
            TagSpecifications=name_tags("subnet", f"{name}-{index}"),
        )["Subnet"]
        subnet_ids.append(subnet["SubnetId"])
    return subnet_ids


def main():
    args = parse_args()
    host = urlparse(args.endpoint).hostname
    if host not in LOOPBACK_HOSTS:
        sys.exit(f"world.py: endpoint host {host!r} is not a loopback address; use the URL from scripts/emulator")
    isolate_from_real_aws()

    session = boto3.session.Session(region_name=args.region)
    ec2 = session.client("ec2", endpoint_url=args.endpoint)
    elbv2 = session.client("elbv2", endpoint_url=args.endpoint)

    zones = [
        zone["ZoneName"]
        for zone in ec2.describe_availability_zones(
            Filters=[{"Name": "state", "Values": ["available"]}]
        )["AvailabilityZones"]
    ]
    zones = sorted(zones)[:2]
    if len(zones) < 2:
        sys.exit(f"world.py: region {args.region} has fewer than two availability zones: {zones}")

    vpc_id = create_vpc(ec2, CUSTOMER_VPC_CIDR, "plink-customer")
    subnet_ids = create_subnets(ec2, vpc_id, CUSTOMER_SUBNET_CIDRS, zones, "plink-customer")

    provider_vpc_id = create_vpc(ec2, PROVIDER_VPC_CIDR, "plink-provider")
    provider_subnet_ids = create_subnets(ec2, provider_vpc_id, PROVIDER_SUBNET_CIDRS, zones, "plink-provider")
    load_balancer = elbv2.create_load_balancer(
        Name="plink-provider-nlb",
        Type="network",
        Scheme="internal",
        Subnets=provider_subnet_ids,
    )["LoadBalancers"][0]

    service = ec2.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[load_balancer["LoadBalancerArn"]],
        AcceptanceRequired=False,
        PrivateDnsName=SERVICE_PRIVATE_DNS_NAME,
    )["ServiceConfiguration"]

    world = {
        "region": args.region,
        "endpoint": args.endpoint,
        "vpc_id": vpc_id,
        "vpc_cidr": CUSTOMER_VPC_CIDR,
        "subnet_ids": subnet_ids,
        "availability_zones": zones,
        "service_name": service["ServiceName"],
        "service_private_dns_name": SERVICE_PRIVATE_DNS_NAME,
        "service_id": service["ServiceId"],
    }
    json.dump(world, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
