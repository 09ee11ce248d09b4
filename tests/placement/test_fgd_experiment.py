"""The FGD packing experiment: protocol, batch kernel == place()+bind(), reproducibility, plot."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gpusim.cluster.state import MILLI
from gpusim.placement import place
from gpusim.placement.fgd_experiment import (
    PAPER_POLICIES,
    RESULT_COLUMNS,
    prepare,
    run_fgd_experiment,
    run_packing,
    summarize,
    workload_order,
)

OPENB = Path("/work/shared/traces/alibaba-gpu-v2023")


def synthetic(n_pods=120, seed=0):
    rng = np.random.default_rng(seed)
    nodes = pd.DataFrame(
        {
            "sn": [f"n{i}" for i in range(12)],
            "cpu_milli": [32000] * 4 + [96000] * 8,
            "memory_mib": [131072] * 4 + [393216] * 8,
            "gpu": [2] * 4 + [8] * 8,
            "model": ["T4"] * 4 + ["G2"] * 8,
        }
    )
    num_gpu = rng.choice([0, 1, 1, 1, 2, 8], size=n_pods)
    milli = np.where(num_gpu == 1, rng.choice([200, 500, 1000, 1000], size=n_pods), 1000)
    pods = pd.DataFrame(
        {
            "name": [f"p{i}" for i in range(n_pods)],
            "cpu_milli": rng.choice([1000, 4000, 12000], size=n_pods),
            "memory_mib": rng.choice([1024, 16384], size=n_pods),
            "num_gpu": num_gpu,
            "gpu_milli": np.where(num_gpu == 0, 0, milli),
            "gpu_spec": rng.choice(["", "", "", "T4", "G2|T4"], size=n_pods),
        }
    )
    return pods, nodes


class ScriptedRng:
    """Stands in for a Generator: returns the experiment's pre-drawn uniforms in order."""

    def __init__(self, u1s, u2s):
        self.pairs = iter(zip(u1s, u2s, strict=True))

    def random(self, n):
        return np.array(next(self.pairs))


@pytest.mark.parametrize("policy", list(PAPER_POLICIES.values()) + ["first-fit", "best-fit", "spread"])
def test_batch_kernel_equals_place_and_bind(policy):
    pods, nodes = synthetic()
    inputs = prepare(pods, nodes)
    arrived, alloc = run_packing(inputs, policy, seed=3)
    # replay the same sequence through the public place()/bind()
    rng = np.random.default_rng(3)
    state = copy.deepcopy(inputs.template)
    req_milli = inputs.gpus * np.where(inputs.gpus > 0, inputs.milli, 0)
    order = workload_order(req_milli, state.n_gpus * MILLI, 1.3, rng)
    scripted = ScriptedRng(rng.random(len(order)), rng.random(len(order)))
    if policy == "fgd":
        state.set_target_workload(inputs.workload)
    allocated = []
    for i in order:
        req = state.make_request(
            cpu_milli=int(inputs.cpu[i]),
            memory_mib=int(inputs.mem[i]),
            gpus=int(inputs.gpus[i]),
            gpu_milli=int(inputs.milli[i]),
        )
        req = dataclasses.replace(req, gpu_model_mask=int(inputs.model_mask[i]))
        p = place(state, req, policy, scripted)
        if p is not None:
            state.bind(req, p)
        allocated.append(state.gpu_milli_allocated())
    assert np.allclose(100.0 * np.array(allocated) / (state.n_gpus * MILLI), alloc)


def test_experiment_protocol_on_a_small_trace():
    pods, nodes = synthetic()
    df = run_fgd_experiment(pods, nodes, seeds=[1, 2], n_jobs=1, workload="synthetic", fidelity="exact")
    assert list(df.columns) == RESULT_COLUMNS
    assert set(df["policy"]) == set(PAPER_POLICIES)
    assert len(df) == 6 * 2 * 130
    for _, g in df.groupby(["policy", "seed"]):
        a = g["alloc_pct"].to_numpy()
        assert g["arrived_pct"].tolist() == list(range(1, 131))
        assert (np.diff(a) >= -1e-12).all()  # no departures: allocation never drops
        assert (a <= g["arrived_pct"].to_numpy() + 1e-9).all() and (a <= 100 + 1e-9).all()
    again = run_fgd_experiment(
        pods, nodes, policies=["FGD", "random"], seeds=[2], n_jobs=1, workload="synthetic", fidelity="exact"
    )
    first = df[(df.policy == "FGD") & (df.seed == 2)]["alloc_pct"].to_numpy()
    assert np.array_equal(again[again.policy == "FGD"]["alloc_pct"].to_numpy(), first)
    s = summarize(df)
    assert list(s.index) == list(PAPER_POLICIES) and (s["seeds"] == 2).all()
    with pytest.raises(ValueError, match="unknown policy"):
        run_fgd_experiment(pods, nodes, policies=["Tetris"], seeds=[1])


def test_workload_is_inflated_to_the_target_and_shuffled():
    req = np.array([1000, 500, 0, 2000, 1000])
    rng = np.random.default_rng(0)
    order = workload_order(req, 10000, 1.3, rng)
    total = req[order].sum()
    assert total <= 13000 and total + 2000 > 13000 - 2000
    assert set(range(5)) <= set(order.tolist())  # every original pod is kept
    thin = workload_order(req, 2000, 1.0, np.random.default_rng(0))
    assert req[thin].sum() <= 2000


def test_plot_allocation_draws_one_line_per_policy():
    from gpusim.placement.fgd_plot import plot_allocation

    pods, nodes = synthetic(60)
    df = run_fgd_experiment(pods, nodes, policies=["Random", "FGD"], seeds=[1, 2], n_jobs=1)
    fig = plot_allocation(df)
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert "Random" in labels and "FGD" in labels


@pytest.mark.skipif(not (OPENB / "openb_pod_list_default.csv").exists(), reason="openb trace not present")
def test_openb_slice_fgd_keeps_up_with_best_fit():
    from gpusim.placement.fgd_experiment import load_openb

    pods, nodes = load_openb(OPENB / "openb_pod_list_default.csv", OPENB / "openb_node_list_gpu_node.csv")
    nodes = nodes[nodes["model"] == "G2"].head(40)  # a 320-GPU slice, pods that fit any model
    pods = pods[pods["gpu_models"].fillna("") == ""].head(500)
    df = run_fgd_experiment(pods, nodes, policies=["Random", "BestFit", "FGD"], seeds=[42, 43], n_jobs=1)
    s = summarize(df)
    assert s.loc["FGD", "mean"] > s.loc["Random", "mean"]
    assert s.loc["FGD", "mean"] > 80
