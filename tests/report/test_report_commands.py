"""gpusim compare / plot / export, the new RunResult plot methods and the OpenMetrics exporter."""

import re

import matplotlib
import pytest

matplotlib.use("Agg")

import gpusim
from gpusim.cli import main
from gpusim.report.export import METRICS, parse_start, sample_frame, to_openmetrics
from tests.sweep.tiny import tiny_scenario


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    a = gpusim.simulate(tiny_scenario(), seed=1)
    b = gpusim.simulate(tiny_scenario(name="tiny-other", scheduler={"policy": "first-fit"}), seed=2)
    a.save(base / "a", plots=False)
    b.save(base / "b", plots=False)
    return base, a, b


def test_plot_methods_return_figures(runs):
    import matplotlib.pyplot as plt

    _, a, b = runs
    for fig in (a.plot_timeseries(), a.plot_comparison(b), a.plot_utilisation()):
        assert isinstance(fig, matplotlib.figure.Figure)
        assert fig.axes[0].get_xlabel()  # labelled axes with units
        assert fig.axes[0].get_title() or fig._suptitle is not None
        plt.close(fig)
    fig = a.plot_timeseries()
    ax = fig.axes[0]
    assert ax.get_xlabel() == "simulated time (h)" and ax.get_ylabel() == "jobs"
    assert "tiny-sweep" in ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["running jobs", "pending jobs"]
    plt.close(fig)


def test_compare_cli(runs, tmp_path, capsys):
    base, a, b = runs
    png = tmp_path / "cmp.png"
    assert main(["compare", str(base / "a"), str(base / "b"), "--out", str(png)]) == 0
    out = capsys.readouterr().out
    assert "tiny-sweep (seed 1)" in out and "tiny-other (seed 2)" in out
    assert "GPU utilisation" in out and f"{a.summary['gpu_utilisation']:.1%}" in out
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"


def test_compare_same_run_twice_gets_distinct_labels(runs, tmp_path, capsys):
    base, _, _ = runs
    assert main(["compare", str(base / "a"), str(base / "a"), "--no-plot"]) == 0
    from gpusim.report.compare import compare

    _, table, labels = compare([base / "a", base / "a"])
    assert len(set(labels)) == 2 and table.shape[1] == 2


def test_compare_errors(tmp_path, capsys):
    assert main(["compare", str(tmp_path)]) == 2
    assert "not a gpusim run folder" in capsys.readouterr().err


