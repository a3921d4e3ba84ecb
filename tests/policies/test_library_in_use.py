"""Starter policies at work once enabled: what a user saving, dry-running or calling the API sees."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from applications.models import Application
from clouds.models import Account
from pipelines import actions
from pipelines.models import Pipeline
from policies.actions import save_policy, save_reference_data
from policies.dryrun import dry_run
from policies.library import install_missing
from policies.models import Policy
from spinweb.models import AuditSource
from tests.conftest import browser_as
from tests.pipelines.conftest import stage

CLUSTER = {
    "account": "prod-east",
    "stack": "web",
    "region": "local",
    "artifact": {"name": "shop", "version": "1.4.2"},
}


@pytest.fixture
def library(admin: User, developer: User, shop: Application) -> None:
    Policy.objects.all().delete()
    install_missing()
    Account.objects.create(name="prod-east", provider="local", regions=["local"], environment="prod")


def turn_on(starter: str) -> None:
    policy = Policy.objects.get(starter=starter)
    save_policy(
        None,
        name=policy.name,
        source=policy.source,
        description=policy.description,
        enabled=True,
        tests=policy.tests,
        policy=policy,
        starter=policy.starter,
        source_label=AuditSource.CLI,
    )


def document(*stages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"application": "shop", "name": "release", "stages": list(stages), **fields}


def test_it_refuses_to_save_a_prod_deploy_without_a_judgment(library: None) -> None:
    turn_on("prod-manual-judgment")
    with pytest.raises(actions.PipelineInvalid) as caught:
        actions.save_pipeline(None, document(stage("1", "deploy", "Ship", clusters=[CLUSTER])), source="api")
    assert [issue.message for issue in caught.value.issues] == [
        "Denied by policy prod-manual-judgment: Stage Ship (refId 1) deploys to the prod account prod-east: "
        "add a manualJudgment stage before it."
    ]
    judged = document(
        stage("1", "manualJudgment", "Approve"),
        stage("2", "deploy", "Ship", requires=("1",), clusters=[CLUSTER]),
    )
    assert actions.save_pipeline(None, judged, source="api").name == "release"


def test_it_closes_the_deploy_window_unless_the_run_overrides_it(library: None) -> None:
    pipeline = actions.save_pipeline(None, document(stage("1", "deploy", "Ship", clusters=[CLUSTER])), source="api")
    save_reference_data(
        None,
        key="deploy_window",
        document={"days": [], "startHour": 9, "endHour": 17, "timeZone": "Europe/Paris"},
        source_label=AuditSource.CLI,
    )
    turn_on("deploy-window")
    closed = dry_run(pipeline, parameters={}, user=None, acting=None)
    ship = next(row for row in closed.rows if row.ref_id == "1")
    assert ship.outcome == "denied"
    assert ship.messages[0].startswith("Denied by policy deploy-window: Deploys run on  from 09:00 to 17:00")
    assert dry_run(pipeline, parameters={"overrideDeployWindow": "true"}, user=None, acting=None).allowed


def test_it_lets_only_the_prod_deployers_start_a_prod_pipeline(library: None) -> None:
    pipeline: Pipeline = actions.save_pipeline(
        None, document(stage("1", "deploy", "Ship", clusters=[CLUSTER])), source="api"
    )
    save_reference_data(None, key="prod_deployers", document=["release-managers"], source_label=AuditSource.CLI)
    turn_on("prod-deployers")
    developer = User.objects.get(username="developer")
    refused = dry_run(pipeline, parameters={}, user=developer, acting=developer)
    assert refused.to_dict()["execution"]["messages"] == [
        "Denied by policy prod-deployers: Only members of release-managers may start a pipeline that deploys "
        "to prod (prod-east) by hand; developer is not one."
    ]
    developer.groups.add(Group.objects.create(name="release-managers"))
    developer = User.objects.get(username="developer")  # roles are read once per user object
    assert dry_run(pipeline, parameters={}, user=developer, acting=developer).allowed


def test_it_keeps_delete_for_administrators(library: None) -> None:
    pipeline = actions.save_pipeline(None, document(stage("1", "wait", "Pause", waitTime=0)), source="api")
    turn_on("admin-only-delete")
    developer = User.objects.get(username="developer")
    # Signed in with a session, as the pages and API share it: the authz hook sees the user.
    assert browser_as(developer).get(f"/api/v1/pipelines/{pipeline.pk}/").status_code == 200
    refused = browser_as(developer).delete(f"/api/v1/pipelines/{pipeline.pk}/")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Denied by policy admin-only-delete: Only administrators may delete."
    assert Pipeline.objects.filter(pk=pipeline.pk).exists()
    assert browser_as(User.objects.get(username="admin")).delete(f"/api/v1/pipelines/{pipeline.pk}/").status_code == 204
