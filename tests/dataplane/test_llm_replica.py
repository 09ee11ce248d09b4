"""The compiled LLM replica (gpusim.dataplane.llm): hand-computed cases, the slow twin, Little's law."""

import dataclasses

import numpy as np
import pytest

from gpusim.dataplane.histogram import HistogramConfig
from gpusim.dataplane.llm import LlmReplica
from gpusim.hardware import llm, load_catalog
from tests.dataplane.llm_reference import ReferenceReplica


@pytest.fixture(scope="module")
def h200():
    return llm.replica_model(load_catalog().gpu("nvidia-h200-141gb"), llm.llm_arch("llama-2-70b"), "fp8", 1)


def test_one_request_alone_by_hand(h200):
    """Alone on the replica: TTFT = one prefill iteration; then o - 1 decode iterations at growing context."""
    r = h200
    p, o = 294, 292
    rep = LlmReplica(r, record=1)
    m = rep.serve(100.0, [1.0], [p], [o])
    arr, first, finish = rep.records[0]
    ttft = r.fixed_s + r.per_token_s * p + r.per_pair_s * p * (p + 1) / 2
    assert first - arr == pytest.approx(ttft, rel=1e-12)
    assert ttft == pytest.approx(r.prefill_s(p), rel=1e-12)
    decode = sum(r.fixed_s + r.per_token_s + r.per_ctx_s * (p + j) for j in range(o - 1))
    assert finish - first == pytest.approx(decode, rel=1e-12)
    assert m.completed == 1 and m.output_tokens == o
    assert m.tpot.mean == pytest.approx(decode / (o - 1), rel=1e-12)
    assert m.ttft.mean == pytest.approx(ttft, rel=1e-12)
    assert m.e2e.mean == pytest.approx(ttft + decode, rel=1e-12)
    # the histogram quantile is within its 1 % relative error of the exact value
    assert m.tpot.quantile(0.5) == pytest.approx(decode / (o - 1), rel=0.011)


def test_chunked_prefill_of_a_long_prompt_by_hand(h200):
    """A 20,000-token prompt in 8,192-token chunks: 3 iterations, weights read once each."""
    p = 20_000
    rep = LlmReplica(h200, chunked_prefill=True, record=1)
    rep.serve(100.0, [0.0], [p], [2])
    arr, first, finish = rep.records[0]
    c = h200.max_num_batched_tokens
    chunks = [c, c, p - 2 * c]
    done, ttft = 0, 0.0
    for k in chunks:
        ttft += h200.fixed_s + h200.per_token_s * k + h200.per_pair_s * (k * done + k * (k + 1) / 2)
        done += k
    assert first - arr == pytest.approx(ttft, rel=1e-12)
    assert finish - first == pytest.approx(h200.fixed_s + h200.per_token_s + h200.per_ctx_s * p, rel=1e-12)


def _small(model, cap, max_seqs=64, budget=512):
    return dataclasses.replace(model, kv_capacity_tokens=cap, max_num_seqs=max_seqs, max_num_batched_tokens=budget)


def test_requests_wait_when_kv_is_full(h200):
    """KV for two whole sequences: the third prompt is not admitted (302 - 200 - 100 < watermark 3)
    and waits for a completion; the two running ones peak at 2 x 149 + 2 <= 302 tokens (no preemption)."""
    r = _small(h200, cap=2 * (100 + 50) + 2, budget=10_000)  # watermark floor(0.01 * 302) = 3
    rep = LlmReplica(r, record=3)
    rep.serve(1000.0, [0.0, 0.0, 0.0], [100, 100, 100], [50, 50, 50])
    recs = rep.records
    assert rep.totals()["completed"] == 3 and rep.totals()["preemptions"] == 0
    # the first two are prefilled together and finish together; the third starts after them
    assert recs[0][1] == recs[1][1] and recs[0][2] == recs[1][2]
    assert recs[2][1] > recs[0][2]


