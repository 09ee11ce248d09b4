"""The target workload that FGD (fragmentation gradient descent) measures fragmentation against.

Weng et al., "Beware of Fragmentation: Scheduling GPU-Sharing Workloads with Fragmentation
Gradient Descent", USENIX ATC 2023. A node's fragmentation is the free milli-GPU the *typical*
pods of the workload could not use there, weighted by how often each pod shape occurs; FGD puts
each pod where fragmentation grows least. The typical pods follow the authors' simulator
(hkust-adsl/kubernetes-scheduler-simulator, `utils.GetTypicalPods` with the experiment settings
``isInvolvedCpuPods: true, podPopularityThreshold: 95, podIncreaseStep: 1, gpuResWeight: 0``):
count each shape (CPU, milli-GPU per GPU, GPU count, allowed GPU models), sort by count
(descending, ties by the larger shape), keep the most popular shapes until they cover 95% of the
pods, and renormalise their frequencies to sum to one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from gpusim.cluster.state import MILLI, PodRequest


@dataclass(frozen=True, eq=False)
class TargetWorkload:
    """Typical pod shapes and their frequencies, as fixed-dtype arrays for the kernel."""

    cpu_milli: np.ndarray  # int64
    gpu_milli: np.ndarray  # int64, per GPU; 0 for CPU-only shapes
    gpus: np.ndarray  # int64
    model_mask: np.ndarray  # uint64, 0 = any model
    freq: np.ndarray  # float64, sums to 1
    weight: np.ndarray | None = None  # int64 pod counts behind freq (exact fragmentation sums)
    arrays: tuple = field(init=False, repr=False)

    def __post_init__(self):
        # kernel layout: one int64 table (cpu, milli, gpus, model-mask bits, weight) + frequencies
        if self.weight is None:  # frequencies only: scale to integers (1e-6 resolution)
            object.__setattr__(self, "weight", np.rint(np.asarray(self.freq) * 1e6).astype(np.int64))
        t_int = np.empty((len(self.freq), 5), dtype=np.int64)
        t_int[:, 0] = self.cpu_milli
        t_int[:, 1] = self.gpu_milli
        t_int[:, 2] = self.gpus
        t_int[:, 3] = np.asarray(self.model_mask, dtype=np.uint64).view(np.int64)
        t_int[:, 4] = self.weight
        arrays = (t_int, np.ascontiguousarray(self.freq, dtype=np.float64))
        object.__setattr__(self, "arrays", arrays)

    def __len__(self) -> int:
        return len(self.freq)

    @classmethod
    def from_requests(
        cls,
        requests: list[PodRequest],
        *,
        popularity: float = 0.95,
        include_cpu_pods: bool = True,
    ) -> TargetWorkload:
        """Typical pods of a list of requests (one entry per pod, repeats allowed)."""
        counts: Counter = Counter()
        for r in requests:
            if r.gpus == 0 and not include_cpu_pods:
                continue
            g_milli = 0 if r.gpus == 0 else r.gpu_milli
            counts[(r.cpu_milli, g_milli, r.gpus, r.gpu_model_mask)] += 1
        if not counts:
            raise ValueError("a target workload needs at least one pod")
        total = sum(counts.values())
        # sort.Reverse on (count, cpu, milli, gpus, model): most popular first, ties larger first
        shapes = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
        kept, cum = [], 0
        for shape, cnt in shapes:
            if cum >= popularity * total:
                break
            kept.append((shape, cnt))
            cum += cnt
        freq = np.array([c for _, c in kept], dtype=np.float64) / cum
        return cls(
            cpu_milli=np.array([s[0] for s, _ in kept], dtype=np.int64),
            gpu_milli=np.array([s[1] for s, _ in kept], dtype=np.int64),
            gpus=np.array([s[2] for s, _ in kept], dtype=np.int64),
            model_mask=np.array([s[3] & 0xFFFFFFFFFFFFFFFF for s, _ in kept], dtype=np.uint64),
            freq=freq,
            weight=np.array([c for _, c in kept], dtype=np.int64),
        )

    @classmethod
    def single(cls, req: PodRequest) -> TargetWorkload:
        """The degenerate workload of one pod shape (FGD's fallback when none is set)."""
        return cls.from_requests([req], popularity=1.0)


def is_share(req: PodRequest) -> bool:
    return req.gpus == 1 and req.gpu_milli < MILLI
