"""Run a planned sweep: skip finished runs, execute the rest, and build the tidy table.

Folder layout under the sweep's output folder::

    runs/<index>-<slug>-seed<N>/   one run: summary.json, jobs.parquet, timeseries.parquet
                                   (RunResult.save), or error.json if it failed
    sweep.csv, sweep.parquet       the tidy table: one row per run
    sweep_ci.csv                   mean and Student-t 95% CI per combination and metric
    sweep.json                     the sweep itself (factors, mode, replications, runs)
    sweep.log                      one JSON line per run executed (or failed) by each invocation

Resuming: a run folder whose summary.json holds the planned seed and scenario (and this gpusim
version) counts as done and is not run again; anything else (missing, failed, or planned differently) is run. Every run is
executed from (resolved scenario dict, seed) alone by the top-level `execute_run`, so results do
not depend on which executor ran them. Results travel back to this process, which writes every
folder, so Dask workers need no shared file system.
"""

from __future__ import annotations

import json
import math
import os
import re
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from gpusim.errors import InputError
from gpusim.sweep.plan import RunPlan, SweepPlan

WALL_CLOCK_COLUMNS = ("wall_s", "started_at")
"""Columns of the tidy table that differ between identical runs."""

Progress = Callable[[int, int, str, str], None]  # (finished, total, run name, status)


# --------------------------------------------------------------------------- one run (any process)
def execute_run(scenario: dict, seed: int) -> dict:
    """Simulate one run. Top-level and argument-only so process pools and Dask can call it.

    Returns {"status": "ok", "result": RunResult} or {"status": "failed", "error": message,
    "traceback": text}; it never raises for a failing simulation.
    """
    from gpusim.sim.engine import simulate

    try:
        return {"status": "ok", "result": simulate(scenario, seed=seed)}
    except Exception as e:  # a failing run is recorded, it does not stop the sweep
        return {"status": "failed", "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}


# --------------------------------------------------------------------------- executors
def _in_process(tasks: list[RunPlan]) -> Iterator[tuple[RunPlan, dict]]:
    for t in tasks:
        yield t, execute_run(t.scenario, t.seed)


def _process_pool(tasks: list[RunPlan], workers: int) -> Iterator[tuple[RunPlan, dict]]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn: no fork of a process holding threads (Numba, BLAS); works the same on every OS.
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(tasks)),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=exit_with_parent,
        initargs=(os.getpid(),),
    )
    try:
        futures = {pool.submit(execute_run, t.scenario, t.seed): t for t in tasks}
        for f in as_completed(futures):
            yield futures[f], _outcome(f)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def exit_with_parent(parent_pid: int, interval_s: float = 0.5) -> None:
    """Worker initializer: a daemon thread ends this worker as soon as the sweep's process is gone.

    Without it a worker whose parent was killed (kill -9, OOM killer) would finish its run and
    then wait on the task queue forever. The check is the parent pid changing (re-parenting).
    """
    import threading
    import time

    def watch():
        while True:
            if os.getppid() != parent_pid:
                os._exit(1)
            time.sleep(interval_s)

    if os.getppid() != parent_pid:
        os._exit(1)
    threading.Thread(target=watch, name="gpusim-exit-with-parent", daemon=True).start()


def _outcome(future) -> dict:
    try:
        return future.result()
    except Exception as e:  # the worker itself died (killed, out of memory, unpicklable result)
        return {"status": "failed", "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}


def _dask(tasks: list[RunPlan], dask: Any, workers: int) -> Iterator[tuple[RunPlan, dict]]:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise InputError("--dask needs Dask: pip install 'gpusim[dask]'") from None

    owned: list = []
    if isinstance(dask, Client):
        client = dask
    elif dask == "local":
        cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True, dashboard_address=None)
        owned.append(cluster)
        client = Client(cluster)
        owned.insert(0, client)
    elif isinstance(dask, str):
        client = _connect(Client, dask)
        owned.append(client)
    else:
        raise InputError(f"dask must be a scheduler address, 'local' or a distributed.Client; got {dask!r}")
    try:
        futures = {
            client.submit(execute_run, t.scenario, t.seed, pure=False, key=f"gpusim-{t.name}-{os.urandom(4).hex()}"): t
            for t in tasks
        }
        for f in as_completed(list(futures)):
            yield futures[f], _outcome(f)
    finally:
        for obj in owned:
            obj.close()


_DASK_ADDRESS = re.compile(
    r"^(?:(?P<scheme>[a-z][a-z0-9+.-]*)://)?(?P<host>\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})$"
)


def check_dask_address(address: str) -> str:
    """`InputError` unless `address` is 'local' or a scheduler address such as tcp://10.0.0.5:8786."""
    if address == "local":
        return address
    m = _DASK_ADDRESS.match(address)
    if (
        not m
        or not 0 < int(m.group("port")) < 65536
        or m.group("scheme") not in (None, "tcp", "tls", "ws", "wss", "inproc")
    ):
        raise InputError(
            f"--dask {address!r}: not a Dask scheduler address; give 'local' or tcp://HOST:PORT (e.g. tcp://10.0.0.5:8786)"
        )
    return address


