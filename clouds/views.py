"""The clusters page: an application's clusters by account and region, their server groups side
by side (newest first), live, with the one-off operations the user may start.

The page polls one fragment (``clusters_live``). Each poll first has the providers re-read what
runs (``refresh_accounts``), then reads the rows in a fixed number of queries. The fragment
carries a version of what it shows: an unchanged state answers 204, so nothing is swapped, and
the forms a user types into are ``hx-preserve``d across swaps.

Every server group operation posts to one view that calls
``clouds.actions.run_server_group_operation``, every cluster operation (deploy a version, disable,
scale down, shrink, roll back, find the image) to one that calls ``run_cluster_operation``: htmx
gets a line with a link to the execution it started, a plain form a redirect to that execution.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from applications.models import Application, get_application_for_user
from clouds import actions
from clouds.live_traffic import live_traffic
from clouds.models import (
    Account,
    Cluster,
    LoadBalancer,
    ServerGroup,
    get_cluster_for_user,
    get_server_group_for_user,
)
from clouds.providers.base import ProviderError, refresh
from policies.types import PolicyDenied
from spinweb.models import AuditSource
from spinweb.permissions import Access

if TYPE_CHECKING:
    from pipelines.models import Execution
    from spinweb.permissions import AnyUser

logger = logging.getLogger(__name__)

POLL_SECONDS: Final = 3
# Instance health when a row has only counts: dots in this order.
COUNTED_HEALTH: Final = (("up", "UP"), ("starting", "STARTING"), ("down", "DOWN"), ("unknown", "UNKNOWN"))


@dataclass
class Column:
    """One server group as the page shows it."""

    group: ServerGroup
    instances: list[dict[str, str]]
    restore: str  # the server group a rollback would bring back; "" when there is none

    @property
    def version(self) -> str:
        return f"v{self.group.sequence:03d}"

    @property
    def weight(self) -> int:
        return self.group.traffic_weight if self.group.enabled else 0

    def shown(self) -> list[Any]:
        group = self.group
        capacity = [group.capacity_min, group.capacity_max, group.capacity_desired]
        return [group.pk, group.enabled, group.traffic_weight, group.health, capacity, self.instances, self.restore]


@dataclass
class ClusterRow:
    cluster: Cluster
    columns: list[Column]

    @property
    def running(self) -> tuple[str, str]:
        """(artifact, version) of the newest server group, what a deploy form starts from."""
        if not self.columns:
            return "", ""
        name, _, version = self.columns[0].group.artifact.partition(":")
        return name, version

    @property
    def capacity(self) -> dict[str, int]:
        if not self.columns:
            return {"min": 1, "max": 1, "desired": 1}
        group = self.columns[0].group
        return {"min": group.capacity_min, "max": group.capacity_max, "desired": group.capacity_desired}


@dataclass
class Section:
    """The clusters of one account in one region."""

    account: Account
    region: str
    clusters: list[ClusterRow]
    load_balancers: list[LoadBalancer]
    can_operate: bool  # EXECUTE on the application and WRITE on the account
    can_read: bool  # EXECUTE on the application and READ on the account: may find the image

    @property
    def artifacts(self) -> list[str]:
        """The artifacts the account declares, the only ones a deploy may run."""
        return sorted(self.account.artifacts or {})


# Views --------------------------------------------------------------------------------------


@login_required
@require_safe
def clusters_page(request: HttpRequest, name: str) -> HttpResponse:
    application = get_application_for_user(request.user, name, "read")
    context = live_context(request.user, application, unread=_refresh_for(application))
    return render(request, "clouds/clusters.html", context)


@login_required
@require_safe
def clusters_traffic(request: HttpRequest, name: str) -> HttpResponse:
    """Live traffic through the application's load balancers since the previous poll."""
    application = get_application_for_user(request.user, name, "read")
    balancers = LoadBalancer.objects.filter(application=application).select_related("account").order_by("name")
    rows = [(balancer, live_traffic(balancer)) for balancer in balancers]
    return render(request, "clouds/_traffic.html", {"application": application, "rows": rows})


