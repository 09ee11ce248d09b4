"""Report commands: `gpusim compare`, `gpusim plot`, `gpusim export`.

- ``gpusim compare RESULT_DIR... [--out FILE.png]``: headline metrics side by side, bar charts.
- ``gpusim plot RESULT_DIR [--out DIR]``: regenerate a finished run's plots.
- ``gpusim export RESULT_DIR --format openmetrics [--out FILE] [--start TIME] [--interval D]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from gpusim.errors import InputError


def register(subparsers) -> None:
    p = subparsers.add_parser("compare", help="compare finished runs: metric table and bar charts")
    p.add_argument("results", nargs="+", metavar="RESULT_DIR", help="run folders (from gpusim run or a sweep)")
    p.add_argument("--out", default="comparison.png", help="comparison plot (default: comparison.png)")
    p.add_argument("--no-plot", action="store_true", help="print the table only")
    p.set_defaults(func=cmd_compare)

    p = subparsers.add_parser("plot", help="regenerate the plots of a finished run")
    p.add_argument("result", metavar="RESULT_DIR", help="run folder")
    p.add_argument("--out", default=None, help="folder for the PNG files (default: the run folder)")
    p.set_defaults(func=cmd_plot)

    p = subparsers.add_parser("export", help="export a run's time series (OpenMetrics for Prometheus backfill)")
    p.add_argument("result", metavar="RESULT_DIR", help="run folder")
    p.add_argument("--format", required=True, choices=["openmetrics"], help="output format")
    p.add_argument("--out", default=None, help="output file (default: standard output)")
    p.add_argument(
        "--start",
        default="2026-01-01T00:00:00Z",
        help="wall-clock time of simulated time 0, ISO 8601 (default: 2026-01-01T00:00:00Z)",
    )
    p.add_argument(
        "--interval",
        default="60s",
        help="also emit a sample every this much simulated time, so Prometheus' 5-minute lookback always "
        "finds one (default 60s; 0 = only the changes)",
    )
    p.set_defaults(func=cmd_export)


def _check_dir(d: str) -> Path:
    path = Path(d)
    if not (path / "summary.json").is_file():
        raise InputError(f"{d}: not a gpusim run folder (no summary.json)")
    return path


def cmd_compare(args) -> int:
    from rich.console import Console

    from gpusim.report.compare import compare, render_table
    from gpusim.report.plots import plot_comparison, save_figure

    dirs = [_check_dir(d) for d in args.results]
    results, table, labels = compare(dirs)
    console = Console()
    console.print(render_table(table, title=f"{len(results)} runs"))
    if not args.no_plot:
        out = Path(args.out)
        if out.suffix.lower() not in (".png", ".pdf", ".svg"):
            raise InputError(f"--out {args.out}: give a .png, .pdf or .svg file")
        save_figure(plot_comparison(results, labels), out)
        console.print(f"plot: {out}")
    return 0


def cmd_plot(args) -> int:
    from gpusim.report.plots import plot_timeseries, save_figure, save_run_plots
    from gpusim.report.result import load_result
    from gpusim.report.style import plot_style

    d = _check_dir(args.result)
    result = load_result(d)
    out = Path(args.out) if args.out else d
    out.mkdir(parents=True, exist_ok=True)
    with plot_style():
        paths = save_run_plots(result, out)
    paths.append(save_figure(plot_timeseries(result), out / "timeseries.png"))
    for p in paths:
        print(p)
    return 0


def cmd_export(args) -> int:
    from gpusim.report.export import parse_start, write_openmetrics
    from gpusim.report.result import load_result
    from gpusim.scenario.types import parse_duration

    d = _check_dir(args.result)
    try:
        interval = float(parse_duration(args.interval))
    except (ValueError, TypeError) as e:
        raise InputError(f"--interval {args.interval!r}: {e}") from None
    if interval < 0:
        raise InputError(f"--interval must be >= 0; got {args.interval!r}")
    start = parse_start(args.start)
    result = load_result(d)
    text = write_openmetrics(result, args.out, start=start, interval_s=interval)
    if args.out is None:
        sys.stdout.write(text)
    else:
        print(args.out, file=sys.stderr)
    return 0
