# A PrivateLink endpoint to a SaaS API: one resource builds the security
# group, its ingress rules and the interface VPC endpoint.
#
# Against real AWS, set the variables below and leave aws_endpoint_url unset.
# Against a local emulator, set aws_endpoint_url to its URL.

terraform {
  required_version = ">= 1.0"
  required_providers {
    plink = {
      source  = "plink/plink"
      version = ">= 0.1.0"
    }
  }
}

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "aws_endpoint_url" {
  description = "URL of an AWS emulator such as moto or LocalStack; null for real AWS."
  type        = string
  default     = null
}

variable "vpc_id" {
  type = string
}

variable "subnet_ids" {
  description = "One subnet per availability zone the clients run in."
  type        = list(string)
}

variable "service_name" {
  description = "The SaaS provider's endpoint service name (com.amazonaws.vpce....)."
  type        = string
}

provider "plink" {
  region = var.region

  endpoints {
    ec2        = var.aws_endpoint_url
    cloudwatch = var.aws_endpoint_url
    sts        = var.aws_endpoint_url
  }

  default_tags {
    tags = {
      managed-by = "terraform"
    }
  }
}

resource "plink_consumer_endpoint" "saas_api" {
  vpc_id       = var.vpc_id
  service_name = var.service_name
  subnet_ids   = var.subnet_ids
  ports        = [443]

  # Private DNS makes the service's own hostname resolve to this endpoint
  # inside the VPC. It is on by default; plink turns it on once the endpoint
  # is available. The local emulator used by the demo (moto) ignores that
  # change, so the demo turns private DNS off. Remove this line for a real
  # SaaS service with a verified private DNS name.
  private_dns_enabled = false

  tags = {
    Name = "saas-api"
  }
}

output "endpoint_id" {
  value = plink_consumer_endpoint.saas_api.endpoint_id
}

output "security_group_id" {
  value = plink_consumer_endpoint.saas_api.security_group_id
}

output "allowed_cidrs" {
  value = plink_consumer_endpoint.saas_api.allowed_cidrs
}

output "dns_entries" {
  value = plink_consumer_endpoint.saas_api.dns_entries
}

output "state" {
  value = plink_consumer_endpoint.saas_api.state
}
