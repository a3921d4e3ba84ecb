"""Judges are looked up by name, and the judge package imports without Django."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from canary.judge import DEFAULT_JUDGE, JudgeInputError, judge_for, judge_names

ROOT = Path(__file__).resolve().parents[2]


def test_it_finds_the_default_judge_by_name() -> None:
    assert DEFAULT_JUDGE == "NetflixACAJudge-v1.0"
    assert judge_for().name == DEFAULT_JUDGE
    assert judge_for("NetflixACAJudge-v1.0") is judge_for(None)
    assert DEFAULT_JUDGE in judge_names()


def test_it_names_the_field_for_an_unknown_judge() -> None:
    with pytest.raises(JudgeInputError, match=r"canaryConfig\.judge\.name: unknown judge 'dredd-v1\.0'"):
        judge_for("dredd-v1.0")


def test_it_imports_and_judges_without_django() -> None:
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    script = (
        "import sys, numpy as np\n"
        "from canary.judge import judge_for, parse_canary_config, MetricSetPair, Thresholds\n"
        "config = parse_canary_config({'metrics': [{'name': 'm', 'groups': ['g']}]})\n"
        "pair = MetricSetPair('m', np.arange(50.0), np.arange(50.0) + 100)\n"
        "print(judge_for().judge(config, Thresholds(), [pair]).metrics[0].classification)\n"
        "assert not any(name == 'django' or name.startswith('django.') for name in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "High"
