"""Write an import as a commented scenario file, with the user's cluster or a suggested one.

`render(imported, cluster)` returns YAML text: a header saying where everything came from, the
scenario, each workload preceded by comments on how it was mapped, and a closing list of what was
not carried. With no cluster, a suggested `cluster:` block (one pool per accelerator kind and
nodeSelector) is written commented out: the scenario validates once the user adds a cluster, and
uncommenting the suggestion is one way to do that. `check(...)` validates the result with the
scenario loader and relocates each problem to the file it came from (the cluster file, or the
manifest a workload was imported from).
"""

from __future__ import annotations

import math
import os
import re
import tempfile
import textwrap
from fractions import Fraction
from pathlib import Path

import yaml

from gpusim._version import __version__
from gpusim.errors import InputError, Problem, ScenarioError
from gpusim.k8s.importer import Imported, _fmt_duration
from gpusim.units import parse_quantity

_WHOLE_MODEL = {
    "nvidia.com/gpu": "nvidia-h100-80gb",
    "amd.com/gpu": "amd-mi300x",
    "habana.ai/gaudi": "intel-gaudi3",
    "gpu.intel.com/i915": "intel-max-1550",
}
"""The GPU model a suggested pool uses for each whole-device resource (one example per vendor)."""

_MIG_MODELS = ("nvidia-h100-80gb", "nvidia-a100-80gb", "nvidia-a100-40gb", "nvidia-h200-141gb", "nvidia-b200-180gb")


# ---------------------------------------------------------------------------- suggested cluster
def suggested_cluster(imp: Imported) -> tuple[dict | None, list[str]]:
    """A cluster that can host every imported pod: one pool per (accelerator kind, nodeSelector),
    no taints, sized to the GPUs asked for; plus notes for pods no catalog GPU model serves.
    """
    from gpusim.hardware import load_catalog

    catalog = load_catalog()
    groups: dict[tuple, dict] = {}
    notes = []
    for w in imp.workloads:
        pod = w.pod or {}
        sel = tuple(sorted((pod.get("nodeSelector") or {}).items()))
        res = pod.get("resources", {})
        cpu = parse_quantity(res.get("requests", {}).get("cpu", 0))
        mem = parse_quantity(res.get("requests", {}).get("memory", 0))
        if w.body["type"] == "inference":
            hpa = (w.body.get("autoscaling") or {}).get("hpa")
            pods = max(w.body["replicas"], hpa["max_replicas"] if hpa else 0)
        else:
            pods = max(j.get("pods", 1) for j in w.body["jobs"]) if w.gpu else len(w.body["jobs"])
        key = (w.gpu[0] if w.gpu else None, sel)
        g = groups.setdefault(key, {"units": 0, "cpu": Fraction(0), "mem": Fraction(0), "max_units": 0, "names": []})
        units = w.gpu[1] if w.gpu else 0
        g["units"] += units * pods
        g["max_units"] = max(g["max_units"], units)
        g["cpu"] = max(g["cpu"], cpu)
        g["mem"] = max(g["mem"], mem)
        g["names"].append(w.body["name"])
    pools = []
    for i, ((resource, sel), g) in enumerate(groups.items()):
        name = f"pool-{i}"
        labels = dict(sel)
        if resource is None:
            pool = {"name": name, "count": max(1, math.ceil(g["units"] / 8) if g["units"] else len(g["names"])),
                    "vcpu": max(64, math.ceil(g["cpu"])), "memory": _gib(max(g["mem"], Fraction(256 * 2**30)))}  # fmt: skip
            pool["count"] = max(1, sum(1 for _ in g["names"]))
        else:
            model, sharing = _pool_gpu(resource, catalog)
            if model is None:
                notes.append(
                    f"no catalog GPU model serves {resource} (workloads {', '.join(g['names'])}); add a pool yourself"
                )
                continue
            per_node = 8
            slots = {"mig": 7, "timeSlicing": 4}.get(next(iter(sharing), ""), 1)
            pool = {"name": name, "count": max(1, math.ceil(g["units"] / (per_node * slots))), "gpu_model": model,
                    "gpus_per_node": per_node, "vcpu": max(192, math.ceil(g["cpu"])),
                    "memory": _gib(max(g["mem"], Fraction(2 * 2**40)))}  # fmt: skip
            if sharing:
                pool["sharing"] = sharing
            if g["max_units"] > per_node * slots:
                notes.append(
                    f"{', '.join(g['names'])}: a pod asks for {g['max_units']} {resource}, more than one node has"
                )
        if labels:
            pool["labels"] = labels
        pools.append(pool)
    return ({"node_pools": pools} if pools else None), notes


