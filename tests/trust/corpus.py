"""A hostile corpus: inputs a careless or hostile user gives gpusim, and what each must do.

Each case writes its files into a fresh folder and names the command line. Expectations:

- ``error``: exit status 2, no traceback, and the message locates the problem as
  ``file:line:col`` (a scenario problem) — plus, when given, a text the message must contain.
- ``flag``: exit status 2, no traceback, the message names the flag or path given.
- ``ok``: exit status 0 (a valid input that must not be refused).

Run as a script it executes every case in a forked child (timeout, memory cap) and prints the
counts per outcome: ``python tests/trust/corpus.py`` (uses whichever gpusim is importable).
Large cases are generated when run, never stored.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

BASE = textwrap.dedent(
    """\
    name: hostile
    seed: 1
    duration: 1h
    cluster:
      node_pools:
        - name: gpu
          count: 2
          gpu_model: nvidia-a100-80gb
          gpus_per_node: 8
          vcpu: 64
          memory: 512Gi
    workloads:
      - name: train
        pod:
          resources:
            requests: {cpu: "4", memory: 16Gi}
            limits: {nvidia.com/gpu: 1}
        generator:
          arrival: {process: poisson, rate: 10/h}
          gpus: [1, 2]
          duration: {distribution: exponential, mean: 10m}
    """
)

INFER = textwrap.dedent(
    """\
    name: hostile-infer
    seed: 1
    duration: 10m
    cluster:
      node_pools:
        - {name: gpu, count: 1, gpu_model: nvidia-a100-80gb, gpus_per_node: 8, vcpu: 64, memory: 512Gi}
    workloads:
      - type: inference
        name: svc
        pod: {resources: {limits: {nvidia.com/gpu: 1}}}
        model: {service_time: 100ms}
        arrivals: {process: {process: poisson, rate: 5/s}}
        replicas: 2
        slo: {latency: 1s}
        cold_start: {image_pull: 0s, model_load: 0s}
    """
)

LOCATED = re.compile(r"[^\s:]+\.ya?ml:\d+:\d+:", re.IGNORECASE)


@dataclass
class Case:
    id: str
    files: dict[str, object]  # name -> str | bytes | callable(path) that writes it
    argv: list[str]  # "{d}" is replaced by the case folder
    expect: str = "error"  # error | flag | ok
    contains: list[str] = field(default_factory=list)
    large: bool = False


def sub(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def run_case(c: Case, d: Path) -> list[str]:
    return [a.replace("{d}", str(d)) for a in c.argv]


def write_files(c: Case, d: Path) -> None:
    for name, content in c.files.items():
        p = d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content(p)
        elif isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)


def judge(c: Case, code: int, err: str) -> str:
    """'pass' or the kind of failure: traceback, accepted, refused, unlocated, unclear."""
    if "Traceback" in err or code not in (0, 2):
        return "traceback"
    if c.expect == "ok":
        return "pass" if code == 0 else "refused"
    if code == 0:
        return "accepted"
    if c.expect == "error" and not LOCATED.search(err):
        return "unlocated"
    if any(s.lower() not in err.lower() for s in c.contains):
        return "unclear"
    return "pass"


def _deep_list(n):
    def write(p):
        p.write_text(BASE + "description: " + "[" * n + "]" * n + "\n")

    return write


def _deep_map(n):
    def write(p):
        body = "".join("  " * i + f"k{i}:\n" for i in range(n)) + "  " * n + "v: 1\n"
        p.write_text(BASE + "extra:\n" + textwrap.indent(body, "  "))

    return write


def _alias_bomb(p):
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 9)}]")
    p.write_text(BASE + "description: &bomb\n" + "\n".join("  " + ln for ln in lines) + "\n")


def _big_inline(n_jobs: int):
    """~35 bytes per job; the last job is bad."""

    def write(p):
        head = sub(BASE, "    generator:\n", "    jobs:\n      - {arrival: 0s, duration: 1m}\n    generatorX:\n")
        head = head.split("    generatorX:")[0]
        with open(p, "w") as fh:
            fh.write(head)
            row = "      - {arrival: 1s, duration: 30m}\n"
            for _ in range(n_jobs - 2):
                fh.write(row)
            fh.write("      - {arrival: 1s, duration: -30m}\n")

    return write


def _utf16(p):
    p.write_bytes(b"\xff\xfe" + BASE.encode("utf-16-le"))


def _seq(n):
    return ", ".join(["1"] * n)


GEN = "      duration: {distribution: exponential, mean: 10m}\n"
RUN = ["run", "{d}/s.yaml", "--out", "{d}/out", "--quiet", "--no-plots"]
VAL = ["validate", "{d}/s.yaml"]


def cases() -> list[Case]:
    C: list[Case] = []

    def bad(id, text, contains=(), argv=RUN, files=None, **kw):
        C.append(Case(id, files or {"s.yaml": text}, list(argv), "error", list(contains), **kw))

    def ok(id, text, argv=RUN, files=None):
        C.append(Case(id, files or {"s.yaml": text}, list(argv), "ok"))

    def flag(id, argv, files=None, contains=()):
        C.append(Case(id, files or {"s.yaml": BASE}, list(argv), "flag", list(contains)))

    # ------------------------------------------------------------------ reading
    bad("latin1", None, ["utf-8"], files={"s.yaml": BASE.encode() + "description: caf\xe9\n".encode("latin-1")})
    ok("utf16-bom", None, files={"s.yaml": _utf16})
    ok("utf8-bom", None, files={"s.yaml": b"\xef\xbb\xbf" + BASE.encode()})
    bad("binary-png", None, files={"s.yaml": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4})
    bad("nul-bytes", None, files={"s.yaml": BASE.encode() + b"description: a\x00b\n"})
    bad("empty-file", "", ["empty"])
    bad("only-comment", "# nothing here\n", ["empty"])
    bad("scalar-doc", "hello\n", ["mapping"])
    bad("list-doc", "- a\n- b\n", ["mapping"])
    bad("two-docs", BASE + "---\n" + BASE)
    bad("tab-indent", BASE.replace("  count: 2", "\tcount: 2"))
    bad("unclosed-flow", sub(BASE, "[1, 2]", "[1, 2"))
    bad("deep-list-2000", None, ["nest"], files={"s.yaml": _deep_list(2000)})
    bad("deep-map-500", None, ["nest"], files={"s.yaml": _deep_map(500)})
    bad("recursive-alias", BASE + "description: &d [*d]\n", ["alias"])
    bad("recursive-alias-map", BASE + "extra: &m {a: *m}\n", ["alias"])
    bad("alias-bomb", None, ["alias"], files={"s.yaml": _alias_bomb})
    bad("undefined-alias", BASE + "description: *nope\n")
    bad("python-tag", BASE + "description: !!python/object/apply:os.system ['echo hi']\n")
    bad("custom-tag", BASE + "description: !secret x\n")
    bad("binary-tag", BASE + "description: !!binary aGVsbG8=\n")
    bad("dup-key", BASE + "seed: 2\n", ["duplicate"])
    ok(
        "merge-override",
        sub(
            BASE,
            "    - name: gpu\n      count: 2\n      gpu_model: nvidia-a100-80gb\n      gpus_per_node: 8\n"
            "      vcpu: 64\n      memory: 512Gi\n",
            "    - &a100 {name: gpu, count: 2, gpu_model: nvidia-a100-80gb, gpus_per_node: 8, vcpu: 64, memory: 512Gi}\n"
            "    - <<: *a100\n      name: b\n",
        ),
    )
    ok("merge-list", BASE.replace("    pod:\n", "    pod:\n      <<: [{priority: 1}]\n"))
    bad("date-name", sub(BASE, "name: hostile", "name: 2024-01-01"))
    bad("null-name", sub(BASE, "name: hostile", "name: ~"))
    bad("bool-count", sub(BASE, "count: 2", "count: yes"))
    bad("key-is-list", BASE + "[a, b]: 1\n")
    bad("key-is-null", BASE + "~: 1\n")
    bad("huge-int-key", BASE + "1" * 5000 + ": 1\n")
    bad("big-file-inline-jobs", None, files={"s.yaml": _big_inline(1_450_000)}, large=True)
    C.append(Case("validate-dir", {"d/x": "a"}, ["validate", "{d}/d"], "flag", ["folder"]))
    C.append(Case("validate-txt", {"s.txt": BASE}, ["validate", "{d}/s.txt"], "ok"))
    C.append(Case("validate-upper", {"s.YAML": BASE}, ["validate", "{d}/s.YAML"], "ok"))
    C.append(Case("validate-missing", {}, ["validate", "{d}/nope.yaml"], "flag", ["nope.yaml"]))
    C.append(Case("run-missing", {}, ["run", "{d}/nope.yaml"], "flag", ["nope.yaml"]))
    C.append(Case("validate-fifo", {"p.yaml": lambda p: __import__("os").mkfifo(p)}, ["validate", "{d}/p.yaml"],
                  "flag", ["p.yaml"]))  # fmt: skip
    C.append(
        Case(
            "validate-many",
            {"a.yaml": sub(BASE, "count: 2", "count: -1"), "b.yaml": BASE, "c.yaml": sub(BASE, "vcpu: 64", "vcpu: x")},
            ["validate", "{d}/a.yaml", "{d}/b.yaml", "{d}/c.yaml"],
            "error",
            ["a.yaml:", "c.yaml:"],
        )
    )

    # ------------------------------------------------------------------ numbers
    for what, val in [("Infinity", "Infinity"), (".inf", ".inf"), ("str-1e400", "'1e400'"), ("1e400", "1e400"),
                      ("nan", ".nan"), ("1e30", "1e30"), ("neg", "-5m")]:  # fmt: skip
        bad(f"duration-{what}", sub(BASE, "duration: 1h", f"duration: {val}"))
        bad(f"mean-{what}", sub(BASE, "mean: 10m", f"mean: {val}"))
    for what, val in [("1e30", "1e30"), ("inf", ".inf"), ("str-1e400", "'1e400/h'"), ("zero", "0/h")]:
        bad(f"rate-{what}", sub(BASE, "rate: 10/h", f"rate: {val}"))
    bad("weights-nan", sub(BASE, "gpus: [1, 2]", "gpus: {distribution: choice, values: [1, 2], weights: [.nan, 1]}"))
    bad("weights-inf", sub(BASE, "gpus: [1, 2]", "gpus: {distribution: choice, values: [1, 2], weights: [.inf, 1]}"))
    bad("gen-start-after-end", sub(BASE, GEN, GEN + "      start: 50m\n      end: 10m\n"), ["start"])
    bad("gen-start-after-duration", sub(BASE, GEN, GEN + "      start: 2h\n"), ["start"])
    bad("vcpu-1e30", sub(BASE, "vcpu: 64", "vcpu: 1e30"))
    bad("memory-1e30", sub(BASE, "memory: 512Gi", "memory: 1e30"))
    bad("cpu-request-1e30", sub(BASE, 'cpu: "4"', "cpu: 1e30"))
    bad("gpu-request-1e30", sub(BASE, "limits: {nvidia.com/gpu: 1}", "limits: {nvidia.com/gpu: 1e30}"))
    bad("count-1e9", sub(BASE, "count: 2", "count: 1000000000"), ["count"])
    bad("gpus-per-node-1e8", sub(BASE, "gpus_per_node: 8", "gpus_per_node: 100000000"), ["gpus_per_node"])
    bad("count-float", sub(BASE, "count: 2", "count: 2.5"))
    bad("count-bigint", sub(BASE, "count: 2", "count: " + "9" * 40))
    bad("seed-negative", BASE.replace("seed: 1", "seed: -1"))
    bad("seed-huge", BASE.replace("seed: 1", "seed: " + "9" * 30))
    bad("max-jobs-huge", sub(BASE, GEN, GEN + "      max_jobs: " + "9" * 30 + "\n"))
    bad("gpus-values-huge", sub(BASE, "gpus: [1, 2]", "gpus: [1, 100000000]"))
    bad("pods-huge", sub(BASE, GEN, GEN + "      pods: 100000000\n"), ["pods"])
    bad("price-inf", sub(BASE, "memory: 512Gi", "memory: 512Gi\n      price_per_hour: .inf"))
    bad("price-nan", sub(BASE, "memory: 512Gi", "memory: 512Gi\n      price_per_hour: .nan"))
    bad(
        "sigma-inf",
        sub(BASE, "{distribution: exponential, mean: 10m}", "{distribution: lognormal, median: 10m, sigma: .inf}"),
    )
    bad(
        "uniform-swapped",
        sub(BASE, "{distribution: exponential, mean: 10m}", "{distribution: uniform, low: 2h, high: 1h}"),
    )
    bad("unknown-reference-gpu", sub(BASE, "    generator:\n", "    work: {reference_gpu: nvidia-z9000}\n    generator:\n"),
        ["nvidia-z9000"])  # fmt: skip
    bad("infer-unknown-reference-gpu", sub(INFER, "model: {service_time: 100ms}", "model: {service_time: 100ms, reference_gpu: nope-gpu}"),
        ["nope-gpu"])  # fmt: skip
    bad("unknown-gpu-model", sub(BASE, "gpu_model: nvidia-a100-80gb", "gpu_model: nvidia-a100-81gb"), ["closest"])
    bad("unknown-node-type", sub(BASE, "memory: 512Gi", "memory: 512Gi\n      node_type: aws-nope"), ["aws-nope"])
    mig_cat = textwrap.dedent(
        """\
        catalog:
          gpu_models:
            - id: my-gpu
              proxy: nvidia-a100-80gb
              mig:
                profiles:
                  - {name: 1g.10gb, compute_slices: 1, memory_slices: 1, memory_gib: 10, max_count: 7, placements: [0, 9, -3]}
        """
    )
    bad("mig-placements-out-of-range", sub(BASE, "gpu_model: nvidia-a100-80gb", "gpu_model: my-gpu") + mig_cat,
        ["placements"])  # fmt: skip
    for n in ("-1", "0"):
        bad(
            f"mig-count-{n}",
            sub(BASE, "memory: 512Gi", "memory: 512Gi\n      sharing: {mig: {config: {1g.10gb: " + n + "}}}"),
        )
    bad(
        "mig-unknown-profile", sub(BASE, "memory: 512Gi", "memory: 512Gi\n      sharing: {mig: {config: {9g.99gb: 1}}}")
    )
    bad("long-scenario-name", sub(BASE, "name: hostile", "name: " + "a" * 5000), ["name"])
    bad("long-pool-name", sub(BASE, "- name: gpu", "- name: " + "p" * 300), ["name"])
    bad("long-description", sub(BASE, "seed: 1", "seed: 1\ndescription: " + "x" * 200_000), ["description"])
    bad("many-pools", sub(BASE, "workloads:", "".join(
        f"    - {{name: p{i}, count: 1, vcpu: 1, memory: 1Gi}}\n" for i in range(2000)) + "workloads:"), ["node_pools"])  # fmt: skip

    # ------------------------------------------------------------------ distributions
    for kind, text, must in [
        ("exp-bad-mean", "{distribution: exponential, mean: fast}", "mean"),
        ("lognormal-missing", "{distribution: lognormal, median: 10m}", "sigma"),
        ("unknown-dist", "{distribution: gaussian, mean: 10m}", "gaussian"),
        ("choice-empty", "{distribution: choice, values: []}", "values"),
    ]:
        bad(f"dist-{kind}", sub(BASE, "{distribution: exponential, mean: 10m}", text), [must])

    # ------------------------------------------------------------------ structure
    bad("unknown-field", BASE + "colour: red\n", ["unknown field"])
    bad("missing-cluster", BASE.split("cluster:")[0] + "workloads: []\n")
    bad("workloads-empty", BASE.split("workloads:")[0] + "workloads: []\n")
    bad("taint-bad-string", sub(BASE, "memory: 512Gi", "memory: 512Gi\n      taints: ['gpu']"))
    ok(
        "taint-string",
        sub(BASE, "memory: 512Gi", "memory: 512Gi\n      taints: ['a=b:PreferNoSchedule', 'c:PreferNoSchedule']"),
    )
    bad("gang-bigger-than-cluster", sub(BASE, GEN, GEN + "      pods: 3\n").replace("gpus: [1, 2]", "gpus: 8"),
        ["0/2 nodes are available"])  # fmt: skip
    bad("overprovision-fits-nothing", sub(BASE, "workloads:", "  overprovisioning:\n    replicas: 1\n    pod: {resources: {limits: {nvidia.com/gpu: 9}}}\nworkloads:"),
        ["overprovisioning"])  # fmt: skip
    bad("count-above-autoscale-max", sub(BASE, "memory: 512Gi", "memory: 512Gi\n      autoscaling: {min: 0, max: 1}"),
        ["max"])  # fmt: skip
    ok("bare-duration-dist", sub(BASE, "{distribution: exponential, mean: 10m}", "30m"))
    bad("pod-too-big-for-any-node", sub(BASE, 'cpu: "4"', 'cpu: "400"'), ["fits no node"])
    bad("llm-too-big", sub(INFER, "model: {service_time: 100ms}", "model: {llm: {params_b: 700}}"), ["does not fit"])
    bad("infer-mean-inf", sub(INFER, "service_time: 100ms", "service_time: {distribution: exponential, mean: .inf}"))

    # ------------------------------------------------------------------ traces
    trace_wl = (
        "  - name: tr\n    trace: {format: generic, path: TRACE, columns: {arrival: t, duration: d, gpus: g}STRICT}\n"
    )

    def with_trace(path, strict=False):
        return BASE + trace_wl.replace("TRACE", path).replace("STRICT", ", strict: true" if strict else "")

    bad("trace-missing", with_trace("nope.csv"), ["nope.csv"])
    bad("trace-is-dir", with_trace("tdir"), ["folder"], files={"s.yaml": with_trace("tdir"), "tdir/x": "1"})
    bad("trace-is-fifo", with_trace("t.fifo"), ["not a regular file"],
        files={"s.yaml": with_trace("t.fifo"), "t.fifo": lambda p: __import__("os").mkfifo(p)})  # fmt: skip
    C.append(
        Case("trace-1e30", {"s.yaml": with_trace("t.csv"), "t.csv": "t,d,g\n0,60,1\n1e30,60,1\n5,1e30,1\n"}, RUN, "ok")
    )
    C.append(Case("trace-all-bad", {"s.yaml": with_trace("t.csv"), "t.csv": "t,d,g\nx,y,z\na,b,c\n"}, RUN, "flag",
                  ["t.csv"]))  # fmt: skip
    C.append(Case("trace-extra-fields-strict", {"s.yaml": with_trace("t.csv", True), "t.csv": "t,d,g\n0,60,1\n1,60,1,9,9\n"},
                  RUN, "flag", ["t.csv:3"]))  # fmt: skip
    C.append(
        Case("trace-binary", {"s.yaml": with_trace("t.csv"), "t.csv": bytes(range(256)) * 8}, RUN, "flag", ["t.csv"])
    )
    C.append(Case("trace-utf16", {"s.yaml": with_trace("t.csv"), "t.csv": "t,d,g\n0,60,1\n".encode("utf-16")}, RUN,
                  "flag", ["t.csv"]))  # fmt: skip
    C.append(Case("trace-empty", {"s.yaml": with_trace("t.csv"), "t.csv": ""}, RUN, "flag", ["t.csv"]))

    # ------------------------------------------------------------------ failures and checkpoints
    FAIL = BASE + "failures:\n  per_gpu_hour: RATE\n  repair: {action: ACTION, time: 30m}\n"
    ok("failures-ok", FAIL.replace("RATE", "0.001").replace("ACTION", "repair"))
    ok("failures-catalog-ok", FAIL.replace("RATE", "catalog").replace("ACTION", "replace"))
    bad("failures-negative-rate", FAIL.replace("RATE", "-1").replace("ACTION", "repair"), ["per_gpu_hour"])
    bad("failures-text-rate", FAIL.replace("RATE", "lots").replace("ACTION", "repair"), ["per_gpu_hour"])
    bad("failures-inf-rate", FAIL.replace("RATE", ".inf").replace("ACTION", "repair"), ["finite"])
    bad("failures-huge-rate", FAIL.replace("RATE", "1e6").replace("ACTION", "repair"), ["per_gpu_hour"])
    bad("failures-bad-action", FAIL.replace("RATE", "0.001").replace("ACTION", "pray"), ["repair.action"])
    bad("failures-unknown-key", FAIL.replace("RATE", "0.001").replace("ACTION", "repair") + "  bogus: 1\n",
        ["bogus"])  # fmt: skip
    bad("failures-unknown-pool", FAIL.replace("RATE", "0.001").replace("ACTION", "repair")
        + "  pools: {nope: {per_gpu_hour: 0.01}}\n", ["nope"])  # fmt: skip
    CK = sub(BASE, "    generator:\n", "    checkpoint: {interval: INT, cost: COST}\n    generator:\n")
    ok("checkpoint-ok", CK.replace("INT", "30m").replace("COST", "1m"))
    bad("checkpoint-zero-interval", CK.replace("INT", "0s").replace("COST", "1m"), ["checkpoint.interval"])
    bad("checkpoint-negative-cost", CK.replace("INT", "30m").replace("COST", "-5m"), ["checkpoint.cost"])

    # ------------------------------------------------------------------ LLM serving
    LLM = textwrap.dedent(
        """\
        name: hostile-llm
        seed: 1
        duration: 5m
        cluster:
          node_pools:
            - {name: h200, count: 1, gpu_model: nvidia-h200-141gb, gpus_per_node: 8, vcpu: 192, memory: 2Ti}
        workloads:
          - type: inference
            name: chat
            pod: {resources: {limits: {nvidia.com/gpu: 2}, requests: {cpu: "24", memory: 256Gi}}}
            model: {id: llama-2-70b, precision: fp8, tensor_parallel: 2}
            engine: {max_num_seqs: 64, gpu_memory_utilization: 0.9}
            arrivals: {process: {process: poisson, rate: 2}, prompt_tokens: 500, output_tokens: 100}
            replicas: 1
            slo: {ttft: 2s, tpot: 200ms, percentile: 99}
        """
    )
    ok("llm-ok", LLM)
    bad("llm-unknown-model", sub(LLM, "id: llama-2-70b", "id: gpt-17"), ["model.id", "llama-2-70b"])
    bad("llm-bad-precision", sub(LLM, "precision: fp8", "precision: int1"), ["model.precision"])
    bad("llm-tp-mismatch", sub(LLM, "tensor_parallel: 2", "tensor_parallel: 3"), ["tensor_parallel"])
    bad("llm-negative-seqs", sub(LLM, "max_num_seqs: 64", "max_num_seqs: -4"), ["engine.max_num_seqs"])
    bad("llm-memory-util", sub(LLM, "gpu_memory_utilization: 0.9", "gpu_memory_utilization: 1.5"),
        ["gpu_memory_utilization"])  # fmt: skip
    bad("llm-negative-slo", sub(LLM, "ttft: 2s", "ttft: -1s"), ["slo.ttft"])
    bad("llm-weights-exceed-memory", sub(sub(LLM, "precision: fp8, tensor_parallel: 2", "precision: bf16, "
        "tensor_parallel: 1"), "nvidia.com/gpu: 2", "nvidia.com/gpu: 1"), ["weights", "KV room"])  # fmt: skip
    bad("llm-batch-slowdown-refused", sub(LLM, "    replicas: 1\n", "    replicas: 1\n    batch_slowdown: 0.05\n"),
        ["batch_slowdown"])  # fmt: skip

    # ------------------------------------------------------------------ sweeps
    SW = BASE + "sweep:\n  factors:\n    FACTOR: [1, 2]\n"
    for fid, path in [("unknown", "scheduler.colour"), ("index", "cluster.node_pools.5.count"), ("dots", "a..b")]:
        bad(f"sweep-path-{fid}-validate", SW.replace("FACTOR", path), ["sweep"], argv=VAL)
        bad(f"sweep-path-{fid}-run", SW.replace("FACTOR", path), ["sweep"])
    bad("sweep-bad-value", SW.replace("FACTOR", "cluster.node_pools.0.count").replace("[1, 2]", "[1, -2]"), argv=VAL)
    C.append(Case("sweep-no-block", {"s.yaml": BASE}, ["sweep", "{d}/s.yaml", "--out", "{d}/o"], "flag", ["sweep"]))

    # ------------------------------------------------------------------ experiments
    def exp(body):
        return "name: hostile-exp\nexperiment:\n" + textwrap.indent(textwrap.dedent(body), "  ")

    lag = "kind: autoscaler-lag\nscenario: BASE\npool: gpu\nlags: [0s, 1m]\n"
    bad("exp-lag-missing-base", exp(lag.replace("BASE", "nope.yaml")), ["nope.yaml"], argv=VAL)
    bad("exp-lag-bad-base", exp(lag.replace("BASE", "b.yaml")), ["b.yaml"], argv=VAL,
        files={"s.yaml": exp(lag.replace("BASE", "b.yaml")), "b.yaml": sub(BASE, "count: 2", "count: x")})  # fmt: skip
    bad("exp-lag-unknown-pool", exp(lag.replace("BASE", "b.yaml")), ["'nope' is not an autoscaled"], argv=VAL,
        files={"s.yaml": exp(lag.replace("BASE", "b.yaml").replace("pool: gpu", "pool: nope")), "b.yaml": BASE})  # fmt: skip
    fgd = ("kind: fgd-packing\npods: {format: openb, path: shipped:alibaba-gpu-v2023/openb_pod_list_default.csv}\n"
           "nodes: {format: openb-nodes, path: shipped:alibaba-gpu-v2023/openb_node_list_gpu_node.csv}\n")  # fmt: skip
    bad("exp-fgd-unknown-policy", exp(fgd + "policies: [Nope]\n"), ["Nope"], argv=VAL)
    bad("exp-fgd-missing-trace", exp(fgd.replace("openb_pod_list_default", "nope")), ["nope"], argv=VAL)
    vendor = "kind: vendor-comparison\nnode_types: [aws-nope]\nservice: {name: svc}\n"
    bad("exp-vendor-unknown-node-type", exp(vendor), ["aws-nope"], argv=VAL)
    bad("exp-unknown-kind", exp("kind: nope\n"), ["nope"], argv=VAL)

    # ------------------------------------------------------------------ command line
    flag("seed-minus-one", ["run", "{d}/s.yaml", "--seed", "-1", "--out", "{d}/o"], contains=["--seed"])
    flag("seed-text", ["run", "{d}/s.yaml", "--seed", "abc"], contains=["--seed"])
    flag("seed-huge-flag", ["run", "{d}/s.yaml", "--seed", "9" * 30, "--out", "{d}/o"], contains=["--seed"])
    SWF = {"s.yaml": BASE + "sweep:\n  factors:\n    scheduler.policy: [first-fit, best-fit]\n"}
    flag("dask-bogus", ["sweep", "{d}/s.yaml", "--dask", "bogus", "--out", "{d}/o"], SWF, ["bogus"])
    flag("workers-zero", ["sweep", "{d}/s.yaml", "--workers", "0", "--out", "{d}/o"], SWF, ["--workers"])
    flag(
        "out-onto-file",
        ["run", "{d}/s.yaml", "--out", "{d}/notes.txt"],
        {"s.yaml": BASE, "notes.txt": "mine"},
        ["notes.txt"],
    )
    flag(
        "out-onto-user-dir",
        ["run", "{d}/s.yaml", "--out", "{d}/mine"],
        {"s.yaml": BASE, "mine/a.txt": "mine"},
        ["mine"],
    )
    flag(
        "sweep-out-onto-file",
        ["sweep", "{d}/s.yaml", "--out", "{d}/notes.txt"],
        {**SWF, "notes.txt": "x"},
        ["notes.txt"],
    )
    flag("out-under-a-file", ["run", "{d}/s.yaml", "--out", "{d}/notes.txt/r"], {"s.yaml": BASE, "notes.txt": "x"},
         ["notes.txt"])  # fmt: skip
    flag("plot-not-a-result", ["plot", "{d}"], contains=["summary.json"])
    flag("export-bad-interval", ["export", "{d}", "--format", "openmetrics"], contains=["summary.json"])
    flag("compare-missing", ["compare", "{d}/nope"], contains=["nope"])
    fake_exp = {"r/summary.json": '{"summary": {"runs": 2}, "gpusim_version": "0.1.0", "scenario": {"name": "x", '
                '"experiment": {"kind": "autoscaler-lag", "scenario": "a.yaml", "pool": "p", "lags": [0]}}}'}  # fmt: skip
    flag("plot-experiment-result", ["plot", "{d}/r"], fake_exp, ["experiment"])
    flag("compare-experiment-result", ["compare", "{d}/r", "--no-plot"], fake_exp, ["experiment"])
    flag("export-experiment-result", ["export", "{d}/r", "--format", "openmetrics"], fake_exp, ["experiment"])
    flag("plot-corrupt-summary", ["plot", "{d}/r"], {"r/summary.json": "{not json"}, ["summary.json"])
    return C


# ---------------------------------------------------------------------------- runner
def _run_forked(argv: list[str], cwd: Path, timeout_s: int, mem_bytes: int) -> tuple[int, str, float]:
    """Run gpusim's main(argv) in a forked child; return (exit code, stderr, seconds)."""
    import os
    import resource
    import time

    err_path = cwd / ".stderr"
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child
        try:
            fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(fd, 2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.chdir(cwd)
            resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
            import signal

            signal.alarm(timeout_s)
            import traceback

            from gpusim.cli import main

            try:
                code = main(argv)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
            except BaseException:
                traceback.print_exc()
                code = 1
            import sys

            sys.stderr.flush()
            os._exit(int(code or 0))
        except BaseException:
            os._exit(99)
    _, status = os.waitpid(pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    err = err_path.read_text(errors="replace") if err_path.exists() else ""
    if code < 0:
        err += f"\nTraceback: killed by signal {-code} (timeout or memory)"
    return code, err, wall


def main(argv=None) -> int:
    import argparse
    import collections
    import shutil
    import tempfile

    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=int, default=120)
    ap.add_argument("--mem-gib", type=float, default=6)
    ap.add_argument("--skip-large", action="store_true")
    ap.add_argument("-k", default=None)
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args(argv)
    import gpusim.cli  # noqa: F401  (imported once, before forking)
    import gpusim.scenario.loader  # noqa: F401

    counts = collections.Counter()
    for c in cases():
        if (a.skip_large and c.large) or (a.k and a.k not in c.id):
            continue
        d = Path(tempfile.mkdtemp(prefix="gpusim-corpus-"))
        try:
            write_files(c, d)
            code, err, wall = _run_forked(run_case(c, d), d, a.timeout, int(a.mem_gib * 2**30))
        finally:
            shutil.rmtree(d, ignore_errors=True)
        verdict = judge(c, code, err)
        counts[verdict] += 1
        if a.v or verdict != "pass":
            last = [ln for ln in err.strip().splitlines() if ln.strip()][-3:]
            print(f"{verdict:10s} {c.id:36s} exit {code} {wall:6.1f}s | {' / '.join(last)[:300]}")
    total = sum(counts.values())
    print(f"{total} cases: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