def _connect(client_cls, address: str):
    check_dask_address(address)
    try:
        return client_cls(address, timeout="10s")
    except (OSError, TimeoutError) as e:
        raise InputError(f"--dask {address}: cannot reach a Dask scheduler there: {e}") from None
    except Exception as e:  # the peer answered, but not as a Dask scheduler (garbage, wrong protocol)
        raise InputError(
            f"--dask {address}: what answered is not a Dask scheduler ({type(e).__name__}: {str(e)[:200]})"
        ) from None


# --------------------------------------------------------------------------- files
def _write_atomic(path: Path, text: str) -> None:
    part = path.with_name(f".{path.name}.part")
    part.write_text(text)
    os.replace(part, path)


def _canonical(obj: Any) -> Any:
    from gpusim.report.result import json_safe

    return json.loads(json.dumps(json_safe(obj)))


def read_done(folder: Path, run: RunPlan) -> dict | None:
    """The summary.json document of a finished run of exactly this plan, else None."""
    try:
        doc = json.loads((folder / "summary.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    from gpusim._version import __version__

    if doc.get("seed") != run.seed or doc.get("gpusim_version") != __version__:
        return None
    if not _same_scenario(doc.get("scenario"), run):
        return None
    return doc


def _same_scenario(saved: dict | None, run: RunPlan) -> bool:
    if not isinstance(saved, dict):
        return False
    saved = {k: v for k, v in saved.items() if k != "sweep"}  # runs carry no sweep block
    return saved == _canonical(run.scenario)


def _write_error(folder: Path, run: RunPlan, outcome: dict) -> None:
    from gpusim._version import __version__
    from gpusim.report.atomic import atomic_dir

    doc = {
        "status": "failed",
        "error": outcome["error"],
        "traceback": outcome.get("traceback", ""),
        "seed": run.seed,
        "factors": run.values,
        "gpusim_version": __version__,
        "scenario": run.scenario,
    }
    with atomic_dir(folder, flag="sweep run folder") as tmp:
        _write_atomic(tmp / "error.json", json.dumps(_canonical(doc), indent=2) + "\n")


# --------------------------------------------------------------------------- the sweep
def run_sweep(
    plan: SweepPlan,
    out: str | Path,
    *,
    workers: int = 1,
    dask: Any = None,
    plots: bool = False,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Run what is missing of `plan` under `out`, write the tables, return the tidy table.

    `workers`: local processes (1 = in this process). `dask`: a scheduler address such as
    ``tcp://10.0.0.5:8786``, ``"local"`` for a local Dask cluster of `workers` processes, or a
    `distributed.Client`. The returned DataFrame's ``attrs`` hold ``out``, ``executed`` and
    ``skipped`` (run names).
    """
    if workers < 1:
        raise InputError(f"workers must be >= 1; got {workers}")
    connected = None
    if isinstance(dask, str) and dask != "local":  # connect first: a bad address writes nothing
        try:
            from distributed import Client
        except ImportError:
            raise InputError("--dask needs Dask: pip install 'gpusim[dask]'") from None
        connected = dask = _connect(Client, dask)
    try:
        return _run_sweep(plan, out, workers=workers, dask=dask, plots=plots, progress=progress)
    finally:
        if connected is not None:
            connected.close()


def _run_sweep(plan, out, *, workers, dask, plots, progress) -> pd.DataFrame:
    out = check_sweep_out(out)
    runs_dir = out / "runs"
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        from gpusim.report.atomic import os_error

        raise os_error(e, out, "write to") from None
    _write_atomic(out / "sweep.json", json.dumps(_canonical(_manifest(plan)), indent=2) + "\n")

    todo = [r for r in plan.runs if read_done(runs_dir / r.name, r) is None]
    todo_names = {r.name for r in todo}
    skipped = [r.name for r in plan.runs if r.name not in todo_names]
    executed: list[str] = []
    if todo:
        if dask is not None:
            stream = _dask(todo, dask, workers)
        elif workers > 1 and len(todo) > 1:
            stream = _process_pool(todo, workers)
        else:
            stream = _in_process(todo)
        finished = len(skipped)
        with open(out / "sweep.log", "a") as log:
            for run, outcome in stream:
                folder = runs_dir / run.name
                if outcome["status"] == "ok":
                    result = outcome["result"]
                    result.save(folder, plots=plots)
                    wall = result.run_info.get("wall_s")
                else:
                    _write_error(folder, run, outcome)
                    wall = None
                executed.append(run.name)
                finished += 1
                entry = {
                    "time": datetime.now(UTC).isoformat(timespec="seconds"),
                    "run": run.name,
                    "status": outcome["status"],
                    "wall_s": wall,
                    "error": outcome.get("error"),
                }
                log.write(json.dumps(entry) + "\n")
                log.flush()
                if progress:
                    progress(finished, len(plan.runs), run.name, outcome["status"])
    table = collect_table(plan, out)
    write_tables(plan, table, out)
    table.attrs.update({"out": str(out), "executed": executed, "skipped": skipped})
    return table


def check_sweep_out(out: str | Path) -> Path:
    """A sweep folder is new, empty, or an earlier sweep's (it has sweep.json); else `InputError`."""
    import stat

    from gpusim.report.atomic import check_destination, describe_path

    out = Path(out)
    try:
        st = os.lstat(out)
    except FileNotFoundError:
        st = None
    except OSError as e:
        from gpusim.report.atomic import os_error

        raise os_error(e, out, "write to") from None
    if st is not None:
        ok = stat.S_ISDIR(st.st_mode) and (
            (out / "sweep.json").is_file() or (out / "runs").is_dir() or not any(out.iterdir())
        )
        if not ok:
            what = (
                "a symbolic link"
                if stat.S_ISLNK(st.st_mode)
                else describe_path(out, st).replace(
                    "gpusim result (no summary.json from gpusim)", "gpusim sweep folder (no sweep.json)"
                )
            )
            raise InputError(
                f"--out {out}: is {what}; a sweep writes only to a new folder, an empty one or an earlier "
                "sweep's folder, and left it untouched. Give another path."
            )
        return out
    return check_destination(out)


def _manifest(plan: SweepPlan) -> dict:
    return {
        "scenario": plan.scenario_name,
        "factors": plan.spec.factors,
        "mode": plan.spec.mode,
        "replications": plan.spec.replications,
        "runs": [{"index": r.index, "name": r.name, "seed": r.seed, "factors": r.values} for r in plan.runs],
    }


def collect_table(plan: SweepPlan, out: str | Path) -> pd.DataFrame:
    """The tidy table read back from the run folders: one row per planned run.

    Columns: index, run, combination, replication, <factor paths>, seed, status (ok | failed |
    missing), error, <every headline metric of summary.json>, events, wall_s, started_at.
    """
    runs_dir = Path(out) / "runs"
    rows = []
    metric_names: list[str] = []
    for r in plan.runs:
        row: dict[str, Any] = {
            "index": r.index,
            "run": r.name,
            "combination": r.combination,
            "replication": r.replication,
            **r.values,
            "seed": r.seed,
        }
        doc = read_done(runs_dir / r.name, r)
        if doc is not None:
            row["status"] = "ok"
            row["error"] = ""
            summary = {k: (math.nan if v is None else v) for k, v in doc["summary"].items()}
            for k in summary:
                if k not in metric_names:
                    metric_names.append(k)
            row.update(summary)
            info = doc.get("run", {})
            row["events"] = info.get("events")
            row["wall_s"] = info.get("wall_s")
            row["started_at"] = info.get("started_at")
        else:
            try:
                err = json.loads((runs_dir / r.name / "error.json").read_text())
                same = err.get("seed") == r.seed and _same_scenario(err.get("scenario"), r)
            except (OSError, json.JSONDecodeError):
                err, same = {}, False
            row["status"] = "failed" if same else "missing"
            row["error"] = err.get("error", "") if same else ""
        rows.append(row)
    fixed = ["index", "run", "combination", "replication", *plan.factor_names, "seed", "status", "error"]
    columns = fixed + metric_names + ["events", *WALL_CLOCK_COLUMNS]
    table = pd.DataFrame(rows, columns=columns)
    for f in plan.factor_names:
        table[f] = _tidy_factor(table[f])
    table["events"] = table["events"].astype("Int64")
    for m in metric_names:
        table[m] = pd.to_numeric(table[m], errors="coerce")
    table["wall_s"] = pd.to_numeric(table["wall_s"], errors="coerce")
    table.attrs["factors"] = list(plan.factor_names)
    table.attrs["metrics"] = metric_names
    return table


def _tidy_factor(col: pd.Series) -> pd.Series:
    """Factor values as one Parquet-friendly type: numbers or bools stay, anything mixed becomes text."""
    values = list(col)
    if all(isinstance(v, bool) for v in values):
        return col.astype(bool)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return pd.to_numeric(col)
    return pd.Series([v if isinstance(v, str) else json.dumps(v, sort_keys=True) for v in values], index=col.index)


def write_tables(plan: SweepPlan, table: pd.DataFrame, out: str | Path) -> None:
    """Write sweep.csv, sweep.parquet and sweep_ci.csv (each replaced atomically)."""
    from gpusim.sweep.stats import confidence_intervals

    out = Path(out)
    metrics = [m for m in table.attrs.get("metrics", []) if m in table]
    ci = confidence_intervals(table, plan.factor_names, metrics)
    for name, frame, writer in (
        ("sweep.csv", table, lambda f, p: f.to_csv(p, index=False)),
        ("sweep.parquet", table, lambda f, p: f.to_parquet(p, index=False)),
        ("sweep_ci.csv", ci, lambda f, p: f.to_csv(p, index=False)),
    ):
        part = out / f".{name}.part"
        writer(frame, part)
        os.replace(part, out / name)
