"""Turn a scenario with a sweep into a list of runs: one `RunPlan` per (combination, seed).

Factor paths are dotted paths into the *resolved* scenario (every default filled in), so
`scheduler.policy` works even when the file has no `scheduler:` block. List items are named by
index (`cluster.node_pools.0.count`); a map key that itself contains dots (a resource name such as
`nvidia.com/gpu`) is matched whole (`workloads.0.pod.resources.limits.nvidia.com/gpu`). A path
that does not exist is an `InputError` naming the path, where it fails and the keys valid there.

Each combination's scenario is validated with the normal loader before anything runs, so a bad
value gives the loader's message, located at the value in the sweep block when the sweep came
from a file.

Seeds: replication r of every combination uses seed ``base + r`` where ``base`` is the scenario's
seed, or 0 when the scenario has none (a sweep must be reproducible, so seeds are never drawn).
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gpusim.errors import InputError, Problem, ScenarioError
from gpusim.scenario.models import Scenario
from gpusim.scenario.registry import register_scenario_check
from gpusim.scenario.sweep import SweepSpec

RESERVED = frozenset({"index", "run", "combination", "replication", "seed", "status", "error"})
"""Names of the sweep table's own columns, which a factor path may not take."""


@dataclass(frozen=True)
class RunPlan:
    """One run of a sweep: its index, folder name, factor values, seed and resolved scenario."""

    index: int
    combination: int
    replication: int
    seed: int
    values: dict[str, Any]
    name: str
    scenario: dict = field(repr=False, compare=False)  # resolved scenario (JSON-like), no sweep block


@dataclass(frozen=True)
class SweepPlan:
    """Every run of a sweep, in index order (combination-major, then replication)."""

    scenario_name: str
    spec: SweepSpec
    runs: list[RunPlan]

    @property
    def factor_names(self) -> list[str]:
        return list(self.spec.factors)


# --------------------------------------------------------------------------- paths
def split_path(path: str) -> list[str]:
    return path.split(".")


def resolve_path(data: Any, path: str) -> list[str | int]:
    """The keys/indices a dotted `path` names inside `data`; raises `InputError` if it does not exist."""
    parts = split_path(path)
    keys: list[str | int] = []
    node = data
    i = 0
    while i < len(parts):
        here = ".".join(str(k) for k in keys) or "<scenario>"
        part = parts[i]
        if isinstance(node, list):
            if not re.fullmatch(r"\d+", part):
                raise InputError(
                    f"sweep factor {path!r}: {here} is a list; name an item by its index (0..{len(node) - 1}), "
                    f"not {part!r}"
                )
            idx = int(part)
            if idx >= len(node):
                raise InputError(
                    f"sweep factor {path!r}: index {idx} is out of range at {here} "
                    f"(it has {len(node)} item{'s' * (len(node) != 1)}: 0..{len(node) - 1})"
                )
            keys.append(idx)
            node = node[idx]
            i += 1
        elif isinstance(node, dict):
            # Longest match first, so keys containing dots (nvidia.com/gpu) are found whole.
            for j in range(len(parts), i, -1):
                key = ".".join(parts[i:j])
                if key in node:
                    break
            else:
                valid = ", ".join(str(k) for k in node) or "(none: an empty map)"
                raise InputError(f"sweep factor {path!r}: unknown key {part!r} at {here}; valid keys there: {valid}")
            keys.append(key)
            node = node[key]
            i = j
        else:
            what = "null (not set)" if node is None else f"a value ({node!r}), not a mapping or list"
            raise InputError(f"sweep factor {path!r}: {here} is {what}, so it has no {part!r}")
    return keys


def set_path(data: Any, keys: list[str | int], value: Any) -> None:
    node = data
    for k in keys[:-1]:
        node = node[k]
    node[keys[-1]] = copy.deepcopy(value)


