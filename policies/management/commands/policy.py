"""``manage.py policy add|eval|test|list|starters`` and ``manage.py policy data set|list``."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from policies import actions, gate, rego
from policies.hooks import Hook, hook_of
from policies.library import install_missing
from policies.models import Policy, PolicyMode, ReferenceData
from policies.testing import run_policy_tests
from policies.types import Decision
from spinweb.models import AuditSource

INVALID = 2  # exit status for invalid input, as ``manage.py pipeline``


class Command(BaseCommand):
    help = "Add, evaluate, test and list policies, and set the reference data they read."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", help="Record the change as this user (default: system).")
        sub = parser.add_subparsers(dest="verb", required=True)
        add = sub.add_parser(
            "add", help="Create or update a policy (by name) from a .rego file; enabled unless --disabled."
        )
        add.add_argument("file", help="The Rego file.")
        add.add_argument("--name", help="The policy name (default: the file name without .rego).")
        add.add_argument("--mode", choices=PolicyMode.values, help="enforce (default for a new policy) or warn.")
        add.add_argument("--disabled", action="store_true", help="Save it disabled.")
        add.add_argument("--tests", help="A JSON file of test cases (a list, or an object with a tests list).")
        add.add_argument("--description", help="What the policy is for.")
        evaluate = sub.add_parser("eval", help="Decide an input with the enabled policies of a package.")
        evaluate.add_argument("--package", required=True, help="A hook package, e.g. spinnaker.http.authz.")
        evaluate.add_argument("--input", required=True, help="The input document (JSON file, or - for stdin).")
        test = sub.add_parser("test", help="Run the test cases of every policy (or of those named).")
        test.add_argument("names", nargs="*", metavar="NAME")
        sub.add_parser("list", help="List the policies.")
        sub.add_parser("starters", help="Install, disabled, the starter-library policies not installed yet.")
        data = sub.add_parser("data", help="Reference data policies read as data.<key>.")
        data_sub = data.add_subparsers(dest="data_verb", required=True)
        data_set = data_sub.add_parser("set", help="Create or replace a reference document.")
        data_set.add_argument("key")
        data_set.add_argument("file", help="The JSON document (file, or - for stdin).")
        data_set.add_argument("--description", default=None)
        data_sub.add_parser("list", help="List the reference documents.")

    def handle(self, *args: Any, verb: str, user: str | None = None, **options: Any) -> None:
        actor = get_user_model().objects.filter(username=user).first() if user else None
        if user and actor is None:
            raise CommandError(f"No user named {user!r}.", returncode=INVALID)
        if verb == "add":
            self._add(actor, **options)
        elif verb == "eval":
            self._eval(options["package"], options["input"])
        elif verb == "test":
            self._test(options["names"])
        elif verb == "list":
            self._list()
        elif verb == "starters":
            created = install_missing()
            self.stdout.write("\n".join(created) if created else "Every starter policy is installed already.")
        elif options["data_verb"] == "set":
            self._data_set(actor, options["key"], options["file"], options["description"])
        else:
            self._data_list()

    # add ------------------------------------------------------------------------------------

    def _add(
        self,
        actor: Any,
        file: str,
        name: str | None,
        mode: str | None,
        disabled: bool,
        tests: str | None,
        description: str | None,
        **_: Any,
    ) -> None:
        source = _read(file)
        problems = rego.check_source(source, Path(file).name)
        if problems:
            for problem in problems:
                where = f"{problem.line}:{problem.column}: " if problem.line is not None else ""
                self.stderr.write(f"{file}:{where}{problem.message}")
            raise CommandError(f"{len(problems)} problem(s) in {file}; nothing was saved.", returncode=INVALID)
        name = name or Path(file).stem
        existing = Policy.objects.filter(name=name).first()
        cases = _cases(tests) if tests else (existing.tests if existing else [])
        try:
            policy = actions.save_policy(
                actor,
                name=name,
                source=source,
                description=description if description is not None else (existing.description if existing else ""),
                mode=mode or (existing.mode if existing else PolicyMode.ENFORCE),
                enabled=not disabled,
                tests=cases,
                policy=existing,
                starter=existing.starter if existing else "",
                source_label=AuditSource.CLI,
            )
        except actions.PolicyInvalid as exc:
            for path, message in exc.issues:
                self.stderr.write(f"{path or 'policy'}: {message}")
            raise CommandError(f"{len(exc.issues)} problem(s); nothing was saved.", returncode=INVALID) from None
        state = "enabled" if policy.enabled else "disabled"
        verb = "Updated" if existing else "Created"
        self.stdout.write(f"{verb} {policy.name} v{policy.version} ({policy.package}, {policy.mode}, {state}).")

    # eval -----------------------------------------------------------------------------------

    def _eval(self, package: str, file: str) -> None:
        hook = hook_of(package)
        if hook is None:
            raise CommandError(rego.unknown_package_message(package), returncode=INVALID)
        document = _json(file)
        if not isinstance(document, dict):
            raise CommandError(f"{file} must hold a JSON object (the input document).", returncode=INVALID)
        decision = gate.decide(hook, package, document, subject="manage.py policy eval", dry_run=True)
        self.stdout.write(json.dumps(eval_answer(decision), indent=2))

    # test -----------------------------------------------------------------------------------

    def _test(self, names: list[str]) -> None:
        policies = list(Policy.objects.order_by("name"))
        if names:
            missing = sorted(set(names) - {p.name for p in policies})
            if missing:
                raise CommandError(f"No policy named {', '.join(missing)}.", returncode=INVALID)
            policies = [p for p in policies if p.name in names]
        passed = failed = 0
        for policy in policies:
            results = run_policy_tests(policy)
            if not results:
                self.stdout.write(f"---- {policy.name}: no test cases")
            for result in results:
                ok = result.passed
                passed, failed = passed + ok, failed + (not ok)
                line = (
                    f"PASS {policy.name}: {result.name}"
                    if ok
                    else f"FAIL {policy.name}: {result.name}: {result.detail}"
                )
                self.stdout.write(line)
        self.stdout.write(f"{passed} passed, {failed} failed.")
        if failed:
            raise CommandError(f"{failed} test case(s) failed.", returncode=1)

    # list and data ----------------------------------------------------------------------------

    def _list(self) -> None:
        rows = [("NAME", "ENABLED", "MODE", "VERSION", "PACKAGE", "STARTER")]
        for p in Policy.objects.order_by("name"):
            rows.append((p.name, "yes" if p.enabled else "no", p.mode, str(p.version), p.package, p.starter or "-"))
        self.stdout.write(_table(rows))

    def _data_set(self, actor: Any, key: str, file: str, description: str | None) -> None:
        document = _json(file)
        existing = ReferenceData.objects.filter(key=key).first()
        try:
            item = actions.save_reference_data(
                actor,
                key=key,
                document=document,
                description=description if description is not None else (existing.description if existing else ""),
                source_label=AuditSource.CLI,
            )
        except actions.PolicyInvalid as exc:
            for path, message in exc.issues:
                self.stderr.write(f"{path}: {message}")
            raise CommandError(f"{len(exc.issues)} problem(s); nothing was saved.", returncode=INVALID) from None
        self.stdout.write(f"Saved data.{item.key} v{item.version}.")

    def _data_list(self) -> None:
        rows = [("KEY", "VERSION", "DESCRIPTION")]
        rows += [(d.key, str(d.version), d.description) for d in ReferenceData.objects.order_by("key")]
        self.stdout.write(_table(rows))


def eval_answer(decision: Decision) -> dict[str, Any]:
    """What ``policy eval`` prints: allowed + deny messages, or allowed + message for authz."""
    if decision.hook == Hook.AUTHZ:
        answer: dict[str, Any] = {"allowed": decision.allowed, "message": decision.message or None}
    else:
        enforced = [v.message for v in decision.violations if v.mode == PolicyMode.ENFORCE]
        answer = {"allowed": decision.allowed, "deny": enforced}
    warned = [v.message for v in decision.violations if v.mode == PolicyMode.WARN]
    if warned:
        answer["warn"] = warned
    if decision.error:
        answer["error"] = decision.error
    return answer


def _read(file: str) -> str:
    try:
        return Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"Cannot read {file}: {exc.strerror}.", returncode=INVALID) from None
    except UnicodeDecodeError:
        raise CommandError(f"{file} is not UTF-8 text.", returncode=INVALID) from None


def _json(file: str) -> Any:
    text = sys.stdin.read() if file == "-" else _read(file)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(
            f"{file} is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.", returncode=INVALID
        ) from None


def _cases(file: str) -> list[dict[str, Any]]:
    document = _json(file)
    cases = document.get("tests") if isinstance(document, dict) else document
    if not isinstance(cases, list):
        raise CommandError(
            f"{file} must hold a list of test cases, or an object with a tests list.", returncode=INVALID
        )
    return cases


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    )
