"""Flat records collected during a run, turned into DataFrames once, at the end.

Columns of `jobs_frame()` (one row per job, in job-id order):
  job_id, name, workload, arrival_s, start_s, end_s, duration_s, queueing_delay_s, jct_s,
  gpus, gpu_resource, cpu_milli, memory_mib, priority, node, pool, gpu_ids, state
  num_pods, gpu_milli, qos
  restarts (out-of-memory restarts), failure (why a failed job failed)
  (state: finished | running | pending | failed | unschedulable (fits no node even when empty);
  start/end are NaN where the job has not reached them; node, pool and gpu_ids list every pod's:
  nodes and pools comma-separated, GPU ids comma-separated per pod and ';' between pods).

Columns of `timeseries_frame()` (a step function: each row holds from its time until the next):
  time_s, gpus_busy (GPUs with at least one pod), gpus_allocated (allocated milli-GPU / 1000),
  gpus_total, pending_jobs, running_jobs, nodes_ready, nodes_billed (nodes paid for, booting included).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

JOB_COLUMNS = [
    "job_id", "name", "workload", "arrival_s", "start_s", "end_s", "duration_s", "queueing_delay_s", "jct_s",
    "num_pods", "gpus", "gpu_milli", "gpu_resource", "cpu_milli", "memory_mib", "priority", "qos", "node", "pool",
    "gpu_ids", "restarts", "failure", "state",
]  # fmt: skip
TIMESERIES_COLUMNS = [
    "time_s", "gpus_busy", "gpus_allocated", "gpus_total", "pending_jobs", "running_jobs", "nodes_ready", "nodes_billed",
]  # fmt: skip


class Recorder:
    """Collects the time series as parallel lists and job events by job id."""

    def __init__(self, interval_s: float = 0.0):
        self.interval_s = interval_s
        self._ts: dict[str, list] = {c: [] for c in TIMESERIES_COLUMNS}
        self.start_s: dict[int, float] = {}
        self.end_s: dict[int, float] = {}
        self.where: dict[int, tuple[str, str, str]] = {}
        self.restarts: dict[int, int] = {}

    def sample(
        self,
        time_s: float,
        *,
        gpus_busy: int,
        gpus_allocated: float,
        gpus_total: int,
        pending: int,
        running: int,
        nodes_ready: int = 0,
        nodes_billed: int = 0,
    ) -> None:
        """Record the state from `time_s` on; a second sample at the same time replaces the first."""
        ts = self._ts
        times = ts["time_s"]
        if self.interval_s > 0 and times:
            # Sampled mode: keep the last state within each interval bucket (math.floor gives the
            # integer np.floor gives, so the bucket is the same float)
            time_s = math.floor(time_s / self.interval_s) * self.interval_s
        if times and times[-1] == time_s:
            self._pop()
        times.append(time_s)
        ts["gpus_busy"].append(gpus_busy)
        ts["gpus_allocated"].append(gpus_allocated)
        ts["gpus_total"].append(gpus_total)
        ts["pending_jobs"].append(pending)
        ts["running_jobs"].append(running)
        ts["nodes_ready"].append(nodes_ready)
        ts["nodes_billed"].append(nodes_billed)

    def _pop(self):
        for v in self._ts.values():
            v.pop()

    def job_started(self, job_id: int, time_s: float, node: str, pool: str, gpu_ids: str) -> None:
        self.start_s[job_id] = time_s
        self.where[job_id] = (node, pool, gpu_ids)

    def job_finished(self, job_id: int, time_s: float, restarts: int = 0) -> None:
        self.end_s[job_id] = time_s
        self.restarts[job_id] = restarts

    def timeseries_frame(self) -> pd.DataFrame:
        df = pd.DataFrame(self._ts, columns=TIMESERIES_COLUMNS)
        return df.astype({c: ("float64" if c in ("time_s", "gpus_allocated") else "int64") for c in TIMESERIES_COLUMNS})

    def jobs_frame(self, jobs, unschedulable=None, failed=None) -> pd.DataFrame:
        """One row per job. `unschedulable` maps job id -> why it fits no node (kube-scheduler's
        wording; a set gives no reason), `failed` job id -> why it failed; both land in `failure`.
        """
        failed = dict(failed or {})
        unschedulable = unschedulable if unschedulable is not None else {}
        if isinstance(unschedulable, dict):
            failed.update({k: v for k, v in unschedulable.items() if v})
        n = len(jobs)
        start = np.array([self.start_s.get(j.job_id, np.nan) for j in jobs], dtype=float)
        end = np.array([self.end_s.get(j.job_id, np.nan) for j in jobs], dtype=float)
        arrival = np.array([j.arrival_s for j in jobs], dtype=float)
        where = [self.where.get(j.job_id, ("", "", "")) for j in jobs]
        state = np.where(~np.isnan(end), "finished", np.where(~np.isnan(start), "running", "pending")).astype(object)
        for i, j in enumerate(jobs):
            if j.job_id in unschedulable:
                state[i] = "unschedulable"
            elif j.job_id in failed:
                state[i] = "failed"
        df = pd.DataFrame(
            {
                "job_id": np.array([j.job_id for j in jobs], dtype=np.int64),
                "name": [j.name for j in jobs],
                "workload": [j.workload for j in jobs],
                "arrival_s": arrival,
                "start_s": start,
                "end_s": end,
                "duration_s": np.array([j.duration_s for j in jobs], dtype=float),
                "queueing_delay_s": start - arrival,
                "jct_s": end - arrival,
                "num_pods": np.array([j.num_pods for j in jobs], dtype=np.int64),
                "gpus": np.array([j.gpus for j in jobs], dtype=np.int64),
                "gpu_milli": np.array([j.gpu_milli for j in jobs], dtype=np.int64),
                "gpu_resource": [j.gpu_resource for j in jobs],
                "cpu_milli": np.array([j.cpu_milli for j in jobs], dtype=np.int64),
                "memory_mib": np.array([j.memory_mib for j in jobs], dtype=np.int64),
                "priority": np.array([j.priority for j in jobs], dtype=np.int64),
                "qos": [j.qos for j in jobs],
                "node": [w[0] for w in where],
                "pool": [w[1] for w in where],
                "gpu_ids": [w[2] for w in where],
                "restarts": np.array([self.restarts.get(j.job_id, 0) for j in jobs], dtype=np.int64),
                "failure": [failed.get(j.job_id, "") for j in jobs],
                "state": list(state) if n else [],
            },
            columns=JOB_COLUMNS,
        )
        return df