def _pool_gpu(resource: str, catalog) -> tuple[str | None, dict]:
    if resource in _WHOLE_MODEL:
        return _WHOLE_MODEL[resource], {}
    if resource == "nvidia.com/gpu.shared":
        return "nvidia-h100-80gb", {"timeSlicing": {"renameByDefault": True, "resources": [{"name": "nvidia.com/gpu", "replicas": 4}]}}  # fmt: skip
    if resource == "alibabacloud.com/gpu-milli":
        return "nvidia-a100-80gb", {"fractional": True}
    if resource.startswith("nvidia.com/mig-"):
        for mid in _MIG_MODELS:
            gpu = catalog.gpu_models.get(mid)
            if gpu is not None and gpu.mig and any(p.resource_name == resource for p in gpu.mig.profiles):
                return mid, {"mig": {"config": "dynamic"}}
    return None, {}


def _gib(q: Fraction) -> str:
    return f"{math.ceil(q / 2**30)}Gi"


# ---------------------------------------------------------------------------- the cluster file
class ClusterFile:
    """A `--cluster` file: its `cluster:` block (or a bare one), an optional `catalog:` block, and
    the positions of their fields for error messages.
    """

    def __init__(self, path: str):
        from gpusim.scenario.loader import dict_paths, parse_yaml, read_file

        self.path = path
        data, positions = parse_yaml(read_file(path), path)  # bytes: any encoding problem is a clear error
        self.ignored: list[str] = []
        if isinstance(data, dict) and "cluster" in data:
            self.cluster, self.prefix = data["cluster"], ("cluster",)
            self.catalog = data.get("catalog")
            self.ignored = [k for k in data if k not in ("cluster", "catalog")]
        elif isinstance(data, dict) and "node_pools" in data:
            self.cluster, self.prefix, self.catalog = data, (), None
        else:
            raise ScenarioError(
                [
                    Problem(
                        "a cluster file holds a scenario's `cluster:` block (cluster: {node_pools: [...]}) "
                        "or the block itself (node_pools: [...])",
                        file=path,
                        line=1,
                        column=1,
                    )
                ]  # fmt: skip
            )
        from gpusim.scenario.loader import format_path

        self.where: dict[str, tuple[int, int]] = {}
        for key in dict_paths(data):  # every field path of the (small) cluster file
            pos = positions.get(key)
            if pos is None:
                continue
            if key[: len(self.prefix)] == self.prefix:
                self.where[format_path(("cluster",) + key[len(self.prefix) :])] = (pos[2], pos[3])
            elif key[:1] == ("catalog",):
                self.where[format_path(key)] = (pos[2], pos[3])


# ---------------------------------------------------------------------------- text
def scenario_dict(imp: Imported, cluster: dict | None, catalog: dict | None = None) -> dict:
    """The scenario as data (cluster None: left out)."""
    o = imp.options
    out: dict = {
        "name": o.name,
        "description": f"Imported from Kubernetes manifests: {', '.join(Path(f).name for f in imp.files)}.",
        "duration": _fmt_duration(o.duration_s),
        "drain": not imp.long_running_jobs,
    }
    if cluster is not None:
        out["cluster"] = cluster
    if catalog is not None:
        out["catalog"] = catalog
    out["workloads"] = [w.body for w in imp.workloads]
    out["scheduler"] = imp.scheduler
    return out


def _dump(data) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=110, allow_unicode=True)


def _comment(text: str, indent: str = "", width: int = 110) -> str:
    """`text` as YAML comment lines, long lines wrapped (continuations indented)."""
    out = []
    for line in text.splitlines() or [""]:
        if len(indent) + 2 + len(line) <= width or line.startswith(" "):  # keep dumped YAML lines as they are
            out.append(f"{indent}# {line}".rstrip())
            continue
        chunks = textwrap.wrap(line, width=width - len(indent) - 2, subsequent_indent="    ", break_on_hyphens=False)
        out += [f"{indent}# {c}".rstrip() for c in chunks]
    return "".join(x + "\n" for x in out)


