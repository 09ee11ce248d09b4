"""Golden outputs of every shipped scenario, experiment and sweep.

`python tests/golden/golden.py` runs each of them (as `gpusim run FILE --no-plots`, and the
policy sweep as `gpusim sweep`) and records a digest of every table it writes: per column, the
dtype and a SHA-256 of the exact values (float bit patterns, not printed decimals), plus
summary.json in full. `tests/test_golden.py` runs them again and compares. Refactors must keep
them identical; a named bug fix that changes them re-records them with this script and says so
in its commit message.

Left out, because they are wall-clock facts or engine-internal counters rather than results:
summary.json's `run` block, and the columns/metrics in `VOLATILE`. Parquet files are compared
by content, not by bytes, since their footers carry the pyarrow version that wrote them.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
GOLDEN_DIR = Path(__file__).resolve().parent / "data"
VOLATILE = {"wall_s", "started_at", "events", "events_per_s", "scheduling_cycles", "trace_reports"}

# name -> (command, scenario file relative to the repository root, needs ../shared/traces)
CASES: dict[str, tuple[str, str, bool]] = {
    "quickstart": ("run", "scenarios/quickstart.yaml", False),
    "mmc-erlang": ("run", "scenarios/mmc-erlang.yaml", False),
    "inference-code": ("run", "scenarios/inference-code.yaml", False),
    "inference-keda": ("run", "scenarios/inference-keda.yaml", False),
    "openb-replay": ("run", "scenarios/openb-replay.yaml", False),
    "philly-replay": ("run", "scenarios/philly-replay.yaml", True),
    "policy-sweep": ("run", "scenarios/policy-sweep.yaml", False),
    "policy-sweep-sweep": ("sweep", "scenarios/policy-sweep.yaml", False),
    "sharing-inference": ("run", "scenarios/sharing-inference.yaml", False),
    "sharing-training": ("run", "scenarios/sharing-training.yaml", False),
    "autoscaler-lag": ("run", "scenarios/autoscaler-lag.yaml", False),
    "vendor-comparison": ("run", "scenarios/vendor-comparison.yaml", False),
    "sizing-70b-chat": ("run", "scenarios/sizing-70b-chat.yaml", False),
    "openb-fgd": ("run", "scenarios/openb-fgd.yaml", False),
    "failures-training": ("run", "scenarios/failures-training.yaml", False),
    "llm-chat": ("run", "scenarios/llm-chat.yaml", False),
    "ikea-hybrid": ("run", "scenarios/ikea-hybrid.yaml", False),
    "sizing-llm-70b": ("run", "scenarios/sizing-llm-70b.yaml", False),
}


def run_case(name: str, out: Path) -> int:
    """Run one case with the CLI in this process; returns its exit status."""
    from gpusim.cli import main

    command, path, _ = CASES[name]
    scenario = str(ROOT / path)
    if command == "run":
        return main(["run", scenario, "--out", str(out), "--no-plots", "--quiet"])
    return main(["sweep", scenario, "--out", str(out), "--workers", "1", "--quiet"])


def _column_digest(series: pd.Series) -> dict:
    values = series.to_numpy()
    h = hashlib.sha256()
    if values.dtype.kind in "biufcmM":
        h.update(np.ascontiguousarray(values).tobytes())
    else:
        for v in values:
            h.update(repr(v).encode("utf-8"))
            h.update(b"\x00")
    return {"dtype": str(series.dtype), "sha256": h.hexdigest()}


def _table_digest(df: pd.DataFrame) -> dict:
    if "metric" in df.columns:  # long tables of metrics (sweep_ci.csv)
        df = df[~df["metric"].isin(VOLATILE)].reset_index(drop=True)
    cols = [c for c in df.columns if c not in VOLATILE]
    return {"rows": len(df), "columns": {c: _column_digest(df[c]) for c in cols}}


def _clean_summary(doc):
    if isinstance(doc, dict):
        return {k: _clean_summary(v) for k, v in doc.items() if k not in VOLATILE and k != "run"}
    if isinstance(doc, list):
        return [_clean_summary(v) for v in doc]
    if isinstance(doc, str):  # resolved paths: the same wherever the checkout lies
        return doc.replace(str(ROOT.parent), "<checkout>/..")
    return doc


def digest(out: Path) -> dict:
    """Digest of every result file under `out` (relative path -> digest)."""
    result: dict[str, object] = {}
    for f in sorted(out.rglob("*")):
        if not f.is_file():
            continue
        rel = f.relative_to(out).as_posix()
        if f.suffix == ".parquet":
            result[rel] = _table_digest(pd.read_parquet(f))
        elif f.suffix == ".csv":
            result[rel] = _table_digest(pd.read_csv(f))
        elif f.suffix == ".json":
            result[rel] = _clean_summary(json.loads(f.read_text()))
        elif f.suffix in (".log", ".png"):
            continue  # logs carry timings; plots are not results
        else:
            result[rel] = hashlib.sha256(f.read_bytes()).hexdigest()
    return result


def golden_path(name: str) -> Path:
    return GOLDEN_DIR / f"{name}.json"


def differences(expected, actual, where: str = "") -> list[str]:
    """Human-readable list of where two digests differ."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = []
        for k in sorted(set(expected) | set(actual), key=str):
            sub = f"{where}/{k}" if where else str(k)
            if k not in actual:
                out.append(f"{sub}: missing now")
            elif k not in expected:
                out.append(f"{sub}: new")
            else:
                out.extend(differences(expected[k], actual[k], sub))
        return out
    if expected != actual:
        e, a = json.dumps(expected)[:160], json.dumps(actual)[:160]
        return [f"{where}: recorded {e}, now {a}"]
    return []


def record(names: list[str]) -> None:
    import tempfile

    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / name
            rc = run_case(name, out)
            if rc != 0:
                raise SystemExit(f"{name}: exit status {rc}")
            golden_path(name).write_text(json.dumps(digest(out), indent=1, sort_keys=True) + "\n")
            print(f"recorded {name}")


if __name__ == "__main__":
    record(sys.argv[1:] or list(CASES))
