"""The registry of sharing modes and the discriminated union of the scenario's `sharing:` block.

A mode is one class (a `SharingMode` subclass, in its own module) plus one `register(cls)`
call. The scenario schema asks `sharing_block()` for the union when it is built, so modes must
be registered before `gpusim.scenario.models` is imported; the built-in ones are registered by
importing `gpusim.sharing`. The YAML shape stays the device plugins' own: at most one mode key
(`fractional`, `timeSlicing`, `mig`, `amdPartition`, `intel`, ...) under `sharing:`; none means
whole GPUs. Keys written as null (or `fractional: false`) mean "not this mode".
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Discriminator, Tag, TypeAdapter
from pydantic_core import PydanticCustomError

from gpusim.sharing.base import SharingMode

_MODES: dict[str, type[SharingMode]] = {}  # tag -> class, in registration order
_frozen = False
_union = None
_adapter = None


def register(cls: type[SharingMode]) -> type[SharingMode]:
    """Add a sharing mode (usable as a class decorator). Must run before the scenario schema is built."""
    if _frozen:
        raise RuntimeError(
            f"sharing mode {cls.tag!r} registered after the scenario schema was built; "
            "import its module before gpusim.scenario.models"
        )
    if not (isinstance(cls, type) and issubclass(cls, SharingMode)):
        raise TypeError(f"{cls!r} is not a SharingMode subclass")
    if cls.tag in _MODES:
        raise ValueError(f"sharing mode {cls.tag!r} is already registered")
    if cls.key is None and any(m.key is None for m in _MODES.values()):
        raise ValueError("only one sharing mode (whole GPUs) has no key")
    if cls.key is not None and cls.key in mode_keys():
        raise ValueError(f"sharing key {cls.key!r} is already taken")
    if cls.tag in mode_keys() or cls.key in _MODES:
        # the tag shows in pydantic's error locations next to the keys; the two must not be confused
        raise ValueError(f"sharing mode {cls.tag!r}: its tag must differ from every mode key")
    _MODES[cls.tag] = cls
    return cls


def mode_classes() -> list[type[SharingMode]]:
    """Every registered mode, in registration order (whole GPUs first)."""
    return list(_MODES.values())


def mode_class(tag: str) -> type[SharingMode]:
    return _MODES[tag]


def mode_keys() -> list[str]:
    """The YAML keys of the registered modes (whole GPUs have none)."""
    return [m.key for m in _MODES.values() if m.key is not None]


def _default_tag() -> str:
    return next(t for t, m in _MODES.items() if m.key is None)


def _choices() -> str:
    keys = mode_keys()
    return ", ".join(keys[:-1]) + f" or {keys[-1]}" if len(keys) > 1 else "".join(keys)


def _normalize(v: Any) -> Any:
    """Drop unset mode keys; refuse two modes at once, and anything but a mapping."""
    if isinstance(v, SharingMode):
        return v
    if not isinstance(v, dict):
        raise PydanticCustomError("model_type", "Input should be a valid dictionary or instance of Sharing")
    keys = set(mode_keys())
    out = {k: x for k, x in v.items() if not (k in keys and (x is None or x is False))}
    if sum(k in keys for k in out) > 1:
        raise PydanticCustomError("value_error", "choose one sharing mode: {choices}", {"choices": _choices()})
    return out


def _tag_of(v: Any) -> str:
    if isinstance(v, SharingMode):
        return v.tag
    by_key = {m.key: t for t, m in _MODES.items() if m.key is not None}
    for k in v if isinstance(v, dict) else ():
        if k in by_key:
            return by_key[k]
    return _default_tag()  # whole GPUs: its model reports any unknown key


def sharing_block():
    """The annotation of a pool's `sharing` field: the union of the registered modes, told apart
    by which mode key is set. Building it freezes the registry.
    """
    global _frozen, _union
    if _union is None:
        if not _MODES:
            raise RuntimeError("no sharing modes registered (import gpusim.sharing)")
        _frozen = True
        variants = tuple(Annotated[cls, Tag(tag)] for tag, cls in _MODES.items())
        _union = Annotated[
            Annotated[__import__("typing").Union[variants], Discriminator(_tag_of)],  # noqa: UP007
            BeforeValidator(_normalize),
        ]
    return _union


def parse_sharing(block) -> SharingMode:
    """A sharing mode from a `sharing:` block (a mode object, a mapping or None for whole GPUs)."""
    global _adapter
    if isinstance(block, SharingMode):
        return block
    if _adapter is None:
        _adapter = TypeAdapter(sharing_block())
    return _adapter.validate_python({} if block is None else block)


def default_mode() -> SharingMode:
    """Whole GPUs (a pool without a `sharing:` block)."""
    return _MODES[_default_tag()]()
