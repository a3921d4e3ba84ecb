"""The name a new server group gets: Spinnaker's next sequence after the newest, skipping taken ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clouds.providers.base import PermanentProviderError, next_server_group_name

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_it_starts_a_cluster_at_v000() -> None:
    assert next_server_group_name("shop-web", {}, set()) == "shop-web-v000"


def test_it_follows_the_newest_group_by_creation_time_not_the_largest_number() -> None:
    in_use = {"shop-web-v998": at(1), "shop-web-v999": at(2), "shop-web-v000": at(3), "shop-web-v001": at(4)}

    assert next_server_group_name("shop-web", in_use, set()) == "shop-web-v002"


def test_it_wraps_after_v999() -> None:
    assert next_server_group_name("shop-web", {"shop-web-v999": at(1)}, set()) == "shop-web-v000"


def test_it_skips_sequences_still_in_use() -> None:
    in_use = {"shop-web-v002": at(1), "shop-web-v003": at(2), "shop-web-v001": at(3)}

    assert next_server_group_name("shop-web", in_use, set()) == "shop-web-v004"


def test_it_ignores_groups_of_other_clusters() -> None:
    in_use = {"shop-web-v007": at(1), "shop-webx-v042": at(2), "shop-web-canary-v100": at(3), "shop-v300": at(4)}

    assert next_server_group_name("shop-web", in_use, set()) == "shop-web-v008"


def test_it_counts_a_reserved_name_as_the_newest() -> None:
    name = next_server_group_name("shop-web", {"shop-web-v004": at(1)}, {"shop-web-v005"})

    assert name == "shop-web-v006"


def test_it_names_clusters_with_stack_and_detail() -> None:
    assert next_server_group_name("shop--canary", {"shop--canary-v000": at(1)}, set()) == "shop--canary-v001"


def test_it_refuses_when_every_sequence_is_taken() -> None:
    in_use = {f"shop-web-v{n:03d}": at(n) for n in range(1000)}

    with pytest.raises(PermanentProviderError, match="every sequence"):
        next_server_group_name("shop-web", in_use, set())
