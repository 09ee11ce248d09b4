"""``gpusim catalog predict``: output formats and bad arguments (exit 2, no traceback)."""

import csv
import io

import pytest

from gpusim.cli import main


def test_predict_csv(capsys):
    assert main(["catalog", "predict", "--model", "llama-2-70b", "--gpu", "nvidia-h200-141gb", "--count", "8",
                 "--scenario", "server", "--format", "csv"]) == 0  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 1
    r = rows[0]
    assert (r["gpu"], r["count"], r["precision"], r["scenario"]) == ("nvidia-h200-141gb", "8", "fp8", "server")
    assert float(r["tokens_per_s"]) > 0 and float(r["tpot_s"]) <= 0.2 and float(r["ttft_s"]) <= 2.0


def test_predict_both_scenarios_by_default(capsys):
    assert main(["catalog", "predict", "--gpu", "amd-mi300x", "--count", "8", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["scenario"] for r in rows] == ["offline", "server"]
    assert float(rows[1]["tokens_per_s"]) <= float(rows[0]["tokens_per_s"])


def test_predict_table_and_list(capsys):
    assert main(["catalog", "predict", "--gpu", "nvidia-h100-80gb", "--count", "8"]) == 0
    out = capsys.readouterr().out
    assert "offline" in out and "server" in out and "TPOT" in out
    assert main(["catalog", "predict", "--list"]) == 0
    assert "llama-2-70b" in capsys.readouterr().out


def test_predict_calibration_tables(capsys):
    assert main(["catalog", "predict", "--calibration"]) == 0
    out = capsys.readouterr().out
    assert "held out" in out and "Vendor ratios" in out and "Leave one MLPerf round out" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--gpu", "nvidia-h100-8"], "unknown GPU model"),
        (["--model", "gpt-5", "--gpu", "nvidia-h100-80gb"], "unknown model"),
        (["--gpu", "nvidia-l4", "--count", "1"], "does not fit"),
        (["--gpu", "nvidia-h100-80gb", "--count", "0"], "--count must be >= 1"),
        (["--count", "8"], "--gpu is required"),
        (["--gpu", "amd-mi300x", "--stack", "cuda"], "unknown stack"),
    ],
)
def test_predict_bad_arguments_exit_2(capsys, argv, message):
    assert main(["catalog", "predict", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_predict_usage_error_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["catalog", "predict", "--gpu", "nvidia-h100-80gb", "--scenario", "batch"])
    assert e.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_predict_server_through_the_replica(capsys):
    """--server-model replica: the p99 limits met in the compiled replica, below the analytic point here
    (bench_llm_server.py: 27,611 vs 31,915 tokens/s on 8 x H200)."""
    argv = [
        "catalog",
        "predict",
        "--gpu",
        "nvidia-h200-141gb",
        "--count",
        "8",
        "--scenario",
        "server",
        "--format",
        "csv",
    ]
    assert main([*argv, "--server-model", "replica"]) == 0
    rep = next(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert main(argv) == 0
    ana = next(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert float(rep["tpot_s"]) <= 0.2 and float(rep["ttft_s"]) <= 2.0
    assert 0 < float(rep["tokens_per_s"]) < float(ana["tokens_per_s"])
    with pytest.raises(SystemExit) as e:  # argparse usage error, as for --scenario
        main([*argv, "--server-model", "mlperf"])
    assert e.value.code == 2 and "invalid choice" in capsys.readouterr().err
