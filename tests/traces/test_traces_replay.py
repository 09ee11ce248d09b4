import numpy as np
import pandas as pd
import pytest
from pydantic import TypeAdapter, ValidationError

from gpusim.errors import InputError
from gpusim.traces import (
    iter_requests,
    load_distribution,
    load_requests,
    load_training_trace,
    replay,
)
from gpusim.traces.records import validate_requests, validate_training
from gpusim.traces.schema import ArrivalProcess, MMPPArrivals, TraceSource

CODE = "shipped:azure-llm-2023/AzureLLMInferenceTrace_code.csv"
PODS = "shipped:alibaba-gpu-v2023/openb_pod_list_default.csv"


def test_window_shifts_to_zero():
    a = np.array([0.0, 5.0, 10.0, 15.0, 20.0])
    np.testing.assert_array_equal(replay.window(a, 5.0, 20.0), [0.0, 5.0, 10.0])
    np.testing.assert_array_equal(replay.window(a, 12.0), [3.0, 8.0])


def test_compress_and_durations():
    df = pd.DataFrame({"arrival_s": [0.0, 10.0], "duration_s": [4.0, 8.0]})
    out = replay.compress(df, 2.0)
    assert out["arrival_s"].tolist() == [0.0, 5.0] and out["duration_s"].tolist() == [4.0, 8.0]
    out = replay.compress(df, 2.0, durations=True)
    assert out["duration_s"].tolist() == [2.0, 4.0]
    assert df["arrival_s"].tolist() == [0.0, 10.0]  # input untouched


def test_loop_and_sample():
    a = np.array([0.0, 1.0, 2.5])
    np.testing.assert_array_equal(replay.loop(a, 3.0, 8.0), [0, 1, 2.5, 3, 4, 5.5, 6, 7])
    rng = np.random.default_rng(0)
    s = replay.sample(rng, np.arange(100.0), 0.25)
    assert len(s) == 25 and np.all(np.diff(s) > 0)


def test_superposed_records_get_distinct_names():
    df = pd.DataFrame({"name": ["a", "b"], "arrival_s": [0.0, 5.0]}).astype({"name": "str"})
    out = replay.scale_rate(np.random.default_rng(1), df, 3.0, span_s=10.0)
    assert len(out) == 6 and out["name"].is_unique and out["arrival_s"].is_monotonic_increasing


def test_load_training_trace_applies_controls():
    rng = np.random.default_rng(0)
    src = TraceSource(format="openb", path=PODS, start="100d", end="149d", compress=10, rate_scale=0.5)
    df, rep = load_training_trace(src, rng)
    validate_training(df)
    full, _ = load_training_trace(TraceSource(format="openb", path=PODS, start="100d", end="149d"), rng)
    assert rep.rows_read == 8152
    assert abs(len(df) - len(full) / 2) < 5 * np.sqrt(len(full) / 4)
    assert df["arrival_s"].max() < 49 * 86400 / 10
    assert df["duration_s"].max() <= full["duration_s"].max()


def test_load_requests_loop_and_stream():
    rng = np.random.default_rng(0)
    src = TraceSource(format="azure-llm", path=CODE, end="10m", loop=True)
    df, _ = load_requests(src, rng, until_s=3600)
    validate_requests(df)
    first, _ = load_requests(TraceSource(format="azure-llm", path=CODE, end="10m"), rng)
    assert len(df) == 6 * len(first) and df["arrival_s"].max() < 3600
    with pytest.raises(InputError, match="until_s"):
        load_requests(src, rng)
    stream = iter_requests(TraceSource(format="azure-llm", path=CODE, start="5m", end="15m"), rng, chunk_rows=500)
    chunks = list(stream)
    whole, _ = load_requests(TraceSource(format="azure-llm", path=CODE, start="5m", end="15m"), rng)
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole)
    with pytest.raises(InputError):
        load_training_trace(TraceSource(format="azure-llm", path=CODE), rng)
    with pytest.raises(InputError):
        iter_requests(TraceSource(format="azure-llm", path=CODE, rate_scale=2), rng)


def test_load_distribution(shared):
    v, _ = load_distribution(
        TraceSource(format="philly-runtime", path=str(shared / "philly-runtime/philly_runtime.csv"))
    )
    assert len(v) == 83154


def test_trace_source_schema():
    src = TraceSource.model_validate(
        {"format": "generic", "path": "x.csv", "columns": {"arrival": "t", "duration": "d"}}
    )
    assert src.columns.as_dict() == {"arrival": "t", "duration": "d"}
    for bad in (
        {"format": "generic", "path": "x"},
        {"format": "openb", "path": "x", "columns": {"arrival": "t"}},
        {"format": "openb", "path": "x", "colour": 1},
        {"format": "openb", "path": "x", "start": "2h", "end": "1h"},
        {"format": "openb", "path": "x", "sample": 0},
        {"format": "nope", "path": "x"},
    ):
        with pytest.raises(ValidationError):
            TraceSource.model_validate(bad)
    for name, info in TraceSource.model_fields.items():
        assert info.description, name


def test_arrival_process_union():
    ta = TypeAdapter(ArrivalProcess)
    p = ta.validate_python({"process": "poisson", "rate": "30/min"})
    assert p.rate == 0.5
    a = p.sample(np.random.default_rng(0), 0.0, 3600.0)
    assert abs(len(a) - 1800) < 5 * np.sqrt(1800)
    g = ta.validate_python({"process": "gamma", "rate": 2, "cv": 3})
    assert len(g.sample(np.random.default_rng(0), 0, 100)) > 0
    m = ta.validate_python({"process": "mmpp", "rates": ["10/s", 0], "mean_sojourn": ["1m", "5m"]})
    assert isinstance(m, MMPPArrivals)
    ta.validate_python({"process": "diurnal", "mean_rate": "100/h", "profile": [1, 2, 3]})
    ta.validate_python({"process": "flash-crowd", "base_rate": 1, "peak_rate": 50, "spike_at": "10m"})
    for bad in (
        {"process": "poison", "rate": 1},
        {"process": "gamma", "rate": 1, "cv": 0},
        {"process": "mmpp", "rates": [1, 2], "mean_sojourn": ["1m"]},
        {"process": "flash-crowd", "base_rate": 10, "peak_rate": 5, "spike_at": 0},
        {"process": "poisson", "rate": 1, "extra": 2},
    ):
        with pytest.raises(ValidationError):
            ta.validate_python(bad)


def test_format_names_agree():
    from typing import get_args

    from gpusim.traces import registry
    from gpusim.traces.schema import TraceFormat

    assert set(get_args(TraceFormat)) == set(registry.FORMAT_NAMES) == set(registry._specs())
