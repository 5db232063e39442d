"""Run a DNS server on 127.0.0.1 for the verification layer's tests.

The server listens on one free port for both UDP and TCP. It answers A and AAAA
queries from a JSON map of names to addresses, NOERROR with no answer for other
record types of a known name, and NXDOMAIN for any other name.

Run with the interpreter from scripts/setup-tools:
    .venv/bin/python acceptance-tests/dns_server.py --records '{"api.plink.test": "127.0.0.1"}' \\
        --port-file PATH

Each value of the map is an address or a list of addresses. IPv4 addresses answer A
queries and IPv6 addresses answer AAAA queries. Names match without regard to case
or a final dot.

Options for the tests of failure handling:
    --refuse NAME     answer queries for NAME with REFUSED (may be repeated)
    --truncate-udp    answer every UDP query with an empty, truncated response,
                      so that a client has to retry over TCP
    --query-log PATH  append one JSON object per query: transport, name, type

Wire format comes from dnslib; the sockets and threads are the standard library's.
"""

import argparse
import ipaddress
import json
import logging
import os
import socket
import socketserver
import sys
import threading

from dnslib import AAAA, QTYPE, RCODE, RR, A, DNSRecord

log = logging.getLogger("dns_server")

TTL_SECONDS = 60
BIND_ATTEMPTS = 50


def normalize(name):
    return str(name).rstrip(".").lower()


class Zone:
    """The records served, and the log of queries received."""

    def __init__(self, records, refused, truncate_udp, query_log):
        self.records = {}
        for name, addresses in records.items():
            if isinstance(addresses, str):
                addresses = [addresses]
            self.records[normalize(name)] = [ipaddress.ip_address(a) for a in addresses]
        self.refused = {normalize(name) for name in refused}
        self.truncate_udp = truncate_udp
        self.query_log = query_log
        self.log_lock = threading.Lock()

    def respond(self, data, transport):
        """Return the wire-format response to one query, or None for a packet that
        is not a DNS query."""
        try:
            request = DNSRecord.parse(data)
        except Exception as error:  # dnslib raises several types for bad input
            log.warning("ignoring an invalid %s packet: %s", transport, error)
            return None
        reply = request.reply()
        question = request.q
        name = normalize(question.qname)
        record_type = QTYPE.get(question.qtype)
        self.record_query(transport, name, record_type)

        if transport == "udp" and self.truncate_udp:
            reply.header.tc = 1
        elif name in self.refused:
            reply.header.rcode = RCODE.REFUSED
        elif name not in self.records:
            reply.header.rcode = RCODE.NXDOMAIN
        else:
            for address in self.records[name]:
                if question.qtype == QTYPE.A and address.version == 4:
                    reply.add_answer(RR(question.qname, QTYPE.A, rdata=A(str(address)), ttl=TTL_SECONDS))
                if question.qtype == QTYPE.AAAA and address.version == 6:
                    reply.add_answer(RR(question.qname, QTYPE.AAAA, rdata=AAAA(str(address)), ttl=TTL_SECONDS))
        log.info("%s %s %s -> %s, %d answers", transport, record_type, name,
                 RCODE.get(reply.header.rcode), len(reply.rr))
        return reply.pack()

    def record_query(self, transport, name, record_type):
        if not self.query_log:
            return
        line = json.dumps({"transport": transport, "name": name, "type": record_type})
        with self.log_lock, open(self.query_log, "a", encoding="utf-8") as file:
            file.write(line + "\n")


class UdpHandler(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        response = self.server.zone.respond(data, "udp")
        if response is not None:
            sock.sendto(response, self.client_address)


class TcpHandler(socketserver.BaseRequestHandler):
    """Serve length-prefixed queries until the client closes the connection."""

    def handle(self):
        while True:
            prefix = self.read_exactly(2)
            if prefix is None:
                return
            data = self.read_exactly(int.from_bytes(prefix, "big"))
            if data is None:
                return
            response = self.server.zone.respond(data, "tcp")
            if response is None:
                return
            self.request.sendall(len(response).to_bytes(2, "big") + response)

    def read_exactly(self, count):
        data = b""
        while len(data) < count:
            chunk = self.request.recv(count - len(data))
            if not chunk:
                return None
            data += chunk
        return data


class UdpServer(socketserver.ThreadingUDPServer):
    daemon_threads = True


class TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True


def bind_servers(zone):
    """Bind TCP to a free port, then UDP to the same port, trying again when
    another program uses that UDP port."""
    for _ in range(BIND_ATTEMPTS):
        tcp = TcpServer(("127.0.0.1", 0), TcpHandler)
        port = tcp.server_address[1]
        try:
            udp = UdpServer(("127.0.0.1", port), UdpHandler)
        except OSError:
            tcp.server_close()
            continue
        tcp.zone = zone
        udp.zone = zone
        return tcp, udp, port
    sys.exit(f"dns_server.py: found no port free for both UDP and TCP in {BIND_ATTEMPTS} attempts")


def write_port_file(path, port):
    """Write the port so that a reader never sees a partly written file."""
    partial = f"{path}.partial"
    with open(partial, "w", encoding="ascii") as file:
        file.write(f"{port}\n")
    os.replace(partial, path)


def load_records(args):
    if args.records is not None:
        text = args.records
    else:
        with open(args.records_file, encoding="utf-8") as file:
            text = file.read()
    records = json.loads(text)
    if not isinstance(records, dict):
        sys.exit("dns_server.py: the records must be a JSON object of names to addresses")
    return records


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--records", help='JSON object of names to addresses, e.g. {"a.test": "127.0.0.1"}')
    source.add_argument("--records-file", help="file that contains that JSON object")
    parser.add_argument("--port-file", required=True, help="file to write the server's port number to")
    parser.add_argument("--refuse", action="append", default=[], metavar="NAME",
                        help="answer queries for NAME with REFUSED (may be repeated)")
    parser.add_argument("--truncate-udp", action="store_true",
                        help="answer every UDP query with an empty truncated response")
    parser.add_argument("--query-log", help="file to append one JSON line per query to")
    parser.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="shut down when stdin reaches end of file, so the server dies with the process that started it",
    )
    return parser.parse_args()


def main():
    args = parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s dns_server %(levelname)s %(message)s")
    try:
        zone = Zone(load_records(args), args.refuse, args.truncate_udp, args.query_log)
    except (OSError, ValueError) as error:
        sys.exit(f"dns_server.py: invalid records: {error}")

    tcp, udp, port = bind_servers(zone)
    for server in (tcp, udp):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    write_port_file(args.port_file, port)
    log.info("listening on 127.0.0.1:%d (UDP and TCP) with %d names", port, len(zone.records))

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
        for server in (tcp, udp):
            server.shutdown()
            server.server_close()
    log.info("stopped")


if __name__ == "__main__":
    main()
