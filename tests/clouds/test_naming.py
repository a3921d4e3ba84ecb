"""Tests for clouds.naming: Frigga-style cluster and server group names."""

import dataclasses
import itertools
import random

import pytest

from clouds.naming import (
    APP_NAME_RE,
    MAX_SEQUENCE,
    Moniker,
    NamingError,
    format_cluster,
    format_server_group,
    is_server_group_name,
    next_sequence,
    next_sequence_after,
    parse,
    validate_app_name,
    validate_detail,
    validate_stack,
)
from tests.conftest import assert_sentence

# Application names


@pytest.mark.parametrize("name", ["a", "app", "app2", "x1y2z3", "a" * 63, "spinweb"])
def test_it_accepts_valid_app_names(name: str) -> None:
    assert validate_app_name(name) == name
    assert APP_NAME_RE.match(name)


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "must not be empty"),
        ("App", "may contain only lowercase letters and digits"),
        ("aPp", "may contain only lowercase letters and digits"),
        ("my-app", "may contain only lowercase letters and digits"),
        ("my_app", "may contain only lowercase letters and digits"),
        ("my.app", "may contain only lowercase letters and digits"),
        ("app name", "may contain only lowercase letters and digits"),
        ("app\n", "may contain only lowercase letters and digits"),
        ("café", "may contain only lowercase letters and digits"),
        ("app٣", "may contain only lowercase letters and digits"),
        ("1app", "must start with a letter"),
        ("9", "must start with a letter"),
        ("a" * 64, "64 characters long; the limit is 63"),
    ],
)
def test_it_rejects_invalid_app_names(name: str, fragment: str) -> None:
    with pytest.raises(NamingError) as caught:
        validate_app_name(name)
    message = str(caught.value)
    assert fragment in message
    assert_sentence(message)
    assert not APP_NAME_RE.match(name)


def test_it_words_the_app_name_error_as_a_sentence_naming_the_value() -> None:
    with pytest.raises(NamingError) as caught:
        validate_app_name("My-App")
    assert str(caught.value) == ("Application name 'My-App' may contain only lowercase letters and digits.")


def test_it_makes_naming_error_a_value_error() -> None:
    assert issubclass(NamingError, ValueError)
    with pytest.raises(ValueError, match="lowercase"):
        validate_app_name("App")


@pytest.mark.parametrize("text", ["app\n", "app-x", " app", "app ", "xapp!", "Ab"])
def test_it_anchors_app_name_re_at_both_ends(text: str) -> None:
    assert APP_NAME_RE.match(text) is None
    assert APP_NAME_RE.search(text) is None


def test_it_rejects_a_non_string_app_name() -> None:
    with pytest.raises(NamingError, match="must be a string"):
        validate_app_name(7)  # type: ignore[arg-type]


# Stacks and details


@pytest.mark.parametrize("stack", ["", "prod", "Prod", "prod_1.2", "v001", "A_B.c9"])
def test_it_accepts_valid_stacks(stack: str) -> None:
    assert validate_stack(stack) == stack


@pytest.mark.parametrize("stack", ["pr-od", "pr od", " ", "prod\n", "a~b", "a^b", "é", "a/b", "\t", "a:b"])
def test_it_rejects_invalid_stacks(stack: str) -> None:
    with pytest.raises(NamingError) as caught:
        validate_stack(stack)
    message = str(caught.value)
    assert repr(stack) in message
    assert "may contain only letters, digits, '.' and '_'" in message
    assert_sentence(message)


@pytest.mark.parametrize(
    "detail",
    ["", "d", "a-b-c", "x~y^z", "A.B_C", "-lead", "trail-", "c0us-d0prod", "v001"],
)
def test_it_accepts_valid_details(detail: str) -> None:
    assert validate_detail(detail) == detail


@pytest.mark.parametrize("detail", ["a b", " ", "a/b", "a\tb", "a\n", "a+b", "a:b", "é", "a*", "a,b"])
def test_it_rejects_invalid_details(detail: str) -> None:
    with pytest.raises(NamingError) as caught:
        validate_detail(detail)
    message = str(caught.value)
    assert repr(detail) in message
    assert "'~', '^' and '-'" in message
    assert_sentence(message)


# Formatting


