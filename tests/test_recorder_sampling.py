"""The recorder's sampled time series against its former formula (np.floor buckets, pop and append
per column): random sample times, several at one instant or in one bucket, give the same frame.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gpusim.metrics.recorder import TIMESERIES_COLUMNS, Recorder


def former(samples, interval_s):
    ts = {c: [] for c in TIMESERIES_COLUMNS}
    for time_s, values in samples:
        if interval_s > 0 and ts["time_s"]:
            bucket = np.floor(time_s / interval_s) * interval_s
            if ts["time_s"][-1] == bucket:
                for v in ts.values():
                    v.pop()
            time_s = bucket
        elif ts["time_s"] and ts["time_s"][-1] == time_s:
            for v in ts.values():
                v.pop()
        for k, v in zip(TIMESERIES_COLUMNS, (time_s, *values), strict=True):
            ts[k].append(v)
    df = pd.DataFrame(ts, columns=TIMESERIES_COLUMNS)
    return df.astype({c: ("float64" if c in ("time_s", "gpus_allocated") else "int64") for c in TIMESERIES_COLUMNS})


@pytest.mark.parametrize("interval_s", [0.0, 60.0, 7.5, 1e-3, 86400.0])
def test_sampling_equals_former_formula(interval_s):
    rng = np.random.default_rng(int(interval_s * 1000) % 2**32)
    t = float(rng.uniform(0, 100))
    samples = []
    for _ in range(3000):
        t += float(rng.choice([0.0, rng.exponential(5.0), rng.exponential(200.0)]))
        values = (int(rng.integers(0, 64)), float(rng.integers(0, 64000)) / 1000.0, 64, int(rng.integers(0, 9)),
                  int(rng.integers(0, 9)), 8, 8)  # fmt: skip
        samples.append((t, values))
    r = Recorder(interval_s)
    for time_s, v in samples:
        r.sample(time_s, gpus_busy=v[0], gpus_allocated=v[1], gpus_total=v[2], pending=v[3], running=v[4],
                 nodes_ready=v[5], nodes_billed=v[6])  # fmt: skip
    got, want = r.timeseries_frame(), former(samples, interval_s)
    pd.testing.assert_frame_equal(got, want)
    assert np.array_equal(got["time_s"].to_numpy().view(np.int64), want["time_s"].to_numpy().view(np.int64))
    assert 1 < len(got) < len(samples)  # some samples replaced others
