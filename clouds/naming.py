"""Frigga-style names for Spinnaker clusters and server groups.

Spinnaker (through Netflix's Frigga library) encodes an application, a stack,
a free-form detail and a deployment sequence in one dash-separated name::

    app                      cluster: app only
    app-stack                cluster: app and stack
    app-stack-detail         cluster: app, stack and detail
    app--detail              cluster: app and detail, no stack
    app-stack-detail-v003    server group: a cluster plus a push suffix

This module is the one place in Spinweb that builds, parses and validates
those names. It is plain Python with no Django imports.

Rules, and where Spinweb differs from Frigga:

* The application is stricter than Frigga's: lowercase ASCII letters and
  digits, starting with a letter, 1 to 63 characters (``APP_NAME_RE``).
* The stack may hold letters (either case), digits, ``.`` and ``_``; the
  detail may also hold ``~``, ``^`` and ``-``. Both may be empty. These are
  Frigga's own character sets.
* When parsing, a trailing ``-v`` followed by 3 to 6 ASCII digits is the
  push and its number is the sequence. Frigga itself only reads exactly
  three digits, so Frigga parses ``app-stack-v1234`` as detail ``v1234``
  where this module reads sequence 1234. New names are only ever given
  sequences 0 to 999, rendered with at least three digits (``v007``).
* After the push is removed, the first dash-separated token is the
  application, the second is the stack, and everything after the second
  dash (dashes included) is the detail. Frigga's labelled variables
  (``-c0...``, ``-d0...`` and so on) are not interpreted: they stay in the
  detail.
* Parsing is lenient in the same ways as Frigga, so a few spellings are
  normalised: a push with extra leading zeros (``v0012`` becomes ``v012``)
  and empty trailing parts (``app-`` and ``app--`` both become ``app``).
* As in Frigga and Spinnaker, a stack or detail may itself look like a push
  (``format_cluster("app", "stack", "v001")`` gives ``app-stack-v001``).
  Such a cluster name is read back by ``parse`` as a server group; server
  group names built by ``format_server_group`` always parse back exactly,
  because only the last push is removed.

Choosing the next sequence follows Spinnaker's server group name resolver:
the sequence after the latest one, modulo 1000, skipping numbers in use, and
failing when all 1000 are taken. See ``next_sequence`` for how the latest is
found when only the sequences, not their creation times, are known.
"""

import re
import string
from collections.abc import Iterable
from dataclasses import dataclass, replace

__all__ = [
    "APP_NAME_MAX_LENGTH",
    "APP_NAME_RE",
    "DETAIL_RE",
    "MAX_SEQUENCE",
    "SEQUENCE_SPACE",
    "STACK_RE",
    "Moniker",
    "NamingError",
    "format_cluster",
    "format_server_group",
    "is_server_group_name",
    "next_sequence",
    "next_sequence_after",
    "parse",
    "validate_app_name",
    "validate_detail",
    "validate_stack",
]

APP_NAME_MAX_LENGTH = 63
"""Longest application name Spinweb accepts."""

SEQUENCE_SPACE = 1000
"""How many sequences new server groups cycle through (0 to 999)."""

MAX_SEQUENCE = SEQUENCE_SPACE - 1
"""Largest sequence given to a new server group."""

_MAX_PARSED_SEQUENCE = 999_999
"""Largest sequence a push suffix can carry when parsed (six digits)."""

APP_NAME_RE = re.compile(rf"^[a-z][a-z0-9]{{0,{APP_NAME_MAX_LENGTH - 1}}}\Z")
"""A whole valid application name; anchored, so ``match`` is enough."""

STACK_RE = re.compile(r"^[A-Za-z0-9._]*\Z")
"""A whole valid stack, possibly empty."""

DETAIL_RE = re.compile(r"^[A-Za-z0-9._~^-]*\Z")
"""A whole valid detail, possibly empty."""

_APP_CHARS = frozenset(string.ascii_lowercase + string.digits)
_STACK_CHARS = frozenset(string.ascii_letters + string.digits + "._")
_NAME_CHARS = _STACK_CHARS | frozenset("~^-")
_PUSH_RE = re.compile(r"^(?P<cluster>.*)-v(?P<sequence>[0-9]{3,6})\Z")


class NamingError(ValueError):
    """A cluster or server group name, or one of its parts, is not valid.

    The message is a complete sentence saying what is wrong.
    """


def _require_str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise NamingError(f"{what} must be a string, not {type(value).__name__}.")
    return value


def _first_char_outside(value: str, allowed: frozenset[str]) -> str | None:
    for char in value:
        if char not in allowed:
            return char
    return None


