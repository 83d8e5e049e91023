"""The callback URL policy (every form of a private or metadata address) and the pinned POST (DNS rebinding).

Addresses are IP literals, resolved by the real resolver offline; rebinding is a patched getaddrinfo that
answers differently on each call, as a hostile DNS server with a TTL of 0 would.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from failover.callbacks import Delivery, url_problem
from failover.settings import Settings
from failover.wiring import build_callbacks

METADATA = "169.254.169.254"

# (form, URL): 169.254.169.254 (and fd00:ec2::254) written every way a URL can carry it.
METADATA_FORMS = [
    ("dotted", f"https://{METADATA}/latest/meta-data/"),
    ("decimal", "https://2852039166/"),
    ("octal", "https://0251.0376.0251.0376/"),
    ("hex", "https://0xa9fea9fe/"),
    ("IPv4-mapped", f"https://[::ffff:{METADATA}]/"),
    ("IPv4-mapped hex", "https://[::ffff:a9fe:a9fe]/"),
    ("IPv4-compatible", "https://[::a9fe:a9fe]/"),
    ("SIIT IPv4-translated", "https://[::ffff:0:a9fe:a9fe]/"),
    ("6to4", "https://[2002:a9fe:a9fe::]/"),
    ("6to4 with a subnet and host", "https://[2002:a9fe:a9fe:1:2:3:4:5]/"),
    ("Teredo (client, inverted bits)", "https://[2001:0:4136:e378:8000:63bf:5601:5601]/"),
    ("Teredo (server)", "https://[2001:0:a9fe:a9fe::1]/"),
    ("NAT64 well-known prefix", "https://[64:ff9b::a9fe:a9fe]/"),
    ("NAT64 local-use prefix", "https://[64:ff9b:1::a9fe:a9fe]/"),
    ("EC2 IPv6 metadata", "https://[fd00:ec2::254]/"),
    ("ECS task metadata", "https://169.254.170.2/v2/credentials"),
]

# (form, URL): private, loopback, link-local and other non-public addresses, bare and embedded.
PRIVATE_FORMS = [
    ("10/8", "https://10.0.0.5/"),
    ("172.16/12", "https://172.16.3.4/"),
    ("192.168/16", "https://192.168.1.4/"),
    ("loopback", "https://127.0.0.1/"),
    ("loopback elsewhere in 127/8", "https://127.1.2.3/"),
    ("IPv6 loopback", "https://[::1]/"),
    ("unspecified", "https://0.0.0.0/"),
    ("IPv6 unspecified", "https://[::]/"),
    ("link-local", "https://169.254.1.1/"),
    ("IPv6 link-local", "https://[fe80::1]/"),
    ("IPv6 unique local", "https://[fd12:3456::1]/"),
    ("shared address space (CGNAT)", "https://100.64.0.1/"),
    ("multicast", "https://224.0.0.1/"),
    ("IPv4-mapped private", "https://[::ffff:10.0.0.1]/"),
    ("IPv4-mapped loopback", "https://[::ffff:127.0.0.1]/"),
    ("IPv4-compatible loopback", "https://[::127.0.0.1]/"),
    ("6to4 of 10.0.0.1", "https://[2002:a00:1::]/"),
    ("6to4 of 127.0.0.1", "https://[2002:7f00:1::]/"),
    ("Teredo client 192.168.1.1", "https://[2001:0:4136:e378:8000:63bf:3f57:fefe]/"),
    ("NAT64 of 127.0.0.1", "https://[64:ff9b::7f00:1]/"),
    ("NAT64 of 10.0.0.1", "https://[64:ff9b::a00:1]/"),
]


@pytest.mark.parametrize(("form", "url"), METADATA_FORMS, ids=[f[0] for f in METADATA_FORMS])
@pytest.mark.parametrize("local_stack", [False, True])
def test_the_metadata_address_is_refused_in_every_form(form, url, local_stack):
    problem = url_problem(url, allow_loopback=local_stack)
    assert problem is not None and ("metadata" in problem or "NAT64" in problem), problem


@pytest.mark.parametrize(("form", "url"), PRIVATE_FORMS, ids=[f[0] for f in PRIVATE_FORMS])
def test_private_loopback_and_link_local_addresses_are_refused_in_every_form(form, url):
    assert url_problem(url, allow_loopback=False) is not None


@pytest.mark.parametrize(
    "url",
    [
        "https://93.184.215.14/cb",
        "https://[2606:4700::1111]/cb",
        "https://[2002:5db8:d70e::]/cb",
        "https://1.1.1.1:8443/",
    ],
)
def test_public_addresses_pass(url):
    """The refusals above must be able to fail: public IPv4, IPv6 and a 6to4 address of a public IPv4 pass."""
    assert url_problem(url, allow_loopback=False) is None


def test_embedded_ipv4_finds_every_embedding():
    from failover.url_policy import embedded_ipv4

    cases = {
        "::ffff:169.254.169.254": ["169.254.169.254"],
        "::a9fe:a9fe": ["169.254.169.254"],
        "2002:a9fe:a9fe::": ["169.254.169.254"],
        "2001:0:4136:e378:8000:63bf:5601:5601": ["65.54.227.120", "169.254.169.254"],
        "64:ff9b::a9fe:a9fe": ["169.254.169.254"],
        "::ffff:0:a9fe:a9fe": ["169.254.169.254"],
        "2606:4700::1111": [],
        "::1": [],
    }
    for address, expected in cases.items():
        assert [str(a) for a in embedded_ipv4(ipaddress.ip_address(address))] == expected, address


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8080/cb", True),
        ("http://localhost:8080/cb", True),
        ("http://[::1]:8080/cb", True),
        ("http://[::ffff:127.0.0.1]:8080/cb", True),
        ("http://10.0.0.5/cb", False),
        ("http://192.168.1.4/cb", False),
        ("http://[fd12::1]/cb", False),
        ("http://93.184.215.14/cb", False),  # public, but http: only loopback is exempt from https
        ("ftp://127.0.0.1/cb", False),
    ],
)
def test_the_local_stack_allows_loopback_and_only_loopback(url, allowed):
    assert (url_problem(url, allow_loopback=True) is None) is allowed


def test_the_api_refuses_a_6to4_metadata_callback(stack):
    """Issue 16: https://[2002:a9fe:a9fe::]/ passed the check. The local stack allows loopback, still not this."""
    sms = {"type": "Sms", "order": 1, "from": "Brand", "to": "+306912345678", "message": {"body": "PIN"}}
    status, error = stack.request(
        "POST", "/failover", {"flow": [sms], "callback": {"url": "https://[2002:a9fe:a9fe::]/"}}
    )
    assert status == 400
    assert "metadata" in error["properties"]["callback.url"]


