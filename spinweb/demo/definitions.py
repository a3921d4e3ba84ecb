"""What the demo is made of: names, the artifact, and the pipelines as Spinnaker pipeline JSON.

Each pipeline deploys the artifact ``hello`` (Spinweb's sample app) to cluster ``hello-web``
behind load balancer ``hello-web``, with a different strategy. Parameters: ``version`` (v1, v2:
good; v3: a bad release that answers a fifth of its requests with errors, slowly) and
``instances`` (how many processes the new server group runs).
"""

from __future__ import annotations

from typing import Any, Final

from clouds.providers.local.driver import SAMPLE_ARTIFACT

APPLICATION: Final = "hello"
ACCOUNT: Final = "local"
REGION: Final = "local"
STACK: Final = "web"
CLUSTER: Final = "hello-web"
LOAD_BALANCER: Final = "hello-web"
ARTIFACT_NAME: Final = "hello"
TEAM: Final = "hello-team"
OWNER_EMAIL: Final = "hello-team@example.com"
DEFAULT_INSTANCES: Final = 3
VERSIONS: Final = ("v1", "v2", "v3")
BAD_VERSION: Final = "v3"
BAD_ERROR_RATE: Final = "0.2"
BAD_LATENCY_MS: Final = "150"

ARTIFACT: Final[dict[str, Any]] = {
    **SAMPLE_ARTIFACT,
    "description": (
        "The demo's hello app (Spinweb's sample app): answers its version as JSON. A deploy may set "
        "SAMPLE_LATENCY_MS, SAMPLE_ERROR_RATE and SAMPLE_FAIL_HEALTH to make a bad release."
    ),
}

BLUE_GREEN: Final = "Blue/Green"
ROLLING: Final = "Rolling Blue/Green"
HIGHLANDER: Final = "Highlander"

_BAD = f"parameters['version'] == '{BAD_VERSION}'"
_INSTANCES = "${#toInt(parameters['instances'])}"


def _parameters() -> list[dict[str, Any]]:
    return [
        {
            "name": "version",
            "label": "Version",
            "required": True,
            "default": "v2",
            "hasOptions": True,
            "options": [{"value": version} for version in VERSIONS],
            "description": (
                f"v1 and v2 are good releases. {BAD_VERSION} is a bad one: it answers "
                f"{float(BAD_ERROR_RATE):.0%} of requests with errors and adds {BAD_LATENCY_MS} ms."
            ),
        },
        {
            "name": "instances",
            "label": "Instances",
            "required": True,
            "default": str(DEFAULT_INSTANCES),
            "hasOptions": True,
            "options": [{"value": str(count)} for count in range(1, 6)],
            "description": "How many processes the new server group runs.",
        },
    ]


def _cluster(strategy: str, **fields: Any) -> dict[str, Any]:
    return {
        "account": ACCOUNT,
        "application": APPLICATION,
        "stack": STACK,
        "freeFormDetails": "",
        "region": REGION,
        "artifact": {"name": ARTIFACT_NAME, "version": "${parameters['version']}"},
        "capacity": {"min": _INSTANCES, "max": _INSTANCES, "desired": _INSTANCES},
        "environment": {
            "SAMPLE_ERROR_RATE": f"${{{_BAD} ? '{BAD_ERROR_RATE}' : '0'}}",
            "SAMPLE_LATENCY_MS": f"${{{_BAD} ? '{BAD_LATENCY_MS}' : '0'}}",
        },
        "loadBalancers": [LOAD_BALANCER],
        "healthCheckPath": "/health",
        "targetHealthyDeployPercentage": 100,
        "strategy": strategy,
        **fields,
    }


def _pipeline(name: str, description: str, cluster: dict[str, Any]) -> dict[str, Any]:
    return {
        "application": APPLICATION,
        "name": name,
        "description": description,
        "limitConcurrent": True,
        "keepWaitingPipelines": False,
        "parameterConfig": _parameters(),
        "stages": [
            {
                "refId": "1",
                "requisiteStageRefIds": [],
                "type": "deploy",
                "name": "Deploy",
                "clusters": [cluster],
            }
        ],
        "triggers": [],
    }


def pipeline_documents() -> list[dict[str, Any]]:
    """The demo's pipelines, as one would POST them to the API."""
    return [
        _pipeline(
            BLUE_GREEN,
            "Deploys the chosen version as a new server group beside the current one. Once all its "
            "instances are healthy it takes all the traffic at once and the old group is disabled "
            "(kept, so rolling back is instant); the two newest groups are kept. If the deploy "
            "fails, the old group keeps serving.",
            _cluster("redblack", maxRemainingAsgs=2, rollback={"onFailure": True}, scaleDown=False),
        ),
        _pipeline(
            ROLLING,
            "Moves traffic to the chosen version in steps: the new server group grows to a third of "
            "the capacity and takes a third of the traffic, then two thirds, then all of it, while "
            "the old group shrinks by as much. On failure the old group takes all traffic again.",
            _cluster("rollingredblack", targetPercentages=[33, 66, 100], maxRemainingAsgs=2),
        ),
        _pipeline(
            HIGHLANDER,
            "There can be only one: deploys the chosen version, moves all traffic to it once it is "
            "healthy, then destroys every older server group of the cluster.",
            _cluster("highlander"),
        ),
    ]
