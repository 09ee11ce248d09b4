"""The placement-policy registry is the one declaration every other list agrees with."""

import inspect

from gpusim.placement import POLICIES, POLICY_IDS, paper_policies, policy_names
from gpusim.placement import _kernels as K
from gpusim.placement.fgd_experiment import PAPER_POLICIES
from gpusim.placement.reference import REFERENCE_POLICIES
from gpusim.placement.registry import POLICY_REGISTRY
from gpusim.scenario.models import PLACEMENT_POLICIES


def test_every_list_of_policies_is_the_registry():
    names = sorted(POLICY_REGISTRY)
    assert sorted(PLACEMENT_POLICIES) == names  # the scenario schema's Literal
    assert sorted(POLICIES) == sorted(POLICY_IDS) == sorted(REFERENCE_POLICIES) == policy_names() == names
    assert paper_policies() == PAPER_POLICIES  # the FGD experiment's six, in the paper's order


def test_kernel_ids_are_unique_and_the_kernels_use_them():
    ids = [p.kernel_id for p in POLICY_REGISTRY.values()]
    assert len(set(ids)) == len(ids)
    assert (K.FIRST_FIT, K.BEST_FIT, K.FGD, K.WEIGHTED_BEST_FIT) == tuple(
        POLICY_REGISTRY[n].kernel_id for n in ("first-fit", "best-fit", "fgd", "weighted-best-fit")
    )
    for name, p in POLICY_REGISTRY.items():
        assert POLICY_IDS[name] == p.kernel_id
        assert REFERENCE_POLICIES[name].__name__ == p.reference  # the twin the registry names


def test_every_scored_policy_has_its_score_function_in_the_kernel_dispatch():
    dispatch = inspect.getsource(getattr(K.score_nodes, "py_func", K.score_nodes))  # compiled or NUMBA_DISABLE_JIT
    unscored = {name for name, p in POLICY_REGISTRY.items() if p.score is None}
    assert unscored == {"first-fit", "random"}
    for name, p in POLICY_REGISTRY.items():
        if p.score is None:
            continue
        assert p.score == "score_" + name.replace("-", "_")
        fn = getattr(K, p.score)
        assert callable(fn) and fn.__doc__
        assert f"{p.score}(" in dispatch, f"score_nodes does not dispatch {name} to {p.score}"
