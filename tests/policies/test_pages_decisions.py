"""The decision log page: filters, keyset pages at a constant query count, one decision in detail."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from policies.decision_views import PAGE_SIZE
from policies.models import PolicyDecision, PolicyInput
from tests.conftest import browser_as
from tests.policies.test_pages_policies import text

EXECUTION = uuid.UUID("5f0c2c8e-6b6a-4d7e-9b61-0c2a7f1e9d33")


def log(count: int, **fields: Any) -> list[PolicyDecision]:
    document = {"user": {"username": fields.get("username", "alice")}, "secretless": True}
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
    stored, _ = PolicyInput.objects.get_or_create(digest=digest, defaults={"document": document})
    values = {
        "hook": "stage",
        "package": "spinnaker.execution.stages.before.wait",
        "allowed": False,
        "result": "deny",
        "messages": [{"policy": "p", "mode": "enforce", "message": "No."}],
        "engine": "embedded",
        "username": "alice",
        "application": "shop",
    } | fields
    rows = PolicyDecision.objects.bulk_create([PolicyDecision(input=stored, **values) for _ in range(count)])
    return rows


def test_it_filters_by_hook_result_package_user_application_and_execution(admin: User) -> None:
    log(1, subject="stage-denied")
    log(1, hook="save", package="opa.pipelines", result="allow", allowed=True, messages=[], subject="save-ok")
    log(1, username="bob", application="blog", execution_id=EXECUTION, subject="bob-run")
    log(1, dry_run=True, subject="a-dry-run")
    client = browser_as(admin)

    def subjects(**params: str) -> set[str]:
        page = text(client.get("/policies/decisions/", params))
        return {s for s in ("stage-denied", "save-ok", "bob-run", "a-dry-run") if s in page}

    assert subjects() == {"stage-denied", "save-ok", "bob-run"}
    assert subjects(dry_runs="show") == {"stage-denied", "save-ok", "bob-run", "a-dry-run"}
    assert subjects(dry_runs="only") == {"a-dry-run"}
    assert subjects(hook="save") == {"save-ok"}
    assert subjects(result="deny") == {"stage-denied", "bob-run"}
    assert subjects(package="pipelines") == {"save-ok"}
    assert subjects(user="bob") == {"bob-run"}
    assert subjects(application="blog") == {"bob-run"}
    assert subjects(execution=str(EXECUTION)) == {"bob-run"}
    future = (timezone.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    assert subjects(since=future) == set()
    assert subjects(until=future) == {"stage-denied", "save-ok", "bob-run"}
    bad = text(client.get("/policies/decisions/", {"execution": "not-a-uuid"}))
    assert "Enter a valid UUID." in bad


def _count_queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_it_pages_by_keyset_at_a_constant_query_count(admin: User) -> None:
    client = browser_as(admin)
    log(3)
    client.get("/policies/decisions/")  # the first request of a process loads the (empty) policy set
    few = _count_queries(client, "/policies/decisions/")
    rows = log(PAGE_SIZE * 2 + 5)
    many = _count_queries(client, "/policies/decisions/")
    assert few == many
    first = text(client.get("/policies/decisions/"))
    older = re.search(r'href="([^"]*older=[^"]*)"', first)
    assert older is not None
    assert _count_queries(client, older.group(1).replace("&amp;", "&")) == many
    second = text(client.get(older.group(1).replace("&amp;", "&")))
    assert re.search(r'href="[^"]*newer=', second)
    first_ids = [int(pk) for pk in re.findall(r'<tr id="decision-(\d+)"', first)]
    second_ids = [int(pk) for pk in re.findall(r'<tr id="decision-(\d+)"', second)]
    assert len(first_ids) == len(second_ids) == PAGE_SIZE
    assert first_ids[0] == max(row.pk for row in rows)  # newest first (same time: higher id first)
    assert min(first_ids) > max(second_ids)


@pytest.mark.parametrize("persona", ["developer", "viewer"])
def test_it_shows_no_decision_to_non_admins(persona: str, request: pytest.FixtureRequest, admin: User) -> None:
    row = log(1)[0]
    client = browser_as(request.getfixturevalue(persona))
    assert client.get(f"/policies/decisions/{row.pk}/").status_code == 403


def test_it_shows_one_decision_with_its_input_pretty_printed(admin: User) -> None:
    row = log(1, execution_id=EXECUTION, error="", subject="Stage Wait (wait)")[0]
    page = text(browser_as(admin).get(f"/policies/decisions/{row.pk}/"))
    assert "Denied: <code>spinnaker.execution.stages.before.wait</code>" in page
    assert f'href="/applications/shop/executions/{EXECUTION}/"' in page
    assert "<tr><td>p</td><td>enforce</td><td>No.</td></tr>" in page
    assert '{\n  "secretless": true,\n  "user": {\n    "username": "alice"\n  }\n}' in page
