"""Dry run of a deploy with a strategy: its steps are planned from what the deploy would create
(the cluster's next server group) and the group it would replace (the newest enabled one)."""

from __future__ import annotations

from django.contrib.auth.models import User

from clouds.models import Cluster
from pipelines import actions
from policies.dryrun import dry_run
from tests.pipelines.conftest import stage
from tests.policies.conftest import MakePolicy

MOVES = """
package spinnaker.execution.stages.before.moveTraffic
import rego.v1

deny contains msg if {
    msg := concat("", [input.stage.name, ": ", input.stage.context.targets["local"]])
}
"""

SOURCE = """
package spinnaker.execution.stages.before.scaleDownSource
import rego.v1

deny contains msg if {
    context := input.stage.context
    msg := sprintf("%s keeps %d", [context.sourceTargets["local"], context.capacity["local"].desired])
}
"""


def test_it_plans_a_rolling_deploy_from_the_cluster_it_would_replace(
    shop_cluster: Cluster, developer: User, make_policy: MakePolicy
) -> None:
    group = shop_cluster.server_groups.get()
    group.capacity_min, group.capacity_max, group.capacity_desired = 4, 4, 4
    group.save()
    cluster = {
        "account": "local",
        "stack": "web",
        "region": "local",
        "strategy": "rollingredblack",
        "targetPercentages": [50, 100],
        "capacity": {"min": 4, "max": 4, "desired": 4},
        "artifact": {"name": "shop", "version": "1.5.0"},
    }
    document = {"application": "shop", "name": "roll", "stages": [stage("1", "deploy", "Roll out", clusters=[cluster])]}
    pipeline = actions.save_pipeline(None, document, source="api")
    make_policy(MOVES, name="moves", mode="warn")
    make_policy(SOURCE, name="source")
    report = dry_run(pipeline, parameters={}, user=developer, acting=developer)
    steps = [(row.ref_id, row.name, row.outcome, row.messages) for row in report.rows if row.kind == "stage"]
    assert steps == [
        ("1", "Roll out", "not covered", []),
        ("1<1", "Deploy in local", "not covered", []),
        ("1<1>1", "Grow to 50%", "warned", ["Policy moves (warn only): Grow to 50%: shop-web-v004"]),
        ("1<1>2", "Scale down shop-web-v003 to 50%", "denied", ["Denied by policy source: shop-web-v003 keeps 2"]),
        ("1<1>3", "Grow to 100%", "warned", ["Policy moves (warn only): Grow to 100%: shop-web-v004"]),
        ("1<1>4", "Disable and scale down shop-web-v003", "denied", ["Denied by policy source: shop-web-v003 keeps 0"]),
        ("1<1>5", "Keep the 2 newest server groups", "not covered", []),
    ]


def test_it_says_what_it_could_not_plan(shop_cluster: Cluster, developer: User) -> None:
    cluster = {
        "account": "local",
        "stack": "${parameters.stack}",
        "region": "local",
        "strategy": "redblack",
        "artifact": {"name": "shop", "version": "1.5.0"},
    }
    document = {"application": "shop", "name": "odd", "stages": [stage("1", "deploy", "Deploy", clusters=[cluster])]}
    pipeline = actions.save_pipeline(None, document, source="api")
    report = dry_run(pipeline, parameters={}, user=developer, acting=developer)
    assert [row.ref_id for row in report.rows if row.kind == "stage"] == ["1", "1<1"]
    assert len(report.notes) == 1
    assert report.notes[0].startswith("Stage Deploy in local (1<1): what it runs could not be planned before the run:")
