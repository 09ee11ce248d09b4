"""``gpusim catalog``: print the hardware catalog, one entry with its sources, or the calibration.

  gpusim catalog [--vendor V] [--kind gpus|nodes]   GPU models and node types as tables
  gpusim catalog show ID                            one entry, every number with its source
  gpusim catalog calibration                        software-efficiency fit against MLPerf
  gpusim catalog predict --gpu ID --count N         LLM serving tokens/s, TTFT, TPOT (--list, --calibration)
  gpusim catalog --scenario FILE ...                the same, with the scenario's catalog: block applied

Values marked ``*`` are assumptions (see ``show`` for why).
"""

from __future__ import annotations

import argparse

from gpusim.hardware.catalog import VENDORS


def register(subparsers) -> None:
    """Add the ``catalog`` subcommand to the top-level ``gpusim`` parser."""
    p = subparsers.add_parser(
        "catalog",
        help="list GPU models and node types, show one with its sources, or the calibration",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--vendor", choices=VENDORS, default=None, help="only this vendor's GPUs (and nodes with them)")
    p.add_argument("--kind", choices=("gpus", "nodes"), default=None, help="only GPU models or only node types")
    p.add_argument("--scenario", default=None, help="apply this scenario file's catalog: block (additions, overrides)")
    sub = p.add_subparsers(dest="catalog_command", metavar="ACTION")
    s = sub.add_parser("show", help="one GPU model or node type with the source of every number")
    s.add_argument("id", help="GPU model or node type id, e.g. nvidia-h100-80gb or aws-p5.48xlarge")
    s.set_defaults(func=cmd_catalog)
    c = sub.add_parser("calibration", help="the software-efficiency calibration and its error per accelerator")
    c.set_defaults(func=cmd_catalog)
    from gpusim.hardware.llm_cli import register_predict

    register_predict(sub)  # gpusim catalog predict (LLM serving model)
    p.set_defaults(func=cmd_catalog)


def _load(scenario_path: str | None):
    """The shipped catalog, with a scenario file's ``catalog:`` block applied when given."""
    from gpusim.errors import InputError
    from gpusim.hardware.catalog import load_catalog

    if scenario_path is None:
        return load_catalog()
    import yaml
    from pydantic import ValidationError

    from gpusim.hardware.schema import CatalogOverrides

    try:
        with open(scenario_path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
    except OSError as e:
        raise InputError(f"cannot read scenario {scenario_path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise InputError(f"{scenario_path}: not valid YAML: {e}") from None
    block = data.get("catalog") if isinstance(data, dict) else None
    if not block:
        return load_catalog()
    try:
        overrides = CatalogOverrides.model_validate(block)
    except ValidationError as e:
        lines = [f"{scenario_path}: catalog.{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()]
        raise InputError("\n".join(lines)) from None
    return load_catalog(overrides)


def _console():
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    return console


def cmd_catalog(args) -> int:
    """Handler of ``gpusim catalog``; returns the exit status."""
    catalog = _load(getattr(args, "scenario", None))
    console = _console()
    action = getattr(args, "catalog_command", None)
    if action == "show":
        _show(console, catalog, args.id)
    elif action == "calibration":
        _calibration(console, catalog)
    else:
        _tables(console, catalog, getattr(args, "vendor", None), getattr(args, "kind", None))
    return 0


# --------------------------------------------------------------------------- formatting


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e5 else f"{value:,.0f}"
    return str(value)


def _cell(entry, name: str, digits: int = 4) -> str:
    text = _fmt(getattr(entry, name), digits)
    if text != "-" and entry.is_assumed(name):
        text += "*"
    return text


def _sharing(gpu) -> str:
    parts = []
    if gpu.timeslicing:
        parts.append("time-slicing")
    if gpu.mig:
        parts.append(f"MIG ({len(gpu.mig.profiles)} profiles)")
    if gpu.amd_partitions:
        parts.append("partitions " + "/".join(m.name for m in gpu.amd_partitions.compute_modes))
    if gpu.intel_shared:
        parts.append("shared-dev-num")
    return ", ".join(parts) or "whole GPU only"


def _tables(console, catalog, vendor: str | None, kind: str | None) -> None:
    from rich.table import Table

    from gpusim.hardware.performance import efficiency

    if kind in (None, "gpus"):
        t = Table(title="GPU models", title_justify="left")
        for col in (
            "id",
            "vendor",
            "memory GiB",
            "BF16 TFLOPS",
            "FP8 TFLOPS",
            "HBM TB/s",
            "TDP W",
            "resource",
            "sharing",
            "sw eff",
            "$/GPU-h",
        ):
            t.add_column(col, justify="right" if col not in ("id", "vendor", "resource", "sharing") else "left")
        for g in catalog.gpu_models.values():
            if vendor and g.vendor != vendor:
                continue
            t.add_row(
                g.id, g.vendor, _cell(g, "memory_gib"), _cell(g, "bf16_tflops"), _cell(g, "fp8_tflops"),
                _cell(g, "hbm_tbps"), _cell(g, "tdp_w"), g.resource_name, _sharing(g), f"{efficiency(g):.3f}",
                _cell(g, "usd_per_gpu_hour") + ("" if g.price_basis != "amortised" else " (am.)"),
            )  # fmt: skip
        console.print(t)
    if kind in (None, "nodes"):
        t = Table(title="Node types (USD per node-hour)", title_justify="left")
        for col in (
            "id",
            "provider",
            "GPUs",
            "vCPU",
            "memory GiB",
            "on-demand $/h",
            "spot $/h",
            "price date",
            "provisioning s",
        ):
            t.add_column(col, justify="left" if col in ("id", "provider", "GPUs", "price date") else "right")
        for n in catalog.node_types.values():
            gpu_vendor = catalog.gpu_models[n.gpu_model].vendor if n.gpu_model else None
            if vendor and gpu_vendor != vendor:
                continue
            gpus = f"{n.gpus} x {n.gpu_model}" if n.gpus else "CPU only"
            t.add_row(
                n.id, n.provider, gpus, _cell(n, "vcpu"), _cell(n, "memory_gib"),
                _cell(n, "on_demand_usd_per_hour", 6), _cell(n, "spot_usd_per_hour", 6),
                _fmt(n.price_date), _cell(n, "provisioning_s"),
            )  # fmt: skip
        console.print(t)
    console.print("* assumption; `gpusim catalog show ID` lists the source or reason of every number.")


def _show(console, catalog, entry_id: str) -> None:
    from rich.table import Table

    from gpusim.hardware.catalog import SPEC_FIELDS, GpuModel, NodeType, mig_placement_count

    entry = catalog.get(entry_id)  # raises UnknownIdError (an InputError) with the closest ids
    used_keys: list[str] = []

    def provenance(name: str) -> str:
        parts = []
        if name in entry.sources:
            keys = list(entry.sources[name])
            used_keys.extend(k for k in keys if k not in used_keys)
            parts.append("[" + ", ".join(keys) + "]")
        for akey, why in entry.assumptions.items():
            if akey == name or akey.startswith(name + "."):
                label = "assumption" if akey == name else f"assumption ({akey})"
                parts.append(f"{label}: {why}")
        return "; ".join(parts) or "-"

    t = Table(title=f"{entry.id}: {entry.name}", title_justify="left")
    t.add_column("field")
    t.add_column("value", justify="right")
    t.add_column("source / assumption", overflow="fold")
    if isinstance(entry, GpuModel):
        from gpusim.hardware.performance import efficiency

        rows = ["vendor", *SPEC_FIELDS, "price_basis", "resource_name", "timeslicing", "proxy"]
        for name in rows:
            value = getattr(entry, name)
            if value is None and name in ("fp8_tflops", "fp4_tflops", "proxy"):
                continue
            t.add_row(name, _fmt(value), provenance(name))
        eff_note = (
            "scenario/catalog value"
            if entry.software_efficiency is not None
            else (f"calibrated {entry.vendor} factor (gpusim catalog calibration)")
        )
        t.add_row("software_efficiency", f"{efficiency(entry):.4f}", eff_note)
        if entry.extra.get("package"):
            t.add_row("package", _fmt(entry.extra["package"]), provenance("package"))
        for name in ("mig", "amd_partitions", "intel_shared"):
            if getattr(entry, name) is not None:
                t.add_row(name, "see below", provenance(name))
        console.print(t)
        if entry.mig:
            m = Table(title="MIG profiles (memory-slice placements on the 8-wide axis)", title_justify="left")
            for col in (
                "profile",
                "compute /7",
                "memory /8",
                "memory GiB",
                "max count",
                "from placements",
                "placements",
                "resource",
            ):
                m.add_column(col)
            for p in entry.mig.profiles:
                m.add_row(
                    p.name, str(p.compute_slices), str(p.memory_slices), _fmt(p.memory_gib), str(p.max_count),
                    str(mig_placement_count(p)), ",".join(map(str, p.placements)), p.resource_name or "-",
                )  # fmt: skip
            console.print(m)
        if entry.amd_partitions:
            a = Table(title="AMD partition profiles", title_justify="left")
            for col in ("profile", "compute mode", "memory mode", "logical GPUs", "memory GiB each", "resource"):
                a.add_column(col)
            for p in entry.amd_partitions.profiles:
                a.add_row(p.name, p.compute_mode, p.memory_mode, str(p.count), _fmt(p.memory_gib), p.resource_name)
            console.print(a)
        if entry.intel_shared:
            s = entry.intel_shared
            console.print(
                f"Intel shared devices: default shared-dev-num {s.default_shared_dev_num}; allocation "
                f"policies {', '.join(s.allocation_policies)}; suitable for time-critical work: "
                f"{_fmt(s.suitable_for_time_critical)}"
            )
    elif isinstance(entry, NodeType):
        rows = [
            "provider", "kind", "gpu_model", "gpus", "vcpu", "memory_gib", "on_demand_usd_per_hour",
            "spot_usd_per_hour", "price_date", "region", "provisioning_s", "purchase_usd",
            "amortisation_years", "power_kw", "electricity_usd_per_kwh", "pue", "cpu_model",
            "cpu_bf16_tflops", "cpu_memory_tbps",
        ]  # fmt: skip
        for name in rows:
            value = getattr(entry, name)
            if value is None and name not in ("on_demand_usd_per_hour", "provisioning_s"):
                continue
            t.add_row(name, _fmt(value, 7), provenance(name))
        for h in entry.price_history:
            t.add_row(
                "price history",
                _fmt(h.get("usd_per_hour"), 7),
                ", ".join(f"{k} {v}" for k, v in h.items() if k != "usd_per_hour"),
            )
        if entry.price_history:
            provenance("price_history")
        console.print(t)
    if used_keys:
        src = Table(title="Sources", title_justify="left")
        src.add_column("key")
        src.add_column("reference", overflow="fold")
        for key in used_keys:
            src.add_row(key, catalog.source_text(key))
        console.print(src)


def _calibration(console, catalog) -> None:
    from rich.table import Table

    from gpusim.hardware import calibration as cal
    from gpusim.hardware import performance as perf

    result = cal.calibrate(catalog)
    console.print(cal.__doc__.strip())
    t = Table(
        title="Offline output tokens/s: measured (MLPerf Inference) vs the calibrated model", title_justify="left"
    )
    for col in (
        "benchmark",
        "round",
        "accelerator",
        "n",
        "precision",
        "tp",
        "batch",
        "measured",
        "predicted",
        "error",
        "one-factor error",
        "in fit",
    ):
        t.add_column(col, justify="left" if col in ("benchmark", "round", "accelerator", "precision") else "right")
    for r in result.rows:
        one = "-" if r.vendor == "cpu" else f"{result.single_factor_error(r):+.1%}"
        t.add_row(
            r.benchmark, r.round, r.device_id, str(r.accelerators), r.precision, str(r.tp), str(r.batch),
            f"{r.measured_tokens_s:,.0f}", f"{r.predicted_tokens_s:,.0f}", f"{r.error:+.1%}", one,
            "yes" if r.used_in_fit else ("CPU/GPU ratio" if r.vendor == "cpu" else "no"),
        )  # fmt: skip
    console.print(t)
    f = Table(title="Software-efficiency factors (delivered / peak)", title_justify="left")
    for col in ("vendor", "fitted now", "in performance.py"):
        f.add_column(col)
    for vendor, value in result.vendor_efficiency.items():
        f.add_row(vendor, f"{value:.4f}", f"{perf.VENDOR_EFFICIENCY.get(vendor, float('nan')):.4f}")
    f.add_row("cpu", f"{result.cpu_efficiency:.4f}", f"{perf.CPU_EFFICIENCY:.4f}")
    f.add_row("one factor for all", f"{result.single_factor:.4f}", "-")
    console.print(f)
    console.print(
        f"Largest |error| on the fitted MLPerf rows: {result.max_abs_error:.1%} "
        f"(bound checked by the tests: {cal.ERROR_BOUND:.0%}; cross-check rows: {cal.CROSS_CHECK_BOUND:.0%})."
    )