@login_required
@require_safe
def clusters_live(request: HttpRequest, name: str) -> HttpResponse:
    """The live part, after a refresh from the providers; 204 when ``version`` is still current."""
    application = get_application_for_user(request.user, name, "read")
    context = live_context(request.user, application, unread=_refresh_for(application))
    if request.GET.get("version") == context["version"]:
        return HttpResponse(status=204)
    return render(request, "clouds/_clusters_live.html", context)


@login_required
@require_POST
def server_group_action(request: HttpRequest, name: str, server_group_id: int, operation: str) -> HttpResponse:
    """One form target for every operation; 404/403 before anything else when not allowed."""
    if operation not in actions.OPERATIONS:
        raise Http404("No such operation.")
    group = get_server_group_for_user(request.user, server_group_id, "execute")
    if group.cluster.application.name != name:
        raise Http404("No server group found.")
    try:
        execution = actions.run_server_group_operation(
            request.user, group, operation, source=AuditSource.UI, **_fields(request, operation)
        )
    except ValidationError as exc:
        return _refused(request, name, " ".join(exc.messages))
    except PolicyDenied as exc:
        return _refused(request, name, str(exc))
    return _started(request, name, execution)


@login_required
@require_POST
def cluster_action(request: HttpRequest, name: str, cluster_id: int, region: str, operation: str) -> HttpResponse:
    """One form target for every cluster operation, in one region; 404/403 before anything else."""
    if operation not in actions.CLUSTER_OPERATIONS:
        raise Http404("No such operation.")
    cluster = get_cluster_for_user(request.user, cluster_id, "execute")
    if cluster.application.name != name:
        raise Http404("No cluster found.")
    try:
        execution = actions.run_cluster_operation(
            request.user, cluster, operation, region=region, source=AuditSource.UI, **_cluster_fields(request)
        )
    except ValidationError as exc:
        return _refused(request, name, " ".join(exc.messages))
    except PolicyDenied as exc:
        return _refused(request, name, str(exc))
    return _started(request, name, execution)


def _started(request: HttpRequest, name: str, execution: Execution) -> HttpResponse:
    url = reverse("pipelines:execution", kwargs={"name": name, "execution_id": execution.pk})
    if request.headers.get("HX-Request") != "true":
        return redirect(url)
    return render(request, "clouds/_operation_result.html", {"execution": execution, "url": url})


def _fields(request: HttpRequest, operation: str) -> dict[str, Any]:
    if operation == "resize":
        return {"capacity": _capacity_fields(request)}
    if operation == "destroy":
        return {"confirm": request.POST.get("confirm", "").strip()}
    return {}


def _capacity_fields(request: HttpRequest) -> dict[str, str]:
    return {key: request.POST.get(key, "") for key in actions.CAPACITY_KEYS}


def _cluster_fields(request: HttpRequest) -> dict[str, Any]:
    """What the cluster forms post; each operation reads the fields it knows (``run_cluster_operation``)."""
    post = request.POST
    fields: dict[str, Any] = {
        "artifact": post.get("artifact", ""),
        "version": post.get("version", ""),
        "strategy": post.get("strategy", ""),
        "capacity": _capacity_fields(request),
        "allow_active": post.get("allow_active") == "on",
        "confirm": post.get("confirm", "").strip(),
    }
    if "remaining" in post:
        fields["remaining"] = post["remaining"].strip()
    return fields


def _refused(request: HttpRequest, name: str, reason: str) -> HttpResponse:
    if request.headers.get("HX-Request") != "true":
        messages.error(request, reason)
        return redirect("clouds:clusters", name=name)
    return render(request, "clouds/_operation_result.html", {"error": reason})


# Provider state -----------------------------------------------------------------------------


def _refresh_for(application: Application) -> list[str]:
    return refresh_accounts(Account.objects.filter(clusters__application=application).distinct().order_by("name"))


