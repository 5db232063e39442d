"""Run a test gateway: an HTTP server between the provider and a moto emulator.

The gateway forwards every AWS request to moto and relays the response. Tests add
rules through a control API to inject errors, bare HTTP statuses and latency, or to
rewrite moto's response bodies, so that the provider meets behaviour moto cannot
produce (pending endpoints, throttling, dependency violations, faults).

Run with the interpreter from scripts/setup-tools:
    .venv/bin/python acceptance-tests/gateway.py --upstream http://127.0.0.1:PORT \\
        --port-file PATH

The gateway binds a free port on 127.0.0.1 and writes the port number to PATH.

Control API. Requests under /__gateway/ are never forwarded, and their bodies are JSON:
    POST   /__gateway/rules     add one rule (an object) or several (an array)
    GET    /__gateway/rules     list the rules with their remaining and applied counts
    DELETE /__gateway/rules     remove every rule
    GET    /__gateway/requests  list the AWS requests handled so far, oldest first
    DELETE /__gateway/requests  clear that list

A rule is an object such as
    {"action": "DescribeVpcEndpoints", "times": 3,
     "when": {"param_contains": {"VpcEndpointId.1": "vpce-"}},
     "then": {"rewrite": [{"pattern": "<state>available</state>",
                           "replacement": "<state>pending</state>"}]}}

    action  the AWS action name, or "*" for every action.
    times   how many requests the rule applies to. Omit it (or use null) to apply
            the rule to every matching request.
    when    optional conditions, all of which must hold:
              param_contains  {name: text}: the parameter contains the text
              param_equals    {name: text}: the parameter equals the text
              service         the SigV4 signing name, such as "ec2", "sts" or
                              "monitoring" (CloudWatch)
    then    what to do with a matching request:
              error        {"code": ..., "message": ..., "status": ...} returns an
                           AWS error in the service's protocol without forwarding.
                           The status (400 to 599) defaults to 400 and the message
                           to "".
              status_only  an HTTP status (200 to 599) returned with an empty body,
                           not forwarded
              rewrite      [{"pattern": ..., "replacement": ...}] forwards the
                           request, then applies each re.sub to the response body,
                           whatever its status, in order. The replacement uses
                           re.sub syntax, so \\1 refers to a group. A replacement
                           that cannot expand makes the gateway return a 500.
              delay_ms     milliseconds to wait before doing the rest. Alone, it
                           delays a forwarded request. It combines with any of the
                           other three.

Rules are checked in the order they were added. The first rule that matches and
has requests left applies, and only that one.

Each entry of the request list has these fields:
    action     the AWS action name
    service    the SigV4 signing name, or null without an Authorization header
    params     the decoded form parameters, or the JSON body of a JSON-protocol request
    status     the status returned to the client, or 502 when moto could not be reached
    forwarded  false when a rule responded without calling moto
    rule       the index of the rule applied, or null
"""

import argparse
import http.client
import http.server
import ipaddress
import json
import logging
import os
import re
import sys
import threading
import time
import uuid
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

log = logging.getLogger("gateway")

CONTROL_PREFIX = "/__gateway/"
EC2_API_VERSION = "2016-11-15"
UPSTREAM_TIMEOUT_SECONDS = 120

# Hop-by-hop headers describe one connection, so a proxy must not pass them on.
HOP_BY_HOP_HEADERS = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}
# The gateway sets Host and Content-Length itself. It drops Accept-Encoding so that
# http.client requests the identity encoding and rewrite rules see plain text. It
# drops Expect because it has already read the whole body.
REQUEST_HEADERS_NOT_FORWARDED = HOP_BY_HOP_HEADERS | {
    "host",
    "content-length",
    "accept-encoding",
    "expect",
}
RESPONSE_HEADERS_NOT_RELAYED = HOP_BY_HOP_HEADERS | {"content-length"}

# Matches the service in a SigV4 credential scope: Credential=KEY/DATE/REGION/SERVICE/aws4_request.
CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,]+/\d{8}/[^/,]+/([^/,]+)/aws4_request")