def test_preemption_recomputes_the_newest(h200):
    """Two sequences admitted with room for their prompts only: decoding runs out of KV and the newer
    one is preempted, recomputed later, and both finish; the kernel matches the slow twin exactly."""
    r = _small(h200, cap=240, budget=10_000)  # watermark 2
    arr, pr, out = [0.0, 0.0], [100, 100], [60, 60]
    rep = LlmReplica(r, record=2)
    rep.serve(1000.0, arr, pr, out)
    ref = ReferenceReplica(r)
    ref.serve(1000.0, arr, pr, out)
    assert rep.totals()["preemptions"] == ref.preemptions >= 1
    assert rep.totals()["completed"] == 2
    got = sorted(map(tuple, rep.records.tolist()))
    want = sorted(ref.records)
    assert np.allclose(got, want, rtol=1e-12, atol=0)


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kernel_matches_the_slow_twin(h200, chunked, seed):
    """Random bursts into a small replica (queueing, preemption, many windows): same per-request times."""
    rng = np.random.default_rng(seed)
    r = _small(h200, cap=int(rng.integers(3000, 8000)), max_seqs=int(rng.integers(4, 40)), budget=600)
    rep = LlmReplica(r, chunked_prefill=chunked, record=5000)
    ref = ReferenceReplica(r, chunked_prefill=chunked)
    t = 0.0
    for _ in range(12):
        t_end = t + float(rng.uniform(0.5, 6.0))
        k = int(rng.integers(0, 40))
        a = np.sort(rng.uniform(t, t_end, k))
        p = rng.integers(1, 700, k)
        o = rng.integers(1, 200, k)
        rep.serve(t_end, a, p, o)
        ref.serve(t_end, a, p, o)
        assert rep.clock == pytest.approx(ref.t, rel=1e-9)
        t = t_end
    tot = rep.totals()
    assert tot["completed"] == len(ref.records) > 0
    assert tot["preemptions"] == ref.preemptions
    assert tot["rejected"] == ref.rejected
    n = tot["completed"]
    got = np.array(sorted(map(tuple, rep.records[:n].tolist())))
    want = np.array(sorted(ref.records))
    assert np.allclose(got, want, rtol=1e-9, atol=1e-9)
    assert tot["arrived"] == tot["completed"] + tot["rejected"] + tot["dropped"] + tot["in_flight"]


def test_little_law_for_the_decode_stage(h200):
    """Time-average sequences in decode (the kernel's own integral) = completions/s x mean time in
    decode (finish - first token, from the per-request records), over a long Poisson run."""
    rng = np.random.default_rng(7)
    rep = LlmReplica(h200, record=200_000)
    lam, t, seq_s = 6.0, 0.0, 0.0
    for _ in range(200):
        k = rng.poisson(lam * 15.0)
        a = np.sort(rng.uniform(t, t + 15.0, k))
        m = rep.serve(t + 15.0, a, rng.integers(50, 1500, k), rng.integers(2, 500, k))
        seq_s += m.seq_seconds
        t += 15.0
    n = rep.totals()["completed"]
    assert rep.totals()["preemptions"] == 0
    rec = rep.records[:n]
    in_decode = rec[:, 2] - rec[:, 1]
    lhs = seq_s / t
    rhs = (n / t) * in_decode.mean()
    # the sequences still in decode at the end add to the integral only
    assert lhs >= rhs * (1 - 1e-12)
    assert lhs == pytest.approx(rhs, rel=0.01)


def test_steady_state_throughput_matches_the_roofline(h200):
    """Saturated with identical requests (Offline) at a batch whose full contexts fit (no
    preemption), the kernel's tokens/s matches the analytic steady state of gpusim.hardware.llm
    (b o / cycle_s(b)) within 5 % (the kernel's batches form waves the analytic mean ignores)."""
    _, w = llm.mlperf_workload()
    p, o = int(w.prompt_tokens), int(w.output_tokens)
    b = h200.kv_capacity_tokens // (p + o + 10)
    r = dataclasses.replace(h200, max_num_seqs=b)
    rep = LlmReplica(r, queue_capacity=1 << 17)
    n = 40 * b
    rep.serve(1e-9, np.zeros(n), np.full(n, p), np.full(n, o))
    ms = [rep.serve(t, [], [], []) for t in np.arange(60.0, 60.0 * 30, 60.0)]
    assert rep.totals()["preemptions"] == 0
    tok = sum(m.output_tokens for m in ms[5:20])
    span = ms[19].t_end - ms[5].t_start
    analytic = llm.operating_point(r, w, b).tokens_per_s
    assert tok / span == pytest.approx(analytic, rel=0.05)