def _check_sequence(sequence: object, upper: int) -> int:
    if isinstance(sequence, bool) or not isinstance(sequence, int):
        raise NamingError(f"A sequence must be an integer, not {type(sequence).__name__}.")
    if not 0 <= sequence <= upper:
        raise NamingError(f"Sequence {sequence} is outside the range 0 to {upper}.")
    return sequence


def validate_app_name(name: str) -> str:
    """Return ``name`` if it is a valid Spinweb application name.

    An application name has 1 to 63 characters, lowercase ASCII letters and
    digits only, and starts with a letter. Raise ``NamingError`` otherwise.
    """
    _require_str(name, "An application name")
    if not name:
        raise NamingError("An application name must not be empty.")
    if len(name) > APP_NAME_MAX_LENGTH:
        raise NamingError(
            f"Application name {name!r} is {len(name)} characters long; the limit is {APP_NAME_MAX_LENGTH}."
        )
    if _first_char_outside(name, _APP_CHARS) is not None:
        raise NamingError(f"Application name {name!r} may contain only lowercase letters and digits.")
    if not APP_NAME_RE.match(name):
        raise NamingError(f"Application name {name!r} must start with a letter.")
    return name


def validate_stack(stack: str) -> str:
    """Return ``stack`` if it is a valid stack, which may be empty.

    A stack holds letters, digits, ``.`` and ``_``; no dashes, whitespace or
    other characters. Raise ``NamingError`` otherwise.
    """
    _require_str(stack, "A stack")
    if not STACK_RE.match(stack):
        raise NamingError(f"Stack {stack!r} may contain only letters, digits, '.' and '_'.")
    return stack


def validate_detail(detail: str) -> str:
    """Return ``detail`` if it is a valid detail, which may be empty.

    A detail holds letters, digits, ``.``, ``_``, ``~``, ``^`` and ``-``; no
    whitespace or other characters. Raise ``NamingError`` otherwise.
    """
    _require_str(detail, "A detail")
    if not DETAIL_RE.match(detail):
        raise NamingError(f"Detail {detail!r} may contain only letters, digits, '.', '_', '~', '^' and '-'.")
    return detail


def _join_cluster(app: str, stack: str, detail: str) -> str:
    if detail:
        return f"{app}-{stack}-{detail}"
    if stack:
        return f"{app}-{stack}"
    return app


def format_cluster(app: str, stack: str = "", detail: str = "") -> str:
    """Build a cluster name: ``app``, ``app-stack``, ``app-stack-detail``.

    With a detail but no stack the stack slot is left empty, giving
    ``app--detail``, as Frigga does. Every part is validated.
    """
    validate_app_name(app)
    validate_stack(stack)
    validate_detail(detail)
    return _join_cluster(app, stack, detail)


def format_server_group(app: str, stack: str = "", detail: str = "", sequence: int = 0) -> str:
    """Build a server group name: the cluster name plus ``-vNNN``.

    ``sequence`` must be an integer from 0 to 999; it is written with three
    digits (``-v007``). Raise ``NamingError`` for any invalid part.
    """
    cluster = format_cluster(app, stack, detail)
    _check_sequence(sequence, MAX_SEQUENCE)
    return f"{cluster}-v{sequence:03d}"


@dataclass(frozen=True)
class Moniker:
    """The parts of a cluster or server group name.

    ``sequence`` is ``None`` for a cluster. The parts are validated when the
    moniker is created; a sequence may be up to 999999 so that every name
    ``parse`` accepts has a moniker, but ``with_sequence`` and
    ``format_server_group`` are what new server groups should use.
    """

    app: str
    stack: str = ""
    detail: str = ""
    sequence: int | None = None

    def __post_init__(self) -> None:
        validate_app_name(self.app)
        validate_stack(self.stack)
        validate_detail(self.detail)
        if self.sequence is not None:
            _check_sequence(self.sequence, _MAX_PARSED_SEQUENCE)

    @property
    def cluster(self) -> str:
        """The cluster name, e.g. ``app-stack-detail``."""
        return _join_cluster(self.app, self.stack, self.detail)

    @property
    def server_group(self) -> str:
        """The server group name, e.g. ``app-stack-detail-v003``.

        Raise ``NamingError`` if the moniker has no sequence.
        """
        if self.sequence is None:
            raise NamingError(f"Cluster {self.cluster!r} has no sequence, so it has no server group name.")
        return f"{self.cluster}-v{self.sequence:03d}"

    def with_sequence(self, sequence: int) -> "Moniker":
        """Return a copy of this moniker with ``sequence`` set."""
        return replace(self, sequence=sequence)

    def to_dict(self) -> dict[str, str | int]:
        """Return Spinnaker's moniker JSON shape.

        Keys are ``app``, ``stack``, ``detail``, ``cluster`` and
        ``sequence``; ``stack`` and ``detail`` are left out when empty and
        ``sequence`` when it is ``None``.
        """
        result: dict[str, str | int] = {"app": self.app}
        if self.stack:
            result["stack"] = self.stack
        if self.detail:
            result["detail"] = self.detail
        result["cluster"] = self.cluster
        if self.sequence is not None:
            result["sequence"] = self.sequence
        return result


