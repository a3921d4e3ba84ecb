"""Policy decision latency with the whole starter library enabled, and what the gates cost a run.

Runs against a fresh SQLite database in a temporary folder (or DATABASE_URL when set), installs
the starter library, enables every policy with its reference data, and prints:

- the stage hook (``spinnaker.execution.stages.before.deploy`` and ``…wait``) decision latency,
  p50 / p99, embedded and remote: (a) the engine's evaluation alone, (b) the full gate
  (``policies.gate.decide``: generation check, input document built from the database, evaluation,
  decision log write). Every decision gets a new input (its ``meta.timeNs`` differs), as in a run.
- where an embedded decision's time goes: input building, JSON encoding, ``set_input``, the query,
  the log write;
- the time a 20-stage pipeline of ``wait 0`` stages takes to run in-process (engine driven here, no
  workers) with the library enabled and with no policy enabled, and the difference per gate.

"Remote" is ``tests/policies/opa_emulator.py`` in a child process on loopback: OPA's REST API over
real HTTP, but evaluated by regopy with a fresh interpreter per query, so its figures are the
HTTP round trip plus that emulator, not a real OPA server's.

    .venv/bin/python bench/policy.py [--decisions 2000] [--runs 20] [--no-remote]
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EMULATOR = """
import sys
sys.path.insert(0, sys.argv[1])
from tests.policies.opa_emulator import OpaEmulator
with OpaEmulator() as opa:
    print(opa.url, flush=True)
    sys.stdin.read()  # until the benchmark closes our standard input