@pytest.mark.parametrize(
    ("app", "stack", "detail", "expected"),
    [
        ("app", "", "", "app"),
        ("app", "stack", "", "app-stack"),
        ("app", "stack", "detail", "app-stack-detail"),
        ("app", "", "detail", "app--detail"),
        ("app", "Stack.1", "d-e-f", "app-Stack.1-d-e-f"),
        ("app", "", "x~y^z", "app--x~y^z"),
    ],
)
def test_it_formats_clusters_like_frigga(app: str, stack: str, detail: str, expected: str) -> None:
    assert format_cluster(app, stack, detail) == expected


def test_it_formats_a_bare_app_cluster_with_defaults() -> None:
    assert format_cluster("app") == "app"
    assert format_cluster("app", detail="d") == "app--d"


@pytest.mark.parametrize(
    ("app", "stack", "detail", "fragment"),
    [
        ("App", "", "", "Application name 'App'"),
        ("", "stack", "", "must not be empty"),
        ("my-app", "", "", "Application name 'my-app'"),
        ("app", "a-b", "", "Stack 'a-b'"),
        ("app", "a b", "", "Stack 'a b'"),
        ("app", "", "a b", "Detail 'a b'"),
        ("app", "stack", "d/e", "Detail 'd/e'"),
    ],
)
def test_it_validates_parts_when_formatting(app: str, stack: str, detail: str, fragment: str) -> None:
    with pytest.raises(NamingError, match=fragment):
        format_cluster(app, stack, detail)
    with pytest.raises(NamingError, match=fragment):
        format_server_group(app, stack, detail, 1)


@pytest.mark.parametrize(
    ("app", "stack", "detail", "sequence", "expected"),
    [
        ("app", "", "", 0, "app-v000"),
        ("app", "", "", 7, "app-v007"),
        ("app", "stack", "", 42, "app-stack-v042"),
        ("app", "stack", "detail", 999, "app-stack-detail-v999"),
        ("app", "", "detail", 3, "app--detail-v003"),
        ("app", "stack", "with-dashes", 12, "app-stack-with-dashes-v012"),
    ],
)
def test_it_formats_server_groups(app: str, stack: str, detail: str, sequence: int, expected: str) -> None:
    assert format_server_group(app, stack, detail, sequence) == expected


def test_it_defaults_the_server_group_sequence_to_zero() -> None:
    assert format_server_group("app") == "app-v000"
    assert format_server_group("app", "stack") == "app-stack-v000"


@pytest.mark.parametrize("sequence", [-1, 1000, 1234, -999])
def test_it_rejects_server_group_sequences_outside_0_to_999(sequence: int) -> None:
    with pytest.raises(NamingError) as caught:
        format_server_group("app", "stack", "", sequence)
    message = str(caught.value)
    assert str(sequence) in message
    assert "0 to 999" in message
    assert_sentence(message)


@pytest.mark.parametrize("sequence", [True, 1.0, "1", None])
def test_it_rejects_server_group_sequences_that_are_not_integers(
    sequence: object,
) -> None:
    with pytest.raises(NamingError, match="must be an integer"):
        format_server_group("app", "", "", sequence)  # type: ignore[arg-type]


# Parsing


