"""The engine registry and the per-process snapshot of the enabled policy set.

Every process (web server, worker, command) keeps one :class:`PolicySet` and compares its
generation with :class:`policies.models.PolicySetState` before each decision (one query), so a
change saved anywhere reaches every process on its next decision.
"""

from __future__ import annotations

import atexit
import threading
from typing import Any

from django.conf import settings

from policies.engines.base import CompiledPolicy, Engine, EngineError, PolicyAnswer, PolicySet

__all__ = [
    "CompiledPolicy",
    "Engine",
    "EngineError",
    "PolicyAnswer",
    "PolicySet",
    "current_engine",
    "current_policy_set",
    "data_document",
    "forget",
    "read_generation",
    "reset",
]

_lock = threading.Lock()
_engine: tuple[str, Engine] | None = None
_policy_set: PolicySet | None = None


def current_engine() -> Engine:
    """The engine of this process: remote when ``OPA_URL`` is set, else embedded (kept per URL)."""
    global _engine
    url = getattr(settings, "OPA_URL", "") or ""
    with _lock:
        if _engine is None or _engine[0] != url:
            _engine = (url, _make_engine(url))
        return _engine[1]


def _make_engine(url: str) -> Engine:
    if url:
        from policies.engines.remote import RemoteEngine  # helper module; imported only when used

        return RemoteEngine()
    from policies.engines.embedded import EmbeddedEngine

    return EmbeddedEngine()


def read_generation() -> int:
    from policies.models import PolicySetState

    value = PolicySetState.objects.order_by("pk").values_list("generation", flat=True).first()
    return int(value or 0)


def current_policy_set() -> PolicySet:
    """The enabled policies and data at the current generation: one query when nothing changed."""
    global _policy_set
    generation = read_generation()
    cached = _policy_set
    if cached is not None and cached.generation == generation:
        return cached
    loaded = load_policy_set(generation)
    with _lock:
        _policy_set = loaded
    return loaded


def forget() -> None:
    """Drop this process's snapshot (called when this process bumps the generation)."""
    global _policy_set
    with _lock:
        _policy_set = None


def reset() -> None:
    """Drop the snapshot and the engine (tests; settings changes such as OPA_URL)."""
    global _engine
    forget()
    with _lock:
        _engine = None


def load_policy_set(generation: int) -> PolicySet:
    from policies.models import Policy

    rows = Policy.objects.filter(enabled=True).order_by("pk").values_list("pk", "name", "package", "mode", "source")
    policies = tuple(CompiledPolicy(pk, name, package, mode, source) for pk, name, package, mode, source in rows)
    return PolicySet(generation=generation, policies=policies, data=data_document())


def data_document() -> dict[str, Any]:
    """``data.<key>`` for every reference document plus ``data.spinweb.accounts``."""
    from clouds.models import Account
    from policies.models import ReferenceData

    data: dict[str, Any] = dict(ReferenceData.objects.order_by("key").values_list("key", "document"))
    accounts = Account.objects.order_by("name").values_list("name", "provider", "environment", "regions")
    data["spinweb"] = {
        "accounts": {
            name: {"provider": provider, "environment": environment, "regions": list(regions or [])}
            for name, provider, environment, regions in accounts
        }
    }
    return data


# regopy frees its interpreter in ``__del__``, which fails noisily when it runs during the
# interpreter's own teardown (its ctypes bindings are gone by then): free it while they exist.
atexit.register(reset)
