"""Scenarios of the control-plane benchmarks: scenarios/openai-7500.yaml and scaled copies of it.

`openai(scale, days, services)` divides the node counts, pool bounds and training-job rates by
`scale` and keeps the first `services` inference services, so 1/10 of the OpenAI week is 750
nodes (700 training, 10-50 autoscaled inference) with ~560 training jobs a day.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
OPENAI = ROOT / "scenarios" / "openai-7500.yaml"


def _rate_per_day(text: str) -> float:
    n, _, unit = str(text).partition("/")
    return float(n) * {"d": 1.0, "h": 24.0, "s": 86400.0}[unit]


def openai(scale: float = 1.0, days: float = 7.0, services: int | None = None, seed: int | None = None) -> dict:
    """The OpenAI-scale scenario as a dict, its cluster and training load divided by `scale`."""
    data = yaml.safe_load(OPENAI.read_text())
    data = copy.deepcopy(data)
    data["duration"] = f"{days:g}d"
    if seed is not None:
        data["seed"] = seed
    for pool in data["cluster"]["node_pools"]:
        pool["count"] = max(1, round(pool["count"] / scale))
        a = pool.get("autoscaling")
        if a:
            a["min"] = max(1, round(a["min"] / scale))
            a["max"] = max(a["min"], round(a["max"] / scale))
    training = [w for w in data["workloads"] if w.get("type", "training") == "training"]
    inference = [w for w in data["workloads"] if w.get("type") == "inference"]
    for w in training:
        arr = w["generator"]["arrival"]
        arr["rate"] = f"{_rate_per_day(arr['rate']) / scale:g}/d"
    if services is not None:
        inference = inference[:services]
    data["workloads"] = training + inference
    data["name"] = f"openai-{sum(p['count'] for p in data['cluster']['node_pools'])}"
    return data