def render(imp: Imported, cluster: dict | None, catalog: dict | None = None, cluster_source: str | None = None) -> str:
    """The scenario file's text."""
    data = scenario_dict(imp, cluster, catalog)
    lines = [
        f"# Imported by `gpusim import k8s` (gpusim {__version__}) from: {', '.join(imp.files)}",
        "# Kubernetes manifests say what runs where, not how much traffic arrives or how long work takes:",
        "# services get a zero-rate arrival placeholder, Jobs a stated duration (see each workload's comments).",
        "# Kubernetes bookkeeping (metadata other than name and namespace, status, label selectors) is not carried;",
        "# everything else not carried is listed at the end of this file.",
    ]
    out = "\n".join(lines) + "\n"
    head = {k: data[k] for k in ("name", "description", "duration", "drain")}
    out += _dump(head)
    if not data["drain"]:
        out += (
            "# drain false: long-running pods are one-pod jobs that last the whole run; the run stops at `duration`\n"
        )
    if cluster is not None:
        out += f"# cluster from {cluster_source}\n" if cluster_source else ""
        out += _dump({"cluster": cluster})
        if catalog is not None:
            out += _dump({"catalog": catalog})
    else:
        suggestion, notes = suggested_cluster(imp)
        out += "# Add your cluster here (or import with --cluster FILE). A suggestion that fits every pod, without\n"
        out += "# taints, priced by nothing (uncomment and edit; `gpusim catalog` lists GPU models and node types):\n"
        if suggestion is not None:
            out += _comment(_dump({"cluster": suggestion}).rstrip("\n"))
        for n in notes:
            out += f"#   note: {n}\n"
    out += "# kube-scheduler's default queue orders pending pods by priority (PrioritySort)\n"
    out += _dump({"scheduler": data["scheduler"]})
    out += "workloads:\n"
    for w in imp.workloads:
        out += _comment(f"from {w.origin.origin()}", "  ", width=10**6)  # one greppable line
        for c in w.comments:
            out += _comment(c, "  ")
        body = _dump([w.body])
        out += "".join(f"  {line}\n" for line in body.splitlines())
    if imp.not_mapped:
        out += "# Not mapped (also printed on stderr):\n"
        for n in imp.not_mapped:
            out += _comment(f"- {n}")
    return out


# ---------------------------------------------------------------------------- checking
def check(imp: Imported, cluster_file: ClusterFile | None) -> None:
    """Validate the scenario (with the given cluster, else with the suggested one, schema only) and
    raise `ScenarioError` with each problem located in the file it came from.
    """
    from gpusim.scenario import load_scenario

    if cluster_file is not None:
        data = scenario_dict(imp, cluster_file.cluster, cluster_file.catalog)
        full = True
    else:
        suggestion, _ = suggested_cluster(imp)
        data = scenario_dict(imp, suggestion or {"node_pools": [{"name": "x", "count": 0, "vcpu": 1, "memory": "1Gi"}]})
        full = False
    try:
        load_scenario(data, check=full)
    except ScenarioError as e:
        raise ScenarioError([_relocate(p, imp, cluster_file) for p in e.problems]) from None


def _relocate(p: Problem, imp: Imported, cf: ClusterFile | None) -> Problem:
    if cf is not None and (p.path.startswith("cluster") or p.path.startswith("catalog")):
        path = p.path
        while path and path not in cf.where:
            path = re.sub(r"(\.[^.\[]*|\[[^\]]*\])$", "", path)
        pos = cf.where.get(path)
        shown = p.path if not cf.prefix else p.path
        if not cf.prefix and shown.startswith("cluster"):
            shown = shown[len("cluster") :].lstrip(".")
        return Problem(p.message, file=cf.path, line=pos[0] if pos else None, column=pos[1] if pos else None,
                       path=shown)  # fmt: skip
    m = re.match(r"workloads\[(\d+)\]", p.path)
    if m and int(m.group(1)) < len(imp.workloads):
        origin = imp.workloads[int(m.group(1))].origin
        pos = origin.positions.get(origin.base) or origin.positions.get(())
        hint = ""
        if imp.workloads[int(m.group(1))].gpu is None and "fits no node pool" in p.message:
            hint = "; or leave workloads without accelerators out with --skip-cpu-only"
        return Problem(
            f"{p.message} (imported as {p.path}{hint})",
            file=origin.file,
            line=pos[0] if pos else None,
            column=pos[1] if pos else None,
            path=origin.label(),
        )
    return p


# ---------------------------------------------------------------------------- writing
def write_scenario(path: str, text: str) -> None:
    """Write `text` to `path` atomically; refuse to replace a file that is not a gpusim scenario."""
    target = Path(path)
    if target.exists():
        if target.is_dir():
            raise InputError(f"{path}: is a folder; give a file name for the scenario")
        try:
            existing = yaml.safe_load(target.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            existing = None
        is_scenario = isinstance(existing, dict) and "workloads" in existing and "name" in existing
        if not is_scenario or "apiVersion" in existing or "kind" in existing:
            raise InputError(f"{path}: exists and is not a gpusim scenario; not replacing it (choose another -o FILE)")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