# --- the pinned POST -----------------------------------------------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[dict]

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass

    def do_POST(self):  # noqa: N802 - the stdlib's name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append({"host": self.headers.get("Host"), "path": self.path, "body": body})
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


class _Server(ThreadingHTTPServer):
    def verify_request(self, request, client_address) -> bool:
        self.connections.append(client_address)  # every TCP connection, even one that never makes a request
        return True


def _serve(address: str, context: ssl.SSLContext | None = None) -> Iterator[ThreadingHTTPServer]:
    server = _Server((address, 0), _Recorder)
    server.connections = []
    server.seen = []
    server.sni = []
    if context is not None:
        context.sni_callback = lambda sock, name, ctx: server.sni.append(name)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def loopback_server():
    yield from _serve("127.0.0.1")


@pytest.fixture
def second_loopback_server():
    yield from _serve("127.0.0.2")


@pytest.fixture
def rebinding(monkeypatch):
    """getaddrinfo for *.rebind.test answers from a script, one answer per call; other names resolve as usual."""
    answers: dict[str, list[str]] = {}
    calls: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".rebind.test"):
            calls.append(host)
            script = answers[host]
            address = script.pop(0) if len(script) > 1 else script[0]
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port or 0))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers, calls


def test_a_rebinding_answer_after_the_check_is_never_connected_to(rebinding, loopback_server, monkeypatch):
    """Issue 16: the check saw a public address, the connection went to 127.0.0.1. The deployed wiring's delivery
    now connects only to an address it checked itself: the rebinding answer is refused, 127.0.0.1 hears nothing."""
    answers, _ = rebinding
    port = loopback_server.server_address[1]
    answers["hooks.rebind.test"] = ["93.184.215.14", "127.0.0.1"]  # public for the check, then loopback
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("CALLBACK_ALLOW_LOOPBACK", "false")
    service = build_callbacks(Settings.from_env())  # as the CallbackDeliver function builds it
    service.queue = _NullQueue()
    service.deployment_key = lambda: "key"
    delivery = Delivery("e", "t", "app", 1, f"https://hooks.rebind.test:{port}/cb", body='{"a":1}')
    assert service.deliver(delivery) == "retrying"
    assert loopback_server.connections == []


