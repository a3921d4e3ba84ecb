"""Helpers for the kayentaCanary stage tests: a canary config on the built-in metrics, the stage's JSON.

The engine runs in the test's process (``finish`` from the cluster-stage helpers); the server groups
are real processes of a temporary local cloud. Durations are tiny (fractions of a minute, 1 s steps).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from pytest_django.fixtures import Settings

from applications.models import Application
from canary import actions
from canary.models import CanaryConfig
from tests.pipelines.conftest import stage


def metric(name: str, metric_name: str, group: str, **canary: Any) -> dict[str, Any]:
    settings = {"direction": "increase", "nanStrategy": "remove", **canary}
    return {
        "name": name,
        "groups": [group],
        "scopeName": "default",
        "query": {"type": "builtin", "metricName": metric_name},
        "analysisConfigurations": {"canary": settings},
    }


CONFIG: dict[str, Any] = {
    "name": "web-health",
    "applications": ["shop"],
    "judge": {"name": "NetflixACAJudge-v1.0", "judgeConfigurations": {}},
    "metrics": [
        metric(
            "latency",
            "latency_mean",
            "latency",
            effectSize={"measure": "meanRatio", "allowedIncrease": 3.0, "criticalIncrease": 10.0},
        ),
        metric("errors", "error_rate", "errors"),
    ],
    "classifier": {"groupWeights": {"latency": 70, "errors": 30}},
}


@pytest.fixture
def canary_config(shop: Application, developer: User, settings: Settings) -> CanaryConfig:
    """``web-health`` of shop: mean latency (70) and error rate (30) from the built-in metrics."""
    settings.SPINWEB_CANARY_METRICS_DELAY_SECONDS = 1
    return actions.save_config(developer, CONFIG, source="api")


def analysis(**fields: Any) -> dict[str, Any]:
    """The ``canaryConfig`` block: two intervals of 6 s, 1 s steps."""
    return {
        "canaryConfigId": "web-health",
        "lifetimeDuration": "PT12S",
        "canaryAnalysisIntervalMins": 0.1,
        "scopes": [{"scopeName": "default", "step": 1}],
        "scoreThresholds": {"marginal": 50, "pass": 75},
        **fields,
    }


def deployments(version: str = "v1", **experiment: Any) -> dict[str, Any]:
    """Baseline from production's shop-web; the canary runs sample ``version`` with ``experiment`` fields."""
    return {
        "baseline": {"account": "local", "cluster": "shop-web", "region": "local"},
        "serverGroupPairs": [
            {
                "control": {"account": "local", "stack": "web", "freeFormDetails": "baseline", "region": "local"},
                "experiment": {
                    "account": "local",
                    "stack": "web",
                    "freeFormDetails": "canary",
                    "region": "local",
                    "artifact": {"name": "sample", "version": version},
                    **experiment,
                },
            }
        ],
        "trafficPercent": 10,
    }


def canary_stage(ref: str = "1", block: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    return stage(ref, "kayentaCanary", "Canary", canaryConfig=block or analysis(), **fields)
