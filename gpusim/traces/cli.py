"""``gpusim trace stats PATH --format NAME``: the figures to check before trusting a trace."""

from __future__ import annotations

import argparse
import json

from gpusim.errors import InputError
from gpusim.traces.registry import FORMAT_NAMES


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``trace`` command (with its ``stats`` subcommand) to the gpusim CLI."""
    trace = subparsers.add_parser("trace", help="inspect workload traces")
    sub = trace.add_subparsers(dest="trace_command", metavar="COMMAND")
    sub.required = True
    stats = sub.add_parser(
        "stats",
        help="rows, time span, rates, burstiness and resource/token distributions of a trace",
        description="Print what a user checks before trusting a trace.",
    )
    stats.add_argument("path", help="trace file (or shipped:<dataset>/<file> for a shipped file)")
    stats.add_argument("--format", "-f", required=True, choices=FORMAT_NAMES, dest="trace_format",
                       help="trace format")  # fmt: skip
    stats.add_argument("--strict", action="store_true", help="fail at the first bad row")
    stats.add_argument(
        "--columns",
        help='generic format: JSON column mapping, e.g. \'{"arrival": "ts", "duration": "run_s"}\'',
    )
    stats.add_argument("--kind", choices=("training", "requests"), default="training",
                       help="generic format: what the rows are")  # fmt: skip
    stats.add_argument("--time-unit", default="s", help="generic format: unit of numeric times")
    stats.add_argument("--json", action="store_true", help="print JSON instead of tables")
    stats.set_defaults(func=stats_handler)


def stats_handler(args: argparse.Namespace) -> int:
    """Compute and print trace statistics; 0 on success."""
    from gpusim.traces.stats import trace_stats

    kwargs: dict = {}
    if args.trace_format == "generic":
        if not args.columns:
            raise InputError("--format generic needs --columns with a JSON column mapping")
        try:
            columns = json.loads(args.columns)
        except json.JSONDecodeError as err:
            raise InputError(f"--columns is not valid JSON: {err}") from None
        kwargs = {"columns": columns, "kind": args.kind, "time_unit": args.time_unit}
    elif args.columns:
        raise InputError("--columns applies only to --format generic")
    st = trace_stats(args.path, args.trace_format, strict=args.strict, **kwargs)
    if args.json:
        print(json.dumps(st.as_dict(), indent=2, default=str))
        return 0
    _print_rich(st)
    return 0


def _fmt(v: float | None, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, int) or float(v).is_integer() and abs(v) < 1e15:
        return f"{int(v):,}"
    return f"{v:.{digits}g}" if abs(v) < 100 else f"{v:,.0f}"


def _span(s: float) -> str:
    if s >= 2 * 86400:
        return f"{s:,.0f} s ({s / 86400:,.1f} days)"
    if s >= 2 * 3600:
        return f"{s:,.0f} s ({s / 3600:,.1f} h)"
    return f"{s:,.1f} s ({s / 60:,.1f} min)"


def _print_rich(st) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    head = Table(title=f"{st.path} ({st.trace_format})", show_header=False)
    head.add_column("figure")
    head.add_column("value", justify="right")
    head.add_row("rows", f"{st.rows:,}")
    head.add_row("rows skipped", f"{st.rows_skipped:,}")
    if st.span_s is not None:
        head.add_row("time span", _span(st.span_s))
        head.add_row("mean rate", f"{st.mean_rate_per_s:.4g} /s" if st.mean_rate_per_s else "-")
        head.add_row(
            "inter-arrival CV",
            f"{st.interarrival_cv:.3g}" if st.interarrival_cv is not None else "-",
        )
        head.add_row("peak per second", f"{st.peak_per_s:,}")
        head.add_row("peak per minute", f"{st.peak_per_min:,}")
        head.add_row("idle seconds", f"{100 * st.idle_second_fraction:.1f}%")
    pods = st.counts.get("pods")
    if pods and pods["total"] > pods["cpu_only"]:
        share = pods["gpu_fractional"] / (pods["total"] - pods["cpu_only"])
        head.add_row("GPU pods asking a fraction", f"{100 * share:.1f}%")
    for group, items in st.counts.items():
        for k, v in items.items():
            head.add_row(f"{group}: {k}", _fmt(v))
    console.print(head)
    if st.columns:
        t = Table(title="distributions")
        for c in ("column", "count", "mean", "min", "p50", "p90", "p99", "max"):
            t.add_column(c, justify="left" if c == "column" else "right", no_wrap=True)
        for c in st.columns:
            t.add_row(
                c.name,
                f"{c.count:,}",
                *(_fmt(x) for x in (c.mean, c.minimum, c.p50, c.p90, c.p99, c.maximum)),
            )
        console.print(t)
    if st.report is not None and st.report.rows_skipped:
        console.print(st.report.format(), markup=False, highlight=False)
