"""/api/v1/policy-decisions/: read-only, filtered as the page, cursor pages, the input on the detail."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import api_as
from tests.policies.test_pages_decisions import EXECUTION, log


def test_it_filters_as_the_page_does(admin: User) -> None:
    log(2)
    log(1, hook="save", package="opa.pipelines", username="bob", execution_id=EXECUTION)
    log(1, dry_run=True)
    client = api_as(admin)

    def count(**params: str) -> int:
        return len(client.get("/api/v1/policy-decisions/", params).json()["results"])

    assert count() == 4
    assert count(dry_run="false") == 3
    assert count(dry_run="true") == 1
    assert count(hook="save") == 1
    assert count(package="PIPELINES") == 1
    assert count(user="bob", execution=str(EXECUTION)) == 1
    assert count(result="allow") == 0


def test_it_pages_by_cursor_at_a_constant_query_count(admin: User) -> None:
    client = api_as(admin)
    log(3)
    client.get("/api/v1/policy-decisions/")  # warm the process's policy snapshot
    with CaptureQueriesContext(connection) as few:
        client.get("/api/v1/policy-decisions/", {"page_size": 2})
    log(40)
    with CaptureQueriesContext(connection) as many:
        first = client.get("/api/v1/policy-decisions/", {"page_size": 20}).json()
    assert len(few) == len(many)
    assert len(first["results"]) == 20
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 20
    assert not {row["id"] for row in first["results"]} & {row["id"] for row in second["results"]}
    assert "input" not in first["results"][0]


def test_it_shows_the_stored_input_on_the_detail_and_changes_nothing(admin: User) -> None:
    row = log(1)[0]
    client = api_as(admin)
    detail = client.get(f"/api/v1/policy-decisions/{row.pk}/").json()
    assert detail["input"] == {"secretless": True, "user": {"username": "alice"}}
    assert detail["messages"] == [{"policy": "p", "mode": "enforce", "message": "No."}]
    assert client.delete(f"/api/v1/policy-decisions/{row.pk}/").status_code == 405
