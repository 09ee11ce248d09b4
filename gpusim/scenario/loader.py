"""Read a scenario file: YAML -> positions -> pydantic `Scenario` -> semantic checks.

Every problem becomes a `Problem` located by file, line, column and field path, and all of
them are raised together as one `ScenarioError`. Nothing here writes files.
"""

from __future__ import annotations

import os
import stat
import types
import typing
from pathlib import Path
from typing import Any, Union

import yaml
from pydantic import BaseModel, ValidationError

from gpusim.errors import InputError, Problem, ScenarioError
from gpusim.scenario.models import Scenario
from gpusim.sharing import SharingMode
from gpusim.sharing.registry import mode_keys

Pos = tuple[int, int, int, int]  # key line, key column, value line, value column (1-based)


# --------------------------------------------------------------------------- limits
MAX_FILE_BYTES = 2 * 2**20
"""Largest scenario file read (2 MiB). Longer job lists belong in a trace file (format generic)."""
MAX_DEPTH = 64
"""Deepest nesting of YAML collections accepted (a real scenario is under 12 levels deep)."""
MAX_VALUES = 250_000
"""Most YAML values (scalars and collections) a file may hold once aliases are expanded."""
MAX_INT_DIGITS = 30
"""Longest integer literal accepted (digits); larger numbers are not counts or seeds."""


# --------------------------------------------------------------------------- YAML with positions
class _Composer(yaml.composer.Composer):
    """PyYAML's composer with limits: nesting depth, aliases to an enclosing value, expanded size.

    Each composed node's expanded size (aliases counted in full) is known when it ends, so an
    alias costs its target's size without walking it again: the check is linear in the file.
    """

    def __init__(self):
        super().__init__()
        self._open: set = set()
        self._size: dict[int, int] = {}
        self._total = 0
        self._depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            if event.anchor in self._open:
                raise yaml.composer.ComposerError(
                    None, None, f"recursive alias *{event.anchor}: it refers to a value that contains it",
                    event.start_mark,
                )  # fmt: skip
            target = self.anchors.get(event.anchor)
            if target is not None:
                self._count(self._size.get(id(target), 1), event)
            return super().compose_node(parent, index)
        event = self.peek_event()
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"nested more than {MAX_DEPTH} levels deep (a scenario needs far fewer)", event.start_mark
            )
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self._open.add(anchor)
        before = self._total
        self._count(1, event)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open.discard(anchor)
        self._size[id(node)] = self._total - before
        return node

    def _count(self, n: int, event) -> None:
        self._total += n
        if self._total > MAX_VALUES:
            raise yaml.composer.ComposerError(
                None, None,
                f"the document expands to more than {MAX_VALUES:,} values (aliases counted in full); "
                "is this an alias bomb? Long job lists belong in a trace file",
                event.start_mark,
            )  # fmt: skip


class _Constructor(yaml.constructor.SafeConstructor):
    """SafeConstructor without !!binary values and with a bound on integer literals."""

    def construct_yaml_int(self, node):
        digits = sum(c.isdigit() for c in str(node.value))
        if digits > MAX_INT_DIGITS:
            raise yaml.constructor.ConstructorError(
                None, None, f"an integer of {digits} digits is too large (at most {MAX_INT_DIGITS})", node.start_mark
            )
        return super().construct_yaml_int(node)

    def construct_yaml_binary(self, node):
        raise yaml.constructor.ConstructorError(
            None, None, "!!binary values are not allowed in a scenario", node.start_mark
        )


_Constructor.add_constructor("tag:yaml.org,2002:int", _Constructor.construct_yaml_int)
_Constructor.add_constructor("tag:yaml.org,2002:binary", _Constructor.construct_yaml_binary)

try:
    from yaml._yaml import CParser as _CParser

    class _Loader(_Composer, _CParser, _Constructor, yaml.resolver.Resolver):
        """libyaml's parser (fast) feeding the limited composer."""

        def __init__(self, stream):
            _CParser.__init__(self, stream)
            _Constructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            _Composer.__init__(self)

