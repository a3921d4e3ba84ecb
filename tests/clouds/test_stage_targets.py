"""What the cluster stages act on: targets, cluster-wide selections, rollback plans, image sources, resizes.

Pure functions over lists of ServerGroupState; each table row is a cluster as a user would see it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clouds.providers.base import ArtifactRef, Capacity, Instance, ServerGroupState
from clouds.stages import targets
from clouds.stages.targets import SelectionError

BASE = datetime(2025, 1, 1, tzinfo=UTC)


def group(
    sequence: int,
    *,
    enabled: bool = True,
    instances: int = 2,
    desired: int | None = None,
    created_minute: int | None = None,
    version: str | None = None,
) -> ServerGroupState:
    """``shop-web-v<sequence>``, created ``created_minute`` (default: its sequence) minutes after BASE."""
    desired = instances if desired is None else desired
    return ServerGroupState(
        name=f"shop-web-v{sequence:03d}",
        cluster="shop-web",
        region="local",
        sequence=sequence,
        created_at=BASE + timedelta(minutes=sequence if created_minute is None else created_minute),
        artifact=ArtifactRef("sample", version or f"v{sequence}"),
        capacity=Capacity(min=desired, max=desired, desired=desired),
        enabled=enabled,
        traffic_weight=100,
        instances=[
            Instance(id=f"shop-web-v{sequence:03d}-{n}", address=f"127.0.0.1:{20000 + n}", health="UP")
            for n in range(instances)
        ],
        load_balancers=["shop-web"],
    )


def names(groups: list[ServerGroupState]) -> list[str]:
    return [item.name[-4:] for item in groups]


THREE = [group(1), group(2), group(3)]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("current_asg_dynamic", "v003"),
        ("ancestor_asg_dynamic", "v002"),
        ("oldest_asg_dynamic", "v001"),
        ("current_asg", "v003"),
        ("ancestor_asg", "v002"),
    ],
)
def test_it_resolves_targets_by_creation_time(target: str, expected: str) -> None:
    assert targets.resolve_target(list(reversed(THREE)), target).name.endswith(expected)


def test_it_takes_the_newest_by_creation_time_after_the_sequence_wrapped() -> None:
    wrapped = [group(998, created_minute=1), group(999, created_minute=2), group(0, created_minute=3)]
    assert targets.resolve_target(wrapped, "current_asg_dynamic").name == "shop-web-v000"
    assert targets.resolve_target(wrapped, "ancestor_asg_dynamic").name == "shop-web-v999"
    assert targets.resolve_target(wrapped, "oldest_asg_dynamic").name == "shop-web-v998"


@pytest.mark.parametrize(
    ("groups", "target", "message"),
    [
        ([group(1)], "ancestor_asg_dynamic", "only shop-web-v001 exists, with nothing before it"),
        ([], "current_asg_dynamic", "the cluster is empty here"),
        (THREE, "newest", "Unknown target 'newest'"),
    ],
)
def test_it_explains_a_target_that_names_no_group(groups: list[ServerGroupState], target: str, message: str) -> None:
    with pytest.raises(SelectionError, match=message):
        targets.resolve_target(groups, target)


@pytest.mark.parametrize(
    ("groups", "options", "disabled"),
    [
        (THREE, {}, ["v002", "v001"]),
        (THREE, {"remaining": 2}, ["v001"]),
        (THREE, {"remaining": 0}, ["v003", "v002", "v001"]),
        (
            [group(1, instances=5), group(2, instances=1), group(3, instances=1)],
            {"prefer_larger": True},
            ["v003", "v002"],
        ),
        ([group(1, enabled=False), group(2), group(3)], {}, ["v002"]),
        # Under a deploy: the new group v003 is kept and counts as the one left enabled.
        (THREE, {"keep": {"shop-web-v003"}}, ["v002", "v001"]),
    ],
)
def test_it_chooses_what_disable_cluster_disables(
    groups: list[ServerGroupState], options: dict[str, Any], disabled: list[str]
) -> None:
    assert names(targets.to_disable(groups, **options)) == disabled


@pytest.mark.parametrize(
    ("groups", "options", "scaled"),
    [
        # Only inactive groups by default; the enabled v003 counts as the full-size one.
        ([group(1, enabled=False), group(2, enabled=False), group(3)], {}, ["v002", "v001"]),
        ([group(1, enabled=False), group(2, enabled=False), group(3)], {"remaining": 2}, ["v001"]),
        ([group(1), group(2), group(3)], {}, []),
        ([group(1), group(2), group(3)], {"allow_active": True}, ["v002", "v001"]),
        # A group already at zero needs nothing.
        ([group(1, enabled=False, instances=0), group(2, enabled=False), group(3)], {}, ["v002"]),
        (
            [group(1, enabled=False, instances=4), group(2, enabled=False, instances=1), group(3)],
            {"remaining": 2, "prefer_larger": True},
            ["v002"],
        ),
    ],
)
def test_it_chooses_what_scale_down_cluster_scales_down(
    groups: list[ServerGroupState], options: dict[str, Any], scaled: list[str]
) -> None:
    assert names(targets.to_scale_down(groups, **options)) == scaled


FOUR = [group(1, enabled=False), group(2, enabled=False), group(3, enabled=False), group(4)]


@pytest.mark.parametrize(
    ("groups", "options", "destroyed"),
    [
        (FOUR, {"shrink_to": 2}, ["v002", "v001"]),
        (FOUR, {"shrink_to": 1}, ["v003", "v002", "v001"]),
        (FOUR, {"shrink_to": 4}, []),
        # Active groups stay unless allowed; then they are the last to go.
        ([group(1), group(2), group(3, enabled=False)], {"shrink_to": 1}, ["v003"]),
        (
            [group(1), group(2), group(3, enabled=False)],
            {"shrink_to": 1, "allow_delete_active": True},
            ["v001", "v003"],
        ),
        # Highlander: keep only what the deploy created.
        (
            [group(1), group(2), group(3)],
            {"shrink_to": 1, "allow_delete_active": True, "keep": {"shop-web-v003"}},
            ["v002", "v001"],
        ),
        (
            [group(1, enabled=False, instances=6), group(2, enabled=False), group(3, enabled=False)],
            {"shrink_to": 1, "retain_larger": True},
            ["v003", "v002"],
        ),
    ],
)
def test_it_chooses_what_shrink_cluster_destroys(
    groups: list[ServerGroupState], options: dict[str, Any], destroyed: list[str]
) -> None:
    assert names(targets.to_shrink(groups, **options)) == destroyed


def test_it_preserves_what_the_deploy_created_and_anything_newer() -> None:
    groups = [group(1), group(2), group(3), group(4)]
    assert targets.preserved(groups, ["shop-web-v003"]) == {"shop-web-v003", "shop-web-v004"}
    assert targets.preserved(groups, ["shop-web-v009"]) == set()
    assert names(targets.to_disable(groups, keep=targets.preserved(groups, ["shop-web-v003"]))) == ["v002", "v001"]


@pytest.mark.parametrize(
    ("rollback", "restore", "expected"),
    [
        ("shop-web-v003", "shop-web-v001", "shop-web-v001"),
        ("shop-web-v003", None, "shop-web-v002"),
        ("shop-web-v002", None, "shop-web-v001"),
    ],
)
def test_it_plans_a_rollback(rollback: str, restore: str | None, expected: str) -> None:
    plan = targets.plan_rollback(THREE, rollback, restore)
    assert (plan.rollback.name, plan.restore.name) == (rollback, expected)


@pytest.mark.parametrize(
    ("rollback", "restore", "message"),
    [
        ("shop-web-v001", None, "shop-web-v001 is the oldest server group"),
        ("shop-web-v007", None, r"no server group shop-web-v007 to roll back \(present: shop-web-v003, shop-web-v002"),
        ("shop-web-v003", "shop-web-v009", "no server group shop-web-v009 to restore"),
        ("shop-web-v003", "shop-web-v003", "cannot be rolled back to itself"),
    ],
)
def test_it_explains_a_rollback_it_cannot_plan(rollback: str, restore: str | None, message: str) -> None:
    with pytest.raises(SelectionError, match=message):
        targets.plan_rollback(THREE, rollback, restore)


def test_it_rolls_a_cluster_back_from_the_newest_to_the_one_before() -> None:
    plan = targets.plan_cluster_rollback(list(reversed(THREE)))
    assert (plan.rollback.name, plan.restore.name) == ("shop-web-v003", "shop-web-v002")
    with pytest.raises(SelectionError, match="shop-web-v001 is the only server group here"):
        targets.plan_cluster_rollback([group(1)])


def test_it_restores_a_scaled_down_group_to_the_capacity_of_the_one_rolled_back() -> None:
    plan = targets.plan_rollback([group(1, enabled=False, instances=0), group(2, instances=3)], "shop-web-v002")
    assert plan.restore_capacity == Capacity(min=3, max=3, desired=3)
    bigger = targets.plan_rollback([group(1, instances=4), group(2, instances=3)], "shop-web-v002")
    assert bigger.restore_capacity == Capacity(min=4, max=4, desired=4)


@pytest.mark.parametrize(
    ("groups", "strategy", "only_enabled", "expected"),
    [
        (THREE, "NEWEST", True, "v003"),
        ([group(1), group(2), group(3, enabled=False)], "NEWEST", True, "v002"),
        ([group(1), group(2), group(3, enabled=False)], "NEWEST", False, "v003"),
        (THREE, "OLDEST", True, "v001"),
        ([group(1, instances=1), group(2, instances=4), group(3, instances=4)], "LARGEST", True, "v003"),
        ([group(1, enabled=False), group(2)], "FAIL", True, "v002"),
    ],
)
def test_it_chooses_the_group_to_find_an_image_from(
    groups: list[ServerGroupState], strategy: str, only_enabled: bool, expected: str
) -> None:
    assert targets.select_image_source(groups, strategy, only_enabled=only_enabled).name.endswith(expected)


def test_it_explains_when_no_group_qualifies_for_an_image() -> None:
    with pytest.raises(
        SelectionError, match=r"more than one enabled server group found \(shop-web-v003, shop-web-v002"
    ):
        targets.select_image_source(THREE, "FAIL", only_enabled=True)
    with pytest.raises(SelectionError, match="no enabled server group"):
        targets.select_image_source([group(1, enabled=False)], "NEWEST", only_enabled=True)


CURRENT = Capacity(min=1, max=4, desired=2)


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        ({"capacity": {"min": 3, "max": 3, "desired": 3}}, Capacity(3, 3, 3)),
        ({"action": "scale_exact", "capacity": {"desired": 4}}, Capacity(1, 4, 4)),
        ({"action": "scale_up", "scaleNum": 3}, Capacity(1, 5, 5)),
        ({"action": "scale_up", "scalePct": 50}, Capacity(1, 4, 3)),
        ({"action": "scale_down", "scaleNum": 2}, Capacity(0, 4, 0)),
        ({"action": "scale_down", "scaleNum": 5}, Capacity(0, 4, 0)),
    ],
)
def test_it_computes_the_capacity_a_resize_asks_for(request_: dict[str, object], expected: Capacity) -> None:
    assert targets.resized_capacity(CURRENT, request_) == expected


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"capacity": {"desired": 9}}, "min 1, desired 9, max 4"),
        ({"action": "scale_up"}, "need scaleNum"),
        ({"action": "scale_sideways"}, "Unknown resize action 'scale_sideways'"),
    ],
)
def test_it_refuses_a_resize_that_makes_no_sense(request_: dict[str, object], message: str) -> None:
    with pytest.raises(SelectionError, match=message):
        targets.resized_capacity(CURRENT, request_)
