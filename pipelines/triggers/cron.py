"""Cron expressions of cron triggers: parsing, checking and the times they fire. Plain Python.

Spinnaker writes Quartz expressions (``0 0 10 ? * MON-FRI``: seconds first, ``?`` in the day of
month or the day of week, an optional year, weekdays numbered 1=SUN..7=SAT); classic 5-field
cron (``30 2 * * 1-5``, 0=SUN) is accepted too. Both are translated to one croniter expression
with seconds first, numbers only, so croniter never guesses which dialect it reads.

Quartz features croniter computes the same way are kept (``L`` and ``nW`` in the day of month,
``n#k`` and ``nL`` in the day of week); the rest (``LW``, ``L-n``, ``W`` or ``#`` inside lists) is
refused with a sentence instead of being scheduled wrongly.

Daylight saving time: times are computed on the trigger's zone's wall clock. A time that does
not exist (clocks jump forward) fires at the first moment after the gap; a time that happens
twice (clocks fall back) fires once, at its first occurrence, unless the hour field is ``*``,
where every real hour counts (Vixie cron's rule).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

FIELD_COUNT_MESSAGE: Final = (
    "cronExpression has {count} field{s}; use 5 (min hour day month weekday) "
    "or Quartz's 6 or 7 (sec min hour day month weekday [year])."
)
MONTHS: Final = {
    name: number
    for number, name in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1
    )
}
WEEKDAYS: Final = {name: number for number, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
_VALUE_RE: Final = re.compile(r"\d+|[A-Za-z]{3}")
_PART_RE: Final = re.compile(r"(?P<range>\*|[^/*]+)(?:/(?P<step>[^/]*))?")


class CronError(ValueError):
    """An expression or zone that cannot be scheduled; ``field`` is the trigger key at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Field:
    name: str
    low: int
    high: int
    names: Mapping[str, int] | None = None


SECOND = Field("second", 0, 59)
MINUTE = Field("minute", 0, 59)
HOUR = Field("hour", 0, 23)
DAY = Field("day of month", 1, 31)
MONTH = Field("month", 1, 12, MONTHS)
CRON_WEEKDAY = Field("day of week", 0, 7, WEEKDAYS)
QUARTZ_WEEKDAY = Field("day of week", 1, 7, {name: number + 1 for name, number in WEEKDAYS.items()})
YEAR = Field("year", 1970, 2099)


@dataclass(frozen=True)
class CronSpec:
    """A checked expression: as written, and as croniter reads it (seconds first)."""

    expression: str
    croniter_expression: str
    hour_is_wildcard: bool


def parse(expression: str) -> CronSpec:
    """The expression translated for croniter; raises ``CronError`` with a sentence when it cannot be."""
    parts = expression.split()
    if len(parts) not in (5, 6, 7):
        raise CronError(
            "cronExpression", FIELD_COUNT_MESSAGE.format(count=len(parts), s="" if len(parts) == 1 else "s")
        )
    quartz = len(parts) > 5
    if not quartz:
        parts = ["0", *parts]
    weekday = QUARTZ_WEEKDAY if quartz else CRON_WEEKDAY
    fields = [SECOND, MINUTE, HOUR, DAY, MONTH, weekday, YEAR][: len(parts)]
    if quartz and _restricted(parts[3]) and _restricted(parts[5]):
        raise CronError(
            "cronExpression",
            "cronExpression restricts both the day of month and the day of week; Quartz needs ? in one of them.",
        )
    translated = [_translate(text, field, weekday) for field, text in zip(fields, parts, strict=True)]
    spec = CronSpec(expression, " ".join(translated), parts[2] == "*")
    _check_fires(spec)
    return spec


def time_zone(name: Any, default: str = "UTC") -> ZoneInfo:
    """The trigger's zone (an IANA name), or ``default`` when it names none."""
    if name in (None, ""):
        name = default
    if not isinstance(name, str):
        raise CronError("timeZone", "timeZone must be a string such as 'Europe/Paris'.")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CronError("timeZone", f"timeZone {name!r} is not an IANA time zone such as 'Europe/Paris'.") from None


def next_after(spec: CronSpec, moment: datetime, zone: tzinfo) -> datetime:
    """The first firing strictly after ``moment``, in ``zone`` (see the module's DST rules)."""
    schedule = croniter(spec.croniter_expression, moment.astimezone(zone), second_at_beginning=True)
    candidate = schedule.get_next(datetime)
    # A repeated wall-clock time is one firing, unless the expression runs every hour anyway.
    while not spec.hour_is_wildcard and _second_occurrence(candidate, zone):
        candidate = schedule.get_next(datetime)
    return candidate


def next_firings(
    trigger: Mapping[str, Any], count: int, now: datetime, default_zone: str | None = None
) -> list[datetime]:
    """The next ``count`` times a cron trigger fires after ``now``, in its zone; [] when it cannot."""
    if default_zone is None:
        from django.conf import settings

        default_zone = str(settings.SPINWEB_CRON_TIME_ZONE)
    try:
        spec = parse(str(trigger.get("cronExpression", "")))
        zone = time_zone(trigger.get("timeZone"), default_zone)
    except CronError:
        return []
    times: list[datetime] = []
    moment = now
    for _ in range(count):
        moment = next_after(spec, moment, zone)
        times.append(moment)
    return times