except ImportError:  # PyYAML built without libyaml

    class _Loader(  # type: ignore[no-redef]
        yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, _Composer, _Constructor, yaml.resolver.Resolver
    ):
        def __init__(self, stream):
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            _Composer.__init__(self)
            _Constructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


class Positions:
    """Field path -> position in the file, found on demand by walking the YAML node tree.

    Only paths with a problem are ever looked up, so a large file costs nothing here. A path
    through a merge key (``<<: *anchor``) finds the merged value; an explicit key overrides it.
    """

    def __init__(self, root):
        self.root = root

    def _node(self, path: tuple):
        node, key_node = self.root, None
        for elem in path:
            if isinstance(node, yaml.SequenceNode):
                if not isinstance(elem, int) or not 0 <= elem < len(node.value):
                    return None
                node, key_node = node.value[elem], None
            elif isinstance(node, yaml.MappingNode):
                found = _find_key(node, elem)
                if found is None:
                    return None
                key_node, node = found
            else:
                return None
        return key_node, node

    def get(self, path: tuple, default=None):
        hit = self._node(tuple(path))
        if hit is None:
            return default
        key_node, node = hit
        v = node.start_mark
        k = key_node.start_mark if key_node is not None else v
        return (k.line + 1, k.column + 1, v.line + 1, v.column + 1)

    def __contains__(self, path) -> bool:
        return self._node(tuple(path)) is not None

    def __getitem__(self, path):
        pos = self.get(path)
        if pos is None:
            raise KeyError(path)
        return pos


def _find_key(mapping, elem, _seen=None):
    """(key node, value node) of the last key equal to `elem`, else the one a merge key brings."""
    hit = None
    merges = []
    for key_node, value_node in mapping.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            merges.append(value_node)
        elif _key_matches(key_node, elem):
            hit = (key_node, value_node)
    if hit is not None:
        return hit
    _seen = _seen or set()
    for m in merges:
        sources = m.value if isinstance(m, yaml.SequenceNode) else [m]
        for src in reversed(sources):  # earlier merge sources win over later ones
            if isinstance(src, yaml.MappingNode) and id(src) not in _seen:
                _seen.add(id(src))
                found = _find_key(src, elem, _seen)
                if found is not None:
                    return found
    return None


def _key_matches(key_node, elem) -> bool:
    if not isinstance(key_node, yaml.ScalarNode):
        return False
    return key_node.value == str(elem) or _scalar_key(key_node) == elem


