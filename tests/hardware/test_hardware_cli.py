"""``gpusim catalog``: tables, filters, show with sources, calibration, unknown ids."""

import argparse

import pytest

from gpusim.errors import InputError
from gpusim.hardware.cli import register


def run(argv):
    parser = argparse.ArgumentParser(prog="gpusim")
    sub = parser.add_subparsers(dest="command")
    register(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def test_catalog_lists_gpus_and_nodes(capsys):
    assert run(["catalog"]) == 0
    out = capsys.readouterr().out
    for word in (
        "nvidia-h100-80gb",
        "amd-mi300x",
        "intel-gaudi3",
        "aws-p5.48xlarge",
        "azure-nd96isr-mi300x-v5",
        "assumption",
    ):
        assert word in out


def test_vendor_and_kind_filters(capsys):
    assert run(["catalog", "--vendor", "amd"]) == 0
    out = capsys.readouterr().out
    assert "amd-mi300x" in out and "nvidia-h100-80gb" not in out and "azure-nd96isr-mi300x-v5" in out
    assert "aws-p5.48xlarge" not in out
    assert run(["catalog", "--kind", "nodes"]) == 0
    out = capsys.readouterr().out
    assert "aws-p5.48xlarge" in out and "GPU models" not in out


def test_show_lists_sources(capsys):
    assert run(["catalog", "show", "nvidia-a100-40gb"]) == 0
    out = capsys.readouterr().out
    assert "S68" in out and "glennklockwood" in out and "3g.20gb" in out and "nvidia.com/mig-1g.5gb" in out
    assert run(["catalog", "show", "aws-p5en.48xlarge"]) == 0
    out = capsys.readouterr().out
    assert "63.296" in out and "assumption" in out
    assert run(["catalog", "show", "amd-mi300x"]) == 0
    assert "cpx_nps4" in capsys.readouterr().out


def test_show_unknown_id_is_input_error_with_suggestions():
    with pytest.raises(InputError) as e:
        run(["catalog", "show", "h200"])
    assert "nvidia-h200-141gb" in str(e.value)


def test_calibration_prints_errors(capsys):
    assert run(["catalog", "calibration"]) == 0
    out = capsys.readouterr().out
    assert "llama2-70b" in out and "amd-mi300x" in out and "%" in out and "bound" in out


def test_top_level_cli(capsys):
    import gpusim.cli as cli

    assert cli.main(["catalog", "--kind", "gpus"]) == 0
    assert "nvidia-b200-180gb" in capsys.readouterr().out
    assert cli.main(["catalog", "show", "nope-gpu"]) == 2


def test_scenario_catalog_block(tmp_path, capsys):
    f = tmp_path / "s.yaml"
    f.write_text(
        "name: x\n"
        "catalog:\n"
        "  gpu_models:\n"
        "    - {id: my-card, proxy: nvidia-l4, memory_gib: 48}\n"
        "  node_types:\n"
        "    - {id: azure-nd96isr-mi300x-v5, on_demand_usd_per_hour: 48.5, price_date: '2026-05'}\n"
    )
    assert run(["catalog", "--scenario", str(f), "show", "my-card"]) == 0
    out = capsys.readouterr().out
    assert "scenario" in out and "copied from the proxy nvidia-l4" in out
    assert run(["catalog", "--scenario", str(f), "--kind", "nodes"]) == 0
    assert "48.5" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("catalog:\n  gpu_models:\n    - {id: a, memroy_gib: 3}\n")
    with pytest.raises(InputError, match="memroy_gib"):
        run(["catalog", "--scenario", str(bad)])
    with pytest.raises(InputError):
        run(["catalog", "--scenario", str(tmp_path / "missing.yaml")])
