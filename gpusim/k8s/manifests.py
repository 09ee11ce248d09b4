"""Read Kubernetes manifest files as kubectl and Helm write them, keeping where each field came from.

A file may hold several YAML documents (``---``), each one object or a ``kind: List`` (or
``<Kind>List``) of objects under ``items`` (what ``kubectl get -o yaml`` prints). Helm's
``helm template`` puts a ``# Source: chart/templates/x.yaml`` comment before each document; it is
kept so that messages can name the template. Every object comes back as a `Manifest` with a map
from field path to (line, column), so a problem can be reported as
``file:line:col: document N (Kind/name) field.path: message``. Nothing here knows gpusim's
scenario language; `gpusim.k8s.importer` maps the objects.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from typing import Any

import yaml

from gpusim.errors import Problem, ScenarioError

Pos = tuple[int, int]  # line, column (1-based) of a field's value


class ManifestError(ScenarioError):
    """Manifests that are not valid Kubernetes objects (each problem located by file, document, field)."""


@dataclass
class Manifest:
    """One Kubernetes object read from a file."""

    file: str
    document: int  # 1-based index of the YAML document in the file
    base: tuple  # path of the object inside the document: () or ("items", i)
    data: dict
    positions: dict[tuple, Pos]
    helm_source: str | None = None
    consumed: set[tuple] = field(default_factory=set)  # field paths the importer used

    @property
    def kind(self) -> str:
        return str(self.data.get("kind", ""))

    @property
    def api_version(self) -> str:
        return str(self.data.get("apiVersion", ""))

    @property
    def meta(self) -> dict:
        meta = self.data.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def name(self) -> str:
        for key in ("name", "generateName"):
            if isinstance(self.meta.get(key), str) and self.meta[key]:
                return self.meta[key]
        return ""

    @property
    def namespace(self) -> str:
        ns = self.meta.get("namespace")
        return ns if isinstance(ns, str) and ns else "default"

    def annotation(self, key: str):
        ann = self.meta.get("annotations")
        return ann.get(key) if isinstance(ann, dict) else None

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0] if "/" in self.api_version else ""

    def label(self) -> str:
        """`document 2 (Deployment/vllm)`, or `document 1 items[3] (Pod/x)` inside a List."""
        inside = "".join(f"[{p}]" if isinstance(p, int) else f" {p}" for p in self.base)
        return f"document {self.document}{inside} ({self.kind or '?'}/{self.name or '?'})"

    def origin(self) -> str:
        """Where the object came from, for comments in the output."""
        src = f"; Helm source {self.helm_source}" if self.helm_source else ""
        return f"{self.file} {self.label()}{src}"

    def get(self, *path, default=None, whole: bool = False):
        """The value at `path` (keys and list indexes). A scalar found there, or any value when
        `whole`, is marked as used by the import (what is never marked is listed as not carried).
        """
        cur: Any = self.data
        for p in path:
            if isinstance(p, int):
                if not isinstance(cur, list) or p >= len(cur):
                    return default
            elif not isinstance(cur, dict) or p not in cur:
                return default
            cur = cur[p]
        if whole or not isinstance(cur, (dict, list)):
            self.consumed.add(tuple(path))
        return cur

    def problem(self, path: tuple, message: str) -> Problem:
        """A problem at field `path` of this object."""
        full = self.base + tuple(path)
        pos = None
        for i in range(len(full), -1, -1):  # the field, else its nearest present parent
            pos = self.positions.get(full[:i])
            if pos:
                break
        where = format_path(path)
        return Problem(
            message,
            file=self.file,
            line=pos[0] if pos else None,
            column=pos[1] if pos else None,
            path=f"{self.label()}{' ' + where if where else ''}",
        )

    def unused(self, ignore: tuple[tuple, ...] = ()) -> list[str]:
        """Field paths of this object the import did not use, collapsed to whole unused subtrees."""
        out: list[str] = []

        def used_below(path: tuple) -> bool:
            n = len(path)
            return any(c[:n] == path for c in self.consumed)

        def walk(value, path: tuple):
            if path in self.consumed or any(_match(path, i) for i in ignore):
                return
            if not used_below(path):
                out.append(format_path(path))
                return
            if isinstance(value, dict):
                for k, v in value.items():
                    walk(v, path + (k,))
            elif isinstance(value, list):
                for i, v in enumerate(value):
                    walk(v, path + (i,))

        for k, v in self.data.items():
            walk(v, (k,))
        return out


def _match(path: tuple, pattern: tuple) -> bool:
    """`pattern` matches the start of `path`; '*' in the pattern matches any key or index."""
    if len(path) < len(pattern):
        return False
    return all(p == "*" or p == q for p, q in zip(pattern, path, strict=False))


def format_path(path: tuple) -> str:
    """`('spec', 'containers', 0, 'resources', 'limits', 'nvidia.com/gpu')` -> readable text."""
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", str(p)):
            out += f".{p}" if out else str(p)
        else:
            out += f"[{p}]"
    return out


# ---------------------------------------------------------------------------- reading files
_SOURCE_RE = re.compile(r"^#\s*Source:\s*(\S.*?)\s*$")


def read_manifests(paths: list[str]) -> list[Manifest]:
    """Every object in the files (``-`` is standard input), in file and document order. Raises `ManifestError` for
    unreadable files, malformed YAML or documents that are not objects.
    """
    out: list[Manifest] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            if str(path) == "-":  # kubectl get ... -o yaml | gpusim import k8s -
                path = "<stdin>"
                text = sys.stdin.read()
            else:
                text = _read_manifest_file(path)
        except OSError as e:
            problems.append(Problem(f"cannot read manifest file: {e.strerror}", file=str(path)))
            continue
        except ScenarioError as e:  # folder, device, too large, not text
            problems.extend(e.problems)
            continue
        try:
            out += _read_text(text, str(path), problems)
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            problems.append(
                Problem(
                    f"malformed YAML: {e.problem or e.context or 'invalid YAML'}",
                    file=str(path),
                    line=mark.line + 1 if mark else None,
                    column=mark.column + 1 if mark else None,
                )
            )
        except yaml.YAMLError as e:
            problems.append(Problem(f"malformed YAML: {e}", file=str(path)))
    if problems:
        raise ManifestError(problems)
    return out


MAX_MANIFEST_BYTES = 64 * 2**20  # a `kubectl get -A -o yaml` dump of a large cluster


def _read_manifest_file(path) -> str:
    """A manifest file's text: a regular file of at most 64 MiB, UTF-8 (or UTF-16/32 with a BOM)."""
    import os
    import stat

    from gpusim.scenario.loader import decode_text

    filename = str(path)
    st = os.stat(path)
    if stat.S_ISDIR(st.st_mode):
        raise ScenarioError([Problem("is a folder, not a manifest file", file=filename)])
    if not stat.S_ISREG(st.st_mode):
        raise ScenarioError([Problem("is not a regular file (a device, pipe or socket)", file=filename)])
    if st.st_size > MAX_MANIFEST_BYTES:
        raise ScenarioError(
            [Problem(f"the file is {st.st_size / 2**20:.0f} MiB; manifest files are limited to 64 MiB", file=filename)]
        )
    with open(path, "rb") as fh:
        return decode_text(fh.read(MAX_MANIFEST_BYTES + 1), filename)