def parse(name: str) -> Moniker:
    """Parse a cluster or server group name into a ``Moniker``.

    A trailing ``-v`` with 3 to 6 digits is the push and gives the sequence
    (``None`` when absent). Of the rest, the first dash-separated token is
    the application, the second the stack, and everything after the second
    dash the detail, so ``app--detail`` has an empty stack. Raise
    ``NamingError`` for an empty name, a character outside letters, digits,
    ``.``, ``_``, ``~``, ``^`` and ``-``, an invalid application name, or a
    stack holding ``~`` or ``^``.
    """
    _require_str(name, "A name")
    if not name.strip():
        raise NamingError("A cluster or server group name must not be empty.")
    bad = _first_char_outside(name, _NAME_CHARS)
    if bad is not None:
        raise NamingError(
            f"Name {name!r} contains {bad!r}; only letters, digits, '.', '_', '~', '^' and '-' are allowed."
        )

    cluster = name
    sequence: int | None = None
    push = _PUSH_RE.match(name)
    if push is not None:
        cluster = push.group("cluster")
        sequence = int(push.group("sequence"))

    app, _, rest = cluster.partition("-")
    stack, _, detail = rest.partition("-")
    try:
        validate_app_name(app)
    except NamingError as exc:
        raise NamingError(f"Name {name!r} does not start with a valid application name. {exc}") from None
    try:
        validate_stack(stack)
    except NamingError as exc:
        raise NamingError(f"Name {name!r} has an invalid stack. {exc}") from None
    return Moniker(app=app, stack=stack, detail=detail, sequence=sequence)


def is_server_group_name(name: str) -> bool:
    """Return whether ``name`` parses and ends in a push (``-vNNN``)."""
    try:
        return parse(name).sequence is not None
    except NamingError:
        return False


def next_sequence_after(latest: int | None) -> int:
    """Return the sequence that follows ``latest``, as Spinnaker picks it.

    ``None`` (no previous server group) gives 0; otherwise the result is
    ``(latest + 1) % 1000``, so 999 wraps to 0. ``latest`` must be a
    non-negative integer.
    """
    if latest is None:
        return 0
    _check_sequence(latest, _MAX_PARSED_SEQUENCE)
    return (latest + 1) % SEQUENCE_SPACE


def next_sequence(existing: Iterable[int]) -> int:
    """Return the sequence for a new server group, given those in use.

    Spinnaker takes the sequence after the latest server group, where it
    knows "latest" from creation times, and skips numbers still in use.
    From sequences alone this function finds the latest with the largest
    gap rule: put the sequences on a circle of 1000 numbers; the latest is
    the one just before the largest run of unused numbers going round
    upwards. Sequences are handed out in increasing order modulo 1000, so
    the unused run after the latest (up to the oldest survivor) is normally
    the longest; for ``{998, 999, 0, 1}`` it runs from 2 to 997, so the
    latest is 1 and the answer is 2. When gaps tie, the larger sequence is
    taken as the latest, which matches Spinnaker's choice of the highest
    sequence when nothing has wrapped (``{0, 500}`` gives 501).

    The rule is a heuristic: if server groups in the middle of a run were
    deleted, an inner gap can be larger than the true one. When the latest
    server group is known, use ``next_sequence_after`` instead.

    The answer is never in use, because the largest gap among fewer than
    1000 numbers always leaves a free number after the latest. An empty
    collection gives 0. Sequences above 999 (readable from six-digit
    pushes, never produced here) cannot collide with a new name and are
    ignored. Raise ``NamingError`` if all of 0 to 999 are in use or if a
    sequence is negative or not an integer.
    """
    in_use: set[int] = set()
    for sequence in existing:
        _check_sequence(sequence, _MAX_PARSED_SEQUENCE)
        if sequence <= MAX_SEQUENCE:
            in_use.add(sequence)
    if not in_use:
        return 0
    if len(in_use) >= SEQUENCE_SPACE:
        raise NamingError(f"Every sequence from 0 to {MAX_SEQUENCE} is in use, so there is no free server group name.")

    ordered = sorted(in_use)
    latest = ordered[-1]
    largest_gap = 0
    for index, sequence in enumerate(ordered):
        following = ordered[(index + 1) % len(ordered)]
        gap = (following - sequence) % SEQUENCE_SPACE or SEQUENCE_SPACE
        # ">=" over ascending sequences: on a tie the larger sequence wins.
        if gap >= largest_gap:
            largest_gap = gap
            latest = sequence
    return next_sequence_after(latest)
