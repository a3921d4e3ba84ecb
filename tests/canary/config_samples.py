"""Kayenta canary-config documents shared by the canary-config tests."""

from __future__ import annotations

import copy
from typing import Any

KAYENTA_ID = "3f1c2b9e-5d4a-4e0b-9a1f-6c7d8e9f0a1b"

_SAMPLE: dict[str, Any] = {
    "id": KAYENTA_ID,
    "name": "web-latency",
    "description": "Latency and errors of the web tier",
    "configVersion": "1.0",
    "applications": ["shop"],
    "judge": {"name": "NetflixACAJudge-v1.0", "judgeConfigurations": {}},
    "templates": {"web": "job='${scope}'"},
    "metrics": [
        {
            "name": "errors",
            "groups": ["errors"],
            "scopeName": "default",
            "query": {"type": "prometheus", "metricName": "http_errors_total", "customFilterTemplate": "web"},
            "analysisConfigurations": {"canary": {"direction": "increase", "critical": True}},
        },
        {
            "name": "p99",
            "groups": ["latency"],
            "scopeName": "default",
            "query": {"type": "builtin", "metricName": "latency_p99"},
            "analysisConfigurations": {
                "canary": {
                    "direction": "increase",
                    "nanStrategy": "remove",
                    "effectSize": {"measure": "meanRatio", "allowedIncrease": 1.1, "criticalIncrease": 2.0},
                    "outliers": {"strategy": "remove", "outlierFactor": 3.0},
                }
            },
        },
    ],
    "classifier": {"groupWeights": {"errors": 60, "latency": 40}},
}


def sample(**changes: Any) -> dict[str, Any]:
    """A valid Kayenta canary config of ``shop``; keyword arguments replace top-level keys."""
    return copy.deepcopy(_SAMPLE) | changes
