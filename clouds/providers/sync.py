"""Mirror what a provider reports into the account's Cluster, ServerGroup and LoadBalancer rows.

Drivers call ``mirror`` after every operation and on ``refresh``, so pages, the API and
waits read the rows instead of asking the cloud. The provider is the truth: a server group
the provider no longer reports is marked destroyed. A constant number of queries, whatever
the number of groups.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from applications.models import Application
from clouds import naming
from clouds.models import Account, Cluster, Health, LoadBalancer, ServerGroup, empty_instance_counts
from clouds.providers.base import LoadBalancerState, ServerGroupState

GROUP_FIELDS = [
    "artifact",
    "capacity_min",
    "capacity_max",
    "capacity_desired",
    "enabled",
    "traffic_weight",
    "health",
    "instance_counts",
    "instances",
    "provider_id",
]


def health_of(state: ServerGroupState) -> str:
    """One word for the group: UNHEALTHY if an instance is down, HEALTHY once the desired count is UP."""
    healths = [instance.health for instance in state.instances]
    if "DOWN" in healths:
        return Health.UNHEALTHY
    if state.capacity.desired == 0 and not healths:
        return Health.UNKNOWN
    if state.up_count >= state.capacity.desired:
        return Health.HEALTHY
    return Health.STARTING


def instance_counts_of(state: ServerGroupState) -> dict[str, int]:
    """Spinnaker's counts: the UP instances of a disabled group are out of service."""
    counts = empty_instance_counts()
    counts["total"] = len(state.instances)
    for instance in state.instances:
        key = instance.health.lower()
        if key == "up" and not state.enabled:
            key = "outOfService"
        counts[key] += 1
    return counts


def row_values(state: ServerGroupState) -> dict[str, Any]:
    return {
        "artifact": str(state.artifact),
        "capacity_min": state.capacity.min,
        "capacity_max": state.capacity.max,
        "capacity_desired": state.capacity.desired,
        "enabled": state.enabled,
        "traffic_weight": state.traffic_weight,
        "health": health_of(state),
        "instance_counts": instance_counts_of(state),
        "instances": [{"id": i.id, "address": i.address, "health": i.health} for i in state.instances],
        "provider_id": state.name,
    }


@transaction.atomic
def mirror(account: Account, groups: list[ServerGroupState], balancers: list[LoadBalancerState]) -> None:
    """Make the account's rows say what ``groups`` and ``balancers`` (all of the account's) say.

    Groups of applications Spinweb does not know are skipped; active rows the provider no
    longer reports are marked destroyed.
    """
    applications = _applications({naming.parse(s.cluster).app for s in groups} | {_app(b.name) for b in balancers})
    lb_rows = _mirror_load_balancers(account, balancers, applications)
    clusters = _clusters(account, {s.cluster for s in groups}, applications)
    known = [state for state in groups if state.cluster in clusters]
    rows = _mirror_groups(account, known, clusters)
    _mirror_memberships(rows, known, lb_rows)


def _app(name: str) -> str:
    return naming.parse(name).app


def _applications(names: set[str]) -> dict[str, Application]:
    return {app.name: app for app in Application.objects.filter(name__in=names)}


def _clusters(account: Account, names: set[str], applications: dict[str, Application]) -> dict[str, Cluster]:
    existing = {c.name: c for c in Cluster.objects.filter(account=account, name__in=names)}
    missing = [
        Cluster(account=account, name=name, application=applications[_app(name)])
        for name in names - set(existing)
        if _app(name) in applications
    ]
    if missing:
        Cluster.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {c.name: c for c in Cluster.objects.filter(account=account, name__in=names)}
    return existing


def _mirror_groups(
    account: Account, states: list[ServerGroupState], clusters: dict[str, Cluster]
) -> dict[tuple[str, str], ServerGroup]:
    active = ServerGroup.objects.filter(cluster__account=account, destroyed_at__isnull=True).select_related("cluster")
    rows = {(row.region, row.name): row for row in active}
    changed: list[ServerGroup] = []
    new: list[ServerGroup] = []
    for state in states:
        values = row_values(state)
        row = rows.get((state.region, state.name))
        if row is None:
            cluster = clusters[state.cluster]
            new.append(
                ServerGroup(cluster=cluster, name=state.name, sequence=state.sequence, region=state.region, **values)
            )
        elif any(getattr(row, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(row, key, value)
            changed.append(row)
    ServerGroup.objects.bulk_update(changed, GROUP_FIELDS)
    ServerGroup.objects.bulk_create(new)
    reported = {(state.region, state.name) for state in states}
    gone = [row.pk for key, row in rows.items() if key not in reported]
    ServerGroup.objects.filter(pk__in=gone).update(
        destroyed_at=timezone.now(), enabled=False, instances=[], instance_counts=empty_instance_counts()
    )
    ServerGroup.load_balancers.through.objects.filter(servergroup_id__in=gone).delete()
    current = ServerGroup.objects.filter(cluster__account=account, destroyed_at__isnull=True)
    return {(row.region, row.name): row for row in current}


def _mirror_memberships(
    rows: dict[tuple[str, str], ServerGroup],
    states: Iterable[ServerGroupState],
    lb_rows: dict[tuple[str, str], LoadBalancer],
) -> None:
    Through = ServerGroup.load_balancers.through
    wanted = {
        (rows[(s.region, s.name)].pk, lb_rows[(s.region, lb)].pk)
        for s in states
        for lb in s.load_balancers
        if (s.region, s.name) in rows and (s.region, lb) in lb_rows
    }
    group_ids = [row.pk for row in rows.values()]
    links = Through.objects.filter(servergroup_id__in=group_ids).values_list("pk", "servergroup_id", "loadbalancer_id")
    existing = {(group_id, lb_id): pk for pk, group_id, lb_id in links}
    Through.objects.filter(pk__in=[pk for pair, pk in existing.items() if pair not in wanted]).delete()
    Through.objects.bulk_create(
        [Through(servergroup_id=group_id, loadbalancer_id=lb_id) for group_id, lb_id in wanted - set(existing)]
    )


def _mirror_load_balancers(
    account: Account, balancers: list[LoadBalancerState], applications: dict[str, Application]
) -> dict[tuple[str, str], LoadBalancer]:
    rows = {(row.region, row.name): row for row in LoadBalancer.objects.filter(account=account)}
    reported = {(b.region, b.name): b for b in balancers}
    changed = []
    for key, row in rows.items():
        address = reported[key].address if key in reported else ""
        if row.address != address:
            row.address = address
            changed.append(row)
    LoadBalancer.objects.bulk_update(changed, ["address"])
    new = [
        LoadBalancer(
            account=account, application=applications[_app(b.name)], name=b.name, region=b.region, address=b.address
        )
        for key, b in reported.items()
        if key not in rows and _app(b.name) in applications
    ]
    if new:
        LoadBalancer.objects.bulk_create(new, ignore_conflicts=True)
        rows = {(row.region, row.name): row for row in LoadBalancer.objects.filter(account=account)}
    return rows
