"""HTTP calls from pipeline stages to other systems, limited by ``SPINWEB_WEBHOOK_ALLOWED_HOSTS``.

Who may be called (:func:`refusal`, pure): ``"*"`` allows any host whose addresses are all
public. Loopback, private (RFC 1918, ULA), link-local (169.254.0.0/16 with the cloud metadata
service, fe80::/10), multicast, unspecified, reserved, CGNAT and other special-purpose
addresses are refused unless the host name, the exact address or a network containing it
(``10.0.0.0/8``) is listed. Without ``"*"`` only what is listed may be called.

How (:func:`send`): the host name is resolved once, every address it resolves to is checked,
and the connection goes to one of those checked addresses, the socket pinned to it while the
Host header, TLS SNI and certificate check keep using the name. A DNS answer that changes
between the check and the connection (DNS rebinding) therefore cannot send the call to an
internal address. For the same reason redirects are not followed (the caller sees the 3xx and
checks any next URL itself) and proxies from the environment are not used (a proxy would
resolve the name again, unchecked). Nothing is retried here: the caller decides, with
:attr:`OutboundFailed.transient`.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import ConnectTimeoutError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SETTING = "SPINWEB_WEBHOOK_ALLOWED_HOSTS"
SCHEMES = frozenset({"http", "https"})
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
# The most of an answer read; the rest is dropped (``Reply.complete`` is then False).
READ_LIMIT = 1_048_576
USER_AGENT = "Spinweb"

_PRIVATE = tuple(ipaddress.ip_network(net) for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class OutboundRefused(Exception):
    """The URL may not be called (scheme, allowlist); nothing was sent."""


class OutboundFailed(Exception):
    """The call got no answer; a ``transient`` failure (refused, timed out, DNS) is worth retrying."""

    def __init__(self, message: str, *, transient: bool = True) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class Reply:
    status: int
    reason: str
    headers: CaseInsensitiveDict[str]
    content: bytes
    complete: bool
    encoding: str | None = None

    @property
    def text(self) -> str:
        try:
            return self.content.decode(self.encoding or "utf-8", errors="replace")
        except LookupError:  # a charset Python does not know
            return self.content.decode("utf-8", errors="replace")


# Who may be called -----------------------------------------------------------------------


def address_kind(address: Address) -> str | None:
    """What makes ``address`` internal ("a loopback address"), or None when it is public."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return address_kind(embedded)
    kinds = (
        (address.is_unspecified, "an unspecified"),
        (address.is_loopback, "a loopback"),
        (address.is_link_local, "a link-local"),
        (address.is_multicast, "a multicast"),
        (address in _CGNAT, "a carrier-grade NAT (CGNAT)"),
        (any(address in network for network in _PRIVATE), "a private"),
        (address.is_reserved, "a reserved"),
        (not address.is_global, "a special-purpose"),
    )
    return next((f"{kind} address" for hit, kind in kinds if hit), None)


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, NAT64, 6to4): it decides where packets go."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


@dataclass(frozen=True)
class Allowlist:
    """The setting's entries: "*" (any public address), host names, and addresses or networks."""

    public: bool
    names: frozenset[str]
    networks: tuple[Network, ...]

    @classmethod
    def parse(cls, entries: Iterable[str]) -> Allowlist:
        names, networks = set(), []
        for entry in (str(item).strip() for item in entries):
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                names.add(_normal(entry))
        return cls("*" in names, frozenset(names - {"*"}), tuple(networks))

    def lists(self, address: Address) -> bool:
        return any(address in network for network in self.networks)


def refusal(host: str, addresses: Sequence[Address], allowed: Iterable[str]) -> str | None:
    """Why calling ``host``, which resolved to ``addresses``, is refused; None when it is allowed."""
    rules = Allowlist.parse(allowed)
    if _normal(host) in rules.names:
        return None
    if not addresses:
        return f"{host} has no address."
    for address in addresses:
        if rules.lists(address):
            continue
        kind = address_kind(address)
        if rules.public and kind is None:
            continue
        return _refusal_message(host, address, kind if rules.public else None)
    return None


def _refusal_message(host: str, address: Address, kind: str | None) -> str:
    literal = _ip(host) == address
    if kind is not None and literal:
        return f"{address} is {kind}; add it to {SETTING} to allow it."
    if kind is not None:
        return f"{host} resolves to {address}, {kind}; add {host} or {address} to {SETTING} to allow it."
    if literal:
        return f"{address} is not in {SETTING}; add it there to allow it."
    return f"{host} ({address}) is not in {SETTING}; add {host} or {address} there to allow it."


def _normal(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _ip(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


# Checking a URL --------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A URL that passed the checks, and the only addresses a call to it may connect to."""

    url: str
    scheme: str
    host: str
    authority: str
    port: int
    addresses: tuple[Address, ...]


def check_url(url: str) -> Target:
    """Resolve and check ``url``; raises OutboundRefused, or OutboundFailed when DNS fails."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise OutboundRefused(f"Only http and https URLs can be called, and {url!r} is neither.")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise OutboundRefused(f"The URL {url!r} has an invalid port.") from None
    host = parts.hostname
    if not host:
        raise OutboundRefused(f"The URL {url!r} names no host.")
    addresses = resolve(host, port)
    reason = refusal(host, addresses, settings.SPINWEB_WEBHOOK_ALLOWED_HOSTS)
    if reason is not None:
        raise OutboundRefused(reason)
    return Target(url, scheme, host, parts.netloc.rpartition("@")[2], port, tuple(addresses))


def resolve(host: str, port: int) -> list[Address]:
    """Every address ``host`` resolves to now, in the resolver's order, each once."""
    literal = _ip(host)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OutboundFailed(f"could not resolve {host} ({exc.strerror})") from None
    except UnicodeError:
        raise OutboundFailed(f"{host!r} is not a valid host name", transient=False) from None
    found: list[Address] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]))
        if address not in found:
            found.append(address)
    return found


