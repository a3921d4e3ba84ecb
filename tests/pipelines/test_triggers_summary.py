"""``trigger_summaries``: one line per trigger for the pipelines list and the triggers page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pipelines.models import Pipeline
from pipelines.triggers.summary import TriggerSummary, names_for, trigger_summaries
from tests.pipelines.conftest import stage

MONDAY_EIGHT = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)


def summaries(*triggers: dict[str, Any], **config: Any) -> list[TriggerSummary]:
    return trigger_summaries({"triggers": list(triggers), **config}, MONDAY_EIGHT, pipeline_names={})


def test_it_summarizes_each_kind_of_trigger() -> None:
    texts = [
        s.text
        for s in summaries(
            {"type": "cron", "cronExpression": "0 0 10 ? * MON-FRI", "timeZone": "Europe/Paris"},
            {"type": "webhook", "source": "deploy-hook", "payloadConstraints": {"a": "1", "b": "2"}, "secret": "s"},
            {"type": "webhook", "source": "plain"},
            {"type": "git", "source": "github", "project": "acme", "slug": "shop", "branch": "^main$"},
            {"type": "git", "source": "gitlab", "project": "acme", "slug": "shop"},
            {"type": "jenkins", "master": "ci", "job": "build"},
        )
    ]
    assert texts == [
        "Cron 0 0 10 ? * MON-FRI (Europe/Paris)",
        "Webhook source deploy-hook, 2 constraints, signed",
        "Webhook source plain",
        "Git github acme/shop branch ^main$",
        "Git gitlab acme/shop any branch",
        "jenkins trigger (Spinweb does not fire this type)",
    ]


def test_it_gives_the_next_three_cron_firings_in_the_triggers_zone() -> None:
    [cron] = summaries({"type": "cron", "cronExpression": "0 0 10 ? * MON-FRI", "timeZone": "Europe/Paris"})
    assert [moment.isoformat() for moment in cron.next_firings] == [
        "2030-01-07T10:00:00+01:00",
        "2030-01-08T10:00:00+01:00",
        "2030-01-09T10:00:00+01:00",
    ]


def test_it_gives_no_firings_when_the_trigger_or_the_pipeline_is_disabled() -> None:
    trigger = {"type": "cron", "cronExpression": "0 * * * * ?"}
    [off] = summaries({**trigger, "enabled": False})
    assert (off.enabled, off.next_firings) == (False, [])
    [idle] = summaries(trigger, disabled=True)
    assert (idle.enabled, idle.next_firings) == (True, [])


def test_it_names_the_followed_pipeline(save: Callable[..., Pipeline]) -> None:
    build = save(stage("1", "wait", "Pause", waitTime=1), name="build")
    config = {
        "triggers": [
            {"type": "pipeline", "application": "shop", "pipeline": str(build.pk), "status": ["failed", "successful"]}
        ]
    }
    [looked_up] = trigger_summaries(config, MONDAY_EIGHT)
    assert looked_up.text == "When shop/build ends successful or failed"
    [given] = trigger_summaries(config, MONDAY_EIGHT, pipeline_names=names_for([config]))
    assert given.text == looked_up.text
