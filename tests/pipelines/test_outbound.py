"""Which hosts a stage may call (``SPINWEB_WEBHOOK_ALLOWED_HOSTS``), and how a call reaches them."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from pipelines.outbound import OutboundFailed, OutboundRefused, address_kind, check_url, refusal, send
from tests.http_server import LoopbackServer, Reply, closed_port

SETTING = "SPINWEB_WEBHOOK_ALLOWED_HOSTS"


def ips(*texts: str) -> list[Any]:
    return [ipaddress.ip_address(text) for text in texts]


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("93.184.215.14", None),
        ("2606:4700::1111", None),
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.0.0.1", "a private address"),
        ("172.16.5.4", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fd12:3456::1", "a private address"),
        ("169.254.169.254", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("100.64.0.1", "a carrier-grade NAT (CGNAT) address"),
        ("240.0.0.1", "a reserved address"),
        ("192.0.2.10", "a special-purpose address"),
        # IPv6 forms that carry an IPv4 address are judged by the IPv4 address.
        ("::ffff:127.0.0.1", "a loopback address"),
        ("::ffff:8.8.8.8", None),
        ("64:ff9b::a9fe:a9fe", "a link-local address"),
        ("2002:a00:1::", "a private address"),
    ],
)
def test_it_tells_internal_addresses_from_public_ones(address: str, kind: str | None) -> None:
    assert address_kind(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize(
    ("host", "addresses", "allowed", "expected"),
    [
        ("example.com", ["93.184.215.14"], ["*"], None),
        ("example.com", ["93.184.215.14", "2606:2800::1"], ["*"], None),
        (
            "169.254.169.254",
            ["169.254.169.254"],
            ["*"],
            f"169.254.169.254 is a link-local address; add it to {SETTING} to allow it.",
        ),
        (
            "localhost",
            ["::1", "127.0.0.1"],
            ["*"],
            f"localhost resolves to ::1, a loopback address; add localhost or ::1 to {SETTING} to allow it.",
        ),
        # One internal address among public ones is enough to refuse.
        (
            "mixed.example",
            ["93.184.215.14", "10.1.2.3"],
            ["*"],
            f"mixed.example resolves to 10.1.2.3, a private address; add mixed.example or 10.1.2.3 to {SETTING}"
            " to allow it.",
        ),
        ("localhost", ["127.0.0.1"], ["*", "localhost"], None),
        ("LocalHost.", ["127.0.0.1"], ["localhost"], None),
        ("10.0.0.1", ["10.0.0.1"], ["*", "10.0.0.1"], None),
        ("10.0.0.1", ["10.0.0.1"], ["10.0.0.0/8"], None),
        ("db.internal", ["10.2.3.4", "10.9.9.9"], ["*", "10.0.0.0/8"], None),
        ("::1", ["::1"], ["[::1]"], None),
        ("10.0.0.1", ["10.0.0.1"], ["*", "10.0.0.0/24", "192.168.0.0/16"], None),
        (
            "10.0.1.1",
            ["10.0.1.1"],
            ["*", "10.0.0.0/24"],
            f"10.0.1.1 is a private address; add it to {SETTING} to allow it.",
        ),
        # Without "*" only what is listed may be called, public or not.
        (
            "example.com",
            ["93.184.215.14"],
            ["hooks.example.com"],
            f"example.com (93.184.215.14) is not in {SETTING}; add example.com or 93.184.215.14 there to allow it.",
        ),
        ("8.8.8.8", ["8.8.8.8"], [], f"8.8.8.8 is not in {SETTING}; add it there to allow it."),
        ("hooks.example.com", ["93.184.215.14"], ["hooks.example.com"], None),
        ("nowhere.example", [], ["*"], "nowhere.example has no address."),
    ],
)
def test_it_decides_by_the_allowlist(host: str, addresses: list[str], allowed: list[str], expected: str | None) -> None:
    assert refusal(host, ips(*addresses), allowed) == expected


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/x", "Only http and https URLs can be called"),
        ("file:///etc/passwd", "Only http and https URLs can be called"),
        ("http:///path", "names no host"),
        ("http://example.com:99999/", "invalid port"),
        # Numeric host forms the resolver accepts are judged by the address they mean.
        ("http://2130706433/", "2130706433 resolves to 127.0.0.1, a loopback address"),
        ("http://0x7f.1/", "0x7f.1 resolves to 127.0.0.1, a loopback address"),
        ("http://[::ffff:a9fe:a9fe]/latest/meta-data/", "::ffff:a9fe:a9fe is a link-local address"),
    ],
)
def test_it_refuses_urls_before_sending_anything(settings: Any, url: str, reason: str) -> None:
    settings.SPINWEB_WEBHOOK_ALLOWED_HOSTS = ["*"]
    with pytest.raises(OutboundRefused, match=reason.replace("(", r"\(").replace(")", r"\)")):
        check_url(url)


@pytest.fixture
def server(settings: Any) -> Iterator[LoopbackServer]:
    settings.SPINWEB_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    with LoopbackServer() as running:
        yield running


def test_it_sends_the_host_name_while_connecting_to_the_checked_address(server: LoopbackServer) -> None:
    server.route("POST", "/hook", Reply(201, {"id": 1}))
    reply = send("POST", server.url("/hook", host="localhost"), headers={"X-Trace": "t"}, body=b'{"a": 1}')
    assert (reply.status, reply.content) == (201, b'{"id": 1}')
    [received] = server.requests
    assert received.header("Host") == f"localhost:{server.port}"
    assert (received.header("X-Trace"), received.body) == ("t", b'{"a": 1}')


def test_it_does_not_follow_redirects(server: LoopbackServer) -> None:
    server.route("GET", "/old", Reply(302, "moved", {"Location": "http://169.254.169.254/"}))
    reply = send("GET", server.url("/old"))
    assert (reply.status, reply.headers["Location"]) == (302, "http://169.254.169.254/")
    assert [r.path for r in server.requests] == ["/old"]


def test_it_keeps_only_the_start_of_a_long_answer(server: LoopbackServer) -> None:
    server.route("GET", "/big", Reply(200, "x" * 5000))
    reply = send("GET", server.url("/big"), limit=1000)
    assert (len(reply.content), reply.complete) == (1000, False)
    assert send("GET", server.url("/big")).complete


def test_it_reports_a_refused_connection_as_worth_retrying(settings: Any) -> None:
    settings.SPINWEB_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    with closed_port() as port, pytest.raises(OutboundFailed) as caught:
        send("POST", f"http://127.0.0.1:{port}/hook", body=b"{}")
    assert str(caught.value) == f"could not connect to 127.0.0.1 port {port} (Connection refused)"
    assert caught.value.transient


def test_it_refuses_a_loopback_name_unless_it_is_listed(server: LoopbackServer, settings: Any) -> None:
    settings.SPINWEB_WEBHOOK_ALLOWED_HOSTS = ["*"]
    with pytest.raises(OutboundRefused, match="localhost resolves to"):
        send("GET", server.url("/", host="localhost"))
    assert server.requests == []


def test_it_connects_to_the_address_it_checked_even_if_dns_changes(
    server: LoopbackServer, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name answers an allowed address for the check, then another one."""
    settings.SPINWEB_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    answers = iter(["127.0.0.1"])
    real = socket.getaddrinfo

    def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "rebind.test":
            return real(host, port, *args, **kwargs)
        # Nothing listens on 127.0.0.2: a second lookup's answer would fail the call.
        address = next(answers, "127.0.0.2")
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    server.route("GET", "/hook", Reply(200, "ok"))
    reply = send("GET", server.url("/hook", host="rebind.test"))
    assert reply.content == b"ok"
    assert [r.header("Host") for r in server.requests] == [f"rebind.test:{server.port}"]
