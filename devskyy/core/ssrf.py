"""SSRF-safe fetching of user-given URLs: every such outbound request goes through here.

- Only ``http`` and ``https``; no credentials in the URL.
- The host name is resolved **once**; every address it resolves to must be public.
  The connection is then made to that vetted address (pinned), with the original
  ``Host`` header and TLS SNI/certificate check for the original name, so a DNS
  answer that changes between check and use (DNS rebinding) cannot redirect us.
- Refused: loopback, private, link-local, multicast, reserved, unspecified,
  shared (CGNAT) and other non-global ranges, the cloud metadata addresses
  (169.254.169.254, fd00:ec2::254), and the same addresses hidden in IPv6 forms
  (IPv4-mapped ``::ffff:a.b.c.d``, 6to4 ``2002::/16``, NAT64 ``64:ff9b::/96`` and
  ``64:ff9b:1::/48``, Teredo).
- Redirects are followed by hand, each hop vetted again, at most ``max_redirects``.
- The body is limited to ``max_bytes`` and the whole exchange to ``timeout`` seconds.
- Environment proxies are ignored (a proxy would bypass the pinning).

A refusal raises ``SSRFBlockedError`` and records the security event ``ssrf_blocked``.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from devskyy.core.audit import security_event
from devskyy.core.errors import DomainError
from devskyy.core.metrics import SecurityEvent

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}

_METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_EXTRA_BLOCKED = (
    ipaddress.ip_network("100.64.0.0/10"),  # shared address space (carrier-grade NAT)
    ipaddress.ip_network("192.0.0.0/24"),  # IETF protocol assignments
    ipaddress.ip_network("198.18.0.0/15"),  # benchmarking
)


class SSRFBlockedError(DomainError):
    """The URL, or an address it leads to, may not be fetched."""

    status_code = 400
    code = "url_not_allowed"


class OutboundFetchError(DomainError):
    """The fetch was allowed but failed (network, size, time); ``transient`` says if a retry may help."""

    status_code = 502
    code = "outbound_fetch_failed"

    def __init__(self, message: str, *, transient: bool, code: str | None = None) -> None:
        super().__init__(message, code=code, details={"transient": transient})
        self.transient = transient


@dataclass(frozen=True)
class VettedTarget:
    url: str  # as given (normalised), used for Host, SNI and relative redirects
    scheme: str
    host: str
    port: int
    ip: str  # the one address we will connect to

    @property
    def pinned_url(self) -> str:
        parts = urlsplit(self.url)
        literal = f"[{self.ip}]" if ":" in self.ip else self.ip
        return urlunsplit((self.scheme, f"{literal}:{self.port}", parts.path or "/", parts.query, ""))

    @property
    def host_header(self) -> str:
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == _DEFAULT_PORTS[self.scheme] else f"{name}:{self.port}"


@dataclass(frozen=True)
class FetchResult:
    status_code: int
    headers: Mapping[str, str]
    content: bytes
    url: str  # the final URL after redirects


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in network for network in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_refusal(address: IPAddress) -> str | None:
    """Why connecting to ``address`` is refused, or None if it is a public address."""
    if address in _METADATA:
        return "metadata address"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = address_refusal(embedded)
            return f"{inner} (inside an IPv6 address)" if inner else None
        if address.is_site_local:
            return "site-local address"
    checks = (
        ("loopback address", address.is_loopback),
        ("unspecified address", address.is_unspecified),
        ("link-local address", address.is_link_local),
        ("multicast address", address.is_multicast),
        ("private address", address.is_private),
        ("reserved address", address.is_reserved),
    )
    for reason, hit in checks:
        if hit:
            return reason
    if any(address in network for network in _EXTRA_BLOCKED if network.version == address.version):
        return "non-public address"
    if not address.is_global:
        return "non-public address"
    return None


def _refuse(reason: str, *, host: str, scheme: str, actor: Any) -> SSRFBlockedError:
    security_event(
        event_type=SecurityEvent.SSRF_BLOCKED,
        actor=actor,
        actor_label="" if actor is not None else "system",
        target_type="url_host",
        target_id=host[:150],
        # Host and reason only: a URL's path or query may carry someone's token.
        details={"reason": reason, "scheme": scheme},
    )
    return SSRFBlockedError(f"URL refused: {reason}.", details={"reason": reason, "host": host})


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise OutboundFetchError(f"Cannot resolve {host!r}.", transient=True, code="dns_failed") from exc
    addresses: list[IPAddress] = []
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]
        address = ipaddress.ip_address(text)
        if address not in addresses:
            addresses.append(address)
    return addresses


def vet_url(
    url: str,
    *,
    actor: Any = None,
    unsafe_allowed_addresses: Collection[tuple[str, int]] = (),
) -> VettedTarget:
    """Check ``url`` and resolve its host once; return the address to connect to.

    ``unsafe_allowed_addresses``: (ip, port) pairs exempt from the address check. For
    tests that need a local server; production code never passes it.
    """
    try:
        parts = urlsplit(url.strip())
        port_given = parts.port
    except ValueError:
        raise _refuse("malformed URL", host="", scheme="", actor=actor) from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".").lower()
    if scheme not in _DEFAULT_PORTS:
        raise _refuse("only http and https URLs may be fetched", host=host, scheme=scheme, actor=actor)
    if not host:
        raise _refuse("URL has no host", host=host, scheme=scheme, actor=actor)
    if parts.username is not None or parts.password is not None:
        raise _refuse("credentials in URLs are not allowed", host=host, scheme=scheme, actor=actor)
    port = port_given or _DEFAULT_PORTS[scheme]
    addresses = _resolve(host, port)
    if not addresses:
        raise OutboundFetchError(f"{host!r} has no address.", transient=True, code="dns_failed")
    allowed = {(str(ipaddress.ip_address(ip)), p) for ip, p in unsafe_allowed_addresses}
    for address in addresses:
        if (str(address), port) in allowed:
            continue
        reason = address_refusal(address)
        if reason is not None:
            raise _refuse(f"{host} resolves to a {reason}", host=host, scheme=scheme, actor=actor)
    normalised = urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))
    return VettedTarget(url=normalised, scheme=scheme, host=host, port=port, ip=str(addresses[0]))


def _redirect_method(status: int, method: str) -> str:
    if status == 303 or (status in (301, 302) and method == "POST"):
        return "GET"
    return method


def safe_fetch(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    content: bytes | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    actor: Any = None,
    unsafe_allowed_addresses: Collection[tuple[str, int]] = (),
) -> FetchResult:
    """Fetch a user-given URL under the rules in the module docstring."""
    deadline = time.monotonic() + timeout
    method = method.upper()
    current_url = url
    sent_headers = dict(headers or {})
    body = content
    first_origin: tuple[str, str, int] | None = None
    with httpx.Client(trust_env=False, follow_redirects=False, timeout=httpx.Timeout(timeout)) as client:
        for _hop in range(max_redirects + 1):
            target = vet_url(current_url, actor=actor, unsafe_allowed_addresses=unsafe_allowed_addresses)
            origin = (target.scheme, target.host, target.port)
            if first_origin is None:
                first_origin = origin
            elif origin != first_origin:
                # Never carry the caller's credentials to another origin.
                sent_headers = {k: v for k, v in sent_headers.items() if k.lower() not in ("authorization", "cookie")}
            request_headers = {**sent_headers, "Host": target.host_header}
            extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OutboundFetchError("Time limit reached.", transient=True, code="fetch_timeout")
            try:
                with client.stream(
                    method,
                    target.pinned_url,
                    headers=request_headers,
                    content=body,
                    extensions=extensions,
                    timeout=httpx.Timeout(remaining),
                ) as response:
                    location = response.headers.get("location")
                    if response.status_code in _REDIRECTS and location:
                        current_url = urljoin(target.url, location)
                        method = _redirect_method(response.status_code, method)
                        if method == "GET":
                            body = None
                        continue
                    data = _read_limited(response, max_bytes=max_bytes, deadline=deadline)
                    return FetchResult(response.status_code, dict(response.headers), data, target.url)
            except httpx.TimeoutException as exc:
                raise OutboundFetchError(
                    "The remote server did not answer in time.", transient=True, code="fetch_timeout"
                ) from exc
            except httpx.TransportError as exc:
                raise OutboundFetchError(
                    f"Could not reach {target.host} ({type(exc).__name__}).", transient=True
                ) from exc
    raise OutboundFetchError(f"More than {max_redirects} redirects.", transient=False, code="too_many_redirects")


def _read_limited(response: httpx.Response, *, max_bytes: int, deadline: float) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise OutboundFetchError(f"Response larger than {max_bytes} bytes.", transient=False, code="response_too_large")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise OutboundFetchError(
                f"Response larger than {max_bytes} bytes.", transient=False, code="response_too_large"
            )
        if time.monotonic() > deadline:
            raise OutboundFetchError("Time limit reached while reading.", transient=True, code="fetch_timeout")
        chunks.append(chunk)
    return b"".join(chunks)
