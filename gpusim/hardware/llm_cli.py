"""``gpusim catalog predict``: the LLM serving model's throughput and latencies for a system.

  gpusim catalog predict --model llama-2-70b --gpu GPU_ID --count N [--precision P]
                         [--scenario offline|server] [--stack S] [--format table|csv]
                         [--server-model analytic|replica|replica-chunked]
  gpusim catalog predict --list            the models it knows
  gpusim catalog predict --calibration     its fit against MLPerf Llama-2-70B (Offline, Server, ratios)

Prints predicted output tokens/s of N accelerators (N // tp replicas of the best tensor-parallel
degree), the batch each replica holds, and TTFT and TPOT at that load, so the model can be held
against your own measurements. Offline is the largest batch memory allows; Server the largest
batch that meets MLPerf's limits (TTFT 2 s, TPOT 200 ms); with ``--server-model replica`` the
highest Poisson rate whose p99 TTFT and TPOT meet them in the compiled replica (prefills first, or
chunked: ``replica-chunked``; TTFT and TPOT are then p99s). Requests are MLPerf's OpenOrca shape
(294 prompt and 292 output tokens on average); see gpusim.hardware.llm for the model.
"""

from __future__ import annotations

import argparse

from gpusim.errors import InputError

CSV_COLUMNS = (
    "gpu",
    "count",
    "precision",
    "scenario",
    "model",
    "tp",
    "replicas",
    "batch",
    "tokens_per_s",
    "ttft_s",
    "tpot_s",
)


