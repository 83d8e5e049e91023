"""Where callbacks may go: the URL policy, and an HTTP POST that connects to exactly the address it checked.

A customer's callback URL must not reach into our network (SSRF). The policy resolves the host and refuses an
address that is private, loopback, link-local, reserved, multicast, unspecified or a cloud metadata endpoint,
also when an IPv4 address hides inside an IPv6 one (IPv4-mapped, IPv4-compatible, 6to4, Teredo, NAT64).
Checking is not enough on its own: if the HTTP client resolved the name again to connect, a DNS answer that
changed in between (DNS rebinding) would take it elsewhere. So `PinnedPoster` resolves once, checks that answer
and connects to that very address, while the TLS handshake (SNI, certificate check) and the Host header still
use the URL's host name.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
import urllib3
from urllib3.exceptions import HTTPError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolve = Callable[[str], list[str]]

METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # EC2/ECS/Lambda instance metadata, IPv4
        ipaddress.ip_address("fd00:ec2::254"),  # EC2 instance metadata, IPv6
        ipaddress.ip_address("169.254.170.2"),  # ECS task metadata and credentials
    }
)
_NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the last 32 bits
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: local use, any embedding: refused outright
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d (RFC 4291 2.5.5.1)
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # SIIT ::ffff:0:a.b.c.d (RFC 2765)


def embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address an IPv6 address carries: IPv4-mapped or -compatible, SIIT, 6to4, Teredo, NAT64."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)  # (server, client); the client's bits arrive inverted, ipaddress undoes that
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _NAT64_WELL_KNOWN or address in _IPV4_TRANSLATED:
        found.append(low32)
    if address in _IPV4_COMPATIBLE and int(address) > 1:  # not :: (unspecified) or ::1 (loopback)
        found.append(low32)
    return found


def address_problem(address: IPAddress) -> str | None:
    """Why a callback may not go to this address, or None for a public one."""
    if address in _NAT64_LOCAL:
        return "must not point at a local-use NAT64 address"
    candidates = [address, *embedded_ipv4(address)]
    if any(c in METADATA_ADDRESSES or c.is_link_local for c in candidates):
        return "must not point at a link-local or cloud metadata address"
    for candidate in candidates:
        if candidate.is_loopback or candidate.is_private or candidate.is_reserved or candidate.is_multicast:
            return "must not point at a private, loopback or reserved address"
        if candidate.is_unspecified or not candidate.is_global:
            return "must point at a public address"
    return None


def _is_loopback(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def system_resolve(host: str) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)})


@dataclass(frozen=True)
class Target:
    """A checked callback URL: the one address to connect to, or why there is none."""

    problem: str | None
    address: IPAddress | None = None


def check_url(url: str, allow_loopback: bool, resolve: Resolve | None = None) -> Target:
    """Resolve the URL's host once and check every address it has. allow_loopback (the local stack only) lets
    http or https reach 127.0.0.0/8 and ::1, and nothing else that is not public."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return Target("is not a valid URL")
    if parts.scheme not in ("http", "https"):
        return Target("must be an https URL")
    if not host:
        return Target("must name a host")
    try:
        addresses = [ipaddress.ip_address(a.split("%")[0]) for a in (resolve or system_resolve)(host)]
    except (OSError, ValueError, UnicodeError):
        return Target(f"host {host} does not resolve")
    if not addresses:
        return Target(f"host {host} does not resolve")
    if allow_loopback and all(_is_loopback(a) for a in addresses):
        return Target(None, addresses[0])
    if parts.scheme != "https":
        return Target("must be an https URL")
    for address in addresses:  # every answer must pass: the client could otherwise be steered to any of them
        if problem := address_problem(address):
            return Target(problem)
    return Target(None, addresses[0])


def url_problem(url: str, allow_loopback: bool, resolve: Resolve | None = None) -> str | None:
    """Why a callback URL is refused, or None. Checked when a flow is created and again at every delivery."""
    return check_url(url, allow_loopback, resolve).problem


class PinnedPoster:
    """POSTs a callback to the address the policy checked, never to a second DNS answer.

    urllib3 connects to the pinned IP; for https the handshake sends the URL's host name as SNI and verifies the
    certificate against it (server_hostname, assert_hostname); the Host header carries it too. No redirects,
    no retries (the delivery queue retries), a hard timeout.
    """

    def __init__(
        self,
        allow_loopback: bool = False,
        resolve: Resolve | None = None,
        timeout: float = 2.0,
        ca_certs: str | None = None,
    ):
        self.allow_loopback = allow_loopback
        self._resolve = resolve or system_resolve
        self._timeout = urllib3.Timeout(connect=timeout, read=timeout)
        self._ca_certs = ca_certs or certifi.where()

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[bool, str]:
        target = check_url(url, self.allow_loopback, self._resolve)
        if target.problem is not None or target.address is None:
            return False, f"refused URL: {target.problem}"
        parts = urlsplit(url)
        host = parts.hostname or ""
        https = parts.scheme == "https"
        port = parts.port or (443 if https else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default_port = port == (443 if https else 80)
        host_header = (f"[{host}]" if ":" in host else host) + ("" if default_port else f":{port}")
        options = {"timeout": self._timeout, "retries": False, "maxsize": 1, "block": False}
        pool: urllib3.HTTPConnectionPool
        if https:
            pool = urllib3.HTTPSConnectionPool(
                str(target.address),
                port,
                server_hostname=host,
                assert_hostname=host,
                cert_reqs="CERT_REQUIRED",
                ca_certs=self._ca_certs,
                **options,
            )
        else:
            pool = urllib3.HTTPConnectionPool(str(target.address), port, **options)
        try:
            response = pool.urlopen(
                "POST",
                path,
                body=body,
                headers={**headers, "Host": host_header},
                redirect=False,
                retries=False,
                preload_content=False,
                assert_same_host=False,
            )
            status = response.status
            response.close()  # the answer's body is not read: a receiver cannot make us download anything
        except HTTPError as error:
            return False, type(error).__name__
        finally:
            pool.close()
        return 200 <= status < 300, f"HTTP {status}"
