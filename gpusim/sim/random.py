"""Random streams: one numpy Generator per named source, all from one seed.

Each stream's SeedSequence is keyed by a stable hash of its name (not by creation order), so
adding a new random source never shifts the numbers any other source draws.
"""

from __future__ import annotations

import zlib

import numpy as np


def draw_seed() -> int:
    """A fresh seed from OS entropy (recorded in the result so the run can be repeated)."""
    return int(np.random.SeedSequence().entropy % (2**63))


class RandomStreams:
    """Named, independent random streams spawned from one seed."""

    def __init__(self, seed: int, prefix: str = ""):
        self.seed = int(seed)
        self.prefix = prefix  # e.g. "cluster/<member>/": a member of a multi-cluster run keys its own streams
        self._streams: dict[str, np.random.Generator] = {}

    def stream(self, name: str) -> np.random.Generator:
        """The generator for source `name` (created on first use, then the same object)."""
        if name not in self._streams:
            key = zlib.crc32((self.prefix + name).encode("utf-8"))
            ss = np.random.SeedSequence(self.seed, spawn_key=(key,))
            self._streams[name] = np.random.Generator(np.random.PCG64(ss))
        return self._streams[name]
