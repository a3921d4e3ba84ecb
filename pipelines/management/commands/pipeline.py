"""``manage.py pipeline save -f FILE``, ``pipeline run APP NAME`` and ``pipeline dryrun APP NAME``."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from pipelines import actions
from pipelines.documents import execution_document
from pipelines.models import Execution, Pipeline
from pipelines.statuses import COMPLETED, Status
from policies.types import PolicyDenied
from spinweb.models import AuditSource

INVALID = 2  # exit status for invalid input, as documented


class Command(BaseCommand):
    help = "Save pipelines from JSON files and run them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", help="Record the change or run as this user (default: system).")
        sub = parser.add_subparsers(dest="verb", required=True)
        save = sub.add_parser("save", help="Create or update a pipeline (by application + name) from a JSON file.")
        save.add_argument("-f", "--file", required=True, help="Pipeline JSON file, or - for standard input.")
        run = sub.add_parser("run", help="Start a manual run.")
        run.add_argument("application")
        run.add_argument("name")
        run.add_argument("--param", action="append", default=[], metavar="K=V", help="A parameter (repeatable).")
        run.add_argument("--wait", action="store_true", help="Wait until the run ends; exit 0 only if it SUCCEEDED.")
        run.add_argument("--timeout", type=float, default=3600, help="Seconds to wait with --wait (default 3600).")
        run.add_argument("--json", action="store_true", help="Print the execution as JSON.")
        dry = sub.add_parser("dryrun", help="Decide every policy gate a manual run would pass, without running it.")
        dry.add_argument("application")
        dry.add_argument("name")
        dry.add_argument("--param", action="append", default=[], metavar="K=V", help="A parameter (repeatable).")
        # Its own dest: a subcommand's default would overwrite the --user given before the verb.
        dry.add_argument("--user", dest="run_as", metavar="NAME", help="The user the run would be started by.")
        dry.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args: Any, verb: str, user: str | None = None, **options: Any) -> None:
        actor = get_user_model().objects.filter(username=user).first() if user else None
        if user and actor is None:
            raise CommandError(f"No user named {user!r}.", returncode=INVALID)
        if verb == "save":
            self._save(actor, options["file"])
        elif verb == "dryrun":
            self._dryrun(actor, **options)
        else:
            self._run(actor, **options)

    def _save(self, actor: Any, file: str) -> None:
        try:
            text = sys.stdin.read() if file == "-" else Path(file).read_text()
            document = json.loads(text)
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.", returncode=INVALID) from None
        except json.JSONDecodeError as exc:
            raise CommandError(
                f"{file} is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.", returncode=INVALID
            ) from None
        try:
            pipeline = actions.save_pipeline(actor, document, source=AuditSource.CLI)
        except actions.PipelineInvalid as exc:
            for issue in exc.issues:
                self.stderr.write(f"{issue.path or 'pipeline'}: {issue.message}")
            raise CommandError(f"{len(exc.issues)} problem(s); nothing was saved.", returncode=INVALID) from None
        self.stdout.write(str(pipeline.id))

    def _run(
        self,
        actor: Any,
        application: str,
        name: str,
        param: list[str],
        wait: bool,
        timeout: float,
        json: bool,
        **_: Any,
    ) -> None:
        pipeline = Pipeline.objects.filter(application__name=application, name=name).first()
        if pipeline is None:
            raise CommandError(f"No pipeline {name!r} in application {application!r}.", returncode=INVALID)
        parameters = dict(_pair(item) for item in param)
        try:
            execution = actions.start_execution(actor, pipeline, parameters=parameters, source=AuditSource.CLI)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages), returncode=INVALID) from None
        except PolicyDenied as exc:
            raise CommandError(str(exc), returncode=INVALID) from None
        if not json:
            self.stderr.write(f"Started {execution.id} ({execution.status}).")
        if wait:
            execution = self._wait(execution, timeout, quiet=json)
        if json:
            self.stdout.write(_dumps(execution_document(execution)))
        else:
            self.stdout.write(f"{execution.id} {execution.status}")
        if wait and execution.status != Status.SUCCEEDED:
            raise CommandError(f"The run ended {execution.status}.", returncode=1)

    def _dryrun(
        self, actor: Any, application: str, name: str, param: list[str], run_as: str | None, json: bool, **_: Any
    ) -> None:
        from policies.dryrun import dry_run, render_table

        pipeline = Pipeline.objects.filter(application__name=application, name=name).first()
        if pipeline is None:
            raise CommandError(f"No pipeline {name!r} in application {application!r}.", returncode=INVALID)
        runner = get_user_model().objects.filter(username=run_as).first() if run_as else None
        if run_as and runner is None:
            raise CommandError(f"No user named {run_as!r}.", returncode=INVALID)
        try:
            report = dry_run(pipeline, parameters=dict(_pair(item) for item in param), user=runner, acting=actor)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages), returncode=INVALID) from None
        self.stdout.write(_dumps(report.to_dict()) if json else render_table(report))
        if not report.allowed:
            raise CommandError("A policy would deny this run (see above).", returncode=1)

    def _wait(self, execution: Execution, timeout: float, quiet: bool) -> Execution:
        deadline, seen = time.monotonic() + timeout, ""
        while True:
            execution = Execution.objects.select_related("application").get(pk=execution.pk)
            progress = ", ".join(f"{s.name} {s.status}" for s in execution.stages.filter(parent__isnull=True))
            if progress != seen and not quiet:
                self.stderr.write(progress)
                seen = progress
            if execution.status in COMPLETED:
                return execution
            if time.monotonic() > deadline:
                raise CommandError(f"The run is still {execution.status} after {timeout:g} s.", returncode=1)
            time.sleep(0.2)  # polling the database from a CLI client, not waiting inside the engine


def _pair(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise CommandError(f"--param takes NAME=VALUE, not {item!r}.", returncode=INVALID)
    return key, value


def _dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, default=str)
