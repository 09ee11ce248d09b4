"""`gpusim sweep FILE`: run every combination of a scenario's `sweep:` block.

``gpusim sweep FILE [--out DIR] [--workers N] [--dask ADDRESS|local] [--plots] [--quiet]``

Writes <out>/runs/<index>-<slug>-seed<N>/ per run and <out>/sweep.csv, sweep.parquet and
sweep_ci.csv (default out: results/<scenario name>/sweep/). Runs already finished in <out> are
not run again.
"""

from __future__ import annotations

import os

from gpusim.errors import InputError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sweep",
        help="run a scenario's sweep (factors x seeds), one folder per run, one tidy table",
        description="Run every combination of the scenario's sweep: block. Finished runs in the output folder "
        "are skipped, so an interrupted sweep resumes where it stopped.",
    )
    p.add_argument("scenario", help="scenario YAML file with a sweep: block")
    p.add_argument("--out", default=None, help="sweep folder (default: results/<scenario name>/sweep/)")
    p.add_argument(
        "--workers", type=int, default=None, help="local worker processes (default: number of CPUs; 1 = in-process)"
    )
    p.add_argument(
        "--dask",
        default=None,
        metavar="ADDRESS|local",
        help="run on a Dask cluster: its scheduler address (tcp://host:8786) or 'local' for a local one",
    )
    p.add_argument("--replications", type=int, default=None, help="override the sweep's replications")
    p.add_argument("--plots", action="store_true", help="also write each run's PNG plots")
    p.add_argument("--quiet", action="store_true", help="print only the sweep folder")
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args) -> int:
    from pathlib import Path

    from rich.console import Console

    from gpusim.sweep.api import default_out, prepare
    from gpusim.sweep.runner import check_dask_address, run_sweep

    if args.dask is not None:
        check_dask_address(args.dask)
    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers must be >= 1; got {args.workers}")
    if args.replications is not None and args.replications < 1:
        raise InputError(f"--replications must be >= 1; got {args.replications}")
    console = Console()
    plan = prepare(Path(args.scenario), replications=args.replications)
    scenario_has_sweep = bool(plan.spec.factors) or plan.spec.replications > 1
    if not scenario_has_sweep:
        raise InputError(
            f"{args.scenario}: no sweep to run; add a sweep: block (factors: {{path: [values]}}, replications: N) "
            "or pass --replications N"
        )
    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    if workers < 1:
        raise InputError(f"--workers must be >= 1; got {workers}")
    out = Path(args.out) if args.out else default_out(plan.scenario_name)
    if not args.quiet:
        where = f"Dask ({args.dask})" if args.dask else f"{workers} local process{'es' * (workers != 1)}"
        console.print(f"sweep {plan.scenario_name}: {len(plan.runs)} runs on {where} -> {out}/")

    progress = None
    bar = None
    if not args.quiet:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        bar = Progress(TextColumn("runs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console)
        task = bar.add_task("runs", total=len(plan.runs))

        def progress(done, total, name, status):
            bar.update(task, completed=done)
            if status != "ok":
                console.print(f"[red]failed[/red] {name} (see {out}/runs/{name}/error.json)")

    if bar is not None:
        bar.start()
    try:
        table = run_sweep(plan, out, workers=workers, dask=args.dask, plots=args.plots, progress=progress)
    finally:
        if bar is not None:
            bar.stop()
    if args.quiet:
        print(out)
        return 0 if (table["status"] == "ok").all() else 1
    _print_overview(console, table, plan)
    n_ok = int((table["status"] == "ok").sum())
    n_failed = int((table["status"] == "failed").sum())
    console.print(
        f"{len(table.attrs['executed'])} run, {len(table.attrs['skipped'])} already done; {n_ok} ok, {n_failed} failed"
    )
    console.print(f"tables: {out}/sweep.csv, {out}/sweep.parquet, {out}/sweep_ci.csv")
    return 0 if n_failed == 0 else 1


def _print_overview(console, table, plan) -> None:
    """Mean (and 95% CI half-width) of the headline metrics per combination (training or inference)."""
    from gpusim.report.style import console_table
    from gpusim.sweep.stats import overview_rows

    heads, rows = overview_rows(table, plan.factor_names)
    if not rows:
        return
    title = f"{plan.scenario_name}: mean ± 95% CI over {plan.spec.replications} seed(s)"
    console.print(console_table(title, heads, rows))
