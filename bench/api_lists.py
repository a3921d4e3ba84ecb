"""How the permission-filtered lists scale: API and UI list latency and query counts.

Runs against a fresh SQLite database in a temporary folder (or DATABASE_URL when set),
seeds N applications with grants, and prints figures. Never part of the test run.

    .venv/bin/python bench/api_lists.py [--apps 1000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    os.environ.setdefault("SPINWEB_DATA_DIR", tempfile.mkdtemp(prefix="spinweb-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spinweb.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    settings.ALLOWED_HOSTS = ["testserver"]
    call_command("migrate", verbosity=0)
    user = seed(args.apps)
    client = Client()
    client.force_login(user)
    print(f"{args.apps} applications, user reads {args.apps // 2} through 1 of 3 groups; {connection.vendor}")
    for label, url in [
        ("API list, page of 50", "/api/v1/applications/"),
        ("API list, page of 500", "/api/v1/applications/?page_size=500"),
        ("UI list (all visible)", "/applications/"),
    ]:
        timings = []
        for _ in range(args.repeat):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(url)
                timings.append(time.perf_counter() - started)
            assert response.status_code == 200, response.status_code
        print(
            f"{label:24} median {statistics.median(timings) * 1000:7.1f} ms  "
            f"p90 {sorted(timings)[int(len(timings) * 0.9) - 1] * 1000:7.1f} ms  queries {len(queries)}"
        )


def seed(count: int) -> Any:
    from django.contrib.auth.models import Group, User

    from applications.models import Application, ApplicationGrant

    groups = [Group.objects.create(name=f"team{i}") for i in range(3)]
    user = User.objects.create_user("bench", password="unused-password-for-bench")
    user.groups.add(groups[0])
    apps = Application.objects.bulk_create(
        Application(name=f"app{i}", owner_email=f"team{i % 3}@example.com", description=f"Application {i}")
        for i in range(count)
    )
    ApplicationGrant.objects.bulk_create(
        ApplicationGrant(application=app, group=groups[0 if i % 2 == 0 else 1 + i % 2], level=level)
        for i, app in enumerate(apps)
        for level in ("READ", "WRITE")
    )
    return user


if __name__ == "__main__":
    main()
