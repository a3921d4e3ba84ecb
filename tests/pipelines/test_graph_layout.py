"""Where stage boxes go: columns by longest path, stable rows, nested synthetic stages, junk survived."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from pipelines.graph_layout import Graph, Node, format_duration, layout_execution, layout_pipeline
from pipelines.models import StageExecution
from tests.pipelines.conftest import stage


def columns(graph: Graph) -> dict[str, int]:
    """Each node's column, counted from 0 by distinct x positions."""
    xs = sorted({node.x for node in graph.nodes})
    return {node.ref_id: xs.index(node.x) for node in graph.nodes}


def by_ref(graph: Graph) -> dict[str, Node]:
    return {node.ref_id: node for node in graph.nodes}


def test_it_puts_a_fan_out_and_its_join_in_columns_by_longest_path() -> None:
    graph = layout_pipeline(
        {
            "stages": [
                stage("1", "wait", "Bake"),
                stage("2", "wait", "Deploy east", ("1",)),
                stage("3", "wait", "Deploy west", ("1",)),
                stage("4", "wait", "Smoke east", ("2",)),
                stage("5", "wait", "Promote", ("4", "3")),
            ]
        }
    )
    assert columns(graph) == {"1": 0, "2": 1, "3": 1, "4": 2, "5": 3}
    nodes = by_ref(graph)
    assert nodes["2"].y < nodes["3"].y  # the pipeline's order within a column
    assert {(edge.source, edge.target) for edge in graph.edges} == {
        ("1", "2"),
        ("1", "3"),
        ("2", "4"),
        ("4", "5"),
        ("3", "5"),
    }
    assert all(node.status is None and node.stage_id is None for node in graph.nodes)
    assert graph.width >= max(node.x + node.width for node in graph.nodes)
    assert graph.height >= max(node.y + node.height for node in graph.nodes)


def test_it_draws_edges_from_the_requisites_right_side_to_the_dependants_left_side() -> None:
    graph = layout_pipeline({"stages": [stage("a", "wait"), stage("b", "wait", requires=("a",))]})
    nodes = by_ref(graph)
    (edge,) = graph.edges
    assert edge.path.startswith(f"M{nodes['a'].x + nodes['a'].width:.1f},")
    assert edge.path.endswith(f" {nodes['b'].x:.1f},{nodes['b'].y + 24:.1f}")
    assert " C" in edge.path  # a curve, not a straight line


def test_it_survives_a_cycle() -> None:
    graph = layout_pipeline(
        {"stages": [stage("1", "wait"), stage("2", "wait", requires=("1", "3")), stage("3", "wait", requires=("2",))]}
    )
    assert sorted(node.ref_id for node in graph.nodes) == ["1", "2", "3"]
    assert len(graph.edges) == 3
    assert columns(graph)["1"] == 0


def test_it_survives_a_large_cycle_quickly() -> None:
    stages = [stage(str(i), "wait", requires=(str((i + 1) % 300),)) for i in range(300)]
    graph = layout_pipeline({"stages": stages})
    assert len(graph.nodes) == 300


def test_it_ignores_unknown_requisites_and_draws_junk_as_far_as_it_can() -> None:
    config: dict[str, Any] = {
        "stages": [
            stage("1", "wait", "Bake", requires=("nope",)),
            "not a stage",
            {"type": "wait", "requisiteStageRefIds": "1"},  # no refId, requisites not a list
            {"refId": 7, "requisiteStageRefIds": [1, 7]},  # numbers, and itself
        ]
    }
    graph = layout_pipeline(config)
    assert [node.name for node in graph.nodes[:1]] == ["Bake"]
    assert sorted(node.ref_id for node in graph.nodes) == ["1", "7", "stages[2]"]
    assert [(edge.source, edge.target) for edge in graph.edges] == [("1", "7")]
    assert layout_pipeline({"stages": "junk"}).nodes == []
    assert layout_pipeline([]).nodes == []  # type: ignore[arg-type]


def test_it_nests_synthetic_stages_inside_their_parent_in_order() -> None:
    started = timezone.now() - timedelta(seconds=65)
    rows = [
        StageExecution(ref_id="1", type="checkPreconditions", name="Preflight", position=0, status="RUNNING"),
        StageExecution(ref_id="2", type="wait", name="Soak", position=1, requisite_ref_ids=["1"]),
    ]
    rows[0].started_at = started
    after = StageExecution(
        ref_id="1>1", type="wait", name="After", position=3, parent=rows[0], synthetic_owner="STAGE_AFTER"
    )
    before = StageExecution(
        ref_id="1<1",
        type="checkPrecondition",
        name="Check 1",
        position=2,
        parent=rows[0],
        synthetic_owner="STAGE_BEFORE",
    )
    graph = layout_execution([after, *rows, before], now=started + timedelta(seconds=65))
    assert [node.ref_id for node in graph.nodes] == ["1", "2"]
    parent = graph.nodes[0]
    assert [child.ref_id for child in parent.children] == ["1<1", "1>1"]
    for child in parent.children:
        assert parent.x < child.x
        assert child.x + child.width < parent.x + parent.width
        assert parent.y < child.y
        assert child.y + child.height < parent.y + parent.height
    assert parent.duration == "1m 05s"
    assert parent.label == "Stage Preflight: RUNNING, 1m 05s"
    assert parent.stage_id == str(rows[0].pk)
    assert graph.nodes[1].duration == ""


def test_it_formats_durations() -> None:
    assert [format_duration(s) for s in (0, 12, 65, 3600 + 180)] == ["0s", "12s", "1m 05s", "1h 03m"]
