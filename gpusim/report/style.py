"""One plot style for gpusim figures, readable on screen and in print.

`plot_style()` is a context manager applying `RC` (matplotlib rcParams): white background, a
colour-blind-safe cycle (Okabe-Ito) that also differs in lightness for greyscale printing, light
grid, font sizes that survive a two-column paper. Plotting functions use it around the figure
they build; it changes nothing outside the `with` block.
"""

from __future__ import annotations

from contextlib import contextmanager

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
"""Colour-blind-safe palette (Okabe & Ito), darkest first so greyscale prints stay distinct."""

HATCHES = ("", "//", "..", "xx", "\\\\", "++", "oo", "--")
"""Bar hatches paired with the palette, so bars stay distinguishable in black and white."""

RC = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
}


@contextmanager
def plot_style():
    """Apply gpusim's plot style inside a `with` block."""
    import matplotlib as mpl
    from cycler import cycler

    rc = dict(RC)
    rc["axes.prop_cycle"] = cycler(color=list(OKABE_ITO))
    with mpl.rc_context(rc):
        yield


# --------------------------------------------------------------------------- console values


def fmt_usd(value, decimals: int = 2) -> str:
    """A dollar amount for tables: 'unknown' where the price is unknown (NaN/None), never $0."""
    if value is None or value != value:
        return "unknown"
    return f"${value:,.{decimals}f}"


def fmt_num(value, spec: str = "{:.2f}", missing: str = "n/a") -> str:
    """A number for tables; NaN/None as `missing`, inf as 'miss' (a percentile among timed-out requests)."""
    if value is None or value != value:
        return missing
    if value == float("inf"):
        return "miss"
    return spec.format(value)


def console_table(title: str, headers: list[str], rows: list[list[str]], width: int = 80):
    """A rich table of strings that fits `width` columns; wider ones switch to a vertical layout
    (one block per row, 'header: value' lines), so nothing wraps or is cut at 80 columns.
    """
    from rich.table import Table

    cols = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    needed = sum(cols) + 3 * len(cols) + 1  # rich's box: '│ ' + ' │ ' between + ' │'
    if needed <= width:
        t = Table(title=title)
        for i, h in enumerate(headers):
            t.add_column(h, justify="left" if i == 0 else "right", no_wrap=True)
        for r in rows:
            t.add_row(*r)
        return t
    t = Table(title=title, show_header=False, show_lines=True)
    t.add_column("field", no_wrap=True)
    t.add_column("value", overflow="fold")
    for r in rows:
        t.add_row(f"[bold]{headers[0]}[/bold]", f"[bold]{r[0]}[/bold]")
        for h, v in zip(headers[1:], r[1:], strict=True):
            t.add_row(h, v)
    return t
