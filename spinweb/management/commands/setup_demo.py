"""Create the demo admin user (printing its generated password once) and a local account."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from clouds import actions as cloud_actions
from clouds.models import Account
from spinweb.models import AuditSource


class Command(BaseCommand):
    help = "Create the demo admin user with a generated password, and a 'local' cloud account. Safe to re-run."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="admin@localhost")

    @transaction.atomic
    def handle(self, *args: Any, username: str, email: str, **options: Any) -> None:
        users = get_user_model()
        if users.objects.filter(username=username).exists():
            self.stdout.write(
                f"User {username!r} already exists; its password is unchanged. "
                f"Reset it with: python manage.py changepassword {username}"
            )
        else:
            password = secrets.token_urlsafe(12)
            users.objects.create_superuser(username=username, email=email, password=password)
            self.stdout.write(self.style.SUCCESS(f"Created admin user {username!r} with password: {password}"))
            self.stdout.write("It is shown only this once. Change it with: python manage.py changepassword " + username)
        if not Account.objects.exists():
            cloud_actions.create_account(
                None,
                fields={
                    "name": "local",
                    "provider": "local",
                    "regions": ["local"],
                    "environment": "dev",
                    "description": "Processes on this machine (the embedded provider).",
                },
                source=AuditSource.CLI,
            )
            self.stdout.write("Created the cloud account 'local' (processes on this machine).")
