"""The placement-policy registry: every policy declared once.

A `Policy` names the policy as scenarios spell it, the id its compiled kernel dispatches on, the
plain-Python reference twin the tests compare it with (a function name in
`gpusim.placement.reference`), for the FGD paper's six the paper's name, and the kernel's score
function (`Policy.score`, in `gpusim.placement._kernels`; every policy shares the kernel's one
feasibility pass). The kernels take their ids from here, `gpusim.placement` builds its dispatch
table and `reference` its table of twins from it; the scenario schema, the CLI and the
experiments can read `POLICY_REGISTRY`, `policy_names()` and `paper_policies()` without
compiling anything (this module imports nothing heavy). A new policy is one entry here, one
score function ``score_<name>`` in the kernel (and its line in `score_nodes`' dispatch on the
kernel id) and one reference.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    name: str
    kernel_id: int
    reference: str
    paper_name: str | None
    summary: str
    score: str | None = ""
    """The kernel's score function; by default ``score_<name>`` (dashes as underscores). None:
    every feasible node scores alike (first-fit takes the first, random draws one)."""

    def __post_init__(self) -> None:
        if self.score == "":
            object.__setattr__(self, "score", "score_" + self.name.replace("-", "_"))


POLICY_REGISTRY: dict[str, Policy] = {
    p.name: p
    for p in (
        Policy("first-fit", 0, "first_fit", None, "the lowest-index node that fits", score=None),
        Policy("best-fit", 1, "best_fit", None, "fewest free GPUs after placement, then least CPU left"),
        Policy("spread", 2, "spread", None, "least allocated (Kubernetes' default scoring)"),
        Policy("random", 3, "random_fit", "Random", "uniform among the nodes that fit", score=None),
        Policy("dot-product", 4, "dot_product", "DotProd", "least dot product of free and asked (Tetris)"),
        Policy("weighted-best-fit", 8, "weighted_best_fit", "BestFit", "least weighted CPU and GPU left"),
        Policy("gpu-packing", 5, "gpu_packing", "GpuPacking", "shared GPUs first, then idle GPUs of used nodes"),
        Policy("gpu-clustering", 6, "gpu_clustering", "GpuClustering", "nodes running the same GPU shape first"),
        Policy("fgd", 7, "fgd", "FGD", "fragmentation gradient descent (Weng et al., ATC 2023)"),
    )
}
"""Policy name -> `Policy` (weighted-best-fit came last, so its kernel id is 8)."""

KERNEL_ID: dict[str, int] = {name: p.kernel_id for name, p in POLICY_REGISTRY.items()}


def policy_names() -> list[str]:
    """Every policy name, sorted."""
    return sorted(POLICY_REGISTRY)


def paper_policies() -> dict[str, str]:
    """The FGD paper's policy names -> the registry names implementing them, in the paper's order."""
    order = ("Random", "DotProd", "GpuClustering", "GpuPacking", "BestFit", "FGD")
    by_paper = {p.paper_name: p.name for p in POLICY_REGISTRY.values() if p.paper_name}
    return {name: by_paper[name] for name in order}