# Fields


def _translate(text: str, field: Field, weekday: Field) -> str:
    if field is DAY:
        return _day_of_month(text)
    if field is weekday:
        return _weekday(text, field)
    return _plain(text, field)


def _restricted(text: str) -> bool:
    return text not in ("*", "?")


def _plain(text: str, field: Field) -> str:
    if text == "?":
        raise CronError(
            "cronExpression", f"The {field.name} field cannot be ?; ? belongs in the day of month or the day of week."
        )
    return ",".join(_part(part, field) for part in _split(text, field))


def _split(text: str, field: Field) -> list[str]:
    parts = text.split(",")
    if any(not part for part in parts):
        raise CronError("cronExpression", f"The {field.name} field {text!r} has an empty item in its list.")
    return parts


def _part(part: str, field: Field, shift: int = 0) -> str:
    """One list item (``*``, ``a``, ``a-b``, each with an optional ``/step``) as numbers."""
    match = _PART_RE.fullmatch(part)
    if match is None:
        raise CronError("cronExpression", f"The {field.name} field has {part!r}, which is not a value, range or step.")
    span, step = match["range"], match["step"]
    text = "*" if span == "*" else _span(span, field, shift)
    if step is None:
        return text
    if not step.isdigit() or int(step) < 1:
        raise CronError(
            "cronExpression", f"The {field.name} field has the step {step!r}; a step is a whole number from 1."
        )
    if span != "*" and "-" not in span:
        # Quartz's "a/n" starts at a; croniter wants the range spelled out.
        text = f"{text}-{6 if field.names is not None and 'SUN' in field.names else field.high}"
    return f"{text}/{int(step)}"


def _span(span: str, field: Field, shift: int) -> str:
    bounds = span.split("-")
    if len(bounds) > 2:
        raise CronError("cronExpression", f"The {field.name} field has {span!r}, which is not a value or a range a-b.")
    numbers = [_value(bound, field) - shift for bound in bounds]
    if len(numbers) == 2 and numbers[0] > numbers[1]:
        raise CronError(
            "cronExpression",
            f"The {field.name} range {span!r} runs backwards; write it as a list such as FRI-SAT,SUN-MON.",
        )
    return "-".join(str(number) for number in numbers)


def _value(text: str, field: Field) -> int:
    if not _VALUE_RE.fullmatch(text):
        raise CronError("cronExpression", f"The {field.name} field has {text!r}, which is not a number or a name.")
    if text.isdigit():
        number = int(text)
        if not field.low <= number <= field.high:
            raise CronError(
                "cronExpression", f"In the {field.name} field, {number} is out of range ({field.low} to {field.high})."
            )
        return number
    if field.names is None or text.upper() not in field.names:
        raise CronError(
            "cronExpression", f"The {field.name} field has {text!r}, which is not a number or a known name."
        )
    return field.names[text.upper()]


def _day_of_month(text: str) -> str:
    if text in ("*", "?"):
        return "*"
    if text == "L" or re.fullmatch(r"\d+W", text):
        if text != "L":
            _value(text[:-1], DAY)
        return text
    if any(mark in text for mark in ("L", "W", "#")):
        raise CronError("cronExpression", _unsupported(text, DAY))
    return _plain(text, DAY)


def _weekday(text: str, field: Field) -> str:
    """Weekdays as cron numbers (0=SUN); Quartz's 1=SUN..7=SAT shift down by one."""
    shift = 1 if field is QUARTZ_WEEKDAY else 0
    if text in ("*", "?"):
        return "*"
    if text == "L" and shift:  # Quartz: L alone is the last day of the week, Saturday
        return "6"
    nth = re.fullmatch(r"(\w+)#(\d+)", text)
    if nth:
        if not 1 <= int(nth[2]) <= 5:
            raise CronError("cronExpression", f"In the day of week {text!r}, the week after # must be from 1 to 5.")
        return f"{_cron_weekday(nth[1], field, shift)}#{nth[2]}"
    last = re.fullmatch(r"(\w+)L", text)
    if last:
        return f"L{_cron_weekday(last[1], field, shift)}"
    if any(mark in text for mark in ("L", "W", "#")):
        raise CronError("cronExpression", _unsupported(text, field))
    return ",".join(_part(part, field, shift) for part in _split(text, field))


def _cron_weekday(text: str, field: Field, shift: int) -> int:
    return (_value(text, field) - shift) % 7


def _unsupported(text: str, field: Field) -> str:
    return (
        f"The {field.name} field {text!r} uses a Quartz feature Spinweb cannot schedule; "
        "use L or nW alone in the day of month, or n#k or nL alone in the day of week."
    )


def _check_fires(spec: CronSpec) -> None:
    try:
        croniter(spec.croniter_expression, datetime.now(UTC), second_at_beginning=True).get_next(datetime)
    except CroniterError:
        raise CronError(
            "cronExpression", f"cronExpression {spec.expression!r} never fires: no date from now on matches it."
        ) from None


def _second_occurrence(moment: datetime, zone: tzinfo) -> bool:
    wall = moment.replace(tzinfo=None)
    first, second = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
    return first.utcoffset() != second.utcoffset() and moment.utcoffset() == second.utcoffset()
