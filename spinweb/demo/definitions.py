"""What the demo is made of: names, the artifact, the pipelines as Spinnaker pipeline JSON, the canary config.

Each pipeline deploys the artifact ``hello`` (Spinweb's sample app) to cluster ``hello-web``
behind load balancer ``hello-web``, with a different strategy. Parameters: ``version`` (v1, v2:
good; v3: a bad release that answers a fifth of its requests with errors, slowly) and
``instances`` (how many processes the new server group runs).

The ``Canary`` pipeline first runs a canary analysis: a baseline (production's version) and a
canary (the chosen version) of one instance each take about a tenth of the traffic each, and the
canary config ``hello-canary`` compares their error rate and latency from the load balancer's
built-in metrics. Only if the canary passes does the Blue/Green deploy follow. The analysis is
short (seconds, not the hour a real canary takes) so the demo stays quick.
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
CANARY: Final = "Canary"
CANARY_STAGE: Final = "Canary"
CANARY_CONFIG: Final = "hello-canary"
BASELINE_DETAIL: Final = "baseline"
CANARY_DETAIL: Final = "canary"
BASELINE_CLUSTER: Final = f"{CLUSTER}-{BASELINE_DETAIL}"
CANARY_CLUSTER: Final = f"{CLUSTER}-{CANARY_DETAIL}"
CANARY_LIFETIME_SECONDS: Final = 30
CANARY_LIFETIME: Final = f"PT{CANARY_LIFETIME_SECONDS}S"
CANARY_INTERVAL_MINUTES: Final = 0.25
CANARY_WARMUP_MINUTES: Final = 0.05
CANARY_TRAFFIC_PERCENT: Final = 10
CANARY_THRESHOLDS: Final = {"marginal": 50, "pass": 75}

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


def _environment() -> dict[str, str]:
    """The sample app's knobs: zero for a good version, the bad release's errors and latency for v3."""
    return {
        "SAMPLE_ERROR_RATE": f"${{{_BAD} ? '{BAD_ERROR_RATE}' : '0'}}",
        "SAMPLE_LATENCY_MS": f"${{{_BAD} ? '{BAD_LATENCY_MS}' : '0'}}",
    }


def _cluster(strategy: str, **fields: Any) -> dict[str, Any]:
    return {
        "account": ACCOUNT,
        "application": APPLICATION,
        "stack": STACK,
        "freeFormDetails": "",
        "region": REGION,
        "artifact": {"name": ARTIFACT_NAME, "version": "${parameters['version']}"},
        "capacity": {"min": _INSTANCES, "max": _INSTANCES, "desired": _INSTANCES},
        "environment": _environment(),
        "loadBalancers": [LOAD_BALANCER],
        "healthCheckPath": "/health",
        "targetHealthyDeployPercentage": 100,
        "strategy": strategy,
        **fields,
    }


def _deploy_stage(ref: str, cluster: dict[str, Any], *, after: list[str] | None = None) -> dict[str, Any]:
    stage = {"refId": ref, "requisiteStageRefIds": after or [], "type": "deploy", "name": "Deploy"}
    return {**stage, "clusters": [cluster]}


def _pipeline(name: str, description: str, stages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "application": APPLICATION,
        "name": name,
        "description": description,
        "limitConcurrent": True,
        "keepWaitingPipelines": False,
        "parameterConfig": _parameters(),
        "stages": stages,
        "triggers": [],
    }


def _canary_entry(detail: str, environment: dict[str, str], **fields: Any) -> dict[str, Any]:
    """A baseline or canary cluster entry: one instance of ``hello-web-<detail>`` behind hello-web."""
    return {
        "account": ACCOUNT,
        "stack": STACK,
        "freeFormDetails": detail,
        "region": REGION,
        "capacity": {"min": 1, "max": 1, "desired": 1},
        "loadBalancers": [LOAD_BALANCER],
        "environment": environment,
        "healthCheckPath": "/health",
        **fields,
    }


def _canary_stage() -> dict[str, Any]:
    """Baseline (production's version) against canary (the chosen one), on the built-in metrics, briefly."""
    good = {"SAMPLE_ERROR_RATE": "0", "SAMPLE_LATENCY_MS": "0"}
    artifact = {"name": ARTIFACT_NAME, "version": "${parameters['version']}"}
    return {
        "refId": "1",
        "requisiteStageRefIds": [],
        "type": "kayentaCanary",
        "name": CANARY_STAGE,
        "analysisType": "realTime",
        "canaryConfig": {
            "canaryConfigId": CANARY_CONFIG,
            # Built-in metrics come per second from the load balancer: a step of 1 s gives the judge
            # a point a second instead of one a minute.
            "scopes": [{"scopeName": "default", "step": 1}],
            "lifetimeDuration": CANARY_LIFETIME,
            "beginCanaryAnalysisAfterMins": CANARY_WARMUP_MINUTES,
            "canaryAnalysisIntervalMins": CANARY_INTERVAL_MINUTES,
            "lookbackMins": 0,
            "baselineAnalysisOffsetInMins": 0,
            "scoreThresholds": dict(CANARY_THRESHOLDS),
        },
        "deployments": {
            "baseline": {"account": ACCOUNT, "cluster": CLUSTER, "region": REGION},
            "serverGroupPairs": [
                {
                    "control": _canary_entry(BASELINE_DETAIL, good),
                    "experiment": _canary_entry(CANARY_DETAIL, _environment(), artifact=artifact),
                }
            ],
            "trafficPercent": CANARY_TRAFFIC_PERCENT,
            "delayBeforeCleanup": "PT0S",
        },
    }


def _blue_green_cluster() -> dict[str, Any]:
    return _cluster("redblack", maxRemainingAsgs=2, rollback={"onFailure": True}, scaleDown=False)


def pipeline_documents() -> list[dict[str, Any]]:
    """The demo's pipelines, as one would POST them to the API."""
    return [
        _pipeline(
            BLUE_GREEN,
            "Deploys the chosen version as a new server group beside the current one. Once all its "
            "instances are healthy it takes all the traffic at once and the old group is disabled "
            "(kept, so rolling back is instant); the two newest groups are kept. If the deploy "
            "fails, the old group keeps serving.",
            [_deploy_stage("1", _blue_green_cluster())],
        ),
        _pipeline(
            ROLLING,
            "Moves traffic to the chosen version in steps: the new server group grows to a third of "
            "the capacity and takes a third of the traffic, then two thirds, then all of it, while "
            "the old group shrinks by as much. On failure the old group takes all traffic again.",
            [_deploy_stage("1", _cluster("rollingredblack", targetPercentages=[33, 66, 100], maxRemainingAsgs=2))],
        ),
        _pipeline(
            HIGHLANDER,
            "There can be only one: deploys the chosen version, moves all traffic to it once it is "
            "healthy, then destroys every older server group of the cluster.",
            [_deploy_stage("1", _cluster("highlander"))],
        ),
        _pipeline(
            CANARY,
            f"Tries the chosen version on a canary first: a baseline running production's version and "
            f"a canary running the chosen one (one instance each) take about {CANARY_TRAFFIC_PERCENT} % of "
            f"the traffic each while the canary config {CANARY_CONFIG} compares their errors and latency "
            f"for {CANARY_LIFETIME_SECONDS} s, judged every {CANARY_INTERVAL_MINUTES * 60:g} s. Both are "
            f"removed afterwards. Only if the canary passes is the version deployed with Blue/Green; a "
            f"bad version ({BAD_VERSION}) fails the canary and never reaches production.",
            [_canary_stage(), _deploy_stage("2", _blue_green_cluster(), after=["1"])],
        ),
    ]


def _builtin_metric(name: str, group: str, effect: dict[str, Any], *, critical: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "groups": [group],
        "scopeName": "default",
        "query": {"type": "builtin", "metricName": name},
        "analysisConfigurations": {
            "canary": {
                "direction": "increase",
                "nanStrategy": "remove",
                "critical": critical,
                "effectSize": {"measure": "meanRatio", **effect},
            }
        },
    }


def canary_config_document() -> dict[str, Any]:
    """The canary config ``hello-canary``, Kayenta's JSON, on the local load balancer's built-in metrics.

    Only increases matter. More errors is critical: it fails the canary whatever the rest says.
    Latency may triple (mean and p90) before it counts: two identical processes on a busy two-CPU
    machine can differ by half or more for a whole interval, and a good release must not fail for
    that, while the bad release's 150 ms on top of a few milliseconds (about 100 times) still does.
    Each group weighs half: a canary that is only slower scores 50, at the marginal threshold, and
    fails too.
    """
    return {
        "name": CANARY_CONFIG,
        "description": (
            "The demo's canary: errors and latency of the canary against the baseline, from the "
            "hello-web load balancer's per-second figures."
        ),
        "configVersion": "1.0",
        "applications": [APPLICATION],
        "judge": {"name": "NetflixACAJudge-v1.0", "judgeConfigurations": {}},
        "metrics": [
            _builtin_metric("error_rate", "errors", {"allowedIncrease": 1.1, "criticalIncrease": 1.5}, critical=True),
            _builtin_metric("latency_mean", "latency", {"allowedIncrease": 3.0}),
            _builtin_metric("latency_p90", "latency", {"allowedIncrease": 3.0}),
        ],
        "classifier": {"groupWeights": {"errors": 50, "latency": 50}},
        "templates": {},
    }
