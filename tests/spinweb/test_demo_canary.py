"""The demo's Canary pipeline: a good release goes through canary then blue/green, a bad one never reaches production.

The end-to-end test runs ``manage.py demo --run-once --canary`` as a subprocess with a fresh data
directory, as CI would; the others check what the seed writes and how the seeded canary config
judges data shaped like the demo's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from canary.actions import save_config
from canary.judge.request import judge_request
from canary.models import CanaryConfig
from canary.stage_fields import check
from clouds.providers.local.runtime.common import ROLES, marked_processes, port_is_free
from pipelines.models import Pipeline
from spinweb.demo import definitions as demo
from spinweb.demo.seed import SOURCE, SeedReport, seed_rows
from tests.clouds.local.conftest import free_port_range
from tests.spinweb.test_demo_run_once import ROOT, data_dir

__all__ = ["data_dir"]

THRESHOLDS = {"marginal": 50, "pass": 75}


def manage(data_dir: Path, ports: tuple[int, int], *argv: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "SPINWEB_"))}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env |= {
        "SPINWEB_DATA_DIR": str(data_dir),
        "SPINWEB_LOCAL_HOME": str(data_dir / "local"),
        "SPINWEB_LOCAL_PORTS": f"{ports[0]}-{ports[1]}",
    }
    command = [sys.executable, "manage.py", *argv]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def section(output: str, version: str) -> str:
    """The summary's block about the Canary run with ``version``."""
    found = re.search(rf"^  Canary with {version} .*?(?=^  Canary with |^OK|\Z)", output, re.M | re.S)
    assert found is not None, output
    return found.group(0)


def test_it_lets_a_good_release_through_the_canary_and_keeps_a_bad_one_out_of_production(data_dir: Path) -> None:
    ports = free_port_range()

    result = manage(data_dir, ports, "demo", "--run-once", "--canary", "--instances", "1", timeout=360)

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    good, bad = section(output, "v2"), section(output, "v3")
    assert re.search(r"pipeline:\s+Canary: SUCCEEDED", good), good
    assert re.search(r"canary:\s+SUCCEEDED, interval scores \d+\.\d, \d+\.\d: Pass", good), good
    assert re.search(r"deploy:\s+SUCCEEDED", good), good
    assert re.search(r"requests failed:\s+0\n", good), good
    assert re.search(r"answers at the end:\s+all from v2\n", good), good
    assert re.search(r"canary:\s+TERMINAL, interval scores \d+\.\d: Fail", bad), bad
    assert re.search(r"canary verdict:\s+Canary interval 1 of 2 scored", bad), bad
    assert re.search(r"deploy:\s+never started \(v3 never reached production\)", bad), bad
    assert re.search(r"production serves:\s+v2\n", bad), bad
    assert re.search(r"answers at the end:\s+all from v2\n", bad), bad
    for block in (good, bad):
        assert re.search(r"baseline and canary:\s+removed", block), block
    reports = re.findall(r"canary report:\s+(/applications/hello/canary-runs/[0-9a-f-]+/) in Spinweb", output)
    runs = json.loads(manage(data_dir, ports, "canary", "runs", "--application", "hello", "--json", timeout=60).stdout)
    assert [(run["state"], run["classification"], run["reportUrl"]) for run in runs] == [
        ("FAILED", "Fail", reports[1]),
        ("SUCCEEDED", "Pass", reports[0]),
    ]
    assert marked_processes(data_dir / "local", (*ROLES, "traffic")) == {}
    assert [port for port in range(ports[0], ports[1] + 1) if not port_is_free(port)] == []


