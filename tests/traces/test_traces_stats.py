"""`gpusim trace stats` must agree with shared/traces/PROVENANCE.md on the shipped files."""

import argparse
import json

import pytest

from gpusim.errors import InputError
from gpusim.traces.cli import register
from gpusim.traces.stats import trace_stats

CODE = "shipped:azure-llm-2023/AzureLLMInferenceTrace_code.csv"
CONV = "shipped:azure-llm-2023/AzureLLMInferenceTrace_conv.csv"
PODS = "shipped:alibaba-gpu-v2023/openb_pod_list_default.csv"


def _col(st, name):
    return next(c for c in st.columns if c.name == name)


def test_azure_code_matches_provenance():
    # "8,819 requests in 57 minutes, very bursty (inter-arrival CV about 13, up to 67 requests in
    # one second, 73% of seconds idle); median 1,469 tokens in, 13 out."
    st = trace_stats(CODE, "azure-llm")
    assert st.rows == 8819 and st.rows_skipped == 0
    assert int(st.span_s // 60) == 57
    assert round(st.interarrival_cv) == 13
    assert st.peak_per_s == 67
    assert round(100 * st.idle_second_fraction) == 73
    assert _col(st, "prompt_tokens").p50 == 1469 and _col(st, "output_tokens").p50 == 13


def test_azure_conv_matches_provenance():
    # "19,366 requests in 58 minutes, close to Poisson (CV about 1.1); median 1,020 in, 129 out."
    st = trace_stats(CONV, "azure-llm")
    assert st.rows == 19366
    assert int(st.span_s // 60) == 58
    assert round(st.interarrival_cv, 1) == 1.1
    assert _col(st, "prompt_tokens").p50 == 1020 and _col(st, "output_tokens").p50 == 129


def test_openb_default_matches_provenance():
    # "8,152 pods over 149 days; 1,088 are CPU-only; 43.6% of GPU pods ask for a fraction of a
    # GPU"; "on the real timeline it peaks at about 66 GPUs in use".
    st = trace_stats(PODS, "openb")
    assert st.rows == 8152
    assert int(st.span_s // 86400) == 149
    pods = st.counts["pods"]
    assert pods["cpu_only"] == 1088
    assert round(100 * pods["gpu_fractional"] / (pods["total"] - pods["cpu_only"]), 1) == 43.6
    assert round(st.counts["peak_in_use"]["gpus"]) == 66


def test_streamed_stats_equal_whole_file_stats():
    import numpy as np

    from gpusim.traces.azure_llm import read_azure_llm

    st = trace_stats(CODE, "azure-llm", chunk_rows=777)
    df, _ = read_azure_llm(CODE)
    d = np.diff(df["arrival_s"].to_numpy())
    assert st.interarrival_cv == pytest.approx(d.std() / d.mean(), rel=1e-9)
    for col in ("prompt_tokens", "output_tokens"):
        v = df[col].to_numpy()
        c = _col(st, col)
        assert (c.p50, c.p90, c.p99) == pytest.approx(tuple(np.quantile(v, [0.5, 0.9, 0.99])))
        assert c.mean == pytest.approx(v.mean())


def _parser():
    p = argparse.ArgumentParser(prog="gpusim")
    register(p.add_subparsers(dest="command"))
    return p


def test_cli_stats_prints_tables(capsys):
    args = _parser().parse_args(["trace", "stats", CODE, "--format", "azure-llm"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "8,819" in out and "67" in out and "prompt_tokens" in out


def test_cli_stats_json_and_errors(capsys, tmp_path):
    args = _parser().parse_args(["trace", "stats", PODS, "-f", "openb", "--json"])
    assert args.func(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["rows"] == 8152 and data["counts"]["pods"]["cpu_only"] == 1088
    args = _parser().parse_args(["trace", "stats", str(tmp_path / "none.csv"), "-f", "helios"])
    with pytest.raises(InputError, match="HeliosData"):
        args.func(args)
    args = _parser().parse_args(["trace", "stats", PODS, "-f", "generic"])
    with pytest.raises(InputError, match="--columns"):
        args.func(args)
    args = _parser().parse_args(
        [
            "trace",
            "stats",
            PODS,
            "-f",
            "generic",
            "--columns",
            '{"arrival": "creation_time", "end": "deletion_time"}',
        ]
    )
    assert args.func(args) == 0


def test_cli_reports_bad_rows_and_strict(capsys, tmp_path):
    from gpusim.errors import TraceFormatError

    p = tmp_path / "a.csv"
    p.write_text(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-01-01 00:00:00,1,2\nnever,1,2\n2023-01-01 00:00:05,3,4\n"
    )
    args = _parser().parse_args(["trace", "stats", str(p), "-f", "azure-llm"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "line 3: malformed TIMESTAMP 'never'" in out
    args = _parser().parse_args(["trace", "stats", str(p), "-f", "azure-llm", "--strict"])
    with pytest.raises(TraceFormatError, match="a.csv:3"):
        args.func(args)


def test_unknown_format_lists_known_ones():
    from gpusim.traces import registry

    with pytest.raises(InputError, match="known formats: openb, openb-nodes"):
        registry.get("philly")


def test_cli_generic_requests(capsys):
    args = _parser().parse_args(
        [
            "trace",
            "stats",
            CONV,
            "-f",
            "generic",
            "--kind",
            "requests",
            "--columns",
            '{"arrival": "TIMESTAMP", "prompt_tokens": "ContextTokens"}',
        ]
    )
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "19,366" in out and "prompt_tokens" in out