@pytest.mark.parametrize(
    ("name", "app", "stack", "detail", "sequence"),
    [
        ("app", "app", "", "", None),
        ("app-stack", "app", "stack", "", None),
        ("app-stack-detail", "app", "stack", "detail", None),
        ("app--detail", "app", "", "detail", None),
        ("app-stack-detail-with-dashes-v012", "app", "stack", "detail-with-dashes", 12),
        ("app-v001", "app", "", "", 1),
        ("app-v000", "app", "", "", 0),
        ("app-v999", "app", "", "", 999),
        ("app--detail-v003", "app", "", "detail", 3),
        # Spinweb reads 3 to 6 digit pushes; Frigga reads exactly three.
        ("app-stack-v1234", "app", "stack", "", 1234),
        ("app-stack-v123456", "app", "stack", "", 123456),
        ("app-stack-v1234567", "app", "stack", "v1234567", None),
        # Too few digits: not a push, just the next token.
        ("app-stack-v12", "app", "stack", "v12", None),
        ("app-v12", "app", "v12", "", None),
        ("app-v1", "app", "v1", "", None),
        ("app-stack-V001", "app", "stack", "V001", None),
        ("app-stack-v001x", "app", "stack", "v001x", None),
        ("app-stack-xv001", "app", "stack", "xv001", None),
        ("v001", "v001", "", "", None),
        # Only the last push is the sequence.
        ("app-stack-detail-v001-v002", "app", "stack", "detail-v001", 2),
        ("app-Stack.1_x-D~e^t", "app", "Stack.1_x", "D~e^t", None),
        # Frigga's labelled variables stay in the detail.
        ("app-stack-c0us-d0prod-v005", "app", "stack", "c0us-d0prod", 5),
        ("app--c0us-h0m5", "app", "", "c0us-h0m5", None),
        # Empty trailing parts, as Frigga allows.
        ("app-", "app", "", "", None),
        ("app--", "app", "", "", None),
        ("app---", "app", "", "-", None),
        ("app-stack--x", "app", "stack", "-x", None),
        # A longer push with leading zeros keeps its value.
        ("app-v0012", "app", "", "", 12),
    ],
)
def test_it_parses_names_like_frigga(name: str, app: str, stack: str, detail: str, sequence: int | None) -> None:
    moniker = parse(name)
    assert moniker == Moniker(app=app, stack=stack, detail=detail, sequence=sequence)
    assert type(moniker.sequence) is type(sequence)


def test_it_reads_my_app_as_app_my_with_stack_app() -> None:
    assert parse("my-app") == Moniker(app="my", stack="app")
    with pytest.raises(NamingError):
        validate_app_name("my-app")


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("App", "does not start with a valid application name"),
        ("App-stack-v001", "does not start with a valid application name"),
        ("1app", "must start with a letter"),
        ("1app-v001", "must start with a letter"),
        ("my_app-stack", "does not start with a valid application name"),
        ("-stack", "does not start with a valid application name"),
        ("-v001", "does not start with a valid application name"),
        ("--detail", "does not start with a valid application name"),
        ("a" * 64 + "-stack", "64 characters long"),
        ("app name", "contains ' '"),
        ("app-stack name", "contains ' '"),
        ("app\n", "contains '\\n'"),
        ("app-stack\t", "contains '\\t'"),
        ("app-stack-dé", "contains 'é'"),
        ("app/stack", "contains '/'"),
        ("app-stack-v001 ", "contains ' '"),
        ("app-st~ack", "has an invalid stack"),
        ("app-st^ack-v001", "has an invalid stack"),
    ],
)
def test_it_rejects_invalid_names_when_parsing(name: str, fragment: str) -> None:
    with pytest.raises(NamingError) as caught:
        parse(name)
    message = str(caught.value)
    assert fragment in message
    assert_sentence(message)
    assert not is_server_group_name(name)


def test_it_rejects_a_non_string_name() -> None:
    with pytest.raises(NamingError, match="must be a string"):
        parse(None)  # type: ignore[arg-type]


_APPS = ["a", "app", "spin2web"]
_STACKS = ["", "prod", "Test_1.x", "v12"]
_DETAILS = ["", "d", "with-dashes", "x~y^z", "-lead", "trail-", "c0us-d0prod", "v12"]
_SEQUENCES = [0, 1, 12, 123, 999]


@pytest.mark.parametrize(
    ("app", "stack", "detail", "sequence"),
    list(itertools.product(_APPS, _STACKS, _DETAILS, _SEQUENCES)),
)
def test_it_round_trips_server_group_names(app: str, stack: str, detail: str, sequence: int) -> None:
    name = format_server_group(app, stack, detail, sequence)
    moniker = parse(name)
    assert moniker == Moniker(app, stack, detail, sequence)
    assert moniker.server_group == name
    assert moniker.cluster == format_cluster(app, stack, detail)
    assert is_server_group_name(name)


@pytest.mark.parametrize(
    ("app", "stack", "detail"),
    list(itertools.product(_APPS, _STACKS, _DETAILS)),
)
def test_it_round_trips_cluster_names(app: str, stack: str, detail: str) -> None:
    name = format_cluster(app, stack, detail)
    moniker = parse(name)
    assert moniker == Moniker(app, stack, detail)
    assert moniker.cluster == name
    assert not is_server_group_name(name)