def test_the_poster_connects_to_the_address_it_checked(rebinding, second_loopback_server):
    """One resolution per POST, and the connection goes to its answer, not to a later one (127.0.0.1 here)."""
    from failover.url_policy import PinnedPoster

    answers, calls = rebinding
    port = second_loopback_server.server_address[1]
    answers["receiver.rebind.test"] = ["127.0.0.2", "127.0.0.1"]
    poster = PinnedPoster(allow_loopback=True)
    assert poster.post(f"http://receiver.rebind.test:{port}/cb?x=1", b'{"a":1}', {"X-Test": "1"}) == (True, "HTTP 200")
    assert calls == ["receiver.rebind.test"]
    (request,) = second_loopback_server.seen
    assert request == {"host": f"receiver.rebind.test:{port}", "path": "/cb?x=1", "body": b'{"a":1}'}


def test_a_refused_answer_is_not_posted_to(rebinding, loopback_server):
    from failover.url_policy import PinnedPoster

    answers, _ = rebinding
    answers["private.rebind.test"] = ["10.0.0.1"]
    poster = PinnedPoster(allow_loopback=True)
    ok, outcome = poster.post(f"https://private.rebind.test:{loopback_server.server_address[1]}/", b"{}", {})
    assert not ok and "refused URL" in outcome and "private" in outcome


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for receiver.test (and a CA bundle that trusts only it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "receiver.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("receiver.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def tls_server(certificate):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    yield from _serve("127.0.0.1", context)


def test_https_keeps_sni_host_and_certificate_check_for_the_url_host(tls_server, certificate):
    from failover.url_policy import PinnedPoster

    port = tls_server.server_address[1]
    resolve = {"receiver.test": ["127.0.0.1"], "impostor.test": ["127.0.0.1"]}
    poster = PinnedPoster(allow_loopback=True, resolve=resolve.__getitem__, ca_certs=str(certificate[0]))
    assert poster.post(f"https://receiver.test:{port}/cb", json.dumps({"a": 1}).encode(), {}) == (True, "HTTP 200")
    assert tls_server.sni == ["receiver.test"]  # the name, not the pinned IP
    assert tls_server.seen[0]["host"] == f"receiver.test:{port}"
    # The certificate is still checked against the URL's host: another name on the same address fails.
    ok, outcome = poster.post(f"https://impostor.test:{port}/cb", b"{}", {})
    assert not ok and "SSL" in outcome
    assert len(tls_server.seen) == 1


def test_check_url_returns_the_address_it_checked():
    from failover.url_policy import check_url

    target = check_url("https://hooks.example/cb", False, lambda host: ["93.184.215.14", "2606:4700::1111"])
    assert target.problem is None and str(target.address) == "93.184.215.14"
    assert check_url("https://hooks.example/cb", False, lambda host: ["93.184.215.14", "10.0.0.1"]).problem


class _NullQueue:
    def put(self, delivery, delay=0):
        pass

    def dead_letter(self, delivery):
        pass
