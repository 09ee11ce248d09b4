"""Go's `math/rand` (the seeded global source of Go 1.x), bit for bit, in plain Python.

The FGD artifact (hkust-adsl/kubernetes-scheduler-simulator) seeds Go's global generator with
the experiment seed (``rand.Seed(tuneSeed)``, pkg/simulator/core.go) and draws from it, in one
goroutine, the pod shuffle, the workload inflation samples and the node-name permutation.
Reproducing those draws reproduces the artifact's pod order and node ranking for each seed.

Algorithm: Mitchell and Reeds' additive lagged Fibonacci generator (length 607, tap 273), seeded
through a Park-Miller LCG XORed with a fixed table; see Go's src/math/rand/rng.go and rand.go
(`Int63`, `Int31`, `Int31n`, `int31n`, `Intn`, `Perm`, `Shuffle`). Go guarantees the seeded
sequence never changes (Go 1 compatibility), so this matches every Go release that honours
`rand.Seed` (all before 1.24).
"""

from __future__ import annotations

from gpusim.placement._gorand_table import RNG_COOKED

_LEN = 607
_TAP = 273
_MASK = (1 << 63) - 1
_M = (1 << 31) - 1
_A, _Q, _R = 48271, 44488, 3399


def _seedrand(x: int) -> int:
    # x[n+1] = 48271 * x[n] mod (2**31 - 1), in Go's int32 arithmetic (truncating division)
    hi = x // _Q if x >= 0 else -((-x) // _Q)
    lo = x - hi * _Q
    x = _A * lo - _R * hi
    if x < 0:
        x += _M
    return x


class GoRand:
    """A seeded `math/rand.Rand` (``rand.New(rand.NewSource(seed))``, or the global source after
    ``rand.Seed(seed)``).
    """

    __slots__ = ("vec", "tap", "feed")

    def __init__(self, seed: int):
        self.tap = 0
        self.feed = _LEN - _TAP
        seed = seed % _M  # Go's % truncates; seeds here are non-negative
        if seed == 0:
            seed = 89482311
        x = seed
        vec = [0] * _LEN
        for i in range(-20, _LEN):
            x = _seedrand(x)
            if i >= 0:
                u = x << 40
                x = _seedrand(x)
                u ^= x << 20
                x = _seedrand(x)
                u ^= x
                u ^= RNG_COOKED[i]
                vec[i] = u & _MASK
        self.vec = vec

    def int63(self) -> int:
        self.tap -= 1
        if self.tap < 0:
            self.tap += _LEN
        self.feed -= 1
        if self.feed < 0:
            self.feed += _LEN
        x = (self.vec[self.feed] + self.vec[self.tap]) & _MASK
        self.vec[self.feed] = x
        return x

    def int(self) -> int:
        """``rand.Int()`` on a 64-bit platform."""
        return self.int63()

    def int31(self) -> int:
        return self.int63() >> 32

    def uint32(self) -> int:
        return self.int63() >> 31

    def int31n(self, n: int) -> int:
        """``Int31n``: rejection sampling, then modulo."""
        if n <= 0:
            raise ValueError("invalid argument to Int31n")
        if n & (n - 1) == 0:
            return self.int31() & (n - 1)
        mx = (1 << 31) - 1 - (1 << 31) % n
        v = self.int31()
        while v > mx:
            v = self.int31()
        return v % n

    def intn(self, n: int) -> int:
        """``Intn`` for n < 2**31 (all sizes here)."""
        if n >= 1 << 31:
            raise ValueError("Intn beyond int32 is not implemented")
        return self.int31n(n)

    def _int31n_lemire(self, n: int) -> int:
        """The unexported ``int31n`` used by Shuffle (Lemire's multiply-shift)."""
        v = self.uint32()
        prod = v * n
        low = prod & 0xFFFFFFFF
        if low < n:
            thresh = ((1 << 32) - n) % n
            while low < thresh:
                v = self.uint32()
                prod = v * n
                low = prod & 0xFFFFFFFF
        return prod >> 32

    def perm(self, n: int) -> list[int]:
        m = [0] * n
        for i in range(n):
            j = self.intn(i + 1)
            m[i] = m[j]
            m[j] = i
        return m

    def shuffle(self, items: list) -> None:
        """``Shuffle(len(items), swap)`` in place (n < 2**31)."""
        for i in range(len(items) - 1, 0, -1):
            j = self._int31n_lemire(i + 1)
            items[i], items[j] = items[j], items[i]