def test_slo_counts_and_histogram_merge(h200):
    """Per-window histograms merge to the run's; the SLO count is exactly the requests meeting all three."""
    rng = np.random.default_rng(3)
    cfg = HistogramConfig()
    slo = (0.5, 0.045, 20.0)
    rep = LlmReplica(h200, slo_ttft_s=slo[0], slo_tpot_s=slo[1], slo_e2e_s=slo[2], histogram=cfg, record=100_000)
    total = None
    out_of = {}
    t = 0.0
    for _ in range(20):
        k = rng.poisson(3 * 15)
        a = np.sort(rng.uniform(t, t + 15, k))
        o = rng.integers(2, 600, k)
        out_of.update(zip(a.tolist(), o.tolist(), strict=True))
        m = rep.serve(t + 15, a, rng.integers(10, 3000, k), o)
        total = m.e2e if total is None else total + m.e2e
        t += 15
    n = rep.totals()["completed"]
    rec = rep.records[:n]
    assert total.count == n
    assert total.mean == pytest.approx(np.mean(rec[:, 2] - rec[:, 0]), rel=1e-9)
    tot = np.array([out_of[x] for x in rec[:, 0].tolist()])
    ok = (
        (rec[:, 1] - rec[:, 0] <= slo[0])
        & ((rec[:, 2] - rec[:, 1]) / (tot - 1) <= slo[1])
        & (rec[:, 2] - rec[:, 0] <= slo[2])
    )
    assert rep.totals()["slo_met"] == int(ok.sum())
    assert 0 < ok.sum() < n  # the SLOs bite


def test_memory_is_fixed_at_construction(h200):
    rep = LlmReplica(h200, queue_capacity=1024)
    sizes = {k: v.nbytes for k, v in vars(rep).items() if isinstance(v, np.ndarray)}
    rng = np.random.default_rng(0)
    t = 0.0
    for _ in range(50):
        k = rng.poisson(200)
        rep.serve(t + 15, np.sort(rng.uniform(t, t + 15, k)), rng.integers(10, 500, k), rng.integers(1, 300, k))
        t += 15
    assert {k: v.nbytes for k, v in vars(rep).items() if isinstance(v, np.ndarray)} == sizes


def test_overflow_and_rejection_are_counted(h200):
    r = _small(h200, cap=1000, max_seqs=2, budget=10_000)
    rep = LlmReplica(r, queue_capacity=3)
    m = rep.serve(0.5, np.linspace(0, 0.1, 10), np.full(10, 100), np.full(10, 400))
    rep2 = LlmReplica(r)
    m2 = rep2.serve(10.0, [0.0], [900], [200])
    assert m2.rejected == 1 and m2.completed == 0
    t = rep.totals()
    assert m.dropped > 0
    assert t["arrived"] == t["completed"] + t["rejected"] + t["dropped"] + t["in_flight"]


def test_bad_input_to_serve(h200):
    rep = LlmReplica(h200)
    with pytest.raises(ValueError, match="sorted"):
        rep.serve(10.0, [2.0, 1.0], [1, 1], [1, 1])
    with pytest.raises(ValueError, match="one length"):
        rep.serve(10.0, [1.0], [1, 2], [1])
    with pytest.raises(ValueError, match="does not fit"):
        LlmReplica(dataclasses.replace(h200, kv_capacity_tokens=0))


def test_service_equals_replicas_fed_round_robin(h200):
    """LlmService (one kernel call for all replicas) = separate LlmReplicas fed every n-th arrival."""
    from gpusim.dataplane.llm import LlmService

    rng = np.random.default_rng(5)
    R = 3
    svc = LlmService(h200, R)
    reps = [LlmReplica(h200) for _ in range(R)]
    t, first = 0.0, 0
    for w in range(15):
        k = int(rng.poisson(30 * 15))
        a = np.sort(rng.uniform(t, t + 15, k))
        p, o = rng.integers(10, 2000, k), rng.integers(1, 400, k)
        if w == 10:
            svc.ready[1] = False  # drain replica 1: arrivals go round-robin over 0 and 2
        m = svc.serve(t + 15, a, p, o)
        ready = [r for r in range(R) if svc.ready[r]]
        ms = []
        for r in range(R):
            if r in ready:
                j = (ready.index(r) - first) % len(ready)
                ms.append(reps[r].serve(t + 15, a[j :: len(ready)], p[j :: len(ready)], o[j :: len(ready)]))
            else:
                ms.append(reps[r].serve(t + 15, [], [], []))
        first = (first + k) % len(ready)
        assert m.completed == sum(x.completed for x in ms)
        assert m.output_tokens == sum(x.output_tokens for x in ms)
        assert np.array_equal(m.e2e.counts, sum(x.e2e.counts for x in ms))
        assert m.ttft.sum_s == pytest.approx(sum(x.ttft.sum_s for x in ms), rel=1e-12)
        assert list(m.held) == [x.running for x in reps]
        if w == 10:
            at_drain = m.held[1] + m.waiting[1]
        t += 15
    assert m.held[1] + m.waiting[1] < at_drain  # the drained replica only works off what it holds
    none = LlmService(h200, 1)
    none.ready[0] = False
    assert none.serve(1.0, [0.5], [10], [10]).unroutable == 1


