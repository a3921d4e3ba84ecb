"""Where each stage box goes when a pipeline or an execution is drawn as a graph.

Stages stand in columns, left to right, by their longest path from a stage with no
requisites (as Deck draws them); within a column they keep the pipeline's order. Edges are
smooth cubic curves from a requisite's right side to its dependant's left side. Synthetic
stages of an execution are drawn inside their parent's box, one under the other.

Pure Python over plain data: callers hand in the pipeline JSON or the stage rows they fetched,
so drawing never queries. Junk, unknown requisites and cycles are drawn as far as they make
sense; laying out never raises or loops on them.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from django.utils import timezone

if TYPE_CHECKING:
    from pipelines.models import StageExecution

NODE_WIDTH: Final = 180.0
HEADER_HEIGHT: Final = 48.0  # the name line and the "type · duration" line
CHILD_PADDING: Final = 8.0
COLUMN_GAP: Final = 56.0
ROW_GAP: Final = 20.0
MARGIN: Final = 12.0
CHARACTER_WIDTH: Final = 7.2  # of the 13px names, on average
# Synthetic stages sit in their parent's box in this order (then by position).
OWNER_ORDER: Final = {"STAGE_BEFORE": 0, "STAGE_AFTER": 1, "ON_FAILURE": 2}


@dataclass
class Node:
    """One stage box; ``x``/``y`` are its top-left corner in the SVG's coordinates."""

    ref_id: str
    name: str
    type: str
    status: str | None
    x: float
    y: float
    width: float
    height: float
    duration: str = ""
    stage_id: str | None = None
    children: list[Node] = field(default_factory=list)

    @property
    def label(self) -> str:
        """What a screen reader says: "Stage Deploy: SUCCEEDED, 12s"."""
        text = f"Stage {self.name}: {self.status or self.type or 'stage'}"
        return f"{text}, {self.duration}" if self.duration else text

    @property
    def short_name(self) -> str:
        """The name cut to what fits the box (the full name is in the title and label)."""
        fits = max(4, int((self.width - 20) / CHARACTER_WIDTH))
        return self.name if len(self.name) <= fits else self.name[: fits - 1] + "…"

    @property
    def text_x(self) -> float:
        return self.x + 10

    @property
    def name_y(self) -> float:
        return self.y + 19

    @property
    def detail_y(self) -> float:
        return self.y + 37


@dataclass
class Edge:
    source: str
    target: str
    path: str


@dataclass
class Graph:
    nodes: list[Node]
    edges: list[Edge]
    width: float
    height: float


@dataclass
class _Box:
    """A stage before placement: what it shows, what it needs, what it contains."""

    ref_id: str
    name: str
    type: str
    requisites: list[str]
    status: str | None = None
    duration: str = ""
    stage_id: str | None = None
    children: list[_Box] = field(default_factory=list)


# Entry points -------------------------------------------------------------------------------


def layout_pipeline(config: Mapping[str, Any]) -> Graph:
    """The graph of a pipeline document's stages (no statuses); junk stages are left out."""
    stages = config.get("stages") if isinstance(config, Mapping) else None
    if not isinstance(stages, list):
        return _place([])
    boxes = [_box_from_json(index, stage) for index, stage in enumerate(stages) if isinstance(stage, Mapping)]
    return _place(boxes)


def layout_execution(stages: Sequence[StageExecution], *, now: datetime | None = None) -> Graph:
    """The graph of an execution's stage rows, synthetic stages nested in their parents."""
    moment = now or timezone.now()
    rows = sorted(stages, key=lambda row: row.position)
    boxes = {row.pk: _box_from_row(row, moment) for row in rows}
    tops: list[_Box] = []
    owned: list[tuple[int, int, Any, _Box]] = []
    for row in rows:
        parent = boxes.get(row.parent_id) if row.parent_id is not None else None
        if parent is None:
            tops.append(boxes[row.pk])
        else:
            owned.append((OWNER_ORDER.get(row.synthetic_owner, 3), row.position, row.parent_id, boxes[row.pk]))
    for _, _, parent_id, box in sorted(owned, key=lambda item: item[:2]):
        boxes[parent_id].children.append(box)
    return _place(tops)