# --------------------------------------------------------------------------- names
def _slug_value(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    text = v if isinstance(v, str) else json.dumps(v, sort_keys=True, separators=(",", ":"))
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-") or "x"


def run_name(index: int, values: dict[str, Any], seed: int, width: int = 3) -> str:
    """`<index>-<short factor slug>-seed<N>`, e.g. `004-policy-best-fit_count-4-seed42`."""
    parts = []
    for path, v in values.items():
        leaf = [p for p in split_path(path) if not p.isdigit()][-1]
        leaf = re.sub(r"[^a-z0-9]+", "-", leaf.lower()).strip("-")
        parts.append(f"{leaf}-{_slug_value(v)}")
    slug = "_".join(parts)[:48].strip("-_")
    return f"{index:0{width}d}-{slug + '-' if slug else ''}seed{seed}"


# --------------------------------------------------------------------------- plan
def resolved_dict(scenario: Scenario) -> dict:
    """The scenario with every default filled in, as plain JSON data, without its sweep block."""
    data = scenario.model_dump(mode="json", by_alias=True)
    data.pop("sweep", None)
    return json.loads(json.dumps(data))


def plan_sweep(
    scenario: Scenario,
    *,
    spec: SweepSpec | None = None,
    positions: dict | None = None,
    filename: str | None = None,
) -> SweepPlan:
    """Expand `spec` (default: the scenario's own `sweep:` block) into validated runs."""
    spec = spec or scenario.sweep or SweepSpec()
    for path in spec.factors:
        if path in RESERVED:
            hint = "; seeds come from replications" if path == "seed" else ""
            raise InputError(f"sweep factor {path!r} cannot be swept (it is a column of the sweep table){hint}")
    base = resolved_dict(scenario)
    keys = {path: resolve_path(base, path) for path in spec.factors}
    names = list(spec.factors)
    value_lists = [spec.factors[n] for n in names]
    # Combinations of value indices (the factor order: the first factor varies slowest).
    ranges = [range(len(v)) for v in value_lists]
    if not names:
        index_lists: list[tuple] = [()]
    elif spec.mode == "zip":
        index_lists = list(zip(*ranges, strict=True))
    else:
        index_lists = list(itertools.product(*ranges))
    combos = [tuple(value_lists[k][i] for k, i in enumerate(idx)) for idx in index_lists]
    base_seed = scenario.seed if scenario.seed is not None else 0
    n_runs = len(combos) * spec.replications
    width = max(3, len(str(n_runs - 1)))

    runs: list[RunPlan] = []
    for c, (combo, idx) in enumerate(zip(combos, index_lists, strict=True)):
        data = copy.deepcopy(base)
        for n, v in zip(names, combo, strict=True):
            set_path(data, keys[n], v)
        try:
            checked = _validate(data)
        except ScenarioError as e:
            raise _relocate(e, names, keys, dict(zip(names, combo, strict=True)), idx, positions, filename) from None
        resolved = resolved_dict(checked)
        values = dict(zip(names, combo, strict=True))
        for r in range(spec.replications):
            index = c * spec.replications + r
            seed = base_seed + r
            runs.append(
                RunPlan(
                    index=index,
                    combination=c,
                    replication=r,
                    seed=seed,
                    values=values,
                    name=run_name(index, values, seed, width),
                    scenario=resolved,
                )
            )
    return SweepPlan(scenario_name=scenario.name, spec=spec, runs=runs)


def _all_paths(data: Any, path: tuple = ()) -> dict[tuple, tuple]:
    out = {path: (None, None, None, None)}
    if isinstance(data, dict):
        for k, v in data.items():
            out.update(_all_paths(v, path + (k,)))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out.update(_all_paths(v, path + (i,)))
    return out


def _validate(data: dict) -> Scenario:
    """The normal loader's validation of a scenario dict, keeping each problem's field path."""
    from pydantic import ValidationError

    from gpusim.scenario.checks import check_scenario
    from gpusim.scenario.loader import format_path, problem_from_error

    positions = _all_paths(data)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as e:
        raise ScenarioError([problem_from_error(err, positions, None) for err in e.errors()]) from None
    problems = list(dict.fromkeys(check_scenario(scenario)))
    if problems:
        raise ScenarioError([Problem(msg, path=format_path(path)) for path, msg in problems])
    return scenario


def _relocate(err: ScenarioError, names, keys, values, idx, positions, filename) -> ScenarioError:
    """Point each problem of a combination at the factor value in the sweep block that caused it."""
    from gpusim.scenario.loader import format_path

    label = ", ".join(f"{n}={values[n]!r}" for n in names)
    out = []
    for p in err.problems:
        factor = None
        for n in names:
            fp = format_path(tuple(keys[n]))
            if p.path == fp or p.path.startswith(fp + ".") or p.path.startswith(fp + "["):
                factor = n
        line = col = None
        if factor is not None and positions:
            pos = positions.get(("sweep", "factors", factor, idx[names.index(factor)]))
            if pos:
                line, col = pos[2], pos[3]
        where = f"sweep value {factor}={values[factor]!r}" if factor else f"sweep combination {label}"
        out.append(
            Problem(f"{p.message} [{where}]", file=filename if line else p.file, line=line, column=col, path=p.path)
        )
    return ScenarioError(out)


def load_with_positions(path: str | Path) -> tuple[Scenario, dict, str]:
    """Load a scenario file and also return the YAML positions (to locate bad sweep values)."""
    from gpusim.scenario import load_scenario
    from gpusim.scenario.loader import parse_yaml, read_file

    scenario = load_scenario(Path(path))
    filename = str(path)
    _, positions = parse_yaml(read_file(path), filename)
    return scenario, positions, filename


def check_sweep_paths(scenario: Scenario) -> list[tuple[tuple, str]]:
    """Every sweep factor names a field of the resolved scenario (values are checked by `gpusim validate`).

    Registered with gpusim.scenario.registry, so `check_scenario` runs it without importing the sweep.
    """
    if scenario.sweep is None or not scenario.sweep.factors:
        return []
    base = resolved_dict(scenario)
    out = []
    for path in scenario.sweep.factors:
        if path in RESERVED:
            out.append(
                (("sweep", "factors", path), f"sweep factor {path!r} cannot be swept (a column of the sweep table)")
            )
            continue
        try:
            resolve_path(base, path)
        except InputError as e:
            out.append((("sweep", "factors", path), str(e)))
    return out


register_scenario_check(check_sweep_paths)
