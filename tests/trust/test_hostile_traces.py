"""Hostile trace rows: out-of-range numbers, extra fields, files with no good row."""

import pytest

import gpusim
from gpusim.errors import TraceFormatError
from gpusim.traces import load_training_trace
from gpusim.traces.schema import TraceSource


def _source(path, strict=False):
    return TraceSource(
        format="generic", path=str(path), strict=strict, columns={"arrival": "t", "duration": "d", "gpus": "g"}
    )


def test_huge_values_are_bad_rows_not_later_crashes(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("t,d,g\n0,60,1\n1e30,60,1\n5,1e30,1\n7,60,1e30\n")
    df, report = load_training_trace(_source(p), rng=__import__("numpy").random.default_rng(0))
    assert len(df) == 1 and report.rows_read == 4 and report.rows_skipped == 3
    assert [ex.line for ex in report.examples] == [3, 4, 5]
    assert all("out of range" in ex.reason for ex in report.examples)
    with pytest.raises(TraceFormatError, match=r"t\.csv:3: arrival"):
        load_training_trace(_source(p, strict=True), rng=__import__("numpy").random.default_rng(0))


def test_rows_with_extra_fields_are_counted_and_stop_strict(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("t,d,g\n0,60,1\n1,60,1,9,9\n2,60,1\n")
    df, report = load_training_trace(_source(p), rng=__import__("numpy").random.default_rng(0))
    assert len(df) == 2 and report.rows_skipped == 1 and report.examples[0].line == 3
    with pytest.raises(TraceFormatError, match=r"t\.csv:3: expected 3 fields, found 5"):
        load_training_trace(_source(p, strict=True), rng=__import__("numpy").random.default_rng(0))


def test_a_trace_with_no_good_row_is_an_error(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("t,d,g\nx,y,z\n0,-60,1\n")
    with pytest.raises(TraceFormatError, match="every one of its 2 rows is bad"):
        load_training_trace(_source(p), rng=__import__("numpy").random.default_rng(0))


def test_a_folder_as_trace_path_says_folder(tmp_path):
    (tmp_path / "d").mkdir()
    s = {
        "name": "t", "duration": "1h",
        "cluster": {"node_pools": [{"name": "g", "count": 1, "gpu_model": "nvidia-a100-80gb", "gpus_per_node": 8,
                                    "vcpu": 64, "memory": "512Gi"}]},
        "workloads": [{"name": "w", "trace": {"format": "generic", "path": str(tmp_path / "d"), "columns": {"arrival": "t"}}}],
    }  # fmt: skip
    with pytest.raises(gpusim.ScenarioError, match="is a folder"):
        gpusim.load_scenario(s)
