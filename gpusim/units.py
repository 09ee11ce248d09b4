"""Units at the bottom of the package (used by the scenario language, the trace readers and the importers): Kubernetes quantities, durations and rates.

- Kubernetes quantities: ``500m``, ``8``, ``64Gi``, ``1.5Ti``, ``1e3``, ``2k`` (the suffixes of
  k8s.io/apimachinery resource.Quantity). Parsed exactly with `fractions.Fraction`.
- Durations: ``90s``, ``10m``, ``6h``, ``2d``, ``1h30m``, ``250ms`` or a bare number of seconds.
- Rates: ``30/h``, ``0.5/s``, ``2/min``, ``100/d`` or a bare number per second.

Each type is an `Annotated` float/int with a JSON-schema description so editors can autocomplete.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 1000),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}
_QUANTITY_RE = re.compile(
    r"^(?P<num>[+-]?(\d+(\.\d*)?|\.\d+))(?:(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|[eE](?P<exp>[+-]?\d+))?$"
)

QUANTITY_HELP = "a Kubernetes quantity such as 500m, 2, 64Gi, 1.5Ti or 1e3"

MAX_QUANTITY = 2**62
"""Largest quantity accepted (about 4.6e18; 4 EiB of memory)."""
MAX_DURATION_S = 1e11
"""Longest duration accepted: 1e11 seconds (about 3,000 years)."""
MAX_RATE = 1e6
"""Highest rate accepted: a million events per second."""
MAX_CPU_MILLI = 10**9
"""Most CPU accepted: a million cores (in milli-cores)."""
MAX_MEMORY_MIB = 2**40
"""Most memory accepted: 1 EiB (in MiB)."""


def _bounded(x: float, limit: float, what: str, value: object) -> float:
    if not math.isfinite(x) or abs(x) > limit:
        raise ValueError(f"{value!r} is out of range: {what} must be finite and at most {limit:g}")
    return x


def parse_quantity(value: object) -> Fraction:
    """Parse a Kubernetes resource quantity exactly.

    >>> parse_quantity("500m")
    Fraction(1, 2)
    >>> parse_quantity("64Gi") == 64 * 2**30
    True
    """
    if isinstance(value, bool):
        raise ValueError(f"expected {QUANTITY_HELP}, got {value!r}")
    if isinstance(value, int):
        return _check_quantity(Fraction(value), value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"expected {QUANTITY_HELP}, got {value!r}")
        return _check_quantity(Fraction(str(value)), value)
    if not isinstance(value, str):
        raise ValueError(f"expected {QUANTITY_HELP}, got {value!r}")
    m = _QUANTITY_RE.match(value.strip())
    if not m:
        raise ValueError(f"{value!r} is not {QUANTITY_HELP}")
    num = Fraction(m.group("num"))
    if m.group("exp") is not None:
        exp = int(m.group("exp"))
        if abs(exp) > 30:
            raise ValueError(f"{value!r} is out of range: a quantity is at most {MAX_QUANTITY:.3g}")
        q = num * Fraction(10) ** exp
    else:
        suffix = m.group("suffix") or ""
        q = num * (_BINARY[suffix] if suffix in _BINARY else _DECIMAL[suffix])
    return _check_quantity(q, value)


def _check_quantity(q: Fraction, value: object) -> Fraction:
    if abs(q) > MAX_QUANTITY:
        raise ValueError(f"{value!r} is out of range: a quantity is at most {MAX_QUANTITY:.3g}")
    return q


_DURATION_UNITS = {
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 7 * 86400.0,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|min|s|m|h|d|w)")
DURATION_HELP = "a duration such as 90s, 10m, 6h, 2d, 1h30m, 250ms or a number of seconds"


def parse_duration(value: object) -> float:
    """Parse a duration into seconds.

    >>> parse_duration("1h30m")
    5400.0
    >>> parse_duration(90)
    90.0
    """
    if isinstance(value, bool):
        raise ValueError(f"expected {DURATION_HELP}, got {value!r}")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"expected {DURATION_HELP}, got {value!r}")
        return _bounded(float(value), MAX_DURATION_S, "a duration (seconds)", value)
    if not isinstance(value, str):
        raise ValueError(f"expected {DURATION_HELP}, got {value!r}")
    text = value.strip()
    try:
        return _bounded(float(text), MAX_DURATION_S, "a duration (seconds)", value)
    except ValueError as e:
        if "out of range" in str(e):
            raise
    pos, total, seen = 0, 0.0, False
    for m in _DURATION_PART.finditer(text):
        if m.start() != pos and text[pos : m.start()].strip():
            break
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos, seen = m.end(), True
    if not seen or text[pos:].strip():
        if text.startswith("-") and _is_duration(text[1:]):
            raise ValueError(f"{value!r} is negative: a duration is 0 or more ({DURATION_HELP})")
        raise ValueError(f"{value!r} is not {DURATION_HELP}")
    return _bounded(total, MAX_DURATION_S, "a duration (seconds)", value)


def _is_duration(text: str) -> bool:
    try:
        parse_duration(text)
    except ValueError:
        return False
    return True


_RATE_UNITS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "hour": 3600.0, "d": 86400.0, "day": 86400.0}
RATE_HELP = "a rate such as 30/h, 0.5/s, 2/min, 100/d or a number per second"


def parse_rate(value: object) -> float:
    """Parse a rate into events per second.

    >>> parse_rate("36/h")
    0.01
    """
    if isinstance(value, bool):
        raise ValueError(f"expected {RATE_HELP}, got {value!r}")
    return _bounded(_parse_rate(value), MAX_RATE, "a rate (per second)", value)


def _parse_rate(value: object) -> float:
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"expected {RATE_HELP}, got {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"expected {RATE_HELP}, got {value!r}")
    text = value.strip().replace(" ", "")
    if "/" not in text:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{value!r} is not {RATE_HELP}") from None
    num, _, unit = text.partition("/")
    if unit not in _RATE_UNITS:
        raise ValueError(f"{value!r}: unknown time unit {unit!r}; allowed: s, min, h, d")
    try:
        return float(num) / _RATE_UNITS[unit]
    except ValueError:
        raise ValueError(f"{value!r} is not {RATE_HELP}") from None


def parse_cpu_milli(value: object) -> int:
    q = parse_quantity(value)
    m = math.ceil(q * 1000)
    if m > MAX_CPU_MILLI:
        raise ValueError(f"{value!r} is out of range: at most {MAX_CPU_MILLI // 1000:,} CPU cores")
    return m


def _memory_mib(value: object) -> int:
    q = parse_quantity(value)
    m = math.ceil(q / 2**20)
    if m > MAX_MEMORY_MIB:
        raise ValueError(f"{value!r} is out of range: at most 1Ei of memory")
    return m


def _bytes_int(value: object) -> int:
    return math.ceil(parse_quantity(value))


_NUM_OR_STR = [{"type": "string"}, {"type": "number"}]

Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {"anyOf": _NUM_OR_STR, "description": f"Seconds: {DURATION_HELP}; at most 1e11 s (about 3,000 years)."}
    ),
]
"""Seconds, written as a duration string or a number."""

Rate = Annotated[
    float,
    BeforeValidator(parse_rate),
    WithJsonSchema({"anyOf": _NUM_OR_STR, "description": f"Per second: {RATE_HELP}; at most 1e6 per second."}),
]
"""Events per second, written as ``N/unit`` or a number per second."""

CpuMilli = Annotated[
    int,
    BeforeValidator(parse_cpu_milli),
    PlainSerializer(lambda m: f"{m}m", return_type=str),
    WithJsonSchema({"anyOf": _NUM_OR_STR, "description": f"CPU cores: {QUANTITY_HELP}; at most 1,000,000 cores."}),
]
"""CPU in milli-cores (``500m`` -> 500, ``2`` -> 2000)."""

MemoryMiB = Annotated[
    int,
    BeforeValidator(_memory_mib),
    PlainSerializer(lambda m: f"{m}Mi", return_type=str),
    WithJsonSchema({"anyOf": _NUM_OR_STR, "description": f"Memory in bytes: {QUANTITY_HELP}; at most 1Ei."}),
]
"""Memory in MiB, rounded up (``64Gi`` -> 65536)."""
