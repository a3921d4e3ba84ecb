"""``manage.py demo``: seed the hello demo (safe to re-run), run it headless, or stop its traffic.

    demo [--admin-password P] [--instances N] [--traffic [--rate R]]   seed, bring up hello v1
    demo --run-once [--instances N] [--rate R]                          headless blue/green v1 -> v2
    demo --run-once --canary [--instances N] [--rate R]                 canary: good v2 in, bad v3 kept out
    demo --stop [--stop-local-cloud]                                    stop the background traffic

Everything goes to the configured database (``SPINWEB_DATA_DIR``, or ``DATABASE_URL``) and the
local cloud of ``SPINWEB_LOCAL_HOME``; the database is migrated first when it needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from clouds.providers.local.runtime.client import SupervisorClient
from spinweb.demo import background, run_canary, run_once
from spinweb.demo import definitions as demo
from spinweb.demo.seed import SeedReport, ensure_initial_group, ensure_load_balancer, seed_rows


class Report(Protocol):
    """What a headless demo returns: whether it met its expectations, and its summary."""

    @property
    def succeeded(self) -> bool: ...

    def lines(self) -> list[str]: ...


R = TypeVar("R", bound=Report)

BACKGROUND_RATE = 5.0
RUN_ONCE_RATE = 50.0
# The baseline and the canary take about a tenth of the traffic each: 10 answers a second each
# give the judge a full point every second.
CANARY_RATE = 100.0


class Command(BaseCommand):
    help = (
        "Seed the demo application hello (a local account, a load balancer, server group v1, the canary "
        "config hello-canary and the Blue/Green, Rolling Blue/Green, Highlander and Canary pipelines); "
        "safe to re-run. --traffic keeps requests flowing through its load balancer in the background; "
        "--run-once deploys v2 with Blue/Green under 50 requests/s, prints a summary and stops what it "
        "started; --run-once --canary runs the Canary pipeline with v2 (deployed) and the bad v3 (kept out)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--admin-password", help="Create the admin user with this password (or set it).")
        parser.add_argument("--admin-username", default="admin", help="The admin's user name (default admin).")
        parser.add_argument(
            "--instances",
            type=int,
            default=demo.DEFAULT_INSTANCES,
            choices=range(1, 6),
            metavar="1-5",
            help=f"Instances of the first server group and the --run-once deploy (default {demo.DEFAULT_INSTANCES}).",
        )
        parser.add_argument("--traffic", action="store_true", help="Start the background traffic generator.")
        parser.add_argument(
            "--rate",
            type=float,
            help=(
                f"Requests a second (default {BACKGROUND_RATE:g}; {RUN_ONCE_RATE:g} with --run-once, "
                f"{CANARY_RATE:g} with --canary)."
            ),
        )
        parser.add_argument("--run-once", action="store_true", help="Deploy v1 -> v2 headless, report, clean up.")
        parser.add_argument(
            "--canary",
            action="store_true",
            help=(
                "With --run-once: run the Canary pipeline with v2 (the canary passes, Blue/Green deploys it), "
                f"then with the bad v3 (the canary fails, production stays on v2); {CANARY_RATE:g} requests/s."
            ),
        )
        parser.add_argument(
            "--timeout", type=float, default=180.0, help="--run-once: give each pipeline run this long."
        )
        parser.add_argument("--stop", action="store_true", help="Stop the background traffic generator.")
        parser.add_argument(
            "--stop-local-cloud",
            action="store_true",
            help="With --stop: also shut the local supervisor down, with every server group and load balancer.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["stop"]:
            self._stop(options["stop_local_cloud"])
            return
        if options["canary"] and not options["run_once"]:
            raise CommandError("--canary goes with --run-once: manage.py demo --run-once --canary.")
        self._migrate()
        if options["run_once"] and options["canary"]:
            self._run_canary(options)
            return
        if options["run_once"]:
            self._run_once(options)
            return
        self._seed(options)

    def say(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()

    def _migrate(self) -> None:
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            self.say(f"Migrating the database ({connection.settings_dict['NAME']}).")
            call_command("migrate", interactive=False, verbosity=0)

    def _seed(self, options: dict[str, Any]) -> None:
        report = SeedReport(echo=self.say)
        account = seed_rows(report, admin_username=options["admin_username"], admin_password=options["admin_password"])
        balancer, _ = ensure_load_balancer(account, report)
        ensure_initial_group(account, options["instances"], report)
        url = f"http://{balancer.address}/"
        if not report.lines:
            self.say("The demo was already set up; nothing changed.")
        if options["traffic"]:
            rate = options["rate"] or BACKGROUND_RATE
            pid, started = background.start_traffic(Path(settings.SPINWEB_LOCAL_HOME), url, rate)
            verb = "Started" if started else "Kept"
            self.say(f"{verb} the traffic generator (pid {pid}): {rate:g} requests/s to {url}.")
        self.say(
            f"The demo application is {demo.APPLICATION}: /applications/{demo.APPLICATION}/ in Spinweb. "
            f"Its load balancer answers at {url}. Run a pipeline (Blue/Green, Rolling Blue/Green, "
            f"Highlander, or Canary, which deploys only what passes its canary) with version v2 or the bad v3."
        )

    def _run_once(self, options: dict[str, Any]) -> None:
        choice = self._options("demo --run-once", options, RUN_ONCE_RATE)
        summary = self._headless(run_once.run_once, choice)
        if not summary.succeeded:
            raise CommandError(
                "The deploy did not succeed with zero failed requests and all traffic on the new version.",
                returncode=1,
            )
        self.say("OK: the pipeline succeeded and no request failed.")

    def _run_canary(self, options: dict[str, Any]) -> None:
        choice = self._options("demo --run-once --canary", options, CANARY_RATE)
        summary = self._headless(run_canary.run_canary, choice)
        if not summary.succeeded:
            raise CommandError(
                f"Expected the canary to let {choice.to_version} through (all traffic on it, no failed request) "
                f"and to keep {demo.BAD_VERSION} out of production, with baseline and canary removed.",
                returncode=1,
            )
        self.say(
            f"OK: the canary let {choice.to_version} through with no failed request and kept "
            f"{demo.BAD_VERSION} out of production."
        )

    def _options(self, title: str, options: dict[str, Any], rate: float) -> run_once.Options:
        database = connection.settings_dict["NAME"]
        self.say(f"{title}: database {database}, local cloud {settings.SPINWEB_LOCAL_HOME}.")
        self.say("The pipeline engine runs in this process (no worker needed).")
        return run_once.Options(
            instances=options["instances"], rate=options["rate"] or rate, timeout=options["timeout"]
        )

    def _headless(self, run: Callable[[run_once.Options, Callable[[str], None]], R], choice: run_once.Options) -> R:
        """Run a headless demo, turning its failures into exit codes, and print its summary."""
        try:
            summary = run(choice, self.say)
        except run_once.DemoFailed as error:
            raise CommandError(f"The demo failed: {error}", returncode=1) from None
        except (KeyboardInterrupt, run_once.Interrupted):
            raise CommandError("Interrupted; stopped what the demo had started.", returncode=130) from None
        for line in summary.lines():
            self.say(line)
        return summary

    def _stop(self, local_cloud: bool) -> None:
        home = Path(settings.SPINWEB_LOCAL_HOME)
        stopped = background.stop_traffic(home)
        self.say("Stopped the traffic generator." if stopped else "No traffic generator was running.")
        if not local_cloud:
            return
        client = SupervisorClient(home, settings.SPINWEB_LOCAL_PORTS)
        if not client.is_running():
            self.say(f"The local supervisor of {home} is not running.")
            return
        try:
            run_once.shutdown_local_cloud(client)
        except run_once.DemoFailed as error:
            raise CommandError(str(error)) from None
        self.say(f"Shut down the local supervisor of {home} and every process it ran.")