RULE_KEYS = {"action", "times", "when", "then"}
WHEN_KEYS = {"param_contains", "param_equals", "service"}
THEN_KEYS = {"error", "status_only", "rewrite", "delay_ms"}
ERROR_KEYS = {"code", "message", "status"}


class InvalidRule(ValueError):
    """A rule posted to the control API that the gateway cannot apply."""


class AwsRequest:
    """The parts of an incoming AWS request that rules match on and the log records."""

    def __init__(self, action, service, params, protocol):
        self.action = action
        self.service = service
        self.params = params
        # "ec2", "query" or "json": which error body shape the client parses.
        self.protocol = protocol

    def param_text(self, name):
        """Return the parameter as a string, or None when the request lacks it."""
        if name not in self.params:
            return None
        value = self.params[name]
        return value if isinstance(value, str) else json.dumps(value)


def parse_aws_request(path, headers, body):
    """Identify the action, signing service and parameters of a request."""
    params = dict(parse_qsl(urlsplit(path).query, keep_blank_values=True))
    content_type = headers.get("Content-Type", "").lower()
    target = headers.get("X-Amz-Target")
    if content_type.startswith("application/x-www-form-urlencoded") or (
        not content_type and b"Action=" in body
    ):
        form = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        params.update(form)
    elif "json" in content_type and body:
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        if isinstance(document, dict):
            params.update(document)

    action = params.get("Action")
    if not isinstance(action, str) and target:
        # The JSON protocol names the operation as "ServicePrefix.Operation".
        action = target.rsplit(".", 1)[-1]
    if not isinstance(action, str):
        action = None

    scope = CREDENTIAL_SCOPE.search(headers.get("Authorization", ""))
    service = scope.group(1) if scope else None

    if target:
        protocol = "json"
    elif service == "ec2" or (service is None and params.get("Version") == EC2_API_VERSION):
        protocol = "ec2"
    else:
        protocol = "query"
    return AwsRequest(action, service, params, protocol)


def require(condition, message):
    if not condition:
        raise InvalidRule(message)


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def validate_string_map(value, name):
    require(isinstance(value, dict), f"when.{name} must be an object of parameter name to text")
    for key, text in value.items():
        require(isinstance(text, str), f"when.{name}.{key} must be a string, got {text!r}")
    return dict(value)