def test_plot_cli_regenerates_plots(runs, tmp_path, capsys):
    base, _, _ = runs
    out = tmp_path / "plots"
    assert main(["plot", str(base / "a"), "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    # the pool has a GPU model, so it is billed at the catalog GPU price and gets a cost plot
    assert names == ["cost.png", "queueing_delay_cdf.png", "timeseries.png", "utilisation.png"]


def test_plot_cli_never_writes_into_a_users_folder(runs, tmp_path, capsys):
    """plot --out follows run --out: a user's folder (here holding their own utilisation.png) is refused."""
    base, _, _ = runs
    mine = tmp_path / "my-figures"
    mine.mkdir()
    (mine / "utilisation.png").write_bytes(b"my own figure")
    assert main(["plot", str(base / "a"), "--out", str(mine)]) == 2
    assert "left it untouched" in capsys.readouterr().err
    assert (mine / "utilisation.png").read_bytes() == b"my own figure"
    assert main(["plot", str(base / "a")]) == 0  # into the result folder itself, as before


# ------------------------------------------------------------------ OpenMetrics
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+) (\d+\.\d{3})$")


def _parse(text: str):
    """A strict reading of the OpenMetrics text subset we write; returns {family: {labels: [(ts, v)]}}."""
    lines = text.split("\n")
    assert lines[-1] == "" and lines[-2] == "# EOF"
    assert text.count("# EOF") == 1
    families: dict = {}
    meta: dict = {}
    current = None
    for line in lines[:-2]:
        if line.startswith("# "):
            kind, name, rest = line[2:].split(" ", 2)
            assert kind in ("TYPE", "HELP", "UNIT")
            if kind == "TYPE":
                assert name not in families, f"family {name} is not contiguous"
                families[name] = {}
                current = name
                meta[name] = {"type": rest}
            else:
                assert name == current
                meta[name][kind] = rest
            continue
        m = _SAMPLE.match(line)
        assert m, line
        name, labels, value, ts = m.groups()
        assert name == current, f"sample of {name} outside its family"
        series = families[name].setdefault(labels or "", [])
        float(value)
        t = float(ts)
        if series:
            assert t > series[-1][0], f"timestamps not increasing in {name}{labels}"
        series.append((t, float(value)))
    for name, m in meta.items():
        if "UNIT" in m:
            assert name.endswith("_" + m["UNIT"]), "OpenMetrics: a unit must be the name's suffix"
        assert m["type"] == "gauge"
    return families, meta


def test_openmetrics_format_and_mapping(runs):
    _, a, _ = runs
    text = to_openmetrics(a, start="2026-01-01T00:00:00Z", interval_s=0)
    families, meta = _parse(text)
    assert set(families) == {
        "DCGM_FI_DEV_GPU_UTIL", "kube_pod_status_phase", "kube_pod_container_resource_requests",
        "kube_node_status_allocatable", "kube_node_status_condition", "gpusim_gpus_busy", "gpusim_gpus_allocated",
        "gpusim_gpu_allocation_ratio", "gpusim_simulated_time_seconds",
    }  # fmt: skip
    ready = families["kube_node_status_condition"]
    assert all('condition="Ready"' in labels for labels in ready)
    assert meta["gpusim_simulated_time_seconds"]["UNIT"] == "seconds"
    phases = families["kube_pod_status_phase"]
    assert set(phases) == {
        '{cluster="tiny-sweep",seed="1",phase="Pending"}',
        '{cluster="tiny-sweep",seed="1",phase="Running"}',
    }
    ts = a.timeseries
    running = phases['{cluster="tiny-sweep",seed="1",phase="Running"}']
    assert len(running) == len(ts)
    assert [v for _, v in running] == ts["running_jobs"].tolist()
    t0 = 1767225600.0  # 2026-01-01T00:00:00Z
    assert running[0][0] == pytest.approx(t0 + ts["time_s"].iloc[0], abs=1e-3)
    assert running[-1][0] == pytest.approx(t0 + ts["time_s"].iloc[-1], abs=1e-3)
    util = next(iter(families["DCGM_FI_DEV_GPU_UTIL"].values()))
    expected = (100 * ts["gpus_busy"] / ts["gpus_total"]).tolist()
    assert [v for _, v in util] == pytest.approx(expected)
    alloc = families["kube_pod_container_resource_requests"]
    assert list(alloc) == ['{cluster="tiny-sweep",seed="1",resource="nvidia_com_gpu",unit="integer"}']


def test_openmetrics_interval_fills_gaps(runs):
    _, a, _ = runs
    families, _ = _parse(to_openmetrics(a, interval_s=60))
    series = next(iter(families["gpusim_gpus_busy"].values()))
    gaps = [t2 - t1 for (t1, _), (t2, _) in zip(series, series[1:], strict=False)]
    assert max(gaps) <= 60.0 + 1e-6
    assert series[-1][0] >= 1767225600.0 + a.summary["sim_end_s"] - 1e-3


def test_sample_frame_keeps_last_state_per_millisecond():
    import pandas as pd

    ts = pd.DataFrame({"time_s": [0.0, 1.0, 1.0002, 5.0], "x": [1, 2, 3, 4]})
    out = sample_frame(ts, end_s=5.0, interval_s=0)
    assert out["timestamp_ms"].tolist() == [0, 1000, 5000]
    assert out["x"].tolist() == [1, 3, 4]
    grid = sample_frame(ts, end_s=5.0, interval_s=2.0)
    assert grid["timestamp_ms"].tolist() == [0, 1000, 2000, 4000, 5000]
    assert grid["x"].tolist() == [1, 3, 3, 3, 4]


def test_mapping_is_table_driven_and_skips_missing_columns(runs):
    _, a, _ = runs
    names = {m.name for m in METRICS}
    assert {"DCGM_FI_DEV_FB_USED", "kube_deployment_status_replicas", "kube_node_status_condition"} <= names
    r = a
    ts = r.timeseries.copy()
    ts["replicas"] = 3
    r2 = type(r)(**{**r.__dict__, "timeseries": ts})
    families, _ = _parse(to_openmetrics(r2, interval_s=0))
    assert "kube_deployment_status_replicas" in families


def test_export_cli(runs, tmp_path, capsys):
    base, _, _ = runs
    out = tmp_path / "run.om"
    assert main(["export", str(base / "a"), "--format", "openmetrics", "--out", str(out),
                 "--start", "2030-06-01T12:00:00+02:00", "--interval", "10m"]) == 0  # fmt: skip
    families, _ = _parse(out.read_text())
    first = next(iter(families["gpusim_gpus_busy"].values()))[0][0]
    assert first == parse_start("2030-06-01T10:00:00Z").timestamp()
    assert main(["export", str(base / "a"), "--format", "openmetrics"]) == 0
    assert capsys.readouterr().out.endswith("# EOF\n")
    assert main(["export", str(base / "a"), "--format", "openmetrics", "--start", "yesterday"]) == 2
    assert "ISO 8601" in capsys.readouterr().err


def test_openmetrics_parses_with_prometheus_client(runs):
    # prometheus-client is in the dev extra, so CI runs this; skipped only in a bare install
    parser = pytest.importorskip("prometheus_client.openmetrics.parser")
    _, a, _ = runs
    families = {f.name: f for f in parser.text_string_to_metric_families(to_openmetrics(a))}
    assert families["gpusim_simulated_time_seconds"].unit == "seconds"
    assert families["kube_pod_status_phase"].type == "gauge"