def test_it_seeds_a_canary_pipeline_that_deploys_only_after_its_canary(db: None) -> None:
    seed_rows(SeedReport())

    stages = Pipeline.objects.get(application__name="hello", name="Canary").config["stages"]
    blue_green = Pipeline.objects.get(application__name="hello", name="Blue/Green").config["stages"][0]
    canary, deploy = stages
    assert (canary["type"], canary["refId"], deploy["type"], deploy["requisiteStageRefIds"]) == (
        "kayentaCanary",
        "1",
        "deploy",
        ["1"],
    )
    assert check(canary) == []
    assert canary["canaryConfig"]["canaryConfigId"] == "hello-canary"
    assert canary["deployments"]["baseline"]["cluster"] == "hello-web"
    pair = canary["deployments"]["serverGroupPairs"][0]
    assert (pair["control"]["freeFormDetails"], pair["experiment"]["freeFormDetails"]) == ("baseline", "canary")
    assert pair["experiment"]["artifact"]["version"] == "${parameters['version']}"
    assert pair["experiment"]["environment"] == blue_green["clusters"][0]["environment"]
    assert deploy["clusters"] == blue_green["clusters"]


def test_it_keeps_an_edited_canary_config_when_seeding_again(db: None) -> None:
    seed_rows(SeedReport())
    config = CanaryConfig.objects.get(application__name="hello", name="hello-canary")
    save_config(None, {**config.document, "description": "ours now"}, source=SOURCE, config=config)

    report = SeedReport()
    seed_rows(report)

    config.refresh_from_db()
    assert (config.version, config.description) == (2, "ours now")
    assert [line for line in report.lines if "canary" in line.lower()] == []


def judged(**metrics: tuple[list[float], list[float]]) -> dict[str, Any]:
    document = {
        "canaryConfig": demo.canary_config_document(),
        "scoreThresholds": THRESHOLDS,
        "metrics": {
            name: {"control": control, "experiment": experiment} for name, (control, experiment) in metrics.items()
        },
    }
    return judge_request(document).as_dict()


def per_second(seed: int, *, latency_ms: float = 0.0, error_rate: float = 0.0) -> dict[str, list[float]]:
    """30 one-second points of a group answering 10 requests a second, like the demo's canary share."""
    rng = np.random.default_rng(seed)
    base = rng.gamma(4.0, 0.35, size=30) + latency_ms
    return {
        "error_rate": list(rng.binomial(10, error_rate, size=30) * 10.0),
        "latency_mean": list(base),
        "latency_p90": list(base * 1.8 + rng.uniform(0, 0.5, size=30)),
    }


def verdict(control: dict[str, list[float]], experiment: dict[str, list[float]]) -> tuple[float, str]:
    result = judged(**{name: (control[name], experiment[name]) for name in control})
    return result["score"], result["classification"]


def test_it_passes_a_canary_that_behaves_like_its_baseline() -> None:
    assert verdict(per_second(1), per_second(2)) == (100.0, "Pass")


def test_it_passes_a_good_release_whose_process_is_twice_as_slow_on_a_busy_machine() -> None:
    slower = {name: [value * 2.0 for value in values] for name, values in per_second(2).items()}

    assert verdict(per_second(1), slower) == (100.0, "Pass")


def test_it_fails_the_bad_release_at_once_on_its_errors() -> None:
    bad = per_second(2, latency_ms=float(demo.BAD_LATENCY_MS), error_rate=float(demo.BAD_ERROR_RATE))

    result = judged(**{name: (per_second(1)[name], bad[name]) for name in bad})

    assert (result["score"], result["classification"]) == (0.0, "Fail")
    errors = next(metric for metric in result["metrics"] if metric["name"] == "error_rate")
    assert (errors["classification"], errors["critical"]) == ("High", True)


def test_it_scores_a_canary_that_is_only_slower_at_the_marginal_threshold_which_fails_the_stage() -> None:
    score, classification = verdict(per_second(1), per_second(2, latency_ms=float(demo.BAD_LATENCY_MS)))

    # The stage ends TERMINAL at once on an interval scored at or below marginal.
    assert (score, classification) == (THRESHOLDS["marginal"], "Marginal")