@pytest.mark.parametrize(
    ("stack", "detail"),
    [("stack", "v001"), ("", "v001"), ("s", "d-v123"), ("v001", "")],
)
def test_it_round_trips_server_groups_whose_cluster_looks_like_a_push(stack: str, detail: str) -> None:
    name = format_server_group("app", stack, detail, 5)
    assert parse(name) == Moniker("app", stack, detail, 5)
    # The bare cluster name is read as a server group, as Frigga does.
    assert is_server_group_name(format_cluster("app", stack, detail))


def test_it_normalises_a_push_with_extra_leading_zeros() -> None:
    assert parse("app-stack-v0012").server_group == "app-stack-v012"


def test_it_keeps_a_parsed_four_digit_push() -> None:
    moniker = parse("app-stack-v1234")
    assert moniker.server_group == "app-stack-v1234"
    assert moniker.cluster == "app-stack"


# is_server_group_name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("app-v001", True),
        ("app-v000", True),
        ("app-stack-detail-v999", True),
        ("app--detail-v010", True),
        ("app-stack-v1234", True),
        ("app", False),
        ("app-stack", False),
        ("app-stack-detail", False),
        ("app-stack-v12", False),
        ("app-v1234567", False),
        ("App-v001", False),
        ("app name-v001", False),
        ("", False),
        ("-v001", False),
    ],
)
def test_it_tells_server_group_names_from_others(name: str, expected: bool) -> None:
    assert is_server_group_name(name) is expected


# Moniker


def test_it_builds_cluster_and_server_group_names_from_a_moniker() -> None:
    moniker = Moniker("app", "stack", "detail", 3)
    assert moniker.cluster == "app-stack-detail"
    assert moniker.server_group == "app-stack-detail-v003"
    assert Moniker("app", detail="d", sequence=0).server_group == "app--d-v000"
    assert Moniker("app").cluster == "app"


def test_it_refuses_a_server_group_name_without_a_sequence() -> None:
    with pytest.raises(NamingError) as caught:
        _ = Moniker("app", "stack").server_group
    message = str(caught.value)
    assert "'app-stack'" in message
    assert "no sequence" in message
    assert_sentence(message)


def test_it_returns_a_new_moniker_with_a_sequence() -> None:
    cluster = Moniker("app", "stack", "detail")
    server_group = cluster.with_sequence(41)
    assert server_group == Moniker("app", "stack", "detail", 41)
    assert server_group.server_group == "app-stack-detail-v041"
    assert cluster.sequence is None
    assert server_group.with_sequence(0).sequence == 0


def test_it_freezes_monikers() -> None:
    moniker = Moniker("app")
    with pytest.raises(dataclasses.FrozenInstanceError):
        moniker.app = "other"  # type: ignore[misc]
    assert hash(moniker) == hash(Moniker("app"))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"app": "App"},
        {"app": ""},
        {"app": "app", "stack": "a-b"},
        {"app": "app", "detail": "a b"},
        {"app": "app", "sequence": -1},
        {"app": "app", "sequence": 1_000_000},
        {"app": "app", "sequence": True},
    ],
)
def test_it_validates_moniker_parts(kwargs: dict[str, object]) -> None:
    with pytest.raises(NamingError):
        Moniker(**kwargs)  # type: ignore[arg-type]


def test_it_validates_the_sequence_given_to_with_sequence() -> None:
    with pytest.raises(NamingError, match="-1"):
        Moniker("app").with_sequence(-1)


@pytest.mark.parametrize(
    ("moniker", "expected"),
    [
        (
            Moniker("app", "stack", "detail", 3),
            {
                "app": "app",
                "stack": "stack",
                "detail": "detail",
                "cluster": "app-stack-detail",
                "sequence": 3,
            },
        ),
        (Moniker("app"), {"app": "app", "cluster": "app"}),
        (Moniker("app", sequence=0), {"app": "app", "cluster": "app", "sequence": 0}),
        (
            Moniker("app", detail="d"),
            {"app": "app", "detail": "d", "cluster": "app--d"},
        ),
        (
            Moniker("app", "stack"),
            {"app": "app", "stack": "stack", "cluster": "app-stack"},
        ),
    ],
)
def test_it_gives_spinnakers_moniker_shape(moniker: Moniker, expected: dict[str, str | int]) -> None:
    assert moniker.to_dict() == expected


