"""``manage.py execution get ID --json`` and ``manage.py execution judge ID STAGE continue|stop``."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from pipelines import actions
from pipelines.documents import execution_document
from pipelines.models import Execution, is_uuid
from spinweb.models import AuditSource

INVALID = 2


class Command(BaseCommand):
    help = "Show executions and act on them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", help="Act as this user (default: system).")
        sub = parser.add_subparsers(dest="verb", required=True)
        get = sub.add_parser("get", help="Show an execution.")
        get.add_argument("id")
        get.add_argument("--json", action="store_true", help="Print the execution as JSON.")
        judge = sub.add_parser("judge", help="Continue or stop at a manual judgment.")
        judge.add_argument("id")
        judge.add_argument("stage", help="The stage's name (or refId).")
        judge.add_argument("decision", choices=["continue", "stop"])
        judge.add_argument("--input", default="", help="The judgment input, one of the stage's choices.")
        for verb in ("pause", "resume", "cancel"):
            action = sub.add_parser(verb, help=f"{verb.capitalize()} an execution.")
            action.add_argument("id")

    def handle(self, *args: Any, verb: str, id: str, user: str | None = None, **options: Any) -> None:
        execution = Execution.objects.select_related("application").filter(pk=id).first() if is_uuid(id) else None
        if execution is None:
            raise CommandError(f"No execution {id!r}.", returncode=INVALID)
        actor = get_user_model().objects.filter(username=user).first() if user else None
        try:
            if verb == "judge":
                actions.judge(
                    actor,
                    execution,
                    options["stage"],
                    options["decision"],
                    judgment_input=options["input"],
                    source=AuditSource.CLI,
                )
            elif verb in {"pause", "resume", "cancel"}:
                getattr(actions, verb)(actor, execution, source=AuditSource.CLI)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages), returncode=INVALID) from None
        execution = Execution.objects.select_related("application").get(pk=execution.pk)
        if options.get("json"):
            self.stdout.write(json.dumps(execution_document(execution), indent=2, default=str))
        else:
            self.stdout.write(f"{execution.id} {execution.name} {execution.status}")
            for stage in execution.stages.order_by("position"):
                indent = "  " if stage.parent_id else ""
                self.stdout.write(f"  {indent}{stage.ref_id:8} {stage.name:30} {stage.status}")