def register_predict(catalog_subparsers) -> None:
    """Add ``predict`` under ``gpusim catalog``."""
    from gpusim.hardware.llm import BYTES_PER_VALUE, SCENARIOS, SERVER_MODELS

    p = catalog_subparsers.add_parser(
        "predict",
        help="predicted LLM serving tokens/s, TTFT and TPOT of N accelerators",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", default="llama-2-70b", help="model id (see --list; default llama-2-70b)")
    p.add_argument("--gpu", default=None, help="GPU model id from `gpusim catalog`, e.g. nvidia-h100-80gb")
    p.add_argument("--count", type=int, default=1, help="accelerators in the system (default 1)")
    p.add_argument("--precision", choices=tuple(BYTES_PER_VALUE), default="fp8", help="weight precision (default fp8)")
    p.add_argument(
        "--scenario", dest="llm_scenario", choices=SCENARIOS, default=None, help="offline or server (default: both)"
    )
    p.add_argument(
        "--stack", default=None, help="software stack of the efficiency factors (default: the vendor's newest)"
    )
    p.add_argument(
        "--server-model",
        choices=SERVER_MODELS,
        default="analytic",
        help="how the Server point is found: analytic (mean-field, default) or through the replica",
    )
    p.add_argument("--format", dest="llm_format", choices=("table", "csv"), default="table", help="output format")
    p.add_argument("--list", action="store_true", help="list the models the predictor knows")
    p.add_argument("--calibration", action="store_true", help="the model's fit and held-out errors against MLPerf")
    p.set_defaults(func=cmd_predict)


def cmd_predict(args) -> int:
    """Handler of ``gpusim catalog predict``; returns the exit status."""
    from gpusim.hardware import llm
    from gpusim.hardware.cli import _console, _load

    if args.list:
        for model_id in llm.known_models():
            a = llm.llm_arch(model_id)
            print(f"{model_id}\t{a.name}\t{a.params / 1e9:.1f}B parameters, {a.layers} layers, {a.kv_heads} KV heads")
        return 0
    catalog = _load(getattr(args, "scenario", None))
    if args.calibration:
        _print_calibration(_console(), catalog)
        return 0
    if args.gpu is None:
        raise InputError("catalog predict: --gpu is required (a GPU model id from `gpusim catalog`), or give --list")
    if args.count < 1:
        raise InputError(f"catalog predict: --count must be >= 1, got {args.count}")
    llm.llm_arch(args.model)  # unknown model -> InputError listing the known ones
    gpu = catalog.gpu(args.gpu)  # unknown GPU -> InputError with the closest ids
    if args.stack is not None:
        key = llm.efficiency_key(gpu.vendor, args.precision, args.stack)
        if key not in llm.LLM_EFFICIENCY:
            stacks = sorted({k.split("/")[1] for k in llm.LLM_EFFICIENCY if k.startswith(gpu.vendor + "/")})
            raise InputError(
                f"catalog predict: unknown stack {args.stack!r} for {gpu.vendor}; known: {', '.join(stacks)}"
            )
    scenarios = (args.llm_scenario,) if args.llm_scenario else llm.SCENARIOS
    preds = []
    for scenario in scenarios:
        p = llm.predict_system(
            gpu, args.count, model_id=args.model, precision=args.precision, scenario=scenario, stack=args.stack,
            server_model=args.server_model,
        )  # fmt: skip
        if p is None:
            why = (
                f"does not fit in {args.count} x {gpu.memory_gib:g} GiB"
                if scenario == "offline"
                else "cannot meet the Server limits (TTFT 2 s, TPOT 200 ms) even with one sequence"
            )
            raise InputError(f"{args.model} in {args.precision} on {args.count} x {gpu.id} {why}")
        preds.append(p)
    if args.llm_format == "csv":
        print(",".join(CSV_COLUMNS))
        for p in preds:
            print(
                f"{p.gpu_id},{p.count},{p.precision},{p.scenario},{args.model},{p.tp},{p.replicas},{p.batch},"
                f"{p.tokens_per_s:.1f},{p.ttft_s:.4f},{p.tpot_s:.4f}"
            )
        return 0
    from rich.table import Table

    t = Table(title=f"{args.model} on {args.count} x {gpu.id} ({args.precision})", title_justify="left")
    for col in ("scenario", "tp", "replicas", "batch / replica", "output tokens/s", "TTFT", "TPOT"):
        t.add_column(col, justify="left" if col == "scenario" else "right")
    for p in preds:
        t.add_row(
            p.scenario, str(p.tp), str(p.replicas), str(p.batch), f"{p.tokens_per_s:,.0f}",
            f"{p.ttft_s * 1e3:.0f} ms", f"{p.tpot_s * 1e3:.1f} ms",
        )  # fmt: skip
    console = _console()
    console.print(t)
    console.print(
        "Requests of 294 prompt / 292 output tokens (MLPerf OpenOrca); `gpusim catalog predict --calibration` "
        "shows the model's errors against MLPerf."
    )
    return 0


def _print_calibration(console, catalog) -> None:
    from rich.table import Table

    from gpusim.hardware import calibration as cal

    res = cal.calibrate_llm(catalog)
    t = Table(title="MLPerf Llama-2-70B output tokens/s: measured vs the LLM serving model", title_justify="left")
    for col in ("round", "accelerator", "n", "precision", "stack", "scenario", "tp", "batch", "measured",
                "predicted", "error", "TTFT", "TPOT", "fitted"):  # fmt: skip
        t.add_column(
            col, justify="left" if col in ("round", "accelerator", "precision", "stack", "scenario") else "right"
        )
    for r in res.rows:
        t.add_row(
            r.round, r.gpu_id, str(r.accelerators), r.precision, r.stack, r.scenario, str(r.tp), str(r.batch),
            f"{r.measured_tokens_s:,.0f}", f"{r.predicted_tokens_s:,.0f}", f"{r.error:+.1%}",
            f"{r.ttft_s:.2f} s", f"{r.tpot_s * 1e3:.0f} ms", "yes" if r.used_in_fit else "held out",
        )  # fmt: skip
    console.print(t)
    q = Table(title="Vendor ratios (per accelerator)", title_justify="left")
    for col in ("ratio", "scenario", "MLPerf", "model", "error"):
        q.add_column(col, justify="left" if col in ("ratio", "scenario") else "right")
    for r in res.ratios:
        name = f"{r.numerator[1]} {r.numerator[0]} / {r.denominator[1]} {r.denominator[0]}"
        q.add_row(name, r.scenario, f"{r.measured:.3f}", f"{r.predicted:.3f}", f"{r.error:+.1%}")
    console.print(q)
    h = Table(title="Leave one MLPerf round out (Offline): fit without the round, predict it", title_justify="left")
    for col in ("round", "accelerator", "fitted on", "measured", "predicted", "error"):
        h.add_column(col, justify="left" if col in ("round", "accelerator", "fitted on") else "right")
    for r in res.held_out_rounds:
        h.add_row(
            r.round, r.gpu_id, r.fitted_on or "(no other row of the vendor)", f"{r.measured_tokens_s:,.0f}",
            f"{r.predicted_tokens_s:,.0f}" if r.fitted_on else "-", f"{r.error:+.1%}" if r.fitted_on else "-",
        )  # fmt: skip
    console.print(h)
    g = Table(
        title="Server runs at their submitted load (logs; Little's law: held = samples/s x mean latency / replicas)",
        title_justify="left",
    )
    for col in ("round", "accelerator", "tp x replicas", "held / replica", "TPOT logged", "TPOT model", "error",
                "p99 TTFT / 2 s", "p99 TPOT / 200 ms", "limit reached", "Server error"):  # fmt: skip
        g.add_column(col, justify="left" if col in ("round", "accelerator") else "right")
    for r in res.server_load:
        g.add_row(
            r.round, r.gpu_id, f"{r.tp} x {r.replicas}", f"{r.held_per_replica:,.0f}", f"{r.measured_tpot_s * 1e3:.0f} ms",
            f"{r.predicted_tpot_s * 1e3:.0f} ms", f"{r.error:+.1%}", f"{r.ttft_p99_share:.0%}", f"{r.tpot_p99_share:.0%}",
            "yes" if r.reached_limit else "no", f"{r.server_error:+.1%}",
        )  # fmt: skip
    console.print(g)
    f = Table(title="Fitted efficiencies (delivered / peak)", title_justify="left")
    for col in ("vendor/stack/precision", "compute", "memory"):
        f.add_column(col)
    for k, e in res.efficiency.items():
        f.add_row(k, f"{e.compute:.4f}", f"{e.memory:.4f}")
    console.print(f)
    console.print(
        f"Largest |error|: Offline (fitted) {res.max_abs_error('offline'):.1%}, Server (held out) "
        f"{res.max_abs_error('server'):.1%}; ratios {max(abs(r.error) for r in res.ratios):.1%}. "
        f"Goals: ratios within {cal.LLM_RATIO_BOUND:.0%}, Server within {cal.LLM_SERVER_GOAL:.0%}."
    )
    if res.server_load:
        reached = [r for r in res.server_load if r.reached_limit]
        console.print(
            f"At the submitted Server loads the model's mean TPOT is within "
            f"{max(abs(r.error) for r in res.server_load):.1%} of the logs. Server runs that reached a limit "
            f"(p99 >= {cal.LIMIT_REACHED:.0%} of it): largest Server error "
            f"{max((abs(r.server_error) for r in reached), default=float('nan')):.1%}; the rest left slack, "
            "so their rates are below the capacity at the limits that the model predicts."
        )
