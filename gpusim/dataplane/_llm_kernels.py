"""Private Numba kernels of the LLM replica model (see `gpusim.dataplane.llm` for the model).

State lives in the caller's arrays (dtypes fixed at allocation by `LlmReplica`); scalars in

    ist[I_QHEAD] ring-buffer head of the waiting queue     ist[I_QLEN]  waiting requests
    ist[I_NRUN]  sequences in decode                       ist[I_STEP]  decode iterations run so far
    ist[I_KV]    KV tokens held by the decode sequences     ist[I_RES]   KV tokens reserved by prefills
    ist[I_HEAP]  entries in the finish-step heap            ist[I_LASTDONE] completed by the last iteration
    ist[I_NEW] (unused)
    ist[I_FREE]  free slots on the slot stack
    ist[I_PF*]   the request under chunked prefill (active, length, done, remaining output, total)
    fst[F_CLOCK] replica clock (end of the last iteration)   fst[F_PFARR], fst[F_PFFIRST]

Decode sequences sit in slots ``s_f[j] = (arrival, first token)``, ``s_i[j] = (ctx0, join step,
finish step, output tokens, prev, next, heap position)``: a sequence joined at decode step
``join`` with ``ctx0`` tokens in the KV cache holds ``ctx0 + step - join`` tokens at ``step`` and
finishes at ``finish`` -- so a decode iteration touches no per-sequence state, and a run of
iterations with the same batch (until the next completion, arrival, preemption or window end) is
advanced in closed form. ``prev, next`` link the decode sequences in admission order, a circular
list through the sentinel row ``s_i[m]`` (``m = max_num_seqs``: its next is the oldest, its prev
the newest; both ``m`` when none), so linking and unlinking never branch. The waiting queue holds ``q_f[k] = (arrival, first token or NaN)`` and
``q_i[k] = (prefill tokens, tokens still to generate, output tokens)``.
"""

from __future__ import annotations

import math

import numpy as np

from gpusim.dataplane._numba import njit, njit_inline

# ist layout
I_QHEAD, I_QLEN, I_NRUN, I_STEP, I_KV, I_RES, I_HEAP, I_LASTDONE, I_NEW, I_FREE = range(10)
I_PFACT, I_PFLEN, I_PFDONE, I_PFREM, I_PFTOT, I_PASSES = range(10, 16)
N_IST = 16
# fst layout
F_CLOCK, F_PFARR, F_PFFIRST = range(3)
N_FST = 4
# params layout
P_FIXED, P_TOKEN, P_CTX, P_PAIR, P_CAP, P_MAXSEQ, P_BUDGET, P_WATERMARK, P_CHUNKED = range(9)
P_SLO_TTFT, P_SLO_TPOT, P_SLO_E2E = range(9, 12)
N_PARAMS = 12
# acc_i layout
A_ARRIVED, A_DONE, A_PREEMPT, A_DROPPED, A_REJECTED, A_FIRST, A_SLO_OK, A_TOKENS, A_TPOT_N, A_ITER = range(10)
N_ACC_I = 10
# acc_f layout
A_TTFT_SUM, A_TPOT_SUM, A_E2E_SUM, A_BUSY, A_RUN_INT, A_KV_INT = range(6)
N_ACC_F = 6
# hist rows
H_TTFT, H_TPOT, H_E2E = range(3)
# slot columns
S_CTX0, S_JOIN, S_FIN, S_TOT, S_PREV, S_NEXT, S_HPOS = range(7)


# --------------------------------------------------------------------------- one window
#
# The helpers are closures over the state arrays, defined inside `serve_window`: Numba inlines them
# and they take only scalars. (A helper taking arrays as arguments costs an atomic reference-count
# increment and decrement per array per call, which made up most of the kernel's time.)


