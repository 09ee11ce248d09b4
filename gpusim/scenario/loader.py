"""Read a scenario file: YAML -> positions -> pydantic `Scenario` -> semantic checks.

Every problem becomes a `Problem` located by file, line, column and field path, and all of
them are raised together as one `ScenarioError`. Nothing here writes files.
"""

from __future__ import annotations

import os
import types
import typing
from pathlib import Path
from typing import Any, Union

import yaml
from pydantic import BaseModel, ValidationError

from gpusim.errors import InputError, Problem, ScenarioError
from gpusim.scenario.models import Scenario

Pos = tuple[int, int, int, int]  # key line, key column, value line, value column (1-based)


# --------------------------------------------------------------------------- YAML with positions
def parse_yaml(text: str, filename: str | None) -> tuple[Any, dict[tuple, Pos]]:
    """Parse YAML; return the data and a map from field path to its position in the file."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        what = e.problem or e.context or "invalid YAML"
        raise ScenarioError(
            [
                Problem(
                    f"malformed YAML: {what}",
                    file=filename,
                    line=mark.line + 1 if mark else None,
                    column=mark.column + 1 if mark else None,
                )
            ]
        ) from None
    except yaml.YAMLError as e:
        raise ScenarioError([Problem(f"malformed YAML: {e}", file=filename)]) from None
    finally:
        loader.dispose()
    positions: dict[tuple, Pos] = {}
    problems: list[Problem] = []
    if node is not None:
        m = node.start_mark
        positions[()] = (m.line + 1, m.column + 1, m.line + 1, m.column + 1)
        _walk(node, (), positions, problems, filename)
    if problems:
        raise ScenarioError(problems)
    return data, positions


def _walk(node, path: tuple, positions: dict, problems: list, filename) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set = set()
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = _scalar_key(key_node)
            if key in seen:
                problems.append(
                    Problem(
                        f"duplicate key {key!r} (YAML would silently keep the last one)",
                        file=filename,
                        line=key_node.start_mark.line + 1,
                        column=key_node.start_mark.column + 1,
                        path=format_path(path + (key,)),
                    )
                )
            seen.add(key)
            k, v = key_node.start_mark, value_node.start_mark
            positions[path + (key,)] = (k.line + 1, k.column + 1, v.line + 1, v.column + 1)
            _walk(value_node, path + (key,), positions, problems, filename)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            m = item.start_mark
            positions[path + (i,)] = (m.line + 1, m.column + 1, m.line + 1, m.column + 1)
            _walk(item, path + (i,), positions, problems, filename)


def _scalar_key(node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value = yaml.safe_load(node.value) if node.style is None else node.value
        return value if isinstance(value, (str, int, float, bool)) or value is None else node.value
    return str(node.value)


def format_path(path: tuple) -> str:
    """`('workloads', 0, 'pod', 'resources', 'limits', 'nvidia.com/gpu')` -> a readable path."""
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        elif isinstance(p, str) and p.replace("_", "").replace("-", "").isalnum():
            out += f".{p}" if out else p
        else:
            out += f"[{p}]"
    return out


# --------------------------------------------------------------------------- pydantic errors
def _locate(loc: tuple, positions: dict) -> tuple[tuple, list]:
    """Match a pydantic `loc` against the data paths; skip union tags pydantic inserts."""
    path: tuple = ()
    rest: list = []
    for i, elem in enumerate(loc):
        if path + (elem,) in positions:
            path = path + (elem,)
        else:
            rest = list(loc[i:])
            if i == len(loc) - 1:
                break
    return path, rest


def _unwrap(tp):
    """Yield the model classes an annotation may hold (through Optional, list, dict, Annotated)."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        yield from _unwrap(typing.get_args(tp)[0])
    elif origin in (Union, types.UnionType):
        for a in typing.get_args(tp):
            yield from _unwrap(a)
    elif origin in (list, tuple):
        yield from _unwrap(typing.get_args(tp)[0])
    elif origin is dict:
        yield from _unwrap(typing.get_args(tp)[1])
    elif isinstance(tp, type) and issubclass(tp, BaseModel):
        yield tp


def _model_at(loc: tuple, root: type[BaseModel] = Scenario) -> type[BaseModel] | None:
    """The model class whose field the last element of `loc` names."""
    candidates: list[type[BaseModel]] = [root]
    for elem in loc[:-1]:
        if isinstance(elem, int):
            continue
        nxt: list[type[BaseModel]] = []
        tag_match = [c for c in candidates if any(_literal_default(f) == elem for f in c.model_fields.values())]
        if tag_match:  # elem is a union tag, not a field name
            candidates = tag_match
            continue
        for c in candidates:
            for name, f in c.model_fields.items():
                if elem in (name, f.alias):
                    nxt.extend(_unwrap(f.annotation))
        if not nxt:
            return None
        candidates = nxt
    return candidates[0] if len(candidates) == 1 else None


def _literal_default(field) -> Any:
    args = typing.get_args(field.annotation)
    return args[0] if typing.get_origin(field.annotation) is typing.Literal and len(args) == 1 else None


def _allowed_fields(model: type[BaseModel]) -> str:
    return ", ".join(f.alias or n for n, f in model.model_fields.items())


