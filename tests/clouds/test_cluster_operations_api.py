"""Any cluster stage as a one-off over REST: ``POST /api/v1/orchestrations/``.

The body names the application and gives one ``stage`` (or a list of ``stages``) as a pipeline
would carry it; the answer is 202 with the orchestration started. It needs EXECUTE on the
application, the stages pass the checks of a pipeline save (account permissions included), only
cluster stage types run this way, and destructive stages need the typed confirmation.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from clouds.models import Account, AccountGrant, Cluster
from pipelines.models import Execution
from spinweb.models import AuditEvent
from tests.conftest import api_as, fields_of, message_for

URL = "/api/v1/orchestrations/"


@pytest.fixture(autouse=True)
def _engine_in_process(settings: Any) -> None:
    settings.SPINWEB_ENGINE_DISPATCH = "none"


@pytest.fixture
def deployable(shop_cluster: Cluster, groups: dict[str, Group]) -> Account:
    """The local account of shop-web, which shop-devs may deploy to."""
    AccountGrant.objects.create(account=shop_cluster.account, group=groups["shop-devs"], level="WRITE")
    return shop_cluster.account


def cluster_stage(kind: str, **fields: Any) -> dict[str, Any]:
    where = {"credentials": "local", "cluster": "shop-web", "regions": ["local"]}
    return {"type": kind, "name": f"{kind} shop-web", **where, **fields}


def post(user: User | None, body: dict[str, Any]) -> Any:
    return api_as(user).post(URL, body, format="json")


def test_it_starts_a_cluster_stage_as_an_orchestration(developer: User, deployable: Account) -> None:
    stage = cluster_stage("disableCluster", remainingEnabledServerGroups=1)

    response = post(developer, {"application": "shop", "stage": stage})

    assert response.status_code == 202, response.content
    execution = Execution.objects.select_related("application").get()
    assert response.json()["execution"] == str(execution.pk)
    assert response.json()["url"].endswith(f"/api/v1/executions/{execution.pk}/")
    assert response.json()["page"].endswith(f"/applications/shop/executions/{execution.pk}/")
    expected = {**stage, "refId": "1", "requisiteStageRefIds": []}
    assert (execution.pipeline, execution.application.name, execution.name) == (None, "shop", "disableCluster shop-web")
    assert execution.config == {
        "name": "disableCluster shop-web",
        "stages": [expected],
        "limitConcurrent": False,
        "type": "orchestration",
    }
    assert [row.config for row in execution.stages.all()] == [expected]
    assert execution.started_by == developer
    event = AuditEvent.objects.get(action="run")
    assert (event.actor_name, event.source, event.object_id) == ("developer", "api", str(execution.pk))


def test_it_runs_a_list_of_stages_one_after_another(developer: User, deployable: Account) -> None:
    deploy = {
        "type": "deploy",
        "name": "Deploy v2",
        "clusters": [
            {"account": "local", "application": "shop", "stack": "web", "region": "local",
             "artifact": {"name": "sample", "version": "v2"}, "strategy": ""}
        ],
    }  # fmt: skip
    stages = [deploy, cluster_stage("disableCluster"), cluster_stage("findImageFromCluster")]

    response = post(developer, {"application": "shop", "stages": stages, "name": "Release v2"})

    assert response.status_code == 202, response.content
    execution = Execution.objects.get()
    assert execution.name == "Release v2"
    rows = execution.config["stages"]
    assert [(row["refId"], row["requisiteStageRefIds"], row["type"]) for row in rows] == [
        ("1", [], "deploy"),
        ("2", ["1"], "disableCluster"),
        ("3", ["2"], "findImageFromCluster"),
    ]
    assert rows[0]["clusters"] == deploy["clusters"]


def test_it_keeps_the_graph_the_caller_gave(developer: User, deployable: Account) -> None:
    stages = [
        {**cluster_stage("disableCluster"), "refId": "a"},
        {**cluster_stage("scaleDownCluster"), "refId": "b", "requisiteStageRefIds": ["a"]},
        {**cluster_stage("findImageFromCluster"), "refId": "c"},
    ]

    assert post(developer, {"application": "shop", "stages": stages}).status_code == 202

    rows = Execution.objects.get().config["stages"]
    assert [(row["refId"], row["requisiteStageRefIds"]) for row in rows] == [("a", []), ("b", ["a"]), ("c", [])]


@pytest.mark.parametrize(
    "kind", ["wait", "webhook", "pipeline", "evaluateVariables", "restrictExecutionDuringTimeWindow"]
)
def test_it_runs_only_cluster_stages(developer: User, deployable: Account, kind: str) -> None:
    response = post(developer, {"application": "shop", "stages": [cluster_stage("disableCluster"), {"type": kind}]})

    assert response.status_code == 400
    assert fields_of(response.json()) == ["stages[1].type"]
    assert "put it in a pipeline" in message_for(response.json(), "stages[1].type")
    assert not Execution.objects.exists()


def test_it_names_the_field_a_pipeline_save_would_refuse(developer: User, deployable: Account) -> None:
    stage = cluster_stage("scaleDownCluster", cluster="shop-web-v003", allowScaleDownActive="yes")

    response = post(developer, {"application": "shop", "stage": stage})

    assert response.status_code == 400
    assert sorted(fields_of(response.json())) == ["stages[0].allowScaleDownActive", "stages[0].cluster"]
    assert not Execution.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"stage": {"type": "disableCluster"}}, "application"),
        ({"application": "shop"}, "stages"),
        ({"application": "shop", "stages": []}, "stages"),
        ({"application": "shop", "stage": "disableCluster"}, "stages"),
        ({"application": "shop", "stage": {}, "stages": [{}]}, "stages"),
        ({"application": "shop", "stage": {"type": "disableCluster"}, "name": ""}, "name"),
    ],
)
def test_it_names_what_is_missing_from_the_request(
    developer: User, deployable: Account, body: dict[str, Any], field: str
) -> None:
    response = post(developer, body)

    assert response.status_code == 400
    assert field in fields_of(response.json())
    assert not Execution.objects.exists()


# Permissions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("persona", "code"), [("viewer", 403), ("outsider", 404), ("nobody", 404)])
def test_it_refuses_people_who_may_not_run_shop(
    request: pytest.FixtureRequest, deployable: Account, persona: str, code: int
) -> None:
    response = post(request.getfixturevalue(persona), {"application": "shop", "stage": cluster_stage("disableCluster")})

    assert response.status_code == code
    assert b"shop-web" not in response.content
    assert not Execution.objects.exists()


def test_it_answers_404_for_an_application_that_does_not_exist(developer: User, deployable: Account) -> None:
    response = post(developer, {"application": "nothing", "stage": cluster_stage("disableCluster")})

    assert response.status_code == 404
    assert not Execution.objects.exists()


def test_it_asks_anonymous_callers_to_log_in(deployable: Account) -> None:
    assert post(None, {"application": "shop", "stage": cluster_stage("disableCluster")}).status_code == 401
    assert not Execution.objects.exists()


def test_it_checks_the_account_as_a_pipeline_save_would(developer: User, shop_cluster: Cluster) -> None:
    response = post(developer, {"application": "shop", "stage": cluster_stage("shrinkCluster"), "confirm": "shop-web"})

    assert response.status_code == 400
    assert message_for(response.json(), "stages[0].credentials") == "There is no account named 'local'."
    assert not Execution.objects.exists()


def test_it_lets_a_reader_of_the_account_find_an_image_but_not_change_it(
    developer: User, shop_cluster: Cluster, groups: dict[str, Group]
) -> None:
    AccountGrant.objects.create(account=shop_cluster.account, group=groups["shop-devs"], level="READ")

    refused = post(developer, {"application": "shop", "stage": cluster_stage("disableCluster")})
    started = post(developer, {"application": "shop", "stage": cluster_stage("findImageFromCluster")})

    assert refused.status_code == 400
    assert message_for(refused.json(), "stages[0].credentials") == (
        "You may not deploy to account local: WRITE on it is needed."
    )
    assert started.status_code == 202
    assert Execution.objects.get().config["stages"][0]["type"] == "findImageFromCluster"


# Typed confirmation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "name"),
    [
        (cluster_stage("destroyServerGroup", serverGroupName="shop-web-v003"), "shop-web-v003"),
        (cluster_stage("destroyServerGroup", target="oldest_asg_dynamic"), "shop-web"),
        (cluster_stage("shrinkCluster", shrinkToSize=1), "shop-web"),
    ],
)
def test_it_destroys_only_with_the_name_typed(
    developer: User, deployable: Account, stage: dict[str, Any], name: str
) -> None:
    for confirm in (None, "", "yes", "shop", "shop-web-v002" if name == "shop-web-v003" else "shop-web-v003"):
        body = {"application": "shop", "stage": stage, **({} if confirm is None else {"confirm": confirm})}
        refused = post(developer, body)
        assert refused.status_code == 400, confirm
        assert fields_of(refused.json()) == ["confirm"]
        assert f"Type the {'server group' if name.endswith('v003') else 'cluster'}'s name, {name}," in message_for(
            refused.json(), "confirm"
        )
    assert not Execution.objects.exists()

    assert post(developer, {"application": "shop", "stage": stage, "confirm": name}).status_code == 202
    assert Execution.objects.get().config["stages"][0]["type"] == stage["type"]


def test_it_needs_every_destructive_stage_confirmed(developer: User, deployable: Account) -> None:
    stages = [
        cluster_stage("destroyServerGroup", serverGroupName="shop-web-v003"),
        cluster_stage("shrinkCluster", shrinkToSize=2),
    ]

    refused = post(developer, {"application": "shop", "stages": stages, "confirm": "shop-web-v003"})
    started = post(developer, {"application": "shop", "stages": stages, "confirm": ["shop-web-v003", "shop-web"]})

    assert refused.status_code == 400
    assert "shop-web, to confirm the shrink" in message_for(refused.json(), "confirm")
    assert started.status_code == 202
    assert [row["type"] for row in Execution.objects.get().config["stages"]] == ["destroyServerGroup", "shrinkCluster"]
