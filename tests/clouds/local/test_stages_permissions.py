"""Who may point cluster stages at an account: checked when a pipeline is saved and again when it runs."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from applications.models import Application
from clouds.models import Account, AccountGrant, ProviderOperation
from pipelines import actions
from pipelines.actions import PipelineInvalid
from pipelines.engine.runner import run_due_tasks
from pipelines.statuses import Status
from tests.pipelines.conftest import _inline_engine, stage  # noqa: F401 (a fixture)


@pytest.fixture
def sandbox(groups: dict[str, Group]) -> Account:
    """A local account shop's developers may see (READ) but not deploy to."""
    account = Account.objects.create(name="sandbox", provider="local", regions=["local"])
    AccountGrant.objects.create(account=account, group=groups["shop-devs"], level="READ")
    return account


@pytest.fixture
def hidden(db: None) -> Account:
    return Account.objects.create(name="hidden", provider="local", regions=["local"])


def deploy(account: str) -> dict[str, Any]:
    cluster = {"account": account, "stack": "web", "region": "local", "artifact": {"name": "sample", "version": "v1"}}
    return stage("1", "deploy", "Deploy", clusters=[cluster])


def issues_for(user: User, *stages: dict[str, Any]) -> dict[str, str]:
    document = {"application": "shop", "name": "release", "stages": list(stages)}
    with pytest.raises(PipelineInvalid) as caught:
        actions.save_pipeline(user, document, source="api")
    return {issue.path: issue.message for issue in caught.value.issues}


def test_it_refuses_to_save_a_deploy_to_an_account_the_user_may_only_read(
    developer: User, shop: Application, sandbox: Account
) -> None:
    issues = issues_for(developer, deploy("sandbox"))
    assert issues == {"stages[0].clusters[0].account": "You may not deploy to account sandbox: WRITE on it is needed."}


def test_it_treats_an_account_the_user_cannot_see_as_missing(
    developer: User, shop: Application, hidden: Account
) -> None:
    destroy = stage("2", "destroyServerGroup", credentials="hidden", cluster="shop-web", regions=["local"])
    destroy["target"] = "oldest_asg_dynamic"
    issues = issues_for(developer, deploy("nowhere"), destroy)
    assert issues == {
        "stages[0].clusters[0].account": "There is no account named 'nowhere'.",
        "stages[1].credentials": "There is no account named 'hidden'.",
    }


def test_it_lets_a_reader_of_an_account_find_images_in_it(developer: User, shop: Application, sandbox: Account) -> None:
    find = stage("1", "findImageFromCluster", "Find", credentials="sandbox", cluster="shop-web", regions=["local"])
    document = {"application": "shop", "name": "release", "stages": [find]}
    assert actions.save_pipeline(developer, document, source="api").pk


def test_it_stops_a_run_whose_starter_may_not_deploy_to_the_account(
    admin: User, developer: User, shop: Application, sandbox: Account
) -> None:
    document = {"application": "shop", "name": "release", "stages": [deploy("sandbox")]}
    pipeline = actions.save_pipeline(admin, document, source="api")
    execution = actions.start_execution(developer, pipeline, source="api")
    run_due_tasks()
    execution.refresh_from_db()
    assert execution.status == Status.TERMINAL
    child = execution.stages.get(type="createServerGroup")
    assert child.failure_message == "The user developer may not deploy to account sandbox: WRITE on it is needed."
    assert not ProviderOperation.objects.filter(account=sandbox).exists()


def test_it_stops_a_run_that_changes_a_cluster_of_another_application(
    admin: User, developer: User, shop: Application, groups: dict[str, Group], sandbox: Account
) -> None:
    AccountGrant.objects.create(account=sandbox, group=groups["shop-devs"], level="WRITE")
    destroy = stage("1", "destroyServerGroup", credentials="sandbox", cluster="blog-web", regions=["local"])
    destroy["target"] = "oldest_asg_dynamic"
    pipeline = actions.save_pipeline(developer, {"application": "shop", "name": "r", "stages": [destroy]}, source="api")
    execution = actions.start_execution(developer, pipeline, source="api")
    run_due_tasks()
    execution.refresh_from_db()
    assert execution.status == Status.TERMINAL
    assert execution.stages.get().failure_message == (
        "Cluster blog-web belongs to application blog; a run of shop may only change shop's."
    )
