"""Run an HTTPS server on 127.0.0.1 for the verification layer's tests.

At start the server makes a test CA and a server certificate for one DNS name,
both with P-256 keys from the `cryptography` package (which moto installs) and valid
for one day. It writes the CA certificate as PEM to --ca-file, then its port to
--port-file, so a reader that sees the port can also read the CA.

Run with the interpreter from scripts/setup-tools:
    .venv/bin/python acceptance-tests/https_server.py --name api.plink.test \\
        --port-file PATH --ca-file PATH [--health-status 503] [--request-log PATH]

Paths served, for every method:
    /health         responds with --health-status (default 200)
    /status/CODE    responds with CODE (100 to 599)
    anything else   404

With --request-log, each request appends one JSON object with method, path and
headers (a list of [name, value] pairs in the order received). That log contains
header values, so use it only with test secrets.
"""

import argparse
import datetime
import http.server
import json
import logging
import os
import ssl
import sys
import tempfile
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

log = logging.getLogger("https_server")

VALIDITY = datetime.timedelta(days=1)
# Starts the validity a little in the past, so that a client whose clock is a
# few seconds behind still accepts the certificates.
CLOCK_SKEW = datetime.timedelta(minutes=5)


def make_certificates(name):
    """Return (CA certificate, server certificate, server key) for `name`."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "plink test CA")])
    ca_certificate = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return ca_certificate, server_certificate, server_key


def tls_context(server_certificate, server_key, directory):
    """Build a server context. The ssl module loads keys only from files, so the
    certificate and key are written to `directory` first."""
    certificate_path = os.path.join(directory, "server.pem")
    key_path = os.path.join(directory, "server.key")
    with open(certificate_path, "wb") as file:
        file.write(server_certificate.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as file:
        file.write(server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certificate_path, key_path)
    context.set_alpn_protocols(["http/1.1"])
    return context


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_any(self):
        self.server.record(self)
        status = self.status_for(self.path.split("?", 1)[0])
        self.send_response(status)
        self.send_header("Connection", "close")
        # HTTP forbids a body on 1xx, 204 and 304 responses.
        if status >= 200 and status not in (204, 304):
            body = json.dumps({"status": status}).encode()
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        else:
            self.end_headers()
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_any

    def status_for(self, path):
        if path == "/health":
            return self.server.health_status
        if path.startswith("/status/"):
            code = path.removeprefix("/status/")
            if code.isdigit() and 100 <= int(code) <= 599:
                return int(code)
        return 404

    def log_message(self, format, *args):  # noqa: A002 (the base class names it so)
        log.info("%s %s", self.address_string(), format % args)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, context, health_status, request_log):
        super().__init__(("127.0.0.1", 0), Handler)
        # The handshake runs on the first read in the handler's thread rather
        # than in accept(), so a client that never sends a ClientHello stalls
        # only its own thread.
        self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)
        self.health_status = health_status
        self.request_log = request_log
        self.log_lock = threading.Lock()

    def record(self, handler):
        if not self.request_log:
            return
        entry = {
            "method": handler.command,
            "path": handler.path,
            "headers": [[name, value] for name, value in handler.headers.items()],
        }
        with self.log_lock, open(self.request_log, "a", encoding="utf-8") as file:
            file.write(json.dumps(entry) + "\n")

    def handle_error(self, request, client_address):
        # A client that rejects the certificate ends the handshake with an alert.
        # That is an expected outcome in the tests, not a crash to print.
        error = sys.exc_info()[1]
        log.info("connection from %s ended: %s", client_address, error)


def write_file(path, text):
    """Write `text` so that a reader never sees a partly written file."""
    partial = f"{path}.partial"
    with open(partial, "w", encoding="ascii") as file:
        file.write(text)
    os.replace(partial, path)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="DNS name in the server certificate, e.g. api.plink.test")
    parser.add_argument("--port-file", required=True, help="file to write the server's port number to")
    parser.add_argument("--ca-file", required=True, help="file to write the test CA certificate (PEM) to")
    parser.add_argument("--health-status", type=int, default=200, help="status of /health (default 200)")
    parser.add_argument("--request-log", help="file to append one JSON line per request to, headers included")
    parser.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="shut down when stdin reaches end of file, so the server dies with the process that started it",
    )
    return parser.parse_args()


def main():
    args = parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s https_server %(levelname)s %(message)s")
    if not 100 <= args.health_status <= 599:
        sys.exit(f"https_server.py: --health-status {args.health_status} is not between 100 and 599")

    ca_certificate, server_certificate, server_key = make_certificates(args.name)
    with tempfile.TemporaryDirectory(prefix="https_server.") as directory:
        context = tls_context(server_certificate, server_key, directory)
        server = Server(context, args.health_status, args.request_log)
    port = server.server_address[1]
    write_file(args.ca_file, ca_certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"))
    write_file(args.port_file, f"{port}\n")
    log.info("listening on 127.0.0.1:%d for %s", port, args.name)

    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        if args.exit_on_stdin_eof:
            while sys.stdin.buffer.read(4096):
                pass
            log.info("stdin closed, shutting down")
        else:
            threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()
    log.info("stopped")


if __name__ == "__main__":
    main()