@njit
def serve_window(
    t_end, arr_t, arr_p, arr_o, prm, ist, fst, q_f, q_i, s_f, s_i, h, free_stack, tb_f, tb_i,
    hist, edges, btab, acc_i, acc_f, rec,
):  # fmt: skip
    """Run one replica over the window ending at ``t_end`` with the window's arrivals (sorted)."""
    qcap = q_f.shape[0]
    sentinel = s_i.shape[0] - 1
    nb = edges.shape[0] - 1
    e_lo, e_hi = edges[0], edges[nb]
    cap = prm[P_CAP]
    maxseq = prm[P_MAXSEQ]
    wmark = prm[P_WATERMARK]
    slo_ttft, slo_tpot, slo_e2e = prm[P_SLO_TTFT], prm[P_SLO_TPOT], prm[P_SLO_E2E]

    # ---- finish-step heap: h[i] = (finish step, slot); s_i[slot, S_HPOS] = i
    def hswap(a, b):
        ka, sa = h[a, 0], h[a, 1]
        h[a, 0], h[a, 1] = h[b, 0], h[b, 1]
        h[b, 0], h[b, 1] = ka, sa
        s_i[h[a, 1], S_HPOS] = a
        s_i[h[b, 1], S_HPOS] = b

    def hup(i):
        while i > 0:
            p = (i - 1) >> 1
            if h[i, 0] < h[p, 0]:
                hswap(i, p)
                i = p
            else:
                break

    def hdown(i, n):
        while True:
            c = 2 * i + 1
            if c >= n:
                break
            if c + 1 < n:
                if h[c + 1, 0] < h[c, 0]:
                    c += 1
            if h[c, 0] < h[i, 0]:
                hswap(i, c)
                i = c
            else:
                break

    def hremove(pos):
        n = ist[I_HEAP] - 1
        ist[I_HEAP] = n
        if pos != n:
            hswap(pos, n)
            hdown(pos, n)
            hup(pos)

    # ---- decode sequences
    def join(arr, first, ctx0, rem, tot):
        """A sequence whose prefill just produced a token joins decode with ``rem`` iterations left."""
        f = ist[I_FREE] - 1
        ist[I_FREE] = f
        j = free_stack[f]
        s_f[j, 0] = arr
        s_f[j, 1] = first
        s_i[j, S_CTX0] = ctx0
        s_i[j, S_JOIN] = ist[I_STEP]
        s_i[j, S_FIN] = ist[I_STEP] + rem
        s_i[j, S_TOT] = tot
        newest = s_i[sentinel, S_PREV]  # append to the admission-order list (circular, sentinel row)
        s_i[j, S_PREV] = newest
        s_i[j, S_NEXT] = sentinel
        s_i[newest, S_NEXT] = j
        s_i[sentinel, S_PREV] = j
        n = ist[I_HEAP]
        h[n, 0] = s_i[j, S_FIN]
        h[n, 1] = j
        s_i[j, S_HPOS] = n
        ist[I_HEAP] = n + 1
        hup(n)
        ist[I_NRUN] += 1
        ist[I_KV] += ctx0

    def leave(j):
        """Remove slot j from decode (list, heap, KV count); its slot goes back on the free stack."""
        ctx = s_i[j, S_CTX0] + ist[I_STEP] - s_i[j, S_JOIN]
        ist[I_KV] -= ctx
        p, q = s_i[j, S_PREV], s_i[j, S_NEXT]
        s_i[p, S_NEXT] = q
        s_i[q, S_PREV] = p
        hremove(s_i[j, S_HPOS])
        ist[I_NRUN] -= 1
        free_stack[ist[I_FREE]] = j
        ist[I_FREE] += 1
        return ctx

    # ---- waiting queue (ring buffer)
    def qput(k, arr, first, pre, rem, tot):
        q_f[k, 0] = arr
        q_f[k, 1] = first
        q_i[k, 0] = pre
        q_i[k, 1] = rem
        q_i[k, 2] = tot
        ist[I_QLEN] += 1

    def qpush_back(arr, first, pre, rem, tot):
        ok = ist[I_QLEN] < qcap
        if ok:
            qput((ist[I_QHEAD] + ist[I_QLEN]) % qcap, arr, first, pre, rem, tot)
        return ok

    def qpush_front(arr, first, pre, rem, tot):
        ok = ist[I_QLEN] < qcap
        if ok:
            k = (ist[I_QHEAD] - 1) % qcap
            ist[I_QHEAD] = k
            qput(k, arr, first, pre, rem, tot)
        return ok

    def qpop():
        k = ist[I_QHEAD]
        ist[I_QHEAD] = (k + 1) % qcap
        ist[I_QLEN] -= 1
        return k

    # ---- records
    def bin_of(x):
        """Counts-array index of x, as `gpusim.dataplane._kernels._record` finds it (no logarithm)."""
        k = nb
        if x < e_hi:
            k = -1
            if x >= e_lo:
                m, ex = math.frexp(x)
                k = btab[1 + (ex - btab[0]) * 256 + int((m - 0.5) * 512.0)]
                # the guess is at most one bin low; the edges decide
                while k < nb - 1:
                    if x < edges[k + 1]:
                        break
                    k += 1
                while k > 0:
                    if x >= edges[k]:
                        break
                    k -= 1
        return k + 1

    def record(x, row):
        hist[row, bin_of(x)] += 1

    def first_token(t, arr):
        x = t - arr
        record(x, H_TTFT)
        acc_i[A_FIRST] += 1
        acc_f[A_TTFT_SUM] += x

    def complete(t, arr, first, tot):
        e2e = t - arr
        record(e2e, H_E2E)
        acc_f[A_E2E_SUM] += e2e
        acc_i[A_DONE] += 1
        ist[I_LASTDONE] += 1
        acc_i[A_TOKENS] += tot
        tpot = 0.0
        if tot > 1:
            tpot = (t - first) / (tot - 1)
            record(tpot, H_TPOT)
            acc_f[A_TPOT_SUM] += tpot
            acc_i[A_TPOT_N] += 1
        if first - arr <= slo_ttft and tpot <= slo_tpot and e2e <= slo_e2e:
            acc_i[A_SLO_OK] += 1
        n = acc_i[A_DONE] - 1
        if n < rec.shape[0]:
            rec[n, 0] = arr
            rec[n, 1] = first
            rec[n, 2] = t

    # ---- scheduling
    def admissible(pre, n_new, kv_new):
        seqs_ok = ist[I_NRUN] + ist[I_PFACT] + n_new < maxseq
        kv_ok = cap - ist[I_KV] - ist[I_RES] - kv_new - pre >= wmark
        return seqs_ok & kv_ok

    def preempt_for_decode():
        """Preempt as vLLM does: before a decode iteration every sequence needs one more KV slot.

        While they do not all fit, the most recently admitted sequence is preempted (recompute: its
        KV is freed and it goes back to the front of the waiting queue with prompt + generated tokens).
        """
        while ist[I_NRUN] > 0:
            if ist[I_KV] + ist[I_RES] + ist[I_NRUN] <= cap:
                break
            j = s_i[sentinel, S_PREV]  # the newest
            tot = s_i[j, S_TOT]
            arr, first = s_f[j, 0], s_f[j, 1]
            remaining = s_i[j, S_FIN] - ist[I_STEP]  # decode iterations it still needed
            ctx = leave(j)
            # generated so far g = tot - remaining; the recompute prefill covers ctx + 1 = prompt + g
            # tokens and produces the next one, leaving `remaining` tokens to generate
            if not qpush_front(arr, first, ctx + 1, remaining, tot):
                acc_i[A_DROPPED] += 1
            acc_i[A_PREEMPT] += 1

    def start_chunked_prefill(k):
        """Queue entry k (popped) becomes the request under chunked prefill; its prompt's KV is reserved."""
        ist[I_PFACT] = 1
        ist[I_PFLEN] = q_i[k, 0]
        ist[I_PFDONE] = 0
        ist[I_PFREM] = q_i[k, 1]
        ist[I_PFTOT] = q_i[k, 2]
        fst[F_PFARR] = q_f[k, 0]
        fst[F_PFFIRST] = q_f[k, 1]
        ist[I_RES] += q_i[k, 0]

    n_arr = arr_t.shape[0]
    a = 0
    t = fst[F_CLOCK]
    fixed, per_tok, per_ctx, per_pair = prm[P_FIXED], prm[P_TOKEN], prm[P_CTX], prm[P_PAIR]
    chunked = prm[P_CHUNKED] > 0.5
    budget = int(prm[P_BUDGET])
    icap = int(cap)
    while True:
        # arrivals that have happened by now join the waiting queue
        while a < n_arr and arr_t[a] <= t:
            acc_i[A_ARRIVED] += 1
            p = max(int(arr_p[a]), 1)
            o = max(int(arr_o[a]), 1)
            if p + o > cap - wmark:
                acc_i[A_REJECTED] += 1  # can never fit the KV cache
            elif not qpush_back(arr_t[a], math.nan, p, o, o):
                acc_i[A_DROPPED] += 1
            a += 1
        if t >= t_end:
            break
        idle = ist[I_NRUN] == 0 and ist[I_PFACT] == 0 and ist[I_QLEN] == 0
        if idle:
            if a < n_arr and arr_t[a] < t_end:
                t = arr_t[a]
                continue
            t = t_end
            break
        # ---- build one iteration (or a run of identical decode iterations)
        ist[I_PASSES] += 1
        ist[I_LASTDONE] = 0  # what completes at this pass's end (least-outstanding reads it)
        if chunked:
            preempt_for_decode()
        D = ist[I_NRUN]
        n_new = 0
        kv_new = 0
        p_tok = 0
        pairs = 0.0
        pf_finish = False
        if chunked:
            left = budget - D
            if ist[I_PFACT] == 0 and left > 0 and ist[I_QLEN] > 0:
                k = ist[I_QHEAD]
                if admissible(q_i[k, 0], 0, 0):
                    qpop()
                    start_chunked_prefill(k)
            # the request under prefill gets what the decodes leave of the token budget; when its
            # prompt ends, queued requests start theirs in the same iteration (FCFS)
            while ist[I_PFACT] == 1 and left > 0:
                done = ist[I_PFDONE]
                n = min(ist[I_PFLEN] - done, left)
                p_tok += n
                pairs += n * done + n * (n + 1) / 2.0
                left -= n
                ist[I_PFDONE] = done + n
                if ist[I_PFDONE] < ist[I_PFLEN]:
                    break
                # finishes this iteration: park it in the finishing buffer
                tb_f[n_new, 0] = fst[F_PFARR]
                tb_f[n_new, 1] = fst[F_PFFIRST]
                tb_i[n_new, 0] = ist[I_PFLEN]
                tb_i[n_new, 1] = ist[I_PFREM]
                tb_i[n_new, 2] = ist[I_PFTOT]
                n_new += 1
                ist[I_PFACT] = 0
                pf_finish = True
                if left > 0 and ist[I_QLEN] > 0:
                    k = ist[I_QHEAD]
                    if admissible(q_i[k, 0], n_new, 0):
                        qpop()
                        start_chunked_prefill(k)
        else:
            # vLLM's default scheduler: waiting prompts first, as many as fit (FCFS, token budget,
            # max_num_seqs, free KV above the watermark); decodes wait during a prefill iteration
            while ist[I_QLEN] > 0:
                k = ist[I_QHEAD]
                pre = q_i[k, 0]
                if n_new > 0 and p_tok + pre > budget:
                    break
                if not admissible(pre, n_new, kv_new):
                    break
                qpop()
                tb_f[n_new, 0] = q_f[k, 0]
                tb_f[n_new, 1] = q_f[k, 1]
                tb_i[n_new, 0] = pre
                tb_i[n_new, 1] = q_i[k, 1]
                tb_i[n_new, 2] = q_i[k, 2]
                n_new += 1
                kv_new += pre
                p_tok += pre
                pairs += pre * (pre + 1) / 2.0
            if n_new > 0:
                D = 0
                pf_finish = True
            else:
                preempt_for_decode()
                D = ist[I_NRUN]
        if D == 0 and p_tok == 0:
            # nothing can run: only possible if the queue head waits for KV that nothing will free
            # (cannot happen: rejected at arrival) -- guard against spinning
            t = t_end
            break
        # ---- how many identical iterations: 1 unless pure decode
        kv_read = ist[I_KV] if D > 0 else 0  # a prefill-only iteration reads no decode context
        base = fixed + per_tok * (D + p_tok) + per_ctx * kv_read + per_pair * pairs
        c = per_ctx * D  # each decode iteration adds D tokens of context
        kk = 1
        if p_tok == 0 and ist[I_PFACT] == 0:
            k_done = h[0, 0] - ist[I_STEP]
            k_kv = (icap - ist[I_KV] - ist[I_RES]) // D
            kk = min(k_done, k_kv)
            # stop at the iteration during which the next arrival happens (it may start a prefill)
            # and at the window end
            t_stop = t_end
            if a < n_arr and arr_t[a] < t_stop and ist[I_QLEN] == 0:
                t_stop = arr_t[a]
            kk = min(kk, _iterations_to(t_stop - t, base, c))
            kk = max(kk, 1)
        dur = kk * base + c * kk * (kk - 1) / 2.0
        # integrals over the iterations: sequences held (in decode or prefill), KV tokens held
        acc_f[A_RUN_INT] += (ist[I_NRUN] + ist[I_PFACT]) * dur
        s0 = ist[I_KV] + ist[I_RES]
        acc_f[A_KV_INT] += (
            kk * s0 * base + (s0 * c + D * base) * kk * (kk - 1) / 2.0 + D * c * (kk - 1) * kk * (2 * kk - 1) / 6.0
        )
        acc_f[A_BUSY] += dur
        acc_i[A_ITER] += kk
        t += dur
        if D > 0:
            ist[I_STEP] += kk
            ist[I_KV] += kk * D
            # completions: every sequence whose finish step has come
            while ist[I_HEAP] > 0 and h[0, 0] <= ist[I_STEP]:
                j = h[0, 1]
                arr, first, tot = s_f[j, 0], s_f[j, 1], s_i[j, S_TOT]
                leave(j)
                complete(t, arr, first, tot)
        if pf_finish:
            for m in range(n_new):
                arr, first = tb_f[m, 0], tb_f[m, 1]
                pre, rem, tot = tb_i[m, 0], tb_i[m, 1], tb_i[m, 2]
                if chunked:
                    ist[I_RES] -= pre
                if math.isnan(first):
                    first = t
                    first_token(t, arr)
                if rem <= 1:
                    complete(t, arr, first, tot)
                else:
                    join(arr, first, pre, rem - 1, tot)
    fst[F_CLOCK] = t
    return a