def _problem_from_error(err: dict, positions: dict, filename: str | None, root: type[BaseModel] = Scenario) -> Problem:
    loc = tuple(err["loc"])
    path, rest = _locate(loc, positions)
    kind = err["type"]
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    shown = path
    pos = positions.get(path)
    line = col = None
    if pos:
        line, col = (pos[0], pos[1]) if kind == "extra_forbidden" else (pos[2], pos[3])
    if kind == "extra_forbidden":
        model = _model_at(loc, root)
        allowed = f"; allowed fields here: {_allowed_fields(model)}" if model else ""
        msg = f"unknown field {loc[-1]!r}{allowed}"
    elif kind == "missing":
        shown = path + tuple(rest[-1:])
        model = _model_at(loc, root)
        msg = f"missing required field {loc[-1]!r}"
        if model and model.model_fields.get(str(loc[-1])) is not None:
            desc = model.model_fields[str(loc[-1])].description
            if desc:
                msg += f" ({desc})"
    elif kind in ("union_tag_invalid", "union_tag_not_found", "literal_error", "enum"):
        msg = f"{msg}; got {err.get('input')!r}" if "input" in err and kind != "union_tag_not_found" else msg
    elif "input" in err and not isinstance(err["input"], (dict, list)):
        msg = f"{msg} (got {err['input']!r})"
    return Problem(msg, file=filename, line=line, column=col, path=format_path(shown))


# --------------------------------------------------------------------------- entry point
def _dict_paths(data, path: tuple = (), out: dict | None = None) -> dict:
    """Field paths of a scenario given as a dict (no file positions), so errors still name their path."""
    out = {} if out is None else out
    out[path] = None
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for k, v in items:
        _dict_paths(v, path + (k,), out)
    return out


def _resolve_trace_paths(data, base: Path):
    """Trace paths in a scenario file are relative to the file's folder; make them absolute so the
    resolved scenario (saved with every result) reads the same files from anywhere.
    """
    if isinstance(data, dict):
        out = {k: _resolve_trace_paths(v, base) for k, v in data.items()}
        path = out.get("path")
        if (
            "format" in out
            and isinstance(path, str)
            and not path.startswith("shipped:")
            and not Path(path).is_absolute()
        ):
            out["path"] = os.path.normpath(base / path)
        return out
    if isinstance(data, list):
        return [_resolve_trace_paths(v, base) for v in data]
    return data


def load_scenario(source: str | Path | dict | Scenario, *, check: bool = True) -> Scenario:
    """Load and validate a scenario from a YAML file path, a YAML string, a dict or a Scenario.

    Raises `ScenarioError` listing every problem found, each with file, line, column and field
    path. `check=False` skips the semantic checks against the catalog and the node pools.
    """
    if isinstance(source, BaseModel):
        return source
    filename: str | None = None
    if isinstance(source, dict):
        data, positions = source, _dict_paths(source)
    else:
        text = None
        if isinstance(source, Path) or (
            isinstance(source, str) and "\n" not in source and source.endswith((".yaml", ".yml"))
        ):
            filename = str(source)
            try:
                text = Path(source).read_text()
            except OSError as e:
                raise ScenarioError([Problem(f"cannot read scenario file: {e.strerror}", file=filename)]) from None
        else:
            text = str(source)
        data, positions = parse_yaml(text, filename)
    if isinstance(data, dict) and filename is not None:
        data = _resolve_trace_paths(data, Path(filename).resolve().parent)
    if not isinstance(data, dict):
        raise ScenarioError(
            [
                Problem(
                    "a scenario must be a YAML mapping (name:, duration:, cluster:, workloads: ...)",
                    file=filename,
                    line=1,
                    column=1,
                )
            ]
        )
    model = Scenario
    if "experiment" in data:
        from gpusim.experiments.files import ExperimentScenario

        model = ExperimentScenario
    try:
        scenario = model.model_validate(data)
    except ValidationError as e:
        raise ScenarioError([_problem_from_error(err, positions, filename, model) for err in e.errors()]) from None
    if model is not Scenario:
        if check and getattr(scenario, "catalog", None) is not None:  # an experiment's catalog block
            from gpusim.hardware import load_catalog

            try:
                load_catalog(scenario.catalog)
            except InputError as e:
                pos = positions.get(("catalog",))
                raise ScenarioError(
                    [
                        Problem(
                            str(e),
                            file=filename,
                            line=pos[2] if pos else None,
                            column=pos[3] if pos else None,
                            path="catalog",
                        )
                    ]  # fmt: skip
                ) from None
        return scenario
    if check:
        from gpusim.scenario.checks import check_scenario

        problems = list(dict.fromkeys(check_scenario(scenario)))  # same shape twice -> once
        if problems:
            located = []
            for path, message in problems:
                pos = positions.get(path) or positions.get(_locate(path, positions)[0])
                located.append(
                    Problem(
                        message,
                        file=filename,
                        line=pos[2] if pos else None,
                        column=pos[3] if pos else None,
                        path=format_path(path),
                    )
                )
            raise ScenarioError(located)
    return scenario