class Rule:
    """One validated rule and how many more requests it applies to."""

    def __init__(self, spec):
        require(isinstance(spec, dict), f"a rule must be a JSON object, got {spec!r}")
        unknown = set(spec) - RULE_KEYS
        require(not unknown, f"unknown rule keys {sorted(unknown)}. Expected some of {sorted(RULE_KEYS)}")
        self.spec = spec

        self.action = spec.get("action")
        require(
            isinstance(self.action, str) and self.action != "",
            f'"action" must be an AWS action name or "*", got {self.action!r}',
        )

        self.remaining = spec.get("times")
        require(
            self.remaining is None or (is_int(self.remaining) and self.remaining >= 1),
            f'"times" must be a positive integer or omitted, got {self.remaining!r}',
        )
        self.applied = 0

        when = spec.get("when", {})
        require(isinstance(when, dict), f'"when" must be an object, got {when!r}')
        unknown = set(when) - WHEN_KEYS
        require(not unknown, f"unknown when keys {sorted(unknown)}. Expected some of {sorted(WHEN_KEYS)}")
        self.param_contains = validate_string_map(when.get("param_contains", {}), "param_contains")
        self.param_equals = validate_string_map(when.get("param_equals", {}), "param_equals")
        self.service = when.get("service")
        require(
            self.service is None or isinstance(self.service, str),
            f'"when.service" must be a string, got {self.service!r}',
        )

        self.parse_then(spec.get("then"))

    def parse_then(self, then):
        require(isinstance(then, dict) and then, f'"then" must be a non-empty object, got {then!r}')
        unknown = set(then) - THEN_KEYS
        require(not unknown, f"unknown then keys {sorted(unknown)}. Expected some of {sorted(THEN_KEYS)}")
        outcomes = [key for key in ("error", "status_only", "rewrite") if key in then]
        require(len(outcomes) <= 1, f'"then" may hold only one of error, status_only and rewrite, got {outcomes}')

        self.delay_ms = then.get("delay_ms", 0)
        require(
            isinstance(self.delay_ms, (int, float)) and not isinstance(self.delay_ms, bool) and self.delay_ms >= 0,
            f'"delay_ms" must be a non-negative number of milliseconds, got {self.delay_ms!r}',
        )

        self.error = None
        if "error" in then:
            error = then["error"]
            require(isinstance(error, dict), f'"error" must be an object, got {error!r}')
            unknown = set(error) - ERROR_KEYS
            require(not unknown, f"unknown error keys {sorted(unknown)}. Expected some of {sorted(ERROR_KEYS)}")
            code = error.get("code")
            require(isinstance(code, str) and code != "", f'"error.code" must be a non-empty string, got {code!r}')
            message = error.get("message", "")
            require(isinstance(message, str), f'"error.message" must be a string, got {message!r}')
            status = error.get("status", 400)
            require(
                is_int(status) and 400 <= status <= 599,
                f'"error.status" must be an HTTP error status from 400 to 599, got {status!r}',
            )
            self.error = {"code": code, "message": message, "status": status}

        self.status_only = then.get("status_only")
        require(
            self.status_only is None or (is_int(self.status_only) and 200 <= self.status_only <= 599),
            f'"status_only" must be an HTTP status from 200 to 599, got {self.status_only!r}',
        )

        self.rewrites = []
        if "rewrite" in then:
            rewrites = then["rewrite"]
            require(
                isinstance(rewrites, list) and rewrites,
                f'"rewrite" must be a non-empty list of {{"pattern", "replacement"}} objects, got {rewrites!r}',
            )
            for index, rewrite in enumerate(rewrites):
                require(
                    isinstance(rewrite, dict) and set(rewrite) == {"pattern", "replacement"},
                    f'rewrite[{index}] must have exactly the keys "pattern" and "replacement", got {rewrite!r}',
                )
                pattern = rewrite["pattern"]
                replacement = rewrite["replacement"]
                require(isinstance(pattern, str), f"rewrite[{index}].pattern must be a string")
                require(isinstance(replacement, str), f"rewrite[{index}].replacement must be a string")
                try:
                    compiled = re.compile(pattern)
                except re.error as error:
                    raise InvalidRule(f"rewrite[{index}].pattern {pattern!r} is not a valid regex: {error}") from None
                self.rewrites.append((compiled, replacement))

    def matches(self, request):
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.action != "*" and self.action != request.action:
            return False
        if self.service is not None and self.service != request.service:
            return False
        for name, text in self.param_contains.items():
            value = request.param_text(name)
            if value is None or text not in value:
                return False
        for name, text in self.param_equals.items():
            if request.param_text(name) != text:
                return False
        return True

    def describe(self):
        return {**self.spec, "remaining": self.remaining, "applied": self.applied}


class GatewayState:
    """Rules and the request log, shared by the handler threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.requests = []
        # Private DNS settings from ModifyVpcEndpoint, by endpoint ID; see
        # apply_moto_fixups.
        self.private_dns = {}

    def add_rules(self, rules):
        with self.lock:
            self.rules.extend(rules)
            return len(self.rules)

    def clear_rules(self):
        with self.lock:
            self.rules.clear()

    def describe_rules(self):
        with self.lock:
            return [rule.describe() for rule in self.rules]

    def take_rule(self, request):
        """Return (index, rule) for the first rule that applies, counting this use, or (None, None)."""
        with self.lock:
            for index, rule in enumerate(self.rules):
                if rule.matches(request):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    rule.applied += 1
                    return index, rule
        return None, None

    def record(self, entry):
        with self.lock:
            self.requests.append(entry)

    def list_requests(self):
        with self.lock:
            return list(self.requests)

    def clear_requests(self):
        with self.lock:
            self.requests.clear()


def error_body(request, code, message, status, request_id):
    """Return (content type, body, extra headers) for an AWS error in the request's protocol."""
    fault = "Sender" if status < 500 else "Receiver"
    if request.protocol == "json":
        body = json.dumps({"__type": code, "message": message}).encode()
        # Clients of awsQueryCompatible JSON services, such as botocore's CloudWatch
        # client, read the query error code from this header.
        return "application/x-amz-json-1.0", body, [("x-amzn-query-error", f"{code};{fault}")]
    code_xml = escape(code)
    message_xml = escape(message)
    if request.protocol == "ec2":
        text = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>{code_xml}</Code><Message>{message_xml}</Message>"
            f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )
    else:
        text = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<ErrorResponse><Error><Type>{fault}</Type><Code>{code_xml}</Code>"
            f"<Message>{message_xml}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    return "text/xml", text.encode(), []


