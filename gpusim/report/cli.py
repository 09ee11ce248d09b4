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
    """A run folder written by `gpusim run` (or a sweep); clear errors for anything else."""
    import json

    path = Path(d)
    if not path.exists():
        raise InputError(f"{d}: no such folder")
    if not path.is_dir():
        raise InputError(f"{d}: not a folder; give a run folder written by gpusim run")
    f = path / "summary.json"
    if not f.is_file():
        hint = " (a sweep folder: give one of its runs/<run>/ folders)" if (path / "sweep.json").is_file() else ""
        raise InputError(f"{d}: not a gpusim run folder (no summary.json){hint}")
    try:
        doc = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"{f}: not a readable gpusim summary.json ({e})") from None
    scenario = doc.get("scenario") if isinstance(doc, dict) else None
    if isinstance(scenario, dict) and "experiment" in scenario:
        kind = (scenario.get("experiment") or {}).get("kind", "?")
        files = sorted(p.name for p in path.iterdir() if p.suffix in (".csv", ".png"))
        raise InputError(
            f"{d}: is the result of an experiment ({kind}), not of one run; plot, compare and export read run "
            f"folders. Its table and plot are already there: {', '.join(files) or '(none)'}"
        )
    if not isinstance(doc, dict) or not {"summary", "seed", "scenario"} <= set(doc):
        raise InputError(f"{f}: not a gpusim run summary (needs summary, seed and scenario)")
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
        _check_replaceable(out, _looks_like_figure)
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
    if args.out:  # like run --out: a new or empty folder, or a gpusim result folder; never a user's folder
        from gpusim.report.atomic import check_destination

        check_destination(out, flag="--out")
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
    from gpusim.units import parse_duration

    d = _check_dir(args.result)
    try:
        interval = float(parse_duration(args.interval))
    except (ValueError, TypeError) as e:
        raise InputError(f"--interval {args.interval!r}: {e}") from None
    if interval < 0:
        raise InputError(f"--interval must be >= 0; got {args.interval!r}")
    start = parse_start(args.start)
    if args.out is not None:
        _check_replaceable(Path(args.out), _looks_like_openmetrics)
    result = load_result(d)
    text = write_openmetrics(result, args.out, start=start, interval_s=interval)
    if args.out is None:
        sys.stdout.write(text)
    else:
        print(args.out, file=sys.stderr)
    return 0


def _check_replaceable(path: Path, looks_ours) -> None:
    """An existing output file is replaced only if it is a regular file of the kind gpusim writes."""
    import os
    import stat

    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode) or not looks_ours(path):
        raise InputError(
            f"--out {path}: exists and is not a file gpusim wrote ({'a folder' if stat.S_ISDIR(st.st_mode) else 'kept'}); "
            "gpusim replaces only its own earlier output, and left it untouched. Give another path."
        )


def _head(path: Path, n: int = 64) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(n)
    except OSError:
        return b""


def _looks_like_figure(path: Path) -> bool:
    head = _head(path)
    return head.startswith((b"\x89PNG\r\n\x1a\n", b"%PDF-", b"<?xml", b"<svg")) or path.stat().st_size == 0


def _looks_like_openmetrics(path: Path) -> bool:
    head = _head(path)
    return head.startswith((b"# HELP", b"# TYPE", b"# EOF")) or path.stat().st_size == 0
