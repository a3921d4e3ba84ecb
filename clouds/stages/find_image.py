"""``findImageFromCluster``: which artifact a cluster runs, for a later deploy to use.

Fields, as Spinnaker's: ``credentials``, ``cluster``, ``regions`` / ``region``,
``selectionStrategy`` (``NEWEST`` (default), ``LARGEST``: most instances, ``OLDEST``, ``FAIL``:
fail unless exactly one group qualifies) and ``onlyEnabled`` (default true). Reading needs READ
on the account, not WRITE.

Outputs (the stage's ``outputs``)::

    artifact           {"name": "sample", "version": "v2"}   # of the first region
    artifacts          {"local": {"name": "sample", "version": "v2"}}
    serverGroupName    "shop-web-v001"                        # of the first region
    deploymentDetails  [{"region", "serverGroup", "artifact": {"name", "version"},
                         "imageName": "sample:v2", "imageId": "sample:v2"}]
    amiDetails         the same list, under Spinnaker's older name

so a deploy cluster entry can say
``"artifact": "${#stage('Find')['outputs']['artifact']}"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from clouds.providers.base import ServerGroupState, provider_for
from clouds.stages import checks
from clouds.stages.common import (
    ProviderTask,
    Refused,
    account_for,
    check_application,
    checked_regions,
    cluster_of,
    flag_field,
    regions_of,
    text_field,
)
from clouds.stages.targets import SELECTION_STRATEGIES, SelectionError, select_image_source
from pipelines.engine.types import StageType, TaskContext, TaskResult, register_stage, register_task
from pipelines.models import StageExecution
from spinweb.permissions import Access


@register_stage
class FindImageFromClusterStage(StageType):
    type = "findImageFromCluster"
    label = "Find image from cluster"

    def check(self, stage: Mapping[str, Any]) -> list[tuple[str, str]]:
        issues = checks.account(stage) + checks.cluster(stage) + checks.regions(stage)
        return (
            issues
            + checks.one_of(stage, "selectionStrategy", SELECTION_STRATEGIES)
            + checks.flags(stage, "onlyEnabled")
        )

    def tasks(self, stage: StageExecution) -> list[str]:
        return ["findImage"]


@register_task
class FindImageTask(ProviderTask):
    name = "findImage"
    timeout = timedelta(minutes=5)

    def execute(self, ctx: TaskContext) -> TaskResult:
        context = ctx.stage.context
        cluster = cluster_of(context)
        check_application(ctx, cluster)
        account = account_for(ctx, text_field(context, "credentials"), Access.READ)
        strategy = str(context.get("selectionStrategy") or "NEWEST")
        only_enabled = flag_field(context, "onlyEnabled", True)
        provider = provider_for(account)
        found = []
        for region in checked_regions(account, regions_of(context)):
            try:
                found.append(
                    select_image_source(provider.server_groups(cluster, region), strategy, only_enabled=only_enabled)
                )
            except SelectionError as exc:
                raise Refused(f"Cluster {cluster} in {region}: {exc}") from None
        return TaskResult.succeeded(**image_outputs(found))


def image_outputs(groups: list[ServerGroupState]) -> dict[str, Any]:
    details = [
        {
            "region": group.region,
            "serverGroup": group.name,
            "artifact": {"name": group.artifact.name, "version": group.artifact.version},
            "imageName": str(group.artifact),
            "imageId": str(group.artifact),
        }
        for group in groups
    ]
    return {
        "artifact": details[0]["artifact"],
        "artifacts": {item["region"]: item["artifact"] for item in details},
        "serverGroupName": groups[0].name,
        "deploymentDetails": details,
        "amiDetails": details,
    }
