"""Where the remote engine finds the OPA server: OPA_URL in its accepted forms, and refusals.

(Its decisions are tested against ``tests/policies/opa_emulator.py``, which
emulates OPA's Policy and Data APIs; evaluation is rego-cpp (regopy), not OPA's Go evaluator.)
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from policies.engines.remote import OpaServer, parse_opa_url


@pytest.mark.parametrize(
    ("url", "server"),
    [
        ("http://127.0.0.1:8181", OpaServer("127.0.0.1", 8181, False, "v1")),
        ("http://127.0.0.1:8181/", OpaServer("127.0.0.1", 8181, False, "v1")),
        ("http://opa:8181/v1", OpaServer("opa", 8181, False, "v1")),
        ("http://opa:8181/v1/data/", OpaServer("opa", 8181, False, "v1")),
        ("https://opa.example.com", OpaServer("opa.example.com", 443, True, "v1")),
        ("https://gw.example.com/opa/v1", OpaServer("gw.example.com", 443, True, "opa/v1")),
        ("http://[::1]:8181", OpaServer("[::1]", 8181, False, "v1")),
    ],
)
def test_it_accepts_the_usual_forms_of_opa_url(url: str, server: OpaServer) -> None:
    assert parse_opa_url(url) == server


@pytest.mark.parametrize("url", ["opa:8181", "ftp://opa:8181", "http://opa:99999", "http://:8181"])
def test_it_refuses_an_opa_url_it_cannot_use(url: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="OPA_URL"):
        parse_opa_url(url)