def decode_text(data: bytes, filename: str | None) -> str:
    """Bytes of a scenario file as text: UTF-8 (with or without BOM) or UTF-16/32 with a BOM."""
    boms = [
        (b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
        (b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"),
    ]  # fmt: skip
    for bom, enc in boms:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(enc.replace("-sig", ""))
            except UnicodeDecodeError as e:
                raise ScenarioError(
                    [Problem(f"not valid {enc.upper()} text at byte {e.start + len(bom)}", file=filename)]
                ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        what = "binary data, not text" if b"\x00" in data[:8192] or e.start < 8 else "not UTF-8 text"
        raise ScenarioError(
            [
                Problem(
                    f"{what}: byte 0x{data[e.start]:02x} is not UTF-8; save the scenario as UTF-8 text",
                    file=filename,
                    line=line,
                    column=col,
                )  # fmt: skip
            ]
        ) from None


def read_file(path: str | Path) -> bytes:
    """The bytes of a scenario file; `ScenarioError` for a folder, device, missing or huge file."""
    filename = str(path)
    try:
        st = os.stat(path)
    except OSError as e:
        raise ScenarioError([Problem(f"cannot read scenario file: {e.strerror}", file=filename)]) from None
    if stat.S_ISDIR(st.st_mode):
        raise ScenarioError([Problem("is a folder, not a scenario file; give a .yaml file", file=filename)])
    if not stat.S_ISREG(st.st_mode):
        raise ScenarioError(
            [Problem("is not a regular file (a device, pipe or socket); give a .yaml file", file=filename)]
        )
    if st.st_size > MAX_FILE_BYTES:
        raise ScenarioError(
            [
                Problem(
                    f"the file is {st.st_size / 2**20:.1f} MiB; scenario files are limited to "
                    f"{MAX_FILE_BYTES // 2**20} MiB. Put long job lists in a trace file "
                    "(trace: {format: generic, path: jobs.csv, columns: {...}})",
                    file=filename,
                    line=1,
                    column=1,
                )  # fmt: skip
            ]
        )
    try:
        with open(path, "rb") as fh:
            return fh.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise ScenarioError([Problem(f"cannot read scenario file: {e.strerror}", file=filename)]) from None


def parse_yaml(text: str | bytes, filename: str | None) -> tuple[Any, Positions]:
    """Parse YAML; return the data and the positions of its field paths (see `Positions`)."""
    if isinstance(text, bytes):
        text = decode_text(text, filename)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        problems: list[Problem] = []
        if node is not None:
            _check_duplicates(node, (), problems, filename, set())
        if problems:
            raise ScenarioError(problems)
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
    except yaml.reader.ReaderError as e:
        line, col = _line_col(text, e.position)
        char = f"#x{e.character:04x}" if isinstance(e.character, int) else repr(e.character)
        raise ScenarioError(
            [Problem(f"unacceptable character {char}: {e.reason}", file=filename, line=line, column=col)]
        ) from None
    except yaml.YAMLError as e:
        raise ScenarioError([Problem(f"malformed YAML: {e}", file=filename)]) from None
    finally:
        loader.dispose()
    return data, Positions(node)


def _check_duplicates(node, path: tuple, problems: list, filename, seen: set) -> None:
    """Duplicate keys anywhere (each node visited once, so aliases cost nothing)."""
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        keys: set = set()
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = _scalar_key(key_node)
            try:
                duplicate = key in keys
                keys.add(key)
            except TypeError:  # unhashable: the constructor reports it
                duplicate = False
            if duplicate:
                problems.append(
                    Problem(
                        f"duplicate key {key!r} (YAML would silently keep the last one)",
                        file=filename,
                        line=key_node.start_mark.line + 1,
                        column=key_node.start_mark.column + 1,
                        path=format_path(path + (key,)),
                    )
                )
            _check_duplicates(value_node, path + (key,), problems, filename, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _check_duplicates(item, path + (i,), problems, filename, seen)


def _scalar_key(node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        tag, value = node.tag, node.value
        try:
            if tag == "tag:yaml.org,2002:int" and len(value) <= MAX_INT_DIGITS:
                return int(value.replace("_", ""), 0) if value[:2] in ("0x", "0o") else int(value.replace("_", ""))
            if tag == "tag:yaml.org,2002:bool":
                return value.lower() in ("true", "yes", "on")
            if tag == "tag:yaml.org,2002:null":
                return None
        except ValueError:
            pass
        return value
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
def locate_field(loc: tuple, positions: dict) -> tuple[tuple, list]:
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
        tag_match = [c for c in candidates if any(_literal_default(f) == elem for f in c.model_fields.values())
                     or (issubclass(c, SharingMode) and c.tag == elem)]  # fmt: skip
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
    if issubclass(model, SharingMode):  # one variant of the sharing union: any one mode key is allowed
        return ", ".join(mode_keys())
    return ", ".join(f.alias or n for n, f in model.model_fields.items())


def problem_from_error(err: dict, positions: dict, filename: str | None, root: type[BaseModel] = Scenario) -> Problem:
    loc = tuple(err["loc"])
    path, rest = locate_field(loc, positions)
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
    elif kind == "union_tag_invalid":
        ctx = err.get("ctx", {})
        msg = f"unknown {ctx.get('discriminator', 'kind')} {ctx.get('tag')!r}; allowed: {ctx.get('expected_tags', '')}"
    elif kind == "union_tag_not_found":
        msg = f"missing the key {err.get('ctx', {}).get('discriminator', '')} (which kind this is)"
    elif kind in ("literal_error", "enum"):
        msg = f"{msg}; got {err.get('input')!r}" if "input" in err and kind != "union_tag_not_found" else msg
    elif "input" in err and not isinstance(err["input"], (dict, list)):
        msg = f"{msg} (got {err['input']!r})"
    return Problem(msg, file=filename, line=line, column=col, path=format_path(shown))


# --------------------------------------------------------------------------- entry point
def dict_paths(data, path: tuple = (), out: dict | None = None) -> dict:
    """Field paths of a scenario given as a dict (no file positions), so errors still name their path."""
    out = {} if out is None else out
    out[path] = None
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for k, v in items:
        dict_paths(v, path + (k,), out)
    return out


def resolve_trace_paths(data, base: Path):
    """Trace paths in a scenario file are relative to the file's folder; make them absolute so the
    resolved scenario (saved with every result) reads the same files from anywhere.
    """
    if isinstance(data, dict):
        out = {k: resolve_trace_paths(v, base) for k, v in data.items()}
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
        return [resolve_trace_paths(v, base) for v in data]
    return data


def _kind(v) -> str:
    return {list: "list", str: "text value", int: "number", float: "number", bool: "boolean"}.get(
        type(v), type(v).__name__
    )


def check_values(data, positions, filename) -> list[Problem]:
    """Values no field accepts, whatever the schema says: non-finite numbers (.inf, .nan)."""
    import math

    problems: list[Problem] = []
    stack = [((), data)]
    seen: set = set()
    while stack and len(problems) < 50:
        path, v = stack.pop()
        if isinstance(v, float) and not math.isfinite(v):
            pos = positions.get(path)
            problems.append(
                Problem(
                    f"{v!r} is not a finite number; every number in a scenario must be finite",
                    file=filename,
                    line=pos[2] if pos else None,
                    column=pos[3] if pos else None,
                    path=format_path(path),
                )  # fmt: skip
            )
        elif isinstance(v, (dict, list)) and id(v) not in seen:
            seen.add(id(v))
            items = v.items() if isinstance(v, dict) else enumerate(v)
            stack.extend((path + (k,), x) for k, x in items)
    problems.sort(key=lambda p: (p.line or 0, p.column or 0))
    return problems


def load_scenario(source: str | Path | dict | Scenario, *, check: bool = True) -> Scenario:
    """Load and validate a scenario from a YAML file path, a YAML string, a dict or a Scenario.

    Raises `ScenarioError` listing every problem found, each with file, line, column and field
    path. `check=False` skips the semantic checks against the catalog and the node pools.
    """
    if isinstance(source, BaseModel):
        return source
    filename: str | None = None
    if isinstance(source, dict):
        data, positions = source, dict_paths(source)
    else:
        if isinstance(source, Path) or (
            isinstance(source, str) and "\n" not in source and source.lower().endswith((".yaml", ".yml"))
        ):
            filename = str(source)
            text: str | bytes = read_file(source)
        else:
            text = str(source)
        data, positions = parse_yaml(text, filename)
    if data is None:
        raise ScenarioError(
            [
                Problem(
                    "the file is empty; a scenario is a YAML mapping (name:, duration:, cluster:, workloads: ...)",
                    file=filename,
                    line=1,
                    column=1,
                )  # fmt: skip
            ]
        )
    if not isinstance(data, dict):
        raise ScenarioError(
            [
                Problem(
                    f"a scenario must be a YAML mapping (name:, duration:, cluster:, workloads: ...), not a {_kind(data)}",
                    file=filename,
                    line=1,
                    column=1,
                )
            ]
        )
    bad_values = check_values(data, positions, filename)
    if bad_values:
        raise ScenarioError(bad_values)
    if filename is not None:
        data = resolve_trace_paths(data, Path(filename).resolve().parent)
    model = Scenario
    if "experiment" in data:
        from gpusim.scenario.registry import experiment_file_model

        model = experiment_file_model()  # registered by gpusim.experiments, imported by the registry
    try:
        scenario = model.model_validate(data)
    except ValidationError as e:
        raise ScenarioError([problem_from_error(err, positions, filename, model) for err in e.errors()]) from None
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
    if check:
        from gpusim.scenario.checks import check_experiment, check_scenario

        if model is Scenario:
            problems = list(dict.fromkeys(check_scenario(scenario)))  # same shape twice -> once
        else:
            base_dir = Path(filename).resolve().parent if filename else Path.cwd()
            problems = check_experiment(scenario, base_dir)
        if problems:
            located = []
            for path, message in problems:
                pos = positions.get(path) or positions.get(locate_field(path, positions)[0])
                if pos and path[:2] == ("sweep", "factors"):
                    pos = (pos[0], pos[1], pos[0], pos[1])  # the factor's key, not its values
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


# --------------------------------------------------------------------------- JSON Schema
def scenario_json_schema() -> dict:
    """The JSON Schema of scenario files and experiment files, with every form the loader accepts.

    pydantic's schema misses what the loader's before-validators take: taints as
    ``key=value:Effect`` strings, a bare duration for a duration distribution, an integer or a
    list for a count distribution. They are added here, so editors and `jsonschema` accept
    exactly the files gpusim accepts (up to the semantic checks).
    """
    from pydantic.json_schema import models_json_schema

    from gpusim.scenario.multicluster import MultiClusterScenario  # it imports this module's helpers
    from gpusim.scenario.registry import experiment_file_model

    ExperimentScenario = experiment_file_model()  # its experiment block: the union of the registered kinds
    models = [(Scenario, "validation"), (ExperimentScenario, "validation"), (MultiClusterScenario, "validation")]
    refs, top = models_json_schema(models, by_alias=True, ref_template="#/$defs/{model}")
    defs = top["$defs"]
    scen_ref, exp_ref, multi_ref = (refs[m]["$ref"] for m in models)
    scen = defs[scen_ref.rsplit("/", 1)[1]]
    exp = defs[exp_ref.rsplit("/", 1)[1]]
    multi = defs[multi_ref.rsplit("/", 1)[1]]
    for d in defs.values():
        for name, prop in list(d.get("properties", {}).items()):
            d["properties"][name] = _with_shorthands(prop)
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "gpusim scenario, experiment or multi-cluster scenario",
        "description": f"{scen.get('description', '')} Or an experiment file (with `experiment:`), or several "
        f"clusters in one scenario (with `clusters:`). "
        f"Files are at most {MAX_FILE_BYTES // 2**20} MiB, nested at most {MAX_DEPTH} levels.",
        "type": "object",
        "properties": {**multi["properties"], **exp["properties"], **scen["properties"]},
        "additionalProperties": False,
        "oneOf": [{"$ref": scen_ref}, {"$ref": exp_ref}, {"$ref": multi_ref}],
        "$defs": defs,
    }
    return schema


_TAINT_STRING = {
    "type": "string",
    "pattern": r"^[^=:]+(=[^:]*)?:\w+$",
    "description": "kubectl's compact form key=value:Effect or key:Effect.",
}
_DURATION_SHORT = {
    "anyOf": [{"type": "string"}, {"type": "number"}],
    "description": "Shorthand: a bare duration (90s, 10m, a number of seconds) is a constant distribution.",
}
_COUNT_SHORT = [
    {"type": "integer", "description": "Shorthand: a constant count."},
    {"type": "array", "items": {"type": "integer"}, "minItems": 1, "description": "Shorthand: a uniform choice."},
]


def _refs(node) -> set:
    out = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            if "$ref" in n:
                out.add(n["$ref"].rsplit("/", 1)[1])
            stack.extend(n.values())
        elif isinstance(n, list):
            stack.extend(n)
    return out


def _with_shorthands(prop: dict) -> dict:
    r = _refs(prop)
    extra: list = []
    if "ConstantDuration" in r:
        extra = [_DURATION_SHORT]
    elif "ConstantCount" in r:
        extra = list(_COUNT_SHORT)
    elif r == {"Taint"} and prop.get("type") == "array":
        return {**prop, "items": {"anyOf": [prop["items"], _TAINT_STRING]}}
    if not extra:
        return prop
    keep = {k: prop[k] for k in ("description", "default", "title") if k in prop}
    inner = {k: v for k, v in prop.items() if k not in keep}
    if list(inner) == ["anyOf"]:
        return {**keep, "anyOf": inner["anyOf"] + extra}
    return {**keep, "anyOf": [inner, *extra]}