def apply_rewrites(rewrites, payload):
    """Apply each (compiled pattern, replacement) to the UTF-8 body in order and return the new body."""
    text = payload.decode("utf-8")
    for pattern, replacement in rewrites:
        text = pattern.sub(replacement, text)
    return text.encode("utf-8")


PRIVATE_DNS_IN_ITEM = re.compile(
    r"(<vpcEndpointId>(vpce-[0-9a-z]+)</vpcEndpointId>(?:(?!<vpcEndpointId>).)*?<privateDnsEnabled>)"
    r"(true|false)(</privateDnsEnabled>)",
    re.DOTALL,
)


def apply_moto_fixups(state, request, payload):
    """Stand in for EC2 where moto 5.2.5 falls short, on every forwarded request.

    moto accepts ModifyVpcEndpoint's PrivateDnsEnabled but ignores it, so the
    provider's second phase (turning private DNS on once the endpoint is
    available) would never show. The gateway remembers the setting and reports
    it in DescribeVpcEndpoints, as EC2 does. It also adds the private DNS
    verification state that moto leaves out of DescribeVpcEndpointServices.
    """
    if request.action == "ModifyVpcEndpoint":
        endpoint_id = request.param_text("VpcEndpointId")
        enabled = request.param_text("PrivateDnsEnabled")
        if endpoint_id and enabled in ("true", "false"):
            with state.lock:
                state.private_dns[endpoint_id] = enabled
        return payload
    if request.action == "DescribeVpcEndpointServices":
        return add_verification_state(payload)
    if request.action != "DescribeVpcEndpoints":
        return payload
    with state.lock:
        settings = dict(state.private_dns)
    if not settings:
        return payload

    def replace(match):
        enabled = settings.get(match.group(2))
        if enabled is None:
            return match.group(0)
        return match.group(1) + enabled + match.group(4)

    return PRIVATE_DNS_IN_ITEM.sub(replace, payload.decode("utf-8")).encode("utf-8")


SERVICE_PRIVATE_DNS_NAME = re.compile(r"(<privateDnsName>[^<]+</privateDnsName>)")


def add_verification_state(payload):
    """Report a service's private DNS name as verified, as moto itself does.

    moto 5.2.5 marks every private DNS name of a service configuration
    "verified", but leaves privateDnsNameVerificationState out of
    DescribeVpcEndpointServices, where EC2 reports it. A test that needs
    another state rewrites it with a rule, which applies before this.
    """
    text = payload.decode("utf-8")
    if "<privateDnsNameVerificationState>" in text:
        return payload
    state = "<privateDnsNameVerificationState>verified</privateDnsNameVerificationState>"
    return SERVICE_PRIVATE_DNS_NAME.sub(lambda m: m.group(1) + state, text, count=1).encode("utf-8")


class GatewayServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream, state):
        super().__init__(("127.0.0.1", 0), GatewayHandler)
        self.upstream = upstream
        self.state = state