def format_duration(seconds: float) -> str:
    """ "12s", "1m 05s", "2h 03m"."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def _box_from_json(index: int, stage: Mapping[str, Any]) -> _Box:
    ref = stage.get("refId")
    ref_id = str(ref) if ref not in (None, "") else f"stages[{index}]"
    kind = str(stage.get("type") or "")
    requisites = stage.get("requisiteStageRefIds")
    return _Box(
        ref_id=ref_id,
        name=str(stage.get("name") or kind or ref_id),
        type=kind,
        requisites=[str(item) for item in requisites] if isinstance(requisites, list) else [],
    )


def _box_from_row(row: StageExecution, now: datetime) -> _Box:
    duration = ""
    if row.started_at is not None:
        duration = format_duration(((row.ended_at or now) - row.started_at).total_seconds())
    return _Box(
        ref_id=row.ref_id,
        name=row.name,
        type=row.type,
        requisites=[str(item) for item in row.requisite_ref_ids or []],
        status=row.status,
        duration=duration,
        stage_id=str(row.pk),
    )


# Placement ----------------------------------------------------------------------------------


def columns(requisites: Sequence[Sequence[int]]) -> list[int]:
    """Each stage's column: the longest path to it from a stage with no requisites.

    ``requisites[i]`` are the indexes stage ``i`` waits for. A cycle is broken at its earliest
    stage, whose requisites inside the cycle are then ignored, so this always ends.
    """
    count = len(requisites)
    waiting = [len(set(needs)) for needs in requisites]
    dependants: list[list[int]] = [[] for _ in range(count)]
    for index, needs in enumerate(requisites):
        for need in set(needs):
            dependants[need].append(index)
    column, placed = [0] * count, [False] * count
    ready = [index for index in range(count) if waiting[index] == 0]
    next_unplaced, done = 0, 0
    while done < count:
        if not ready:  # only cycles are left: break the earliest one
            while placed[next_unplaced]:
                next_unplaced += 1
            ready.append(next_unplaced)
        index = heapq.heappop(ready)
        if placed[index]:
            continue
        placed[index], done = True, done + 1
        column[index] = max((column[need] + 1 for need in requisites[index] if placed[need]), default=0)
        for dependant in dependants[index]:
            waiting[dependant] -= 1
            if waiting[dependant] == 0 and not placed[dependant]:
                heapq.heappush(ready, dependant)
    return column


def _resolved(boxes: Sequence[_Box]) -> list[list[int]]:
    """Requisites as indexes: unknown refIds and self-references dropped, the first of twins kept."""
    index_of: dict[str, int] = {}
    for index, box in enumerate(boxes):
        index_of.setdefault(box.ref_id, index)
    resolved = []
    for index, box in enumerate(boxes):
        needs = {index_of[ref] for ref in box.requisites if ref in index_of}
        resolved.append(sorted(needs - {index}))
    return resolved


def _place(boxes: Sequence[_Box]) -> Graph:
    requisites = _resolved(boxes)
    column_of = columns(requisites)
    by_column: dict[int, list[int]] = {}
    for index, column in enumerate(column_of):
        by_column.setdefault(column, []).append(index)
    heights = {index: _height(box) for index, box in enumerate(boxes)}
    stacks = {column: _stack_height(members, heights) for column, members in by_column.items()}
    tallest = max(stacks.values(), default=0.0)
    nodes: dict[int, Node] = {}
    for column, members in sorted(by_column.items()):
        x = MARGIN + column * (NODE_WIDTH + COLUMN_GAP)
        y = MARGIN + (tallest - stacks[column]) / 2
        for index in members:
            nodes[index] = _node(boxes[index], x, y, NODE_WIDTH)
            y += heights[index] + ROW_GAP
    edges = [
        Edge(boxes[need].ref_id, boxes[index].ref_id, _curve(nodes[need], nodes[index]))
        for index, needs in enumerate(requisites)
        for need in needs
    ]
    width = MARGIN * 2 + (max(column_of, default=-1) + 1) * (NODE_WIDTH + COLUMN_GAP) - (COLUMN_GAP if boxes else 0)
    ordered = [nodes[index] for _, members in sorted(by_column.items()) for index in members]
    return Graph(nodes=ordered, edges=edges, width=width, height=tallest + MARGIN * 2)


def _stack_height(members: Sequence[int], heights: Mapping[int, float]) -> float:
    return sum(heights[index] for index in members) + ROW_GAP * (len(members) - 1)


def _height(box: _Box) -> float:
    if not box.children:
        return HEADER_HEIGHT
    return HEADER_HEIGHT + sum(_height(child) + CHILD_PADDING for child in box.children)


def _node(box: _Box, x: float, y: float, width: float) -> Node:
    children = []
    child_y = y + HEADER_HEIGHT
    for child in box.children:
        children.append(_node(child, x + CHILD_PADDING, child_y, width - 2 * CHILD_PADDING))
        child_y += _height(child) + CHILD_PADDING
    return Node(
        ref_id=box.ref_id,
        name=box.name,
        type=box.type,
        status=box.status,
        x=x,
        y=y,
        width=width,
        height=_height(box),
        duration=box.duration,
        stage_id=box.stage_id,
        children=children,
    )


def _curve(source: Node, target: Node) -> str:
    """From the source's right side to the target's left side, level with their headers."""
    x1, y1 = source.x + source.width, source.y + HEADER_HEIGHT / 2
    x2, y2 = target.x, target.y + HEADER_HEIGHT / 2
    # A backward edge (a cycle in a draft) loops tightly so it stays inside the drawing.
    bend = max((x2 - x1) / 2, COLUMN_GAP / 2) if x2 > x1 else MARGIN
    return f"M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} {x2 - bend:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
