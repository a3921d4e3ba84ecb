"""One-off server group operations over REST: each starts an orchestration of one cluster stage.

``POST /api/v1/server-groups/{id}/resize|enable|disable|rollback|destroy/`` answers 202 with the
execution; the orchestration carries the stage JSON a pipeline would, is audited, and is refused
(404/403, nothing created) without EXECUTE on the application and WRITE on the account.
"""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command

from clouds.models import AccountGrant, Cluster, ServerGroup
from pipelines.models import Execution
from spinweb.models import AuditEvent
from tests.conftest import api_as, browser_as, fields_of, message_for


@pytest.fixture(autouse=True)
def _engine_in_process(settings: Any) -> None:
    settings.SPINWEB_ENGINE_DISPATCH = "none"


@pytest.fixture
def current(shop_cluster: Cluster, groups: dict[str, Group]) -> ServerGroup:
    """shop-web-v003 (enabled), with shop-web-v002 created before it; shop-devs may deploy to local."""
    AccountGrant.objects.create(account=shop_cluster.account, group=groups["shop-devs"], level="WRITE")
    group = ServerGroup.objects.get(cluster=shop_cluster, name="shop-web-v003")
    older = ServerGroup.objects.create(
        cluster=shop_cluster, name="shop-web-v002", sequence=2, region="local", artifact="shop:1.4.1"
    )
    ServerGroup.objects.filter(pk=older.pk).update(created_at=group.created_at - timedelta(hours=1))
    return group


def url(group: ServerGroup, operation: str) -> str:
    return f"/api/v1/server-groups/{group.pk}/{operation}/"


def target(group: ServerGroup) -> dict[str, Any]:
    return {
        "refId": "1",
        "requisiteStageRefIds": [],
        "cloudProvider": "local",
        "credentials": "local",
        "regions": ["local"],
        "cluster": "shop-web",
    }


def only_execution() -> Execution:
    execution = Execution.objects.select_related("application").get()
    return execution


def test_it_starts_a_resize_as_an_orchestration(developer: User, current: ServerGroup) -> None:
    capacity = {"min": 1, "max": 3, "desired": 2}

    response = api_as(developer).post(url(current, "resize"), {"capacity": capacity}, format="json")

    assert response.status_code == 202, response.content
    execution = only_execution()
    assert response.json()["execution"] == str(execution.pk)
    assert response.json()["url"].endswith(f"/api/v1/executions/{execution.pk}/")
    assert response.json()["page"].endswith(f"/applications/shop/executions/{execution.pk}/")
    stage = {
        **target(current),
        "type": "resizeServerGroup",
        "name": "Resize shop-web-v003",
        "serverGroupName": "shop-web-v003",
        "action": "scale_exact",
        "capacity": capacity,
    }
    assert execution.pipeline is None
    assert execution.application.name == "shop"
    assert execution.name == "Resize shop-web-v003"
    assert execution.config == {
        "name": "Resize shop-web-v003",
        "stages": [stage],
        "limitConcurrent": False,
        "type": "orchestration",
    }
    assert execution.started_by == developer
    assert execution.trigger["user"] == "developer"
    assert [row.config for row in execution.stages.all()] == [stage]


@pytest.mark.parametrize(
    ("operation", "body", "fields"),
    [
        ("enable", {}, {"type": "enableServerGroup", "name": "Enable shop-web-v003"}),
        ("disable", {}, {"type": "disableServerGroup", "name": "Disable shop-web-v003"}),
        ("destroy", {"confirm": "shop-web-v003"}, {"type": "destroyServerGroup", "name": "Destroy shop-web-v003"}),
    ],
)
def test_it_names_the_server_group_in_the_stage(
    developer: User, current: ServerGroup, operation: str, body: dict[str, str], fields: dict[str, str]
) -> None:
    response = api_as(developer).post(url(current, operation), body, format="json")

    assert response.status_code == 202, response.content
    assert only_execution().config["stages"] == [{**target(current), **fields, "serverGroupName": "shop-web-v003"}]


def test_it_rolls_back_to_the_server_group_before(developer: User, current: ServerGroup) -> None:
    response = api_as(developer).post(url(current, "rollback"), format="json")

    assert response.status_code == 202, response.content
    assert only_execution().config["stages"] == [
        {
            **target(current),
            "type": "rollbackServerGroup",
            "name": "Rollback shop-web-v003 to shop-web-v002",
            "rollbackType": "EXPLICIT",
            "rollbackContext": {
                "rollbackServerGroupName": "shop-web-v003",
                "restoreServerGroupName": "shop-web-v002",
            },
        }
    ]


def test_it_refuses_a_rollback_with_nothing_to_go_back_to(developer: User, current: ServerGroup) -> None:
    ServerGroup.objects.filter(name="shop-web-v002").update(destroyed_at=current.created_at)

    response = api_as(developer).post(url(current, "rollback"), format="json")

    assert response.status_code == 409
    assert response.json()["detail"] == "shop-web-v003 has no older server group in local to roll back to."
    assert not Execution.objects.exists()


