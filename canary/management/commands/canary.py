"""``manage.py canary judge --input FILE``: judge raw metric values with a Kayenta canary config."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from canary.judge import JudgeInputError
from canary.judge.request import judge_request

INVALID = 2  # exit status for invalid input, as for the other commands


class Command(BaseCommand):
    help = "Canary analysis from the command line."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        judge = sub.add_parser("judge", help="Judge control/experiment values; print the verdict as JSON.")
        judge.add_argument("--input", required=True, help="Request JSON file, or - for standard input.")

    def handle(self, *args: Any, verb: str, **options: Any) -> None:
        document = self._read(options["input"])
        try:
            result = judge_request(document)
        except JudgeInputError as exc:
            raise CommandError(str(exc), returncode=INVALID) from None
        self.stdout.write(json.dumps(result.as_dict(), indent=2, allow_nan=False))

    def _read(self, name: str) -> Any:
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text()
            return json.loads(text)
        except OSError as exc:
            raise CommandError(f"Cannot read {name}: {exc.strerror}.", returncode=INVALID) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            message = (
                f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
                if isinstance(exc, json.JSONDecodeError)
                else str(exc)
            )
            raise CommandError(f"{name} is not JSON: {message}.", returncode=INVALID) from None
