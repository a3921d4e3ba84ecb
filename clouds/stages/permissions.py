"""Save-time rule: whoever saves a pipeline must be allowed to use the accounts its cluster stages name.

WRITE (deploy to) for every stage that changes a cluster, READ for ``findImageFromCluster``. An
account the user cannot see does not exist for them. Without a user (a system save) only
existence is checked. Names written as ``${…}`` are known only when the stage runs, where the
tasks check again against the user who started the run (``clouds.stages.common.account_for``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clouds.models import Account
from pipelines.validation import Issue
from spinweb.permissions import Access

if TYPE_CHECKING:
    from spinweb.permissions import AnyUser

# Stage type -> the level its account needs; each names its account in ``credentials``.
ACCOUNT_NEEDS: dict[str, Access] = {
    "enableServerGroup": Access.WRITE,
    "disableServerGroup": Access.WRITE,
    "resizeServerGroup": Access.WRITE,
    "destroyServerGroup": Access.WRITE,
    "disableCluster": Access.WRITE,
    "scaleDownCluster": Access.WRITE,
    "shrinkCluster": Access.WRITE,
    "rollbackServerGroup": Access.WRITE,
    "rollbackCluster": Access.WRITE,
    "findImageFromCluster": Access.READ,
}


def account_issues(document: Any, user: AnyUser | None) -> list[Issue]:
    """An issue at each account field naming an account ``user`` may not use (one query for all)."""
    wanted = named_accounts(document)
    if not wanted:
        return []
    names = {name for name, _ in wanted.values()}
    accounts = {row.name: row for row in Account.objects.filter(name__in=names).prefetch_related("grants")}
    issues = [_issue(path, name, need, accounts.get(name), user) for path, (name, need) in wanted.items()]
    return [issue for issue in issues if issue is not None]


def named_accounts(document: Any) -> dict[str, tuple[str, Access]]:
    """``{JSON path: (account name, level needed)}`` of the cluster stages' accounts."""
    stages = document.get("stages") if isinstance(document, dict) else None
    wanted: dict[str, tuple[str, Access]] = {}
    for index, stage in enumerate(stages if isinstance(stages, list) else []):
        if not isinstance(stage, dict):
            continue
        at = f"stages[{index}]"
        if stage.get("type") == "deploy" and isinstance(stage.get("clusters"), list):
            for position, entry in enumerate(stage["clusters"]):
                _add(wanted, f"{at}.clusters[{position}]", entry, Access.WRITE)
        elif stage.get("type") == "createServerGroup":
            _add(wanted, at, stage, Access.WRITE)
        elif stage.get("type") in ACCOUNT_NEEDS:
            _add(wanted, at, stage, ACCOUNT_NEEDS[stage["type"]], key="credentials")
    return wanted


def _add(wanted: dict[str, tuple[str, Access]], at: str, item: Any, need: Access, key: str = "") -> None:
    if not isinstance(item, dict):
        return
    key = key or ("account" if "account" in item or "credentials" not in item else "credentials")
    name = item.get(key)
    if isinstance(name, str) and name and "${" not in name:
        wanted[f"{at}.{key}"] = (name, need)


def _issue(path: str, name: str, need: Access, account: Account | None, user: AnyUser | None) -> Issue | None:
    levels = account.levels_for(user) if account is not None and user is not None else {a.value for a in Access}
    if account is None or Access.READ.value not in levels:
        return Issue(path, f"There is no account named {name!r}.")
    if need.value not in levels:
        verb = "deploy to" if need == Access.WRITE else "read"
        return Issue(path, f"You may not {verb} account {name}: {need.value} on it is needed.")
    return None