def test_it_gives_the_moniker_shape_of_a_parsed_server_group() -> None:
    assert parse("app--canary-v010").to_dict() == {
        "app": "app",
        "detail": "canary",
        "cluster": "app--canary",
        "sequence": 10,
    }


# Sequences


@pytest.mark.parametrize(
    ("latest", "expected"),
    [(None, 0), (0, 1), (1, 2), (41, 42), (998, 999), (999, 0)],
)
def test_it_picks_the_sequence_after_the_latest(latest: int | None, expected: int) -> None:
    assert next_sequence_after(latest) == expected


@pytest.mark.parametrize("latest", [-1, True, "3", 1.5])
def test_it_rejects_a_bad_latest_sequence(latest: object) -> None:
    with pytest.raises(NamingError):
        next_sequence_after(latest)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        ([], 0),
        ([0], 1),
        ([5], 6),
        ([999], 0),
        ([0, 1, 2], 3),
        ([2, 1, 0], 3),
        ([3, 3, 4], 5),
        # Holes behind the latest are not reused.
        ([1, 2, 7], 8),
        ([0, 5, 9], 10),
        # Wrapped sets: the latest is just before the largest gap.
        ([998, 999, 0, 1], 2),
        ([1, 0, 999, 998], 2),
        ([0, 1, 2, 999], 3),
        ([997, 998, 999], 0),
        ([990, 995, 3], 4),
        ([100, 101, 700], 102),
        ([100, 101, 600], 601),
        # Equal gaps: the larger sequence is the latest.
        ([0, 500], 501),
        ([250, 750], 751),
        # Almost full.
        (list(range(999)), 999),
        (list(range(1, 1000)), 0),
        ([n for n in range(1000) if n != 500], 500),
        # Sequences above 999 cannot clash with a new name.
        ([1234], 0),
        ([1234, 5], 6),
    ],
)
def test_it_picks_the_next_sequence_from_those_in_use(existing: list[int], expected: int) -> None:
    assert next_sequence(existing) == expected
    assert next_sequence(iter(existing)) == expected


def test_it_accepts_any_iterable_of_sequences() -> None:
    assert next_sequence(n for n in (998, 999, 0, 1)) == 2
    assert next_sequence({4, 5}) == 6
    assert next_sequence(frozenset()) == 0


def test_it_fails_when_every_sequence_is_taken() -> None:
    with pytest.raises(NamingError) as caught:
        next_sequence(range(1000))
    message = str(caught.value)
    assert "0 to 999" in message
    assert_sentence(message)
    with pytest.raises(NamingError):
        next_sequence([*range(1000), 1000, 0])


@pytest.mark.parametrize("existing", [[-1], [3, -5], [True], [1, "2"], [1.0]])
def test_it_rejects_bad_sequences_in_use(existing: list[object]) -> None:
    with pytest.raises(NamingError):
        next_sequence(existing)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", range(25))
def test_it_never_returns_a_sequence_in_use(seed: int) -> None:
    rng = random.Random(seed)
    size = rng.choice([1, 2, 10, 500, 990, 998, 999])
    existing = set(rng.sample(range(1000), size))
    result = next_sequence(existing)
    assert 0 <= result <= MAX_SEQUENCE
    assert result not in existing


@pytest.mark.parametrize("start", [0, 400, 990, 995, 999])
@pytest.mark.parametrize("count", [1, 3, 10, 50])
def test_it_continues_a_contiguous_run_even_across_the_wrap(start: int, count: int) -> None:
    run = [(start + offset) % 1000 for offset in range(count)]
    assert next_sequence(run) == (start + count) % 1000


def test_it_agrees_with_next_sequence_after_for_a_deployment_history() -> None:
    # Deploy 1,200 server groups keeping the newest three, as a cluster with
    # a retention policy would; each step must continue the history.
    live: list[int] = []
    latest: int | None = None
    for _ in range(1200):
        chosen = next_sequence(live)
        assert chosen == next_sequence_after(latest)
        latest = chosen
        live = [*live, chosen][-3:]
