"""POST /api/v1/pipelines/<id>/dryrun/: every gate a run would meet, for READ; admins simulate users."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from applications.models import Application
from pipelines.models import Pipeline
from tests.conftest import api_as, message_for
from tests.policies.conftest import MakePolicy
from tests.policies.test_pages_dryrun import add_long_wait_policies, make_release


@pytest.fixture
def release(shop: Application, developer: User) -> Pipeline:
    return make_release(developer)


@pytest.fixture
def long_waits(make_policy: MakePolicy) -> None:
    add_long_wait_policies(make_policy)


def test_it_reports_each_stage_outcome(viewer: User, release: Pipeline, long_waits: None) -> None:
    response = api_as(viewer).post(
        f"/api/v1/pipelines/{release.pk}/dryrun/", {"parameters": {"env": "prod"}}, format="json"
    )
    body = response.json()
    assert response.status_code == 200, body
    assert (body["user"], body["parameters"], body["allowed"]) == ("viewer", {"env": "prod"}, False)
    assert body["execution"]["outcome"] == "not covered"
    outcomes = {(row["ref_id"], row["kind"]): row["outcome"] for row in body["rows"]}
    assert outcomes[("1", "stage")] == "denied"
    assert outcomes[("2", "stage")] == "warned"
    soak = next(row for row in body["rows"] if row["ref_id"] == "1" and row["kind"] == "stage")
    assert any("Waits over an hour are not allowed." in message for message in soak["messages"])


def test_it_refuses_bad_parameters_and_simulation_by_non_admins(
    viewer: User,
    admin: User,
    outsider: User,
    release: Pipeline,
) -> None:
    url = f"/api/v1/pipelines/{release.pk}/dryrun/"
    bad = api_as(viewer).post(url, {"parameters": {"env": "qa"}}, format="json")
    assert bad.status_code == 400
    assert message_for(bad.json(), "parameters.env") == "env must be one of dev, prod, not 'qa'."
    assert api_as(viewer).post(url, {"parameters": {"env": "dev"}, "user": "admin"}, format="json").status_code == 403
    assert api_as(outsider).post(url, {"parameters": {"env": "dev"}}, format="json").status_code == 404
    simulated = api_as(admin).post(url, {"parameters": {"env": "dev"}, "user": "viewer"}, format="json")
    assert simulated.json()["user"] == "viewer"
    ghost = api_as(admin).post(url, {"parameters": {"env": "dev"}, "user": "ghost"}, format="json")
    assert message_for(ghost.json(), "user") == "There is no user named 'ghost'."