def test_azure_code_trace_replay():
    """The Azure LLM code trace (real arrivals, prompt and output lengths; mean 2,048 in, 28 out) on
    two H100 x 2 replicas in 15 s windows: every request accounted for, the median TTFT at least one
    prefill of the median prompt, and the SLO count bounded by the completions."""
    from gpusim.dataplane.llm import LlmService
    from gpusim.traces.azure_llm import read_azure_llm
    from tests.conftest import SHARED_TRACES

    path = SHARED_TRACES / "azure-llm-2023" / "AzureLLMInferenceTrace_code.csv"
    if not path.exists():
        pytest.skip("shared Azure trace not present")
    df, _ = read_azure_llm(path)
    a = df["arrival_s"].to_numpy()
    p = df["prompt_tokens"].to_numpy()
    o = df["output_tokens"].to_numpy()
    r = llm.replica_model(load_catalog().gpu("nvidia-h100-80gb"), llm.llm_arch("llama-2-70b"), "fp8", 2)
    svc = LlmService(r, 2, slo_ttft_s=2.0, slo_tpot_s=0.2)
    totals = dict(arrived=0, completed=0, rejected=0, dropped=0, slo=0)
    ttft = None
    edges = np.arange(0.0, a[-1] + 15.0 + 600.0, 15.0)[1:]
    idx = np.searchsorted(a, np.concatenate([[0.0], edges]))
    for k, t_end in enumerate(edges):
        m = svc.serve(t_end, a[idx[k] : idx[k + 1]], p[idx[k] : idx[k + 1]], o[idx[k] : idx[k + 1]])
        totals["arrived"] += m.arrived
        totals["completed"] += m.completed
        totals["rejected"] += m.rejected
        totals["dropped"] += m.dropped
        totals["slo"] += m.slo_met
        ttft = m.ttft if ttft is None else ttft + m.ttft
    assert totals["arrived"] == len(df)
    in_flight = int(m.held.sum() + m.waiting.sum())
    assert totals["completed"] + totals["rejected"] + totals["dropped"] + in_flight == len(df)
    assert in_flight == 0 and totals["dropped"] == 0  # 10 minutes of drain empties the replicas
    assert ttft.count == totals["completed"]
    assert ttft.quantile(0.5) >= r.prefill_s(float(np.median(p))) * 0.99
    assert 0 < totals["slo"] <= totals["completed"]


def _lor_reference(model, R, windows):
    """Least-outstanding routing over separate `LlmReplica`s, by its definition: each arrival goes to
    the ready replica with the fewest requests routed to it and neither finished by the arrival's
    time (the replica's completion records) nor rejected or dropped (ties: lowest index); replicas
    are advanced to each arrival with the public `serve`, an arrival reaching its replica in that
    replica's next call."""
    reps = [LlmReplica(model, record=100_000) for _ in range(R)]
    routed = [0] * R
    pending: list[list[tuple]] = [[] for _ in range(R)]

    def advance(r, t):
        a = pending[r]
        reps[r].serve(t, [x[0] for x in a], [x[1] for x in a], [x[2] for x in a])
        pending[r] = []

    for t_end, arr, p, o, ready in windows:
        for i in range(arr.size):
            ta = arr[i]
            best, best_key = -1, 0
            for r in range(R):
                if not ready[r]:
                    continue
                advance(r, ta)
                tot = reps[r].totals()
                done = int((reps[r].records[: tot["completed"], 2] <= ta).sum())
                key = routed[r] - tot["rejected"] - tot["dropped"] - done
                if best < 0 or key < best_key:
                    best, best_key = r, key
            pending[best].append((ta, p[i], o[i]))
            routed[best] += 1
        for r in range(R):
            advance(r, t_end)
        yield reps