class GatewayHandler(http.server.BaseHTTPRequestHandler):
    # HTTP/1.1 keeps the SDK's connections open. Every response sets Content-Length.
    protocol_version = "HTTP/1.1"
    server_version = "plink-test-gateway"

    def log_message(self, format, *args):
        log.debug("%s %s", self.address_string(), format % args)

    def handle_any(self):
        try:
            body = self.read_body()
            if urlsplit(self.path).path.startswith(CONTROL_PREFIX):
                self.handle_control(body)
            else:
                self.handle_aws(body)
        except (BrokenPipeError, ConnectionResetError) as error:
            log.info("client %s closed the connection: %s", self.address_string(), error)
            self.close_connection = True
        except Exception as error:  # noqa: BLE001 - one failed request must not stop the server
            log.exception("internal error handling %s %s", self.command, self.path)
            self.close_connection = True
            self.send(500, [("Content-Type", "text/plain")], f"test gateway internal error: {error}\n".encode())

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = handle_any

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self.read_chunked_body()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def read_chunked_body(self):
        chunks = []
        while True:
            size_line = self.rfile.readline()
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                # Skip any trailer fields up to the blank line that ends the body.
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def send(self, status, headers, body):
        self.send_response_only(status)
        for name, value in headers:
            if name.lower() not in RESPONSE_HEADERS_NOT_RELAYED:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status, document):
        self.send(status, [("Content-Type", "application/json")], json.dumps(document).encode())

    def handle_control(self, body):
        state = self.server.state
        route = urlsplit(self.path).path[len(CONTROL_PREFIX) :].rstrip("/")
        if route == "rules" and self.command == "POST":
            self.add_rules(body)
        elif route == "rules" and self.command == "GET":
            self.send_json(200, state.describe_rules())
        elif route == "rules" and self.command == "DELETE":
            state.clear_rules()
            log.info("cleared all rules")
            self.send_json(200, {"rules": 0})
        elif route == "requests" and self.command == "GET":
            self.send_json(200, state.list_requests())
        elif route == "requests" and self.command == "DELETE":
            state.clear_requests()
            self.send_json(200, {"requests": 0})
        elif route in ("rules", "requests"):
            log.warning("rejected control request %s %s: method not allowed", self.command, self.path)
            self.send_json(405, {"error": f"{self.command} is not allowed on {CONTROL_PREFIX}{route}"})
        else:
            log.warning("rejected control request %s %s: not found", self.command, self.path)
            message = f"control endpoint {self.path} not found. Use {CONTROL_PREFIX}rules or {CONTROL_PREFIX}requests"
            self.send_json(404, {"error": message})

    def add_rules(self, body):
        try:
            document = json.loads(body)
        except ValueError as error:
            log.error("rejected rule: invalid JSON: %s", error)
            self.send_json(400, {"error": f"the rule is not valid JSON: {error}"})
            return
        specs = document if isinstance(document, list) else [document]
        try:
            rules = [Rule(spec) for spec in specs]
        except InvalidRule as error:
            log.error("rejected rule %s: %s", json.dumps(document), error)
            self.send_json(400, {"error": str(error)})
            return
        count = self.server.state.add_rules(rules)
        for rule in rules:
            log.info("added rule %s", json.dumps(rule.spec))
        self.send_json(200, {"rules": count})

    def handle_aws(self, body):
        request = parse_aws_request(self.path, self.headers, body)
        index, rule = self.server.state.take_rule(request)
        if rule is not None:
            log.info("rule %d applies to %s %s", index, request.service, request.action)
            if rule.delay_ms:
                time.sleep(rule.delay_ms / 1000)

        forwarded = True
        if rule is not None and rule.error is not None:
            forwarded = False
            status, headers, payload = self.injected_error(request, rule.error)
        elif rule is not None and rule.status_only is not None:
            forwarded = False
            status, headers, payload = rule.status_only, self.injected_headers(), b""
        else:
            status, headers, payload = self.forward_and_rewrite(request, body, index, rule)
            if status == 200:
                payload = apply_moto_fixups(self.server.state, request, payload)

        # Record before responding, so that a client that reads the request log
        # right after its call returns finds the call listed.
        self.server.state.record(
            {
                "action": request.action,
                "service": request.service,
                "params": request.params,
                "status": status,
                "forwarded": forwarded,
                "rule": index,
            }
        )
        self.send(status, headers, payload)

    def injected_headers(self):
        return [("Date", self.date_time_string()), ("x-amzn-requestid", f"gw-{uuid.uuid4().hex}")]

    def injected_error(self, request, error):
        """Return (status, headers, body) of an injected AWS error."""
        headers = self.injected_headers()
        request_id = headers[1][1]
        content_type, payload, extra = error_body(request, error["code"], error["message"], error["status"], request_id)
        return error["status"], headers + [("Content-Type", content_type)] + extra, payload

    def forward_and_rewrite(self, request, body, rule_index, rule):
        """Forward the request to moto, apply the rule's rewrites, and return (status, headers, body)."""
        try:
            status, headers, payload = self.forward(body)
        except (OSError, http.client.HTTPException) as error:
            upstream = self.server.upstream.geturl()
            log.error("forwarding %s %s to %s failed: %s", request.service, request.action, upstream, error)
            message = f"test gateway: forwarding to {upstream} failed: {error}. Is moto still running?\n"
            return 502, [("Content-Type", "text/plain")], message.encode()

        if rule is not None and rule.rewrites:
            try:
                payload = apply_rewrites(rule.rewrites, payload)
            except (re.error, UnicodeDecodeError) as error:
                # A replacement template is checked only here, when it first expands.
                log.error("rule %d could not rewrite the %s response: %s", rule_index, request.action, error)
                message = f"test gateway: rule {rule_index} could not rewrite the response: {error}\n"
                return 500, [("Content-Type", "text/plain")], message.encode()
        return status, headers, payload

    def forward(self, body):
        upstream = self.server.upstream
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port or 80, timeout=UPSTREAM_TIMEOUT_SECONDS)
        try:
            connection.putrequest(self.command, self.path)
            named_in_connection = {
                name.strip().lower() for name in self.headers.get("Connection", "").split(",") if name.strip()
            }
            for name, value in self.headers.items():
                lowered = name.lower()
                if lowered not in REQUEST_HEADERS_NOT_FORWARDED and lowered not in named_in_connection:
                    connection.putheader(name, value)
            if body or self.command in ("POST", "PUT", "PATCH"):
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            payload = response.read()
            return response.status, response.getheaders(), payload
        finally:
            connection.close()