"""
REFERENCE_DATA = {
    "deploy_window": {"days": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"], "startHour": 9, "endHour": 17},
    "prod_deployers": ["release-managers"],
    "approved_artifacts": {"shop": ["1.4.2"]},
    "prod_capacity": {"max": 20},
}
STAGES = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decisions", type=int, default=2000, help="Decisions per measurement.")
    parser.add_argument("--runs", type=int, default=20, help="Runs of the 20-stage pipeline per configuration.")
    parser.add_argument("--no-remote", action="store_true", help="Skip the remote (emulated OPA) figures.")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="spinweb-bench-")
    os.environ.setdefault("SPINWEB_DATA_DIR", data_dir)
    os.environ.pop("OPA_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spinweb.settings")
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        execution, deploy, wait = seed()
        print(f"{policy_count()} policies enabled (the starter library), {connection.vendor} database")
        stage_latency("embedded", execution, [deploy, wait], args.decisions)
        breakdown(execution, deploy, args.decisions)
        if not args.no_remote:
            with emulator() as url:
                use_engine(url)
                stage_latency("remote", execution, [deploy, wait], max(args.decisions // 4, 50))
                use_engine("")
        pipeline_overhead(args.runs)
    finally:
        from django.db import connections

        from policies import engines

        engines.reset()
        gc.collect()  # regopy objects freed now, not during interpreter shutdown (noisy there)
        connections.close_all()
        shutil.rmtree(data_dir, ignore_errors=True)


# Setup --------------------------------------------------------------------------------------


def seed() -> tuple[Any, Any, Any]:
    """The library enabled with its data, and a 20-stage run whose stages the gate is asked about."""
    from applications.models import Application
    from clouds.models import Account
    from pipelines.models import Execution, StageExecution
    from policies.actions import save_policy, save_reference_data
    from policies.library import install_missing
    from policies.models import Policy
    from spinweb.models import AuditSource

    application = Application.objects.create(name="shop", owner_email="shop@example.com")
    Account.objects.create(name="prod-east", provider="local", regions=["local"], environment="prod")
    Account.objects.create(name="staging", provider="local", regions=["local"], environment="staging")
    for key, document in REFERENCE_DATA.items():
        save_reference_data(None, key=key, document=document, source_label=AuditSource.SYSTEM)
    install_missing()
    for policy in Policy.objects.all():
        save_policy(
            None,
            name=policy.name,
            source=policy.source,
            description=policy.description,
            enabled=True,
            tests=policy.tests,
            policy=policy,
            starter=policy.starter,
            source_label=AuditSource.SYSTEM,
        )
    stages = [_stage_config(index) for index in range(1, STAGES + 1)]
    config = {"application": "shop", "name": "release", "stages": stages}
    execution = Execution.objects.create(
        application=application,
        name="release",
        config=config,
        status="RUNNING",
        trigger={"type": "manual", "user": "bench", "parameters": {"env": "prod"}},
    )
    rows = StageExecution.objects.bulk_create(
        StageExecution(
            execution=execution,
            ref_id=stage["refId"],
            requisite_ref_ids=stage["requisiteStageRefIds"],
            type=stage["type"],
            name=stage["name"],
            position=index,
            config=stage,
            status="SUCCEEDED" if index < 10 else "NOT_STARTED",
            context=stage if index < 10 else {},
        )
        for index, stage in enumerate(stages)
    )
    return execution, rows[9], rows[10]


def _stage_config(index: int) -> dict[str, Any]:
    base = {"refId": str(index), "requisiteStageRefIds": [str(index - 1)] if index > 1 else []}
    if index == 10:
        cluster = {
            "account": "prod-east",
            "application": "shop",
            "stack": "web",
            "region": "local",
            "strategy": "redblack",
            "capacity": {"min": 2, "max": 4, "desired": 2},
            "artifact": {"name": "shop", "version": "1.4.2"},
        }
        return {**base, "type": "deploy", "name": "Deploy to prod", "clusters": [cluster]}
    return {**base, "type": "wait", "name": f"Wait {index}", "waitTime": 5}


def policy_count() -> int:
    from policies.models import Policy

    return Policy.objects.filter(enabled=True).count()


def use_engine(url: str) -> None:
    from django.conf import settings

    from policies import engines

    settings.OPA_URL = url
    engines.reset()


class emulator:  # lower case: used like open()
    """The OPA emulator in a child process; yields its URL."""

    def __enter__(self) -> str:
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-c", EMULATOR, str(ROOT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def __exit__(self, *exc: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


# Decisions ----------------------------------------------------------------------------------


def stage_latency(engine_name: str, execution: Any, stages: list[Any], count: int) -> None:
    from policies.engines import current_engine

    engine = current_engine()
    for stage in stages:
        measure_stage(engine_name, engine, execution, stage, count)


def measure_stage(engine_name: str, engine: Any, execution: Any, stage: Any, count: int) -> None:
    from django.db import transaction

    from policies import gate, inputs
    from policies.engines import current_policy_set
    from policies.hooks import Hook, stage_package

    package = stage_package(stage.type)
    policy_set = current_policy_set()
    (policy,) = policy_set.covering([package])
    document = inputs.stage_input(execution, stage, stage.config)

    def evaluate() -> None:
        document["meta"] = inputs.meta(Hook.STAGE, package)
        engine.evaluate(policy_set, policy, Hook.STAGE, document)

    def decide() -> None:
        gate.decide(
            Hook.STAGE,
            package,
            lambda: inputs.stage_input(execution, stage, stage.config),
            application="shop",
            execution_id=execution.pk,
            stage_id=stage.pk,
        )

    evaluate()  # first use compiles the bundle (embedded) or pushes the policy set (remote)
    label = f"{engine_name} {stage.type} ({policy.name})"
    report(f"{label}: engine alone", timed(evaluate, count))
    report(f"{label}: full gate, own commit", timed(decide, count))
    with transaction.atomic():  # as in the runner, whose transaction holds the stage start
        report(f"{label}: full gate, in caller's transaction", timed(decide, count))


def breakdown(execution: Any, stage: Any, count: int) -> None:
    """Where one embedded decision's time goes, step by step (the steps the gate runs), and what
    handing the input to regopy costs for smaller documents."""
    import regopy

    from policies import gate, inputs, rego
    from policies.engines import current_engine, current_policy_set
    from policies.engines.embedded import EmbeddedEngine, input_json
    from policies.hooks import Hook, stage_package

    package = stage_package(stage.type)
    engine = current_engine()
    assert isinstance(engine, EmbeddedEngine)
    policy_set = current_policy_set()
    (policy,) = policy_set.covering([package])
    loaded = engine._current(policy_set)  # the benchmark looks inside the engine
    bundle = loaded.bundle(policy, Hook.STAGE)
    document = inputs.stage_input(execution, stage, stage.config)
    text = input_json(document)
    decision = gate.decide(Hook.STAGE, package, document)
    built = regopy.Input(rego.input_value(document))

    def set_input(value: dict[str, Any]) -> Callable[[], None]:
        return lambda: rego.set_input(loaded.interpreter, value)

    def set_built() -> None:
        with rego.LOCK:
            loaded.interpreter.set_input(built)

    def set_input_text() -> None:
        with rego.LOCK:
            loaded.interpreter.set_input_term(text)

    steps: list[tuple[str, Callable[[], object]]] = [
        ("generation check (1 query)", current_policy_set),
        ("input document (1 query)", lambda: inputs.stage_input(execution, stage, stage.config)),
        ("input to JSON text", lambda: input_json(document)),
        ("set_input (what the engine calls)", set_input(document)),
        ("  of which building regopy.Input", lambda: regopy.Input(rego.input_value(document))),
        ("  of which handing a built Input over", set_built),
        ("  instead: set_input_term(JSON text)", set_input_text),
        ("query_bundle", lambda: rego.run_bundle(loaded.interpreter, bundle)),
        ("decision log write (input already stored)", lambda: gate.log(decision, document, engine="x", duration_ms=0)),
    ]
    print(
        f"embedded decision, step by step ({len(text)} bytes, {nodes(document)} JSON values of input, "
        f"{STAGES} stages in the run):"
    )
    for name, step in steps:
        report(f"  {name}", timed(step, count))
    pipeline = document["pipeline"]
    no_contexts = [{key: value for key, value in row.items() if key != "context"} for row in pipeline["stages"]]
    for what, smaller in [
        ("without the stages' contexts", {**document, "pipeline": {**pipeline, "stages": no_contexts}}),
        ("without pipeline.stages", {**document, "pipeline": {**pipeline, "stages": []}}),
    ]:
        size = f"{len(input_json(smaller))} B, {nodes(smaller)} values"
        report(f"  set_input of the input {what} ({size})", timed(set_input(smaller), count))


def nodes(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + sum(nodes(item) for item in value.values())
    if isinstance(value, list):
        return 1 + sum(nodes(item) for item in value)
    return 1


def timed(action: Callable[[], object], count: int) -> list[float]:
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def report(label: str, timings: list[float]) -> None:
    ordered = sorted(timings)
    p99 = ordered[min(len(ordered) - 1, round(len(ordered) * 0.99))]
    print(f"{label:72} p50 {statistics.median(timings):7.3f} ms   p99 {p99:7.3f} ms   (n={len(timings)})")


# A whole run --------------------------------------------------------------------------------


def pipeline_overhead(runs: int) -> None:
    from django.conf import settings

    from pipelines import actions
    from policies.actions import bump_generation
    from policies.models import Policy, PolicyDecision

    settings.SPINWEB_ENGINE_DISPATCH = "none"  # this process runs the tasks
    stages = [
        {
            "refId": str(i),
            "type": "wait",
            "name": f"Wait {i}",
            "waitTime": 0,
            "requisiteStageRefIds": [str(i - 1)] if i > 1 else [],
        }
        for i in range(1, STAGES + 1)
    ]
    document = {"application": "shop", "name": "twenty", "limitConcurrent": False, "stages": stages}
    document["notifications"] = [{"type": "email", "address": "a@example.com", "when": ["pipeline.failed"]}]
    pipeline = actions.save_pipeline(None, document, source="cli")
    enabled = list(Policy.objects.filter(enabled=True).values_list("pk", flat=True))
    timings: dict[bool, list[float]] = {True: [], False: []}
    gates = 0
    for block in range(4):  # alternate blocks, so machine noise and warm-up weigh on both alike
        on = block % 2 == 0
        Policy.objects.filter(pk__in=enabled).update(enabled=on)
        bump_generation()
        one_run(pipeline)  # untimed: reloads the policy set after the change
        before = PolicyDecision.objects.count()
        timings[on] += [one_run(pipeline) for _ in range(max(runs // 2, 1))]
        gates = (PolicyDecision.objects.count() - before) // max(runs // 2, 1) if on else gates
    on_ms, off_ms = statistics.median(timings[True]), statistics.median(timings[False])
    print(f"20-stage run (wait 0 x {STAGES}, in-process), median of {len(timings[True])} runs each:")
    print(f"  library enabled  {on_ms:8.1f} ms   ({gates} logged decisions per run)")
    print(f"  no policies      {off_ms:8.1f} ms")
    per_gate = (on_ms - off_ms) / gates if gates else float("nan")
    print(f"  gate overhead    {on_ms - off_ms:8.1f} ms per run, {per_gate:.2f} ms per logged decision")


def one_run(pipeline: Any) -> float:
    from pipelines import actions
    from pipelines.engine.runner import run_due_tasks
    from pipelines.models import Execution

    started = time.perf_counter()
    execution = actions.start_execution(None, pipeline, source="cli")
    run_due_tasks()
    elapsed = (time.perf_counter() - started) * 1000
    status = Execution.objects.values_list("status", flat=True).get(pk=execution.pk)
    assert status == "SUCCEEDED", status
    return elapsed


if __name__ == "__main__":
    main()
