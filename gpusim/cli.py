"""The `gpusim` command line.

  gpusim run FILE [--seed N] [--out DIR]   run a scenario, write results
  gpusim validate FILE...                  check scenarios without running them
  gpusim schema                            print the scenario JSON Schema

Bad input (scenario, trace, arguments) prints one clear message per problem and exits with
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from gpusim._version import __version__
from gpusim.errors import EXIT_INPUT_ERROR, InputError
from gpusim.report.atomic import check_destination

# Subcommands contributed by other packages: module with register(subparsers).
_PLUGINS = ("gpusim.hardware.cli", "gpusim.traces.cli", "gpusim.sweep.cli", "gpusim.report.cli", "gpusim.k8s.cli")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's usage errors: same exit status as other bad input
        self.print_usage(sys.stderr)
        self.exit(EXIT_INPUT_ERROR, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gpusim", description="Discrete-event simulator of Kubernetes GPU clusters.")
    parser.add_argument("--version", action="version", version=f"gpusim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("run", help="run a scenario and write its results")
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument(
        "--seed", type=int, default=None, help="random seed (default: the scenario's, else drawn and recorded)"
    )
    p.add_argument("--out", default=None, help="result folder (default: results/<scenario name>/<run id>/)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--quiet", action="store_true", help="print only the result folder")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("validate", help="check scenario files without running them")
    p.add_argument("scenarios", nargs="+", help="scenario YAML files")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("schema", help="print the JSON Schema of scenario files (for editor autocompletion)")
    p.set_defaults(func=cmd_schema)

    for name in _PLUGINS:  # gpusim's own subcommands: an ImportError here is a bug, never hidden
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as e:
        print(f"error: {e}" if "\n" not in str(e) else f"error:\n{e}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except OSError as e:  # the environment, not the input or gpusim: a full disk, a read-only folder
        where = f" ({e.filename})" if e.filename else ""
        print(f"error: {e.strerror or e}{where}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


# ---------------------------------------------------------------------------- commands
def cmd_schema(args) -> int:
    from gpusim.scenario.loader import scenario_json_schema

    print(json.dumps(scenario_json_schema(), indent=2))
    return 0


def cmd_validate(args) -> int:
    """Check every file given and report every problem of each (exit 2 if any file has one)."""
    from gpusim.scenario import load_scenario
    from gpusim.scenario.models import Scenario

    failed = 0
    for path in args.scenarios:
        if _is_multicluster(Path(path)):
            from gpusim.scenario.multicluster import load_multicluster

            try:
                m = load_multicluster(Path(path))
            except InputError as e:
                failed += 1
                print(f"error: {e}" if "\n" not in str(e) else f"error:\n{e}", file=sys.stderr)
                continue
            print(
                f"{path}: ok ({m.name}: {_plural(len(m.clusters), 'cluster')}, {_plural(len(m.workloads), 'workload')})"
            )
            continue
        try:
            s = load_scenario(Path(path))
            if isinstance(s, Scenario) and s.sweep is not None:
                from gpusim.sweep.api import prepare

                prepare(Path(path))  # every combination's values, as `gpusim sweep` checks them
        except InputError as e:
            failed += 1
            print(f"error: {e}" if "\n" not in str(e) else f"error:\n{e}", file=sys.stderr)
            continue
        if not isinstance(s, Scenario):
            print(f"{path}: ok ({s.name}: experiment {s.experiment.kind})")
            continue
        print(
            f"{path}: ok ({s.name}: {_plural(len(s.cluster.node_pools), 'node pool')}, {_plural(len(s.workloads), 'workload')})"
        )
    return EXIT_INPUT_ERROR if failed else 0


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def cmd_run(args) -> int:
    from rich.console import Console

    from gpusim.scenario import load_scenario
    from gpusim.scenario.models import Scenario
    from gpusim.sim.engine import simulate
    from gpusim.sim.random import draw_seed

    console = Console(stderr=False)
    if _is_multicluster(Path(args.scenario)):
        from gpusim.sim.multicluster import run_cli

        return run_cli(console, args)
    scenario = load_scenario(Path(args.scenario))
    if not isinstance(scenario, Scenario):
        return _run_experiment(console, scenario, args)
    if args.seed is not None and not 0 <= args.seed < 2**63:
        raise InputError(f"--seed {args.seed}: a seed is an integer from 0 to {2**63 - 1}")
    seed = args.seed if args.seed is not None else scenario.seed
    if seed is None:
        seed = draw_seed()
    if args.out:
        out = Path(args.out)
    else:
        run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + f"-seed{seed}"
        out = Path("results") / scenario.name / run_id
    check_destination(out, flag="--out" if args.out else "result folder")

    with _SimTimeProgress(console, enabled=not args.quiet) as progress:
        result = simulate(scenario, seed=seed, progress=progress.update)
    result.save(out, plots=not args.no_plots, flag="--out" if args.out else "result folder")
    if args.quiet:
        print(out)
    else:
        _print_summary(console, result, out)
    return 0


def _is_multicluster(path: Path) -> bool:
    """A scenario file with `clusters:` (a list) and no `cluster:`: several clusters in one scenario
    (gpusim.sim.multicluster). Unreadable files are left to the plain loader's errors.
    """
    try:
        from gpusim.scenario import loader as L

        data, _ = L.parse_yaml(L.read_file(path), str(path))
    except Exception:  # noqa: BLE001  (reported by load_scenario)
        return False
    return isinstance(data, dict) and isinstance(data.get("clusters"), list) and "cluster" not in data


def _run_experiment(console, scenario, args) -> int:
    from gpusim.scenario.registry import experiment_kinds

    out = Path(args.out) if args.out else Path("results") / scenario.name / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    check_destination(out, flag="--out" if args.out else "result folder")
    # Each experiment kind registers its run-and-print entry point (gpusim/experiments/__init__.py).
    return experiment_kinds()[scenario.experiment.kind].render(console, scenario, args, out)


class _SimTimeProgress:
    """A progress bar in simulated time, shown only once a run has taken more than 2 s."""

    def __init__(self, console, enabled: bool):
        self.console = console
        self.enabled = enabled
        self.t0 = time.perf_counter()
        self.bar = None
        self.task = None

    def __enter__(self):
        return self

    def update(self, now_s: float, horizon_s: float) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            if time.perf_counter() - self.t0 < 2.0:
                return
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("simulating"),
                BarColumn(),
                TextColumn("{task.fields[sim]}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task("sim", total=horizon_s, sim="")
        self.bar.update(self.task, completed=now_s, sim=f"{now_s / 3600:.1f} / {horizon_s / 3600:.1f} h simulated")

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        return False


def _fmt_s(v: float) -> str:
    if v != v:  # NaN
        return "-"
    if v < 120:
        return f"{v:.1f} s"
    if v < 7200:
        return f"{v / 60:.1f} min"
    return f"{v / 3600:.2f} h"


def _failure_rows(table, s: dict) -> None:
    """With a failure model: failures by kind, goodput and lost GPU-hours, availability and the SLA."""
    if "failures" not in s:
        return
    kinds = ", ".join(f"{k.split('.', 1)[1]} {s[k]}" for k in sorted(s) if k.startswith("failures.") and s[k])
    table.add_row("failures (by kind)", f"{s['failures']}" + (f" ({kinds})" if kinds else ""))
    if s.get("goodput") == s.get("goodput") and "goodput" in s:
        table.add_row("training goodput / lost GPU-hours", f"{s['goodput']:.1%} / {s['lost_gpu_hours']:,.1f}")
    table.add_row("node availability", f"{s['node_availability']:.4%}")
    if "sla_999_met" in s:
        met = "met" if s["sla_999_met"] else "missed"
        table.add_row("service availability (lowest) / 99.9% SLA", f"{s['service_availability_min']:.3%} / {met}")


def _print_summary(console, result, out: Path) -> None:
    from rich.table import Table

    s = result.summary
    table = Table(title=f"{result.scenario.name} (seed {result.seed})", show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    if "requests" in s:
        table.add_row("requests arrived / served", f"{s['requests']:,} / {s['requests_served']:,}")
        table.add_row("requests timed out / dropped", f"{s['requests_timed_out']:,} / {s['requests_dropped']:,}")
        p99 = "miss (timed out)" if s["latency_p99_s"] == float("inf") else _fmt_s(s["latency_p99_s"])
        table.add_row("latency p50 / p99 (worst service)", f"{_fmt_s(s['latency_p50_s'])} / {p99}")
        table.add_row("SLO attainment", f"{s['slo_attainment']:.1%}")
        ss = getattr(result, "service_summary", None)
        if ss is not None and "ttft_p99_s" in ss and ss["ttft_p99_s"].notna().any():  # LLM-serving services

            def worst(col):
                v = float(ss[col].max())
                return "miss (dropped)" if v == float("inf") else f"{v * 1000:.0f} ms" if v < 1 else _fmt_s(v)

            table.add_row("TTFT p99 / TPOT p99 (worst service)", f"{worst('ttft_p99_s')} / {worst('tpot_p99_s')}")
        table.add_row("replica cold starts", str(s["cold_starts"]))
    if s.get("cluster_scale_ups") or s.get("cluster_scale_downs"):
        table.add_row(
            "nodes added / scale-ups / scale-downs",
            f"{s['nodes_added']} / {s['cluster_scale_ups']} / {s['cluster_scale_downs']}",
        )
    if "cost_usd" in s:
        from gpusim.report.style import fmt_usd

        table.add_row("cost (idle share)", f"{fmt_usd(s['cost_usd'])} ({fmt_usd(s.get('idle_cost_usd'))} idle)")
        table.add_row("monthly run-rate (x 730 h)", fmt_usd(s.get("monthly_run_rate_usd"), 0))
        if "cost_per_million_requests_usd" in s:
            table.add_row("cost per million requests", fmt_usd(s["cost_per_million_requests_usd"]))
    if s.get("nodes_peak") == s.get("nodes_peak") and "nodes_peak" in s:
        table.add_row("nodes peak / mean / p95", f"{s['nodes_peak']} / {s['nodes_mean']:.1f} / {s['nodes_p95']}")
    if not s["jobs_arrived"] and "requests" in s:
        table.add_row("GPU utilisation (time-weighted)", f"{s['gpu_utilisation']:.1%}")
        _failure_rows(table, s)
        console.print(table)
        console.print(f"wall time {result.run_info['wall_s']:.2f} s, {result.run_info['events']} events")
        console.print(f"results: {out}/")
        return
    table.add_row("jobs arrived / finished", f"{s['jobs_arrived']} / {s['jobs_finished']}")
    table.add_row("jobs running / pending at end", f"{s['jobs_running']} / {s['jobs_pending']}")
    if s.get("jobs_unschedulable"):
        table.add_row("jobs unschedulable (fit no node)", str(s["jobs_unschedulable"]))
        for key in sorted(k for k in s if k.startswith("jobs_unschedulable.")):
            table.add_row(f"  {key.split('.', 1)[1]}", str(s[key]))
    table.add_row("makespan", _fmt_s(s["makespan_s"]))
    for name in ("queueing_delay", "jct"):
        label = "queueing delay" if name == "queueing_delay" else "JCT"  # short labels: the table fits 80 columns
        table.add_row(
            f"{label} mean/p50/p95/p99",
            " / ".join(_fmt_s(s[f"{name}_{k}_s"]) for k in ("mean", "p50", "p95", "p99")),
        )
    table.add_row("GPU utilisation (time-weighted)", f"{s['gpu_utilisation']:.1%}")
    table.add_row("GPU-hours used / idle", f"{s['gpu_hours_used']:.1f} / {s['gpu_hours_idle']:.1f}")
    _failure_rows(table, s)
    console.print(table)
    if s.get("drain_cap_hit"):
        console.print(
            f"[yellow]warning: drain stopped at {_fmt_s(s['drain_stopped_s'])} (the cap, 1000 x duration) with "
            f"{s['jobs_running']} job(s) running and {s['jobs_pending']} pending[/yellow]"
        )
    elif s.get("drain_stalled"):
        console.print(
            f"[yellow]warning: drain stopped at {_fmt_s(s['drain_stopped_s'])}: nothing left can progress "
            f"({s['jobs_running']} job(s) running, {s['jobs_pending']} pending can never start)[/yellow]"
        )
    for rep in result.run_info.get("trace_reports", []):
        if rep["rows_skipped"]:
            console.print(
                f"trace {rep['path']}: {rep['rows_read']:,} rows read, {rep['rows_skipped']:,} bad rows skipped"
            )
            for ex in rep["examples"][:3]:
                line, reason = (ex.line, ex.reason) if hasattr(ex, "line") else (ex.get("line"), ex.get("reason"))
                console.print(f"  line {line}: {reason}")
    console.print(f"wall time {result.run_info['wall_s']:.2f} s, {result.run_info['events']} events")
    console.print(f"results: {out}/")


if __name__ == "__main__":
    sys.exit(main())
