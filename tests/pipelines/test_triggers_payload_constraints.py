"""payloadConstraints: plain keys and JSONPath-style paths, regexes found anywhere in the value
(Spinnaker's ``find``), missing keys never matching; bad ones refused when the pipeline is saved."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from applications.models import Application
from pipelines.models import Pipeline
from pipelines.triggers import patterns
from pipelines.triggers.matching import mismatch
from tests.conftest import api_as, message_for

PAYLOAD: dict[str, Any] = {
    "ref": "refs/heads/main",
    "repository.name": "a key with a dot",
    "repository": {"name": "shop", "owner": {"login": "acme"}, "private": True, "size": 42},
    "commits": [{"id": "c0ffee", "author": {"name": "Ada"}}],
    "odd key": {"x y": "found"},
    "nothing": None,
}

MATCHES = [
    ({"ref": "main"}, "a regex is found anywhere in the value"),
    ({"ref": "^refs/heads/main$"}, "anchors match the whole value"),
    ({"repository.name": "with a dot"}, "a plain key is read before any path"),
    ({"$.repository.name": "^shop$"}, "a $. path"),
    ({"repository.owner.login": "^acme$"}, "a path without $"),
    ({"commits[0].author.name": "Ada"}, "a list index"),
    ({"$['odd key']['x y']": "found"}, "quoted keys"),
    ({"$.repository.private": "^true$"}, "booleans read as JSON"),
    ({"$.repository.size": "^42$"}, "numbers read as JSON"),
    ({"$.repository.owner": '"login":"acme"'}, "objects read as compact JSON"),
]


@pytest.mark.parametrize(("constraints", "why"), MATCHES)
def test_it_matches(constraints: dict[str, str], why: str) -> None:
    assert mismatch(constraints, PAYLOAD) is None, why


MISMATCHES = [
    ({"ref": "^main$"}, "payloadConstraints.ref: 'refs/heads/main' does not match '^main$'."),
    ({"branch": "main"}, "payloadConstraints.branch: the payload has no branch."),
    (
        {"$.repository.missing": ".*"},
        "payloadConstraints.$.repository.missing: the payload has no $.repository.missing.",
    ),
    ({"commits[3].id": ".*"}, "payloadConstraints.commits[3].id: the payload has no commits[3].id."),
    ({"nothing": ".*"}, "payloadConstraints.nothing: the payload has no nothing."),
    (
        {"ref": "main", "$.repository.name": "^web$"},
        "payloadConstraints.$.repository.name: 'shop' does not match '^web$'.",
    ),
]


@pytest.mark.parametrize(("constraints", "reason"), MISMATCHES)
def test_it_says_which_constraint_fails(constraints: dict[str, str], reason: str) -> None:
    assert mismatch(constraints, PAYLOAD) == reason


def test_it_refuses_bad_constraints_when_the_pipeline_is_saved(developer: User, shop: Application) -> None:
    constraints = {"branch": "^(main", "$": "x", "a..b": "x", "ok": 3}
    document = {
        "application": "shop",
        "name": "hooked",
        "stages": [],
        "triggers": [{"type": "webhook", "source": "deploy", "payloadConstraints": constraints}],
    }
    response = api_as(developer).post("/api/v1/pipelines/", document, format="json")
    assert response.status_code == 400
    body = response.json()
    assert "'^(main' is not a valid regular expression" in message_for(body, "triggers[0].payloadConstraints.branch")
    assert "names the whole payload" in message_for(body, "triggers[0].payloadConstraints.$")
    assert "cannot be followed" in message_for(body, 'triggers[0].payloadConstraints["a..b"]')
    assert "must be a regular expression" in message_for(body, "triggers[0].payloadConstraints.ok")
    assert not Pipeline.objects.exists()


def test_it_stops_a_runaway_branch_regex_too() -> None:
    # Git triggers match whole branch names; the same time limit applies.
    with pytest.raises(patterns.TooSlow, match=r"took longer than 0\.1 s"):
        patterns.fullmatch("(a|aa)+", "a" * 60 + "!")
    assert patterns.fullmatch("(a|aa)+", "aaa") is True
