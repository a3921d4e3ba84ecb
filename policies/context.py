"""Who is acting, for hooks that cannot see the run they serve (the deployment hook in the providers).

The engine sets :func:`acting` around every task it runs; a provider call made inside reads
:func:`current` to fill ``input.user`` and to link its decision to the execution and stage. Outside
a run (a page, a command, a test calling a provider) the actor is the system user.

The user document is built on first use only: runs with no deployment policy never pay for it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

UserDocument = dict[str, Any]


def _system_user() -> UserDocument:
    return {"username": "system", "isAdmin": False, "roles": []}


@dataclass
class Acting:
    """The actor of provider calls made now, and the run and stage they serve (if any)."""

    build_user: Callable[[], UserDocument] = _system_user
    application: str = ""
    execution_id: str | None = None
    stage_id: str | None = None
    stage_type: str | None = None  # the stage and task asking, so a policy can tell a destroy's disable
    task: str | None = None
    _user: UserDocument | None = field(default=None, repr=False)

    def user(self) -> UserDocument:
        """The ``input.user`` document, built once."""
        if self._user is None:
            self._user = self.build_user()
        return self._user


_ACTING: ContextVar[Acting | None] = ContextVar("spinweb_policy_acting", default=None)


def current() -> Acting:
    """The actor set by the innermost :func:`acting`; the system user outside any."""
    return _ACTING.get() or Acting()


@contextlib.contextmanager
def acting(
    build_user: Callable[[], UserDocument],
    *,
    application: str = "",
    execution_id: Any = None,
    stage_id: Any = None,
    stage_type: str | None = None,
    task: str | None = None,
) -> Iterator[Acting]:
    """Within the block, provider calls act as ``build_user()`` for the given run and stage."""
    value = Acting(
        build_user,
        application,
        str(execution_id) if execution_id is not None else None,
        str(stage_id) if stage_id is not None else None,
        stage_type,
        task,
    )
    token = _ACTING.set(value)
    try:
        yield value
    finally:
        _ACTING.reset(token)