@njit_inline
def _iterations_to(span, base, c):
    """Fewest iterations k >= 1 whose total k*base + c*k*(k-1)/2 reaches ``span``."""
    if span <= 0.0:
        return 1
    if c <= 0.0:
        k = int(math.ceil(span / base))
    else:
        # c/2 k^2 + (base - c/2) k - span = 0
        b = base - c / 2.0
        k = int(math.ceil((-b + math.sqrt(b * b + 2.0 * c * span)) / c))
    k = max(k, 1)
    while k > 1 and (k - 1) * base + c * (k - 1) * (k - 2) / 2.0 >= span:
        k -= 1
    while k * base + c * k * (k - 1) / 2.0 < span:
        k += 1
    return k


@njit
def serve_service(
    t_end, arr_t, arr_p, arr_o, ready, rr, prm, ist, fst, q_f, q_i, s_f, s_i, h, free_stack, tb_f, tb_i,
    hist, edges, btab, acc_i, acc_f, rec,
):  # fmt: skip
    """Every replica of a service over one window; arrivals go round-robin over the ready replicas.

    State arrays carry a leading replica axis, and so does ``prm`` (each replica's own speed and KV
    capacity: replicas may sit on different GPUs); ``hist`` is shared (the service's histograms).
    ``rr`` is the index, into the ready replicas, of the one that takes the first arrival; returns
    the index for the next window's first arrival. Replicas not ready get no arrivals but finish
    what they hold (draining).
    """
    n_rep = ist.shape[0]
    n = arr_t.shape[0]
    ready_idx = np.empty(n_rep, dtype=np.int64)
    n_ready = 0
    for r in range(n_rep):
        if ready[r]:
            ready_idx[n_ready] = r
            n_ready += 1
    buf_t = np.empty(n // max(n_ready, 1) + 1, dtype=np.float64)
    buf_p = np.empty(buf_t.shape[0], dtype=np.int64)
    buf_o = np.empty(buf_t.shape[0], dtype=np.int64)
    for r in range(n_rep):
        m = 0
        if ready[r] and n_ready > 0:
            pos = 0
            for k in range(n_ready):
                if ready_idx[k] == r:
                    pos = k
            for i in range((pos - rr) % n_ready, n, n_ready):
                buf_t[m] = arr_t[i]
                buf_p[m] = arr_p[i]
                buf_o[m] = arr_o[i]
                m += 1
        serve_window(
            t_end, buf_t[:m], buf_p[:m], buf_o[:m], prm[r], ist[r], fst[r], q_f[r], q_i[r], s_f[r], s_i[r], h[r],
            free_stack[r], tb_f[r], tb_i[r], hist, edges, btab, acc_i[r], acc_f[r], rec,
        )  # fmt: skip
    if n_ready == 0:
        return rr
    return (rr + n) % n_ready


@njit_inline
def _quiet_until(prm, ist, fst, h):
    """The time before which the requests a replica holds cannot change if no request arrives: inf
    when it holds none; in a run of decode iterations (nothing waiting, no prefill under way) the
    end of the iteration of its next completion or of its first preemption (`serve_window`'s run,
    in closed form); else its clock (it has work to admit).
    """
    if ist[I_QLEN] > 0 or ist[I_PFACT] > 0:
        return fst[F_CLOCK]
    D = ist[I_NRUN]
    if D == 0:
        return math.inf
    k = min(h[0, 0] - ist[I_STEP], (int(prm[P_CAP]) - ist[I_KV] - ist[I_RES]) // D)
    if k < 1:
        return fst[F_CLOCK]
    base = prm[P_FIXED] + prm[P_TOKEN] * D + prm[P_CTX] * ist[I_KV]
    c = prm[P_CTX] * D
    return fst[F_CLOCK] + (k * base + c * k * (k - 1) / 2.0)


@njit
def serve_service_lor(
    t_end, arr_t, arr_p, arr_o, ready, prm, ist, fst, q_f, q_i, s_f, s_i, h, free_stack, tb_f, tb_i,
    hist, edges, btab, acc_i, acc_f, rec,
):  # fmt: skip
    """`serve_service` with least-outstanding routing: each arrival goes to the ready replica that
    holds the fewest requests at its time (waiting, under prefill or in decode; ties: lowest index),
    as `gpusim.dataplane.plane.DataPlane` routes (Envoy's least-request with a full scan).

    Before each arrival a ready replica is advanced to the arrival's time (`serve_window` up to it:
    its last iteration may end after it) unless nothing it holds can change by then
    (`_quiet_until`: a run of decode iterations whose first completion ends after the arrival, or
    an idle replica). Requests that the iteration in progress at the arrival completes are still
    held then: a replica whose clock is past the arrival counts its last pass's completions
    (``ist[I_LASTDONE]``) as outstanding. An idle replica's clock moves to the arrival. Every
    replica is served to ``t_end`` at the end.
    """
    n_rep = ist.shape[0]
    n = arr_t.shape[0]
    quiet = np.empty(n_rep)  # _quiet_until of each replica, renewed whenever it is served
    for r in range(n_rep):
        quiet[r] = _quiet_until(prm[r], ist[r], fst[r], h[r])
    for i in range(n):
        ta = arr_t[i]
        best = -1
        best_key = 0
        for r in range(n_rep):
            if not ready[r]:
                continue
            if quiet[r] <= ta and fst[r, F_CLOCK] < ta:
                serve_window(
                    ta, arr_t[:0], arr_p[:0], arr_o[:0], prm[r], ist[r], fst[r], q_f[r], q_i[r], s_f[r], s_i[r],
                    h[r], free_stack[r], tb_f[r], tb_i[r], hist, edges, btab, acc_i[r], acc_f[r], rec,
                )  # fmt: skip
                quiet[r] = _quiet_until(prm[r], ist[r], fst[r], h[r])
            key = ist[r, I_QLEN] + ist[r, I_NRUN] + ist[r, I_PFACT]
            if fst[r, F_CLOCK] > ta:
                key += ist[r, I_LASTDONE]
            if best < 0 or key < best_key:
                best = r
                best_key = key
        if best < 0:
            continue  # no ready replica: the caller holds the window's arrivals at the balancer
        r = best
        if fst[r, F_CLOCK] < ta:
            if ist[r, I_QLEN] + ist[r, I_NRUN] + ist[r, I_PFACT] == 0:
                fst[r, F_CLOCK] = ta  # idle until this arrival
            else:  # a quiet run of decode iterations: up to the arrival
                serve_window(
                    ta, arr_t[:0], arr_p[:0], arr_o[:0], prm[r], ist[r], fst[r], q_f[r], q_i[r], s_f[r], s_i[r],
                    h[r], free_stack[r], tb_f[r], tb_i[r], hist, edges, btab, acc_i[r], acc_f[r], rec,
                )  # fmt: skip
        # the arrival joins the replica's waiting queue: serve_window's arrival step, for one request
        # (what serve_window(ta, [it]) does on a replica whose clock has reached ta, without the call)
        acc_i[r, A_ARRIVED] += 1
        p = max(int(arr_p[i]), 1)
        o = max(int(arr_o[i]), 1)
        qcap = q_f.shape[1]
        if p + o > prm[r, P_CAP] - prm[r, P_WATERMARK]:
            acc_i[r, A_REJECTED] += 1  # can never fit the KV cache
        elif ist[r, I_QLEN] >= qcap:
            acc_i[r, A_DROPPED] += 1
        else:
            k = (ist[r, I_QHEAD] + ist[r, I_QLEN]) % qcap
            q_f[r, k, 0] = ta
            q_f[r, k, 1] = math.nan
            q_i[r, k, 0] = p
            q_i[r, k, 1] = o
            q_i[r, k, 2] = o
            ist[r, I_QLEN] += 1
        quiet[r] = _quiet_until(prm[r], ist[r], fst[r], h[r])
    for r in range(n_rep):
        serve_window(
            t_end, arr_t[:0], arr_p[:0], arr_o[:0], prm[r], ist[r], fst[r], q_f[r], q_i[r], s_f[r], s_i[r], h[r],
            free_stack[r], tb_f[r], tb_i[r], hist, edges, btab, acc_i[r], acc_f[r], rec,
        )  # fmt: skip
