"""Per-application permissions, closed by default (Spinnaker's Fiat, on Django groups).

An application grants READ, WRITE and EXECUTE each to a list of Django groups.
WRITE and EXECUTE imply READ (you cannot change or run what you cannot see); WRITE does
not imply EXECUTE. Superusers bypass every check. A user with no grant sees nothing.

The ``get_*_for_user`` helpers are the one way views, viewsets and commands fetch a row:
they raise ``Http404`` when the user may not see it at all and ``PermissionDenied`` when
they may see it but lack the level asked for.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

    AnyUser = AbstractBaseUser | AnonymousUser


M = TypeVar("M", bound=models.Model)


class Access(models.TextChoices):
    READ = "READ", "Read"
    WRITE = "WRITE", "Write"
    EXECUTE = "EXECUTE", "Execute"


Need = Literal["read", "write", "execute"]

NEED_TO_ACCESS: dict[str, Access] = {
    "read": Access.READ,
    "write": Access.WRITE,
    "execute": Access.EXECUTE,
}


def has_perm(user: AnyUser, perm: str) -> bool:
    """Django model permission (from the admin's user and group screens); admins hold all."""
    check = getattr(user, "has_perm", None)
    return bool(user.is_authenticated and check is not None and check(perm))


def is_admin(user: AnyUser) -> bool:
    return bool(user.is_authenticated and user.is_active and getattr(user, "is_superuser", False))


def grant_filter(user: AnyUser, need: Need, prefix: str = "grants") -> models.Q:
    """A Q over a model with a ``grants`` relation: rows the user holds ``need`` on."""
    if not (user.is_authenticated and user.is_active):
        return models.Q(pk__in=[])
    user_q = models.Q(**{f"{prefix}__group__user": user})
    if need == "read":
        return user_q
    return user_q & models.Q(**{f"{prefix}__level": NEED_TO_ACCESS[need]})


def group_ids(user: AnyUser) -> frozenset[int]:
    """The user's group ids, read once per user object (one request) and kept on it."""
    cached: frozenset[int] | None = getattr(user, "_spinweb_group_ids", None)
    if cached is None:
        groups: Any = getattr(user, "groups", None)
        active = user.is_authenticated and user.is_active and groups is not None
        cached = frozenset(groups.values_list("pk", flat=True)) if active else frozenset()
        setattr(user, "_spinweb_group_ids", cached)  # noqa: B010 (not a declared attribute)
    return cached


def levels_of(user: AnyUser, grants: Iterable[Any]) -> set[str]:
    """The access levels a user holds through grant rows (pass prefetched rows in lists)."""
    if is_admin(user):
        return {level.value for level in Access}
    mine = group_ids(user)
    levels = {grant.level for grant in grants if grant.group_id in mine}
    if levels:
        levels.add(Access.READ.value)
    return levels


def ordered(levels: set[str]) -> list[str]:
    """Levels in Spinnaker's order: READ, WRITE, EXECUTE."""
    return [level.value for level in Access if level.value in levels]


def require(levels: set[str], need: Need, what: str) -> None:
    """Raise 404 when ``levels`` gives no READ, 403 when it lacks ``need``.

    The 404 reads the same whether the row exists or not, so names do not leak.
    """
    if Access.READ.value not in levels:
        raise Http404(f"No {what} found.")
    if NEED_TO_ACCESS[need].value not in levels:
        raise PermissionDenied(f"You need {NEED_TO_ACCESS[need].value} permission on this {what}.")


def resolve_groups(raw: object, levels: tuple[str, ...], field: str = "permissions") -> dict[str, list[Any]]:
    """Turn ``{"READ": ["devs"], ...}`` into Group rows; errors are keyed by their JSON path."""
    from django.contrib.auth.models import Group
    from django.core.exceptions import ValidationError

    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValidationError({field: 'Give permissions as an object such as {"READ": ["group"]}.'})
    errors: dict[str, str] = {}
    for key in raw:
        if key not in levels:
            errors[f"{field}.{key}"] = f"Unknown permission {key!r}; use {', '.join(levels)}."
    names = {name for value in raw.values() if isinstance(value, list) for name in value if isinstance(name, str)}
    groups = {group.name: group for group in Group.objects.filter(name__in=names)}
    result: dict[str, list[Any]] = {}
    for level in levels:
        value = raw.get(level, [])
        if not isinstance(value, list):
            errors[f"{field}.{level}"] = "Give a list of group names."
            continue
        result[level] = []
        for index, name in enumerate(value):
            if not isinstance(name, str) or name not in groups:
                errors[f"{field}.{level}[{index}]"] = f"There is no group named {name!r}."
            elif groups[name] not in result[level]:
                result[level].append(groups[name])
    if errors:
        raise ValidationError(errors)
    return result


def get_owned(
    queryset: models.QuerySet[M, M], user: AnyUser, pk: Any, need: Need, what: str, path: str = "application"
) -> M:
    """A row owned by an application, as visible as the application at ``path``: 404/403 as ``require``.

    A malformed id reads as a missing row, so it too answers 404.
    """
    from django.core.exceptions import ValidationError

    try:
        row = queryset.filter(pk=pk).first()
    except (ValueError, ValidationError):
        row = None
    application: Any = row
    for part in path.split("__") if row is not None else []:
        application = getattr(application, part)
    require(application.levels_for(user) if application is not None else set(), need, what)
    assert row is not None
    return row
