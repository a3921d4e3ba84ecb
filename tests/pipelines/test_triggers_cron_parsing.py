"""Cron expressions: 5-field cron and Quartz's 6/7 fields, translated for croniter or refused
with a sentence; the save refuses them at ``triggers[i].cronExpression`` / ``.timeZone``."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from applications.models import Application
from pipelines.models import Pipeline, PipelineTrigger
from pipelines.triggers.cron import CronError, parse
from tests.conftest import api_as, message_for

TRANSLATIONS = [
    # 5-field cron: seconds become 0; weekdays stay 0=SUN.
    ("30 2 * * 1-5", "0 30 2 * * 1-5"),
    ("*/15 * * * *", "0 */15 * * * *"),
    ("5 4 * * sun", "0 5 4 * * 0"),
    ("0 0 1,15 * *", "0 0 0 1,15 * *"),
    # Quartz: seconds first, ? for "no value", weekdays 1=SUN..7=SAT shifted down by one.
    ("0 0 10 ? * MON-FRI", "0 0 10 * * 1-5"),
    ("0 0 12 ? * 2-6", "0 0 12 * * 1-5"),
    ("0 0 12 ? * 1", "0 0 12 * * 0"),
    ("0 0 12 ? * 7", "0 0 12 * * 6"),
    ("0 0 12 ? * 1,7", "0 0 12 * * 0,6"),
    ("0 0 12 ? * 2/2", "0 0 12 * * 1-6/2"),
    ("0 0/30 8-18 ? * MON-FRI", "0 0-59/30 8-18 * * 1-5"),
    ("0 0/30 * 1/1 * ? *", "0 0-59/30 * 1-31/1 * * *"),
    ("0 15 10 ? JAN,MAR * 2030", "0 15 10 * 1,3 * 2030"),
    ("0 0 12 ? * 6#3", "0 0 12 * * 5#3"),
    ("0 0 12 ? * FRI#3", "0 0 12 * * 5#3"),
    ("0 0 12 ? * 6L", "0 0 12 * * L5"),
    ("0 0 12 L * ?", "0 0 12 L * *"),
    ("0 0 12 15W * ?", "0 0 12 15W * *"),
]


@pytest.mark.parametrize(("expression", "translated"), TRANSLATIONS)
def test_it_translates_cron_and_quartz_for_croniter(expression: str, translated: str) -> None:
    assert parse(expression).croniter_expression == translated


REFUSALS = [
    ("* * * *", "cronExpression has 4 fields; use 5 (min hour day month weekday) or Quartz's 6 or 7"),
    ("0 0 0 0 * * * *", "cronExpression has 8 fields"),
    ("0 61 * * * ?", "In the minute field, 61 is out of range (0 to 59)."),
    ("0 0 25 * * ?", "In the hour field, 25 is out of range (0 to 23)."),
    ("0 0 12 ? * 0", "In the day of week field, 0 is out of range (1 to 7)."),
    ("0 0 12 ? * FUN", "The day of week field has 'FUN', which is not a number or a known name."),
    ("0 0 12 1 * MON", "restricts both the day of month and the day of week; Quartz needs ? in one of them"),
    ("0 0 12 LW * ?", "uses a Quartz feature Spinweb cannot schedule"),
    ("0 0 12 L-3 * ?", "uses a Quartz feature Spinweb cannot schedule"),
    ("0 0 12 ? * 6#6", "the week after # must be from 1 to 5"),
    ("0 0 12 ? * FRI-MON", "runs backwards; write it as a list"),
    ("0 0/0 * * * ?", "a step is a whole number from 1"),
    ("? * * * *", "The minute field cannot be ?; ? belongs in the day of month or the day of week."),
    ("0 0 30 2 ?", "never fires"),
    ("0 0 * * * ? 2020", "never fires"),
]


@pytest.mark.parametrize(("expression", "fragment"), REFUSALS)
def test_it_refuses_what_it_cannot_schedule_with_a_sentence(expression: str, fragment: str) -> None:
    with pytest.raises(CronError) as caught:
        parse(expression)
    assert caught.value.field == "cronExpression"
    assert fragment in caught.value.message
    # Messages may open with the field's name (cronExpression …), as validation's do.
    assert caught.value.message.endswith("."), caught.value.message


def save(user: User, *triggers: dict[str, Any]) -> Any:
    document = {"application": "shop", "name": "nightly", "stages": [], "triggers": list(triggers)}
    return api_as(user).post("/api/v1/pipelines/", document, format="json")


def test_it_refuses_to_save_a_bad_expression_or_zone_at_their_paths(developer: User, shop: Application) -> None:
    response = save(
        developer,
        {"type": "cron", "cronExpression": "0 0 10 ? * MON-FRI"},
        {"type": "cron", "cronExpression": "* * * *"},
        {"type": "cron", "cronExpression": "0 0 10 ? * MON-FRI", "timeZone": "Mars/Olympus"},
        {"type": "cron"},
    )
    assert response.status_code == 400
    body = response.json()
    assert "has 4 fields" in message_for(body, "triggers[1].cronExpression")
    assert "'Mars/Olympus' is not an IANA time zone" in message_for(body, "triggers[2].timeZone")
    assert "cronExpression is required" in message_for(body, "triggers[3].cronExpression")
    assert not Pipeline.objects.exists()


def test_it_saves_a_good_expression_and_schedules_it(developer: User, shop: Application) -> None:
    response = save(developer, {"type": "cron", "cronExpression": "0 0 10 ? * MON-FRI", "timeZone": "Europe/Paris"})
    assert response.status_code == 201, response.content
    row = PipelineTrigger.objects.get(pipeline_id=response.json()["id"])
    assert (row.cron_expression, row.time_zone) == ("0 0 10 ? * MON-FRI", "Europe/Paris")
    assert row.next_fire_at is not None