def test_it_audits_the_operation(developer: User, current: ServerGroup) -> None:
    api_as(developer).post(url(current, "disable"), format="json")

    event = AuditEvent.objects.get(action="run")
    assert (event.actor_name, event.source, event.application) == ("developer", "api", "shop")
    assert event.object_type == "pipelines.execution"
    assert event.object_id == str(only_execution().pk)
    assert event.detail == "Disable shop-web-v003"


@pytest.mark.parametrize("confirm", [None, "", "shop-web-v002", "shop", "yes"])
def test_it_destroys_only_with_the_name_typed(developer: User, current: ServerGroup, confirm: str | None) -> None:
    body = {} if confirm is None else {"confirm": confirm}

    response = api_as(developer).post(url(current, "destroy"), body, format="json")

    assert response.status_code == 400
    assert fields_of(response.json()) == ["confirm"]
    assert "shop-web-v003" in message_for(response.json(), "confirm")
    assert not Execution.objects.exists()


@pytest.mark.parametrize(
    ("capacity", "field"),
    [
        (None, "capacity"),
        ({"min": 1, "max": 3}, "capacity.desired"),
        ({"min": -1, "max": 3, "desired": 2}, "capacity.min"),
        ({"min": 1, "max": "lots", "desired": 2}, "capacity.max"),
        ({"min": 1, "max": 3, "desired": True}, "capacity.desired"),
        ({"min": 3, "max": 1, "desired": 2}, "capacity"),
    ],
)
def test_it_names_the_wrong_capacity_field(
    developer: User, current: ServerGroup, capacity: dict[str, Any] | None, field: str
) -> None:
    response = api_as(developer).post(url(current, "resize"), {"capacity": capacity}, format="json")

    assert response.status_code == 400
    assert fields_of(response.json()) == [field]
    assert not Execution.objects.exists()


def test_it_refuses_operations_on_a_destroyed_server_group(developer: User, current: ServerGroup) -> None:
    ServerGroup.objects.filter(pk=current.pk).update(destroyed_at=current.created_at)

    response = api_as(developer).post(url(current, "disable"), format="json")

    assert response.status_code == 409
    assert "destroyed" in response.json()["detail"]
    assert not Execution.objects.exists()


@pytest.mark.parametrize(("persona", "code"), [("viewer", 403), ("outsider", 404), ("nobody", 404)])
def test_it_refuses_people_who_may_not_run_shop(
    request: pytest.FixtureRequest, current: ServerGroup, persona: str, code: int
) -> None:
    user = request.getfixturevalue(persona)

    for operation, body in [("resize", {"capacity": {"min": 0, "max": 0, "desired": 0}}), ("disable", {})]:
        response = api_as(user).post(url(current, operation), body, format="json")
        assert response.status_code == code, operation
    assert not Execution.objects.exists()
    assert not AuditEvent.objects.filter(action="run").exists()


def test_it_refuses_a_developer_without_write_on_the_account(developer: User, current: ServerGroup) -> None:
    AccountGrant.objects.filter(level="WRITE").delete()

    response = api_as(developer).post(url(current, "disable"), format="json")

    assert response.status_code == 403
    assert response.json()["detail"] == "You need WRITE permission on account local to change its server groups."
    assert not Execution.objects.exists()


def test_it_asks_anonymous_callers_to_log_in(current: ServerGroup) -> None:
    assert api_as(None).post(url(current, "disable"), format="json").status_code == 401
    assert not Execution.objects.exists()


def test_it_lets_an_admin_operate_without_grants(admin: User, current: ServerGroup) -> None:
    response = api_as(admin).post(url(current, "enable"), format="json")

    assert response.status_code == 202
    assert only_execution().started_by == admin


def test_it_shows_the_operation_like_any_run(developer: User, viewer: User, current: ServerGroup) -> None:
    api_as(developer).post(url(current, "disable"), format="json")
    execution = only_execution()

    document = api_as(viewer).get(f"/api/v1/executions/{execution.pk}/").json()
    assert (document["name"], document["pipelineConfigId"]) == ("Disable shop-web-v003", None)
    assert [stage["type"] for stage in document["stages"] if not stage["parentStageId"]] == ["disableServerGroup"]
    listed = api_as(viewer).get("/api/v1/executions/", {"application": "shop"}).json()["results"]
    assert [row["id"] for row in listed] == [str(execution.pk)]
    client = browser_as(viewer)
    page = client.get(f"/applications/shop/executions/{execution.pk}/")
    assert page.status_code == 200
    assert "Disable shop-web-v003" in page.content.decode()
    assert "Disable shop-web-v003" in client.get("/applications/shop/executions/").content.decode()
    output = StringIO()
    call_command("execution", "get", str(execution.pk), stdout=output)
    assert output.getvalue().startswith(f"{execution.pk} Disable shop-web-v003 ")
