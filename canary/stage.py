"""``kayentaCanary``: Kayenta's canary analysis as a pipeline stage (Orca's fields).

Without ``deployments`` the stage judges the scopes it is given. With them it first deploys a
baseline and a canary next to production and always cleans them up afterwards
(``canary.deploy_tasks``). The analysis itself is ``canary.analysis``; the fields are read by
``canary.stage_fields``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from canary import stage_fields
from canary.analysis import fail_open_run
from canary.deploy_tasks import CANARY_STAGE, cleanup_stages
from pipelines.engine.types import StageType, SyntheticStage, register_stage
from pipelines.models import StageExecution

DEPLOY_TASKS = [
    "deployCanaryServerGroups",
    "waitForCanaryServerGroups",
    "enableCanaryTraffic",
    "waitForCanaryTraffic",
]


@register_stage
class KayentaCanaryStage(StageType):
    type = CANARY_STAGE
    label = "Canary Analysis"

    def check(self, stage: Mapping[str, Any]) -> list[tuple[str, str]]:
        return stage_fields.check(stage)

    def tasks(self, stage: StageExecution) -> list[str]:
        deploys = DEPLOY_TASKS if stage_fields.has_deployments(stage.context) else []
        return ["resolveCanaryConfig", *deploys, "runCanaryAnalysis"]

    def after_stages(self, stage: StageExecution) -> list[SyntheticStage]:
        return cleanup_stages(stage, delay=_delay_before_cleanup(stage))

    def on_failure_stages(self, stage: StageExecution) -> list[SyntheticStage]:
        fail_open_run(stage)
        return cleanup_stages(stage, delay=timedelta(0))


def _delay_before_cleanup(stage: StageExecution) -> timedelta:
    try:
        deployments = stage_fields.deployments_of(stage.context)
    except stage_fields.FieldsInvalid:
        return timedelta(0)
    return deployments.delay_before_cleanup if deployments is not None else timedelta(0)