@pytest.mark.parametrize("rates", [(40, 4), (8, 1)])
def test_service_least_outstanding_equals_its_definition(h200, rates):
    """LlmService(routing="least-outstanding") (one kernel call per window) makes, replica by
    replica, exactly the counts of `_lor_reference`, through bursts, a drained replica and windows
    that end mid-iteration. Busy (40/s in bursts), a replica always has work to admit at an
    arrival and both advance it alike: the sums and state are equal too. Lighter (8/s), the kernel
    leaves a replica's run of decode iterations uncut when no completion can come before the
    arrival (fewer passes than the reference, which cuts at every arrival): the same iterations
    in longer closed-form runs, so the sums agree to rounding."""
    from gpusim.dataplane import _llm_kernels as K
    from gpusim.dataplane.llm import LlmService

    rng = np.random.default_rng(11)
    R = 3
    svc = LlmService(h200, R, routing="least-outstanding")
    windows = []
    t = 0.0
    for w in range(12):
        rate = rates[0] if w % 4 < 2 else rates[1]  # bursts: the replicas' loads differ at arrivals
        k = int(rng.poisson(rate * 15))
        a = np.sort(rng.uniform(t, t + 15, k))
        p, o = rng.integers(10, 3000, k), rng.integers(1, 600, k)
        ready = np.array([True, w < 6 or w >= 9, True])  # replica 1 drains for three windows
        windows.append((t + 15, a, p, o, ready))
        t += 15
    ref = _lor_reference(h200, R, windows)
    spread = []
    busy = rates[0] >= 40
    for (t_end, a, p, o, ready), reps in zip(windows, ref, strict=True):
        svc.ready[:] = ready
        m = svc.serve(t_end, a, p, o)
        assert m.arrived == a.size
        for r in range(R):
            assert np.array_equal(svc._acc_i[r], reps[r]._acc_i), (t_end, r)
            if busy:
                assert np.array_equal(svc._acc_f[r], reps[r]._acc_f), (t_end, r)
                assert np.array_equal(svc._ist[r], reps[r]._ist), (t_end, r)
                assert svc._fst[r, K.F_CLOCK] == reps[r].clock
            else:
                assert svc._acc_f[r] == pytest.approx(reps[r]._acc_f, rel=1e-9), (t_end, r)
                keep = np.arange(K.N_IST) != K.I_PASSES
                assert np.array_equal(svc._ist[r][keep], reps[r]._ist[keep]), (t_end, r)
                assert svc._fst[r, K.F_CLOCK] == pytest.approx(reps[r].clock, rel=1e-12)
        spread.append(max(x.totals()["arrived"] for x in reps) - min(x.totals()["arrived"] for x in reps))
    assert max(spread) > 0  # the routing was not round-robin in disguise: loads decided it
    passes = [svc._ist[r, K.I_PASSES] for r in range(R)], [x._ist[K.I_PASSES] for x in reps]
    if busy:
        assert passes[0] == passes[1]
    else:
        assert all(a < b for a, b in zip(*passes, strict=True)), passes  # the uncut runs were taken


def test_least_outstanding_by_hand(h200):
    """Two replicas. A (600 output tokens) at t=0 goes to replica 0 (a tie: lowest index); B (one
    output token) at t=1 to replica 1, which finishes it at once; C at t=5 finds replica 0 busy
    with A and replica 1 empty: least-outstanding sends it to 1, so its TTFT is one prefill alone,
    where round-robin sends it to 0, behind A's decode."""
    from gpusim.dataplane.llm import LlmService

    arr, p, o = np.array([0.0, 1.0, 5.0]), np.array([500, 500, 700]), np.array([600, 1, 50])
    ttft = {}
    for routing in ("least-outstanding", "round-robin"):
        svc = LlmService(h200, 2, routing=routing)
        svc.serve(4.0, arr[:2], p[:2], o[:2])
        m = svc.serve(10.0, arr[2:], p[2:], o[2:])
        ttft[routing] = m.ttft.sum_s  # C's only: A and B had theirs in the first window
        if routing == "least-outstanding":
            assert svc._acc_i[:, 0].tolist() == [1, 2]  # arrivals per replica (A; B and C)
    assert ttft["least-outstanding"] == pytest.approx(h200.prefill_s(700), rel=1e-12)
    assert ttft["round-robin"] > ttft["least-outstanding"]


def test_service_routing_is_checked(h200):
    """A routing the model does not have is refused; under least-outstanding a request that can
    never fit the KV cache is rejected where it arrives, and a full waiting queue drops."""
    from gpusim.dataplane.llm import LlmService

    with pytest.raises(ValueError, match="round-robin, least-outstanding"):
        LlmService(h200, 2, routing="shared-queue")
    svc = LlmService(h200, 2, routing="least-outstanding", queue_capacity=1)
    big = h200.kv_capacity_tokens
    # prefills of 4,000 tokens take 0.44 s: at 0.3 each replica is busy with one and queues one
    # more (ties: replica 0 first); the sixth finds both queues full
    t = [0.1, 0.2, 0.3, 0.30001, 0.30002, 0.30003]
    m = svc.serve(1.0, t, [big] + [4000] * 5, [10] + [900] * 5)
    assert (m.arrived, m.rejected, m.dropped, m.first_tokens) == (6, 1, 1, 4)
    assert svc._acc_i[:, 0].tolist() == [4, 2]  # arrivals per replica: the rejected and the dropped at 0