# Calling ---------------------------------------------------------------------------------


def send(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
    limit: int = READ_LIMIT,
) -> Reply:
    """Call ``url`` once, connecting only to an address that passed the allowlist.

    Raises OutboundRefused (nothing sent) or OutboundFailed (no answer). An address that
    refuses the connection makes way for the next checked address, since nothing reached it.
    """
    target = check_url(url)
    failure = OutboundFailed(f"{target.host} has no address")
    for address in target.addresses:
        try:
            return _send_to(address, target, method, headers or {}, body, timeout, limit)
        except _NotConnected as exc:
            failure = exc.failure
    raise failure


class _NotConnected(Exception):
    def __init__(self, failure: OutboundFailed) -> None:
        super().__init__(str(failure))
        self.failure = failure


class _PinnedAdapter(HTTPAdapter):
    """Connects to one checked address, whatever the URL's host name would resolve to now."""

    def __init__(self, address: Address, host: str) -> None:
        self._address, self._host = address, host
        super().__init__()  # no retries: a POST must not be sent twice behind the caller's back

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: str | tuple[str, str] | None = None
    ) -> tuple[Any, Any]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        host_params["host"] = str(self._address)
        if host_params["scheme"] == "https" and _ip(self._host) is None:
            # TLS still presents and verifies the URL's host name (SNI, certificate).
            cast(dict[str, Any], pool_kwargs)["server_hostname"] = self._host
        return host_params, pool_kwargs


def _send_to(
    address: Address,
    target: Target,
    method: str,
    headers: Mapping[str, str],
    body: bytes | None,
    timeout: tuple[float, float],
    limit: int,
) -> Reply:
    request_headers: CaseInsensitiveDict[str] = CaseInsensitiveDict({"User-Agent": USER_AGENT, **headers})
    request_headers.setdefault("Host", target.authority)  # the socket goes to the address, the name stays
    with requests.Session() as session:
        session.trust_env = False
        adapter = _PinnedAdapter(address, target.host)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        try:
            response = session.request(
                method,
                target.url,
                headers=request_headers,
                data=body,
                timeout=timeout,
                allow_redirects=False,
                stream=True,
            )
        except requests.RequestException as exc:
            raise _failure(exc, address, target, timeout) from None
        with response:
            content, complete = _read(response, limit, timeout[1], target)
        return Reply(
            response.status_code, response.reason or "", response.headers, content, complete, response.encoding
        )


def _failure(
    exc: requests.RequestException, address: Address, target: Target, timeout: tuple[float, float]
) -> Exception:
    where = f"{address} port {target.port}"
    if isinstance(exc, requests.exceptions.SSLError):
        return OutboundFailed(f"the TLS handshake with {target.host} failed ({_cause(exc)})", transient=False)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return _NotConnected(OutboundFailed(f"could not connect to {where} within {timeout[0]:g} s"))
    if isinstance(exc, requests.exceptions.ConnectionError) and _not_connected(exc):
        return _NotConnected(OutboundFailed(f"could not connect to {where} ({_cause(exc)})"))
    if isinstance(exc, requests.exceptions.Timeout):
        return OutboundFailed(f"{target.host} did not answer within {timeout[1]:g} s")
    if isinstance(exc, requests.exceptions.ConnectionError):
        return OutboundFailed(f"the connection to {where} broke ({_cause(exc)})")
    if isinstance(exc, requests.exceptions.InvalidHeader):
        # requests' message quotes the value, which may be a secret.
        return OutboundFailed("a header name or value is not valid", transient=False)
    return OutboundFailed(f"the request could not be sent ({exc})", transient=False)


def _not_connected(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the connection was never made (so nothing was sent), as opposed to broken."""
    reason = getattr(exc.args[0] if exc.args else None, "reason", None)
    return isinstance(reason, ConnectTimeoutError)


def _cause(exc: BaseException) -> str:
    """The innermost OS-level reason ("Connection refused"), else the exception's text."""
    seen: object = exc
    for _ in range(10):  # chains are short; the bound only guards against a cycle
        if not isinstance(seen, BaseException):
            break
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        seen = seen.__cause__ or seen.__context__ or getattr(seen, "reason", None)
    return str(exc)


def _read(response: requests.Response, limit: int, seconds: float, target: Target) -> tuple[bytes, bool]:
    """The body up to ``limit`` bytes, within ``seconds`` in all: a trickling server cannot hold a worker."""
    deadline = time.monotonic() + seconds
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(chunk_size=65_536):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                return b"".join(chunks)[:limit], False
            if time.monotonic() > deadline:
                raise OutboundFailed(f"{target.host} took longer than {seconds:g} s to send its answer")
    except requests.RequestException as exc:
        raise OutboundFailed(f"reading the answer from {target.host} failed ({_cause(exc)})") from None
    return b"".join(chunks), True
