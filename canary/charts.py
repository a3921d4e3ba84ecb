"""Inline SVG pictures of one metric's control and experiment series, drawn on the server.

``time_series`` draws both series against the time into their own window (the control window may
be offset from the experiment's), labelling the axis with the experiment's clock times and, when
the windows differ, the control's too; a missing value (None, NaN, an infinity) breaks the line.
``distribution`` draws overlaid histograms of both sides over shared bins, and a box plot of each
with its median marked and written out. Every picture has a ``<title>`` and a ``<desc>`` for
screen readers, and one ``<path>`` per series (classes ``series-control`` / ``series-experiment``).
All markup goes through ``format_html``, so every text in it is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

Point = tuple[str, float | None]  # (ISO-8601 timestamp, value or None for a gap)
Placed = tuple[float, float | None]  # (seconds into the window, value)
SIDES = ("control", "experiment")
LABELS = {"control": "Control (baseline)", "experiment": "Experiment (canary)"}

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 76, 16, 28, 44
AXIS_Y = HEIGHT - BOTTOM
HIST_BINS = 20
TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


@dataclass(frozen=True)
class Scale:
    """A linear map from data ``low..high`` to pixels ``start..end``."""

    low: float
    high: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        span = self.high - self.low
        fraction = (value - self.low) / span if span else 0.5
        return round(self.start + fraction * (self.end - self.start), 2)


def join(parts: Iterable[SafeString]) -> SafeString:
    return format_html_join("", "{}", ((part,) for part in parts))


def number(value: float) -> str:
    """A short label: 4 significant digits, an exponent only for extreme magnitudes."""
    if value == 0:
        return "0"
    return f"{value:.4g}" if 1e-3 <= abs(value) < 1e6 else f"{value:.3g}"


def nice_ticks(low: float, high: float, wanted: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten) covering ``low..high``."""
    if high <= low:
        return [low]
    raw = (high - low) / max(wanted - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(power * factor for factor in (1, 2, 5, 10) if power * factor >= raw)
    first = math.ceil(low / step - 1e-9) * step
    return [round(first + i * step, 12) for i in range(int((high - first) / step + 1e-9) + 1)]


def time_ticks(low: float, high: float, wanted: int = 6) -> list[float]:
    """Tick positions in seconds at round clock steps (1 s ... 1 day) covering ``low..high``."""
    if high <= low:
        return [low]
    step = next((step for step in TIME_STEPS if (high - low) / step <= wanted), TIME_STEPS[-1])
    first = math.ceil(low / step) * step
    return [float(first + i * step) for i in range(int((high - first) // step) + 1)]


def finite(values: Iterable[float | None]) -> list[float]:
    return [value for value in values if value is not None and math.isfinite(value)]


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default) of a sorted list."""
    position = (len(ordered) - 1) * fraction
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def _frame(ident: str, kind: str, title: str, desc: str, body: Iterable[SafeString]) -> SafeString:
    return format_html(
        '<svg class="canary-chart {}" id="{}" viewBox="0 0 {} {}" role="img" aria-labelledby="{}-title {}-desc" '
        'xmlns="http://www.w3.org/2000/svg"><title id="{}-title">{}</title><desc id="{}-desc">{}</desc>{}</svg>',
        kind,
        ident,
        WIDTH,
        HEIGHT,
        ident,
        ident,
        ident,
        title,
        ident,
        desc,
        join(body),
    )


def _empty() -> SafeString:
    return format_html('<text class="empty" x="{}" y="{}" text-anchor="middle">No data points</text>', WIDTH / 2, 120)


def _legend() -> SafeString:
    return join(
        format_html(
            '<g class="legend"><rect x="{}" y="6" width="14" height="10" class="swatch-{}"/>'
            '<text x="{}" y="15">{}</text></g>',
            LEFT + offset,
            side,
            LEFT + offset + 20,
            LABELS[side],
        )
        for offset, side in zip((0, 170), SIDES, strict=True)
    )


def _text(x: float, y: float, label: str, anchor: str = "middle", kind: str = "tick") -> SafeString:
    return format_html('<text class="{}" x="{}" y="{}" text-anchor="{}">{}</text>', kind, x, y, anchor, label)


def _hline(kind: str, y: float) -> SafeString:
    return format_html('<line class="{}" x1="{}" x2="{}" y1="{}" y2="{}"/>', kind, LEFT, WIDTH - RIGHT, y, y)


def _y_axis(scale: Scale, ticks: list[float]) -> SafeString:
    return join(
        join([_hline("grid", scale(tick)), _text(LEFT - 6, scale(tick) + 4, number(tick), "end")]) for tick in ticks
    )


def line_path(points: Sequence[Placed], x: Scale, y: Scale) -> str:
    """Path data with a new subpath after every gap; a lone point is drawn as a dot (``h0``)."""
    commands: list[str] = []
    pen_down = False
    for position, value in points:
        if value is None or not math.isfinite(value):
            pen_down = False
            continue
        commands.append(f"{'L' if pen_down else 'M'}{x(position)},{y(value)}")
        pen_down = True
    lone = [
        command.startswith("M") and (index + 1 == len(commands) or commands[index + 1].startswith("M"))
        for index, command in enumerate(commands)
    ]
    return " ".join(command + " h0" if alone else command for command, alone in zip(commands, lone, strict=True))


def _parse(stamp: str) -> datetime | None:
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None


def _placed(series: Sequence[Point], start: datetime) -> list[Placed]:
    points = [(_parse(stamp), value) for stamp, value in series]
    return [((moment - start).total_seconds(), value) for moment, value in points if moment is not None]


def time_series(
    ident: str, metric: str, series: dict[str, list[Point]], control_start: datetime, experiment_start: datetime
) -> SafeString:
    """Control and experiment over time, each placed by the time into its own window."""
    starts = {"control": control_start, "experiment": experiment_start}
    placed = {side: _placed(series.get(side, []), starts[side]) for side in SIDES}
    positions = [position for side in SIDES for position, _ in placed[side]]
    values = finite(value for side in SIDES for _, value in placed[side])
    title = f"{metric}: control and experiment over time"
    if not positions or not values:
        return _frame(ident, "time-series", title, "No data points to draw.", [_empty()])
    y_ticks = nice_ticks(min(values), max(values))
    y = Scale(min(y_ticks[0], min(values)), max(y_ticks[-1], max(values)), AXIS_Y, TOP)
    x = Scale(min(positions), max(positions), LEFT, WIDTH - RIGHT)
    body = [_legend(), _y_axis(y, y_ticks), _x_time_axis(x, control_start, experiment_start)]
    body += [
        format_html(
            '<path class="series series-{}" d="{}"><title>{}</title></path>',
            side,
            line_path(placed[side], x, y),
            LABELS[side],
        )
        for side in SIDES
    ]
    return _frame(ident, "time-series", title, _series_desc(series, starts), body)


def _clock(moment: datetime) -> str:
    return moment.strftime("%H:%M:%S")


def _x_time_axis(x: Scale, control_start: datetime, experiment_start: datetime) -> SafeString:
    offset = experiment_start - control_start
    parts = [_hline("axis", AXIS_Y)]
    if offset:
        parts += [_text(LEFT - 26, AXIS_Y + 15, "canary", "end"), _text(LEFT - 26, AXIS_Y + 29, "baseline", "end")]
    for seconds in time_ticks(x.low, x.high):
        at = datetime.fromtimestamp(experiment_start.timestamp() + seconds, experiment_start.tzinfo)
        parts.append(_text(x(seconds), AXIS_Y + 15, _clock(at)))
        if offset:
            parts.append(_text(x(seconds), AXIS_Y + 29, _clock(at - offset), kind="tick tick-control"))
    return join(parts)


def _series_desc(series: dict[str, list[Point]], starts: dict[str, datetime]) -> str:
    parts = []
    for side in SIDES:
        points = series.get(side, [])
        gaps = len(points) - len(finite(value for _, value in points))
        missing = f", {gaps} missing (shown as gaps)" if gaps else ""
        parts.append(f"{LABELS[side]}: {len(points)} points from {starts[side].isoformat()}{missing}")
    return "; ".join(parts) + "."


@dataclass(frozen=True)
class Box:
    low: float
    q1: float
    median: float
    q3: float
    high: float


def box(values: Sequence[float]) -> Box:
    """Quartiles, and whiskers at the furthest values within 1.5 IQR of the box (Tukey)."""
    ordered = sorted(values)
    q1, median, q3 = (percentile(ordered, fraction) for fraction in (0.25, 0.5, 0.75))
    reach = 1.5 * (q3 - q1)
    inside = [value for value in ordered if q1 - reach <= value <= q3 + reach]
    return Box(inside[0], q1, median, q3, inside[-1])


def distribution(ident: str, metric: str, series: dict[str, list[Point]]) -> SafeString:
    """Overlaid histograms (shared bins) above a box plot per side with the median marked."""
    values = {side: finite(value for _, value in series.get(side, [])) for side in SIDES}
    everything = values["control"] + values["experiment"]
    title = f"{metric}: distribution of control and experiment values"
    if not everything:
        return _frame(ident, "distribution", title, "No data points to draw.", [_empty()])
    ticks = nice_ticks(min(everything), max(everything), 6)
    x = Scale(min(ticks[0], min(everything)), max(ticks[-1], max(everything)), LEFT, WIDTH - RIGHT)
    boxes_top = AXIS_Y - 48
    body = [_legend(), _hline("axis", AXIS_Y), join(_text(x(tick), AXIS_Y + 15, number(tick)) for tick in ticks)]
    body += _histograms(values, x, boxes_top - 14)
    described = []
    for row, side in enumerate(SIDES):
        if not values[side]:
            described.append(f"{LABELS[side]}: no values")
            continue
        stats = box(values[side])
        body.append(_box(side, stats, x, boxes_top + row * 28))
        described.append(
            f"{LABELS[side]}: {len(values[side])} values, median {number(stats.median)}, "
            f"quartiles {number(stats.q1)} to {number(stats.q3)}"
        )
    return _frame(ident, "distribution", title, "; ".join(described) + ".", body)


def _histograms(values: dict[str, list[float]], x: Scale, bottom: float) -> list[SafeString]:
    width = (x.high - x.low) / HIST_BINS or 1.0
    # Each side as a share of its own points, so a side with fewer points is not drawn smaller.
    shares = {}
    for side in SIDES:
        counts = [0] * HIST_BINS
        for value in values[side]:
            counts[min(int((value - x.low) / width), HIST_BINS - 1)] += 1
        shares[side] = [n / max(len(values[side]), 1) for n in counts]
    y = Scale(0.0, max(max(shares[side]) for side in SIDES) or 1.0, bottom, TOP)
    paths = []
    for side in SIDES:
        steps = [
            f"L{x(x.low + index * width)},{y(share)} L{x(x.low + (index + 1) * width)},{y(share)}"
            for index, share in enumerate(shares[side])
        ]
        path = f"M{x(x.low)},{bottom} {' '.join(steps)} L{x(x.high)},{bottom} Z"
        paths.append(
            format_html(
                '<path class="series series-{} histogram" d="{}"><title>{}: share of values per bin</title></path>',
                side,
                path,
                LABELS[side],
            )
        )
    return paths


def _box(side: str, stats: Box, x: Scale, top: float) -> SafeString:
    height, median = 14, x(stats.median)
    return format_html(
        '<g class="box box-{}"><title>{}: median {}</title>'
        '<line class="whisker" x1="{}" x2="{}" y1="{}" y2="{}"/>'
        '<rect class="swatch-{}" x="{}" y="{}" width="{}" height="{}"/>'
        '<line class="median" x1="{}" x2="{}" y1="{}" y2="{}"/>'
        '<text class="median-label" x="{}" y="{}">median {}</text></g>',
        side,
        LABELS[side],
        number(stats.median),
        x(stats.low),
        x(stats.high),
        top + height / 2,
        top + height / 2,
        side,
        x(stats.q1),
        top,
        max(x(stats.q3) - x(stats.q1), 1),
        height,
        median,
        median,
        top - 2,
        top + height + 2,
        median + 4,
        top - 3,
        number(stats.median),
    )