def parse_upstream(url):
    """Return the split upstream URL, or exit unless it is plain HTTP on a loopback IP address."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        sys.exit(f"gateway.py: upstream {url!r} must use http://")
    try:
        address = ipaddress.ip_address(parts.hostname or "")
    except ValueError:
        sys.exit(f"gateway.py: upstream {url!r} must name a loopback IP address such as 127.0.0.1")
    if not address.is_loopback:
        sys.exit(f"gateway.py: upstream {url!r} is not a loopback address; use the emulator's 127.0.0.1 URL")
    if parts.path not in ("", "/") or parts.query:
        sys.exit(f"gateway.py: upstream {url!r} must not have a path or query")
    try:
        parts.port
    except ValueError as error:
        sys.exit(f"gateway.py: upstream {url!r} has an invalid port: {error}")
    return parts


def write_port_file(path, port):
    """Write the port so that a reader never sees a partly written file."""
    partial = f"{path}.partial"
    with open(partial, "w", encoding="ascii") as file:
        file.write(f"{port}\n")
    os.replace(partial, path)


def shut_down_on_stdin_eof(server):
    """Stop the server once stdin closes, which happens when the parent process exits."""
    while sys.stdin.buffer.read(4096):
        pass
    log.info("stdin closed, shutting down")
    server.shutdown()


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="moto URL on a loopback address, e.g. http://127.0.0.1:5000")
    parser.add_argument("--port-file", required=True, help="file to write the gateway's port number to")
    parser.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="shut down when stdin reaches end of file, so the gateway dies with the process that started it",
    )
    parser.add_argument("--verbose", action="store_true", help="also log every request at debug level")
    return parser.parse_args()


def main():
    args = parse_args()
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s gateway %(levelname)s %(message)s",
    )
    upstream = parse_upstream(args.upstream)
    server = GatewayServer(upstream, GatewayState())
    port = server.server_address[1]
    write_port_file(args.port_file, port)
    log.info("listening on 127.0.0.1:%d, forwarding to %s", port, args.upstream)
    if args.exit_on_stdin_eof:
        threading.Thread(target=shut_down_on_stdin_eof, args=(server,), daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    log.info("stopped")


if __name__ == "__main__":
    main()