def _manifest_loader(text: str):
    """The scenario loader's hardened YAML loader (nesting depth, recursive aliases, alias bombs,
    huge integers), with a value budget sized for whole-cluster dumps.
    """
    from gpusim.scenario import loader as scenario_loader

    class _ManifestLoader(scenario_loader._Loader):
        def _count(self, n: int, event) -> None:
            self._total += n
            if self._total > 20_000_000:
                raise yaml.composer.ComposerError(
                    None, None, "the manifests expand to more than 20,000,000 values (aliases counted in full); "
                    "is this an alias bomb?", event.start_mark,
                )  # fmt: skip

    return _ManifestLoader(text)


def _read_text(text: str, filename: str, problems: list[Problem]) -> list[Manifest]:
    lines = text.splitlines()
    out: list[Manifest] = []
    loader = _manifest_loader(text)
    try:
        doc = 0
        prev_end = 0
        while loader.check_node():
            node = loader.get_node()
            doc += 1
            if node is None:
                continue
            start = node.start_mark.line
            source = None
            for ln in lines[prev_end : start + 1]:
                m = _SOURCE_RE.match(ln.strip())
                if m:
                    source = m.group(1)
            prev_end = node.end_mark.line
            data = loader.construct_document(node)
            if data is None:  # an empty document (Helm leaves them between ---)
                continue
            positions: dict[tuple, Pos] = {(): (node.start_mark.line + 1, node.start_mark.column + 1)}
            _walk(node, (), positions, problems, filename, doc)
            if not isinstance(data, dict):
                problems.append(
                    Problem(
                        f"a manifest document must be a mapping (apiVersion:, kind:, metadata: ...), "
                        f"got {type(data).__name__}",
                        file=filename,
                        line=node.start_mark.line + 1,
                        column=node.start_mark.column + 1,
                        path=f"document {doc}",
                    )
                )
                continue
            kind = data.get("kind")
            if isinstance(kind, str) and (kind == "List" or kind.endswith("List")) and "items" in data:
                items = data.get("items")
                if not isinstance(items, list):
                    items = None
                if items is None:
                    pos = positions.get(("items",))
                    problems.append(
                        Problem(
                            "items must be a list of objects",
                            file=filename,
                            line=pos[0] if pos else None,
                            column=pos[1] if pos else None,
                            path=f"document {doc} ({kind}) items",
                        )
                    )
                    continue
                for i, item in enumerate(items):
                    sub = {k[2:]: v for k, v in positions.items() if k[:2] == ("items", i)}
                    if not isinstance(item, dict):
                        pos = sub.get(())
                        problems.append(
                            Problem(
                                f"a List item must be an object, got {type(item).__name__}",
                                file=filename,
                                line=pos[0] if pos else None,
                                column=pos[1] if pos else None,
                                path=f"document {doc} items[{i}]",
                            )
                        )
                        continue
                    out.append(Manifest(filename, doc, ("items", i), item, positions, source))
                continue
            out.append(Manifest(filename, doc, (), data, positions, source))
    finally:
        loader.dispose()
    return out


def _walk(node, path: tuple, positions: dict, problems: list, filename: str, doc: int, _seen=None) -> None:
    _seen = set() if _seen is None else _seen
    if id(node) in _seen:  # an alias: its fields were located where the anchor is
        return
    _seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            if key in seen:
                problems.append(
                    Problem(
                        f"duplicate key {key!r} (YAML would silently keep the last one)",
                        file=filename,
                        line=key_node.start_mark.line + 1,
                        column=key_node.start_mark.column + 1,
                        path=f"document {doc} {format_path(path + (key,))}",
                    )
                )
            seen.add(key)
            m = value_node.start_mark
            positions[path + (key,)] = (m.line + 1, m.column + 1)
            _walk(value_node, path + (key,), positions, problems, filename, doc, _seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            m = item.start_mark
            positions[path + (i,)] = (m.line + 1, m.column + 1)
            _walk(item, path + (i,), positions, problems, filename, doc, _seen)
