"""Saving a pipeline with a kayentaCanary stage: every wrong field is named by its JSON path."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from applications.models import Application
from clouds.models import Account, AccountGrant
from policies.actions import save_policy
from policies.library import install_missing
from policies.models import Policy
from spinweb.models import AuditSource
from tests.conftest import api_as, message_for
from tests.pipelines.conftest import stage

URL = "/api/v1/pipelines/"
ANALYSIS: dict[str, Any] = {
    "canaryConfigId": "web-latency",
    "scopes": [
        {"scopeName": "default", "controlScope": "shop-web-baseline-v000", "experimentScope": "shop-web-canary-v000"}
    ],
    "lifetimeDuration": "PT1H",
    "canaryAnalysisIntervalMins": 15,
    "scoreThresholds": {"marginal": 50, "pass": 75},
}
DEPLOYMENTS: dict[str, Any] = {
    "baseline": {"account": "local", "cluster": "shop-web", "region": "local"},
    "serverGroupPairs": [
        {
            "control": {"account": "local", "stack": "web", "freeFormDetails": "baseline", "region": "local"},
            "experiment": {
                "account": "local",
                "stack": "web",
                "freeFormDetails": "canary",
                "region": "local",
                "artifact": {"name": "sample", "version": "v2"},
            },
        }
    ],
    "trafficPercent": 10,
    "delayBeforeCleanup": "PT0S",
}


def canary(analysis: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    return stage("1", "kayentaCanary", "Canary", canaryConfig=analysis or copy.deepcopy(ANALYSIS), **fields)


def changed(**changes: Any) -> dict[str, Any]:
    """The analysis block with ``changes``; a change to None removes the key."""
    block = {**copy.deepcopy(ANALYSIS), **changes}
    return {key: value for key, value in block.items() if value is not None}


def deployments(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(DEPLOYMENTS), **changes}


def save(user: User, *items: dict[str, Any]) -> Any:
    document = {"application": "shop", "name": "release", "stages": list(items)}
    return api_as(user).post(URL, document, format="json")


VALID = [
    canary(),
    canary(changed(scopes=None, lifetimeDuration="PT0.5M", canaryAnalysisIntervalMins="0.1"), deployments=DEPLOYMENTS),
    canary(changed(scopes=[{"scopeName": "default"}]), deployments=DEPLOYMENTS),
    canary(changed(lifetimeDuration="${parameters.lifetime}", canaryConfigId="${parameters.config}")),
    # Orca also takes the fields at the stage's top level.
    stage("1", "kayentaCanary", "Canary", **ANALYSIS),
]


@pytest.mark.parametrize("item", VALID)
def test_it_saves_well_formed_canary_stages(developer: User, shop: Application, item: dict[str, Any]) -> None:
    response = save(developer, item)

    assert response.status_code == 201, response.content


PAIR = "stages[0].deployments.serverGroupPairs"
INVALID = [
    (canary(changed(canaryConfigId=None)), "stages[0].canaryConfig.canaryConfigId", "canaryConfigId is required"),
    (canary(changed(lifetimeDuration="1 hour")), "stages[0].canaryConfig.lifetimeDuration", "ISO-8601"),
    (canary(changed(lifetimeDuration="PT0S")), "stages[0].canaryConfig.lifetimeDuration", "greater than zero"),
    (canary(changed(lookbackMins=-1)), "stages[0].canaryConfig.lookbackMins", "0 or more"),
    (canary(changed(beginCanaryAnalysisAfterMins="soon")), "stages[0].canaryConfig.beginCanaryAnalysisAfterMins", ""),
    (canary(changed(canaryAnalysisIntervalMins=90)), "stages[0].canaryConfig.canaryAnalysisIntervalMins", "longer"),
    (canary(changed(canaryAnalysisIntervalMins=0)), "stages[0].canaryConfig.canaryAnalysisIntervalMins", "than 0"),
    (
        canary(changed(scoreThresholds={"marginal": 80, "pass": 75})),
        "stages[0].canaryConfig.scoreThresholds.marginal",
        "not be above",
    ),
    (canary(changed(scoreThresholds={"pass": 120})), "stages[0].canaryConfig.scoreThresholds.pass", "0 to 100"),
    (canary(changed(scopes=[])), "stages[0].canaryConfig.scopes", "non-empty list"),
    (
        canary(changed(scopes=[{"scopeName": "default", "controlScope": "shop-web-v001"}])),
        "stages[0].canaryConfig.scopes[0].experimentScope",
        "or give deployments",
    ),
    (
        canary(changed(scopes=[{"scopeName": "default", "controlScope": "a", "experimentScope": "b", "step": 0}])),
        "stages[0].canaryConfig.scopes[0].step",
        "at least 1",
    ),
    (canary(deployments=deployments(baseline={"account": "local"})), "stages[0].deployments.baseline.cluster", ""),
    (canary(deployments=deployments(serverGroupPairs=[])), PAIR, "exactly one"),
    (
        canary(deployments=deployments(serverGroupPairs=[{"control": {"account": "local"}}])),
        f"{PAIR}[0].experiment",
        "cluster entry",
    ),
    (
        canary(deployments=deployments(serverGroupPairs=[{"control": {}, "experiment": {"account": "local"}}])),
        f"{PAIR}[0].experiment.artifact",
        "the version the canary runs",
    ),
    (canary(deployments=deployments(trafficPercent=50)), "stages[0].deployments.trafficPercent", "below 50"),
    (canary(deployments=deployments(delayBeforeCleanup="5m")), "stages[0].deployments.delayBeforeCleanup", "PT5M"),
]


@pytest.mark.parametrize(
    ("item", "path", "fragment"), INVALID, ids=[f"{i}-{path}" for i, (_, path, _) in enumerate(INVALID)]
)
def test_it_names_the_field_at_fault(
    developer: User, shop: Application, item: dict[str, Any], path: str, fragment: str
) -> None:
    response = save(developer, item)

    assert response.status_code == 400, response.content
    assert fragment in message_for(response.json(), path)


def test_it_names_top_level_fields_where_they_were_written(developer: User, shop: Application) -> None:
    item = stage("1", "kayentaCanary", "Canary", **{**ANALYSIS, "lifetimeDuration": "forever"})

    response = save(developer, item)

    assert response.status_code == 400
    assert "ISO-8601" in message_for(response.json(), "stages[0].lifetimeDuration")


def test_it_satisfies_the_starter_policy_that_wants_a_canary_before_prod(
    admin: User, developer: User, shop: Application, groups: dict[str, Group]
) -> None:
    Policy.objects.all().delete()
    install_missing()
    prod = Account.objects.create(name="prod-east", provider="local", regions=["local"], environment="prod")
    AccountGrant.objects.create(account=prod, group=groups["shop-devs"], level="WRITE")
    policy = Policy.objects.get(starter="prod-canary-required")
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
    cluster = {"account": "prod-east", "stack": "web", "region": "local", "artifact": {"name": "shop", "version": "2"}}
    ship = stage("2", "deploy", "Ship", ("1",), clusters=[cluster])

    refused = save(developer, stage("1", "wait", "Soak", waitTime=1), ship)
    saved = save(developer, canary(), ship)

    assert refused.status_code == 400
    assert "add a kayentaCanary stage before it" in str(refused.json())
    assert saved.status_code == 201, saved.content