def refresh_accounts(accounts: Iterable[Account]) -> list[str]:
    """Have each account's provider re-read what runs into the rows; answers the accounts whose
    state could not be read (the page then shows the rows as last read, and says so)."""
    unread = []
    for account in accounts:
        try:
            refresh(account)
        except ProviderError as exc:
            logger.warning("Could not refresh account %s: %s", account.name, exc.message)
            unread.append(account.name)
    return unread


# What the templates show --------------------------------------------------------------------


def live_context(user: AnyUser, application: Application, *, unread: list[str] | None = None) -> dict[str, Any]:
    sections = load_sections(user, application)
    return {
        "application": application,
        "sections": sections,
        "can_execute": Access.EXECUTE.value in application.levels_for(user),
        "unread": unread or [],
        "version": _version(sections, unread or []),
        "live_url": reverse("clouds:clusters_live", kwargs={"name": application.name}),
        "poll_seconds": POLL_SECONDS,
        "strategies": actions.STRATEGY_CHOICES,
    }


def load_sections(user: AnyUser, application: Application) -> list[Section]:
    """Clusters grouped by account and region, in five queries however many server groups."""
    active = ServerGroup.objects.active().order_by("-created_at", "-pk")
    clusters = list(
        Cluster.objects.filter(application=application)
        .select_related("account")
        .prefetch_related(Prefetch("server_groups", queryset=active, to_attr="active_groups"), "account__grants")
        .order_by("account__name", "name")
    )
    balancers = list(LoadBalancer.objects.filter(application=application).order_by("name"))
    may_execute = Access.EXECUTE.value in application.levels_for(user)
    sections: dict[tuple[str, str], Section] = {}
    for cluster in clusters:
        account = cluster.account
        for region, columns in _by_region(cluster).items():
            key = (account.name, region)
            if key not in sections:
                lbs = [lb for lb in balancers if lb.account_id == account.pk and lb.region == region]
                levels = account.levels_for(user)
                can_operate = may_execute and Access.WRITE.value in levels
                sections[key] = Section(
                    account, region, [], lbs, can_operate, may_execute and Access.READ.value in levels
                )
            sections[key].clusters.append(ClusterRow(cluster, columns))
    return [sections[key] for key in sorted(sections)]


def _by_region(cluster: Cluster) -> dict[str, list[Column]]:
    """The cluster's server groups per region, newest first; a cluster with none shows empty."""
    groups: list[ServerGroup] = getattr(cluster, "active_groups", [])
    regions: dict[str, list[ServerGroup]] = {}
    for group in groups:
        regions.setdefault(group.region, []).append(group)
    if not regions:
        first = cluster.account.regions[0] if cluster.account.regions else ""
        return {first: []}
    return {
        region: [Column(group, _instances(group), _restore(rows, index)) for index, group in enumerate(rows)]
        for region, rows in regions.items()
    }


def _restore(newest_first: list[ServerGroup], index: int) -> str:
    return newest_first[index + 1].name if index + 1 < len(newest_first) else ""


def _instances(group: ServerGroup) -> list[dict[str, str]]:
    """One entry per instance: from the provider's instance list, else (rows written before the
    list existed, or by hand) from the counts."""
    if group.instances:
        return [
            {"id": str(item.get("id", "")), "health": str(item.get("health", "UNKNOWN")).upper()}
            for item in group.instances
            if isinstance(item, dict)
        ]
    counts = group.instance_counts if isinstance(group.instance_counts, dict) else {}
    return [
        {"id": f"{group.name} ({label.lower()})", "health": label}
        for key, label in COUNTED_HEALTH
        for _ in range(_count(counts.get(key)))
    ]


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _version(sections: list[Section], unread: list[str]) -> str:
    """Changes whenever anything the fragment shows changes."""
    parts: list[Any] = [unread]
    for section in sections:
        parts.append([section.account.pk, section.region, section.can_operate, section.can_read, section.artifacts])
        parts.append([[lb.pk, lb.address] for lb in section.load_balancers])
        parts += [[row.cluster.pk, [column.shown() for column in row.columns]] for row in section.clusters]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]
