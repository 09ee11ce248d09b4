"""Private Numba kernels of the request data plane (see `gpusim.dataplane.plane` for the model).

Every kernel takes only contiguous arrays and scalars with dtypes fixed at allocation by
`DataPlane`. State that must survive between calls lives in the caller's arrays; scalars that the
kernels update live in the int64 array ``ist``:

    ist[0] n_heap    in-flight entries in the completion heap
    ist[1] n_held    requests held at the load balancer (no ready replica, or shared-queue re-queue)
    ist[2] rr_ptr    last replica chosen by round-robin
    ist[3] next_id   id of the next arriving request (arrival order = FCFS order)
    ist[4] n_sh      ready slots of the shared queue (scanned up to _LINEAR_SLOTS, else a slot heap)
    ist[5] any_ready 1 if at least one replica is ready in this window
    ist[6] n_ready   ready replicas in this window

In-flight entries (one per request dispatched to a replica, or waiting to time out) form one binary
min-heap keyed on their event time ``e`` (completion, or abandonment at ``a + timeout``):
``hf[j] = (e, a, s, w)`` (event, arrival, start, work) and ``hi[j] = (id, replica, slot)``;
``slot == -1`` marks a request that will time out (it never occupies a slot). ``btab`` is
`HistogramConfig.lookup()`, the bin-guess table used to count latencies without a logarithm.

Hot loops are written out in `_serve_arrivals_fast` rather than calling helpers: each call that
passes arrays costs reference-count traffic per request, several times the queueing work itself.
"""

from __future__ import annotations

import math

import numpy as np

from gpusim.dataplane._numba import njit, njit_inline

ROUND_ROBIN = 0
LEAST_OUTSTANDING = 1
JOIN_SHORTEST_QUEUE = 2
SHARED_QUEUE = 3

ABSENT = 0
READY = 1
DRAINING = 2

# acc_i layout
ARRIVED = 0
SERVED = 1
TIMED_OUT = 2
DROPPED = 3
# acc_f layout
LATENCY_SUM = 0
WAIT_SUM = 1


@njit_inline
def _overlap(x, y, t0, t1):
    lo = x if x > t0 else t0
    hi = y if y < t1 else t1
    return hi - lo if hi > lo else 0.0


@njit
def _swap(hf, hi, i, j):
    for k in range(4):
        tmp = hf[i, k]
        hf[i, k] = hf[j, k]
        hf[j, k] = tmp
    for k in range(3):
        tmpi = hi[i, k]
        hi[i, k] = hi[j, k]
        hi[j, k] = tmpi


@njit
def _sift_up(hf, hi, i):
    while i > 0:
        p = (i - 1) >> 1
        if hf[i, 0] < hf[p, 0]:
            _swap(hf, hi, i, p)
            i = p
        else:
            break


@njit
def _sift_down(hf, hi, i, n):
    while True:
        left = 2 * i + 1
        if left >= n:
            break
        m = left
        right = left + 1
        if right < n and hf[right, 0] < hf[left, 0]:
            m = right
        if hf[m, 0] < hf[i, 0]:
            _swap(hf, hi, i, m)
            i = m
        else:
            break


@njit
def _heapify(hf, hi, n):
    for i in range(n // 2 - 1, -1, -1):
        _sift_down(hf, hi, i, n)


@njit_inline
def _push(hf, hi, ist, e, a, s, w, rid, r, slot):
    n = ist[0]
    hf[n, 0] = e
    hf[n, 1] = a
    hf[n, 2] = s
    hf[n, 3] = w
    hi[n, 0] = rid
    hi[n, 1] = r
    hi[n, 2] = slot
    _sift_up(hf, hi, n)
    ist[0] = n + 1


@njit_inline
def _sh_less(sh_t, sh_slot, i, j):
    return sh_t[i] < sh_t[j] or (sh_t[i] == sh_t[j] and sh_slot[i] < sh_slot[j])


@njit_inline
def _sh_sift_down(sh_t, sh_slot, i, n):
    while True:
        left = 2 * i + 1
        if left >= n:
            break
        m = left
        right = left + 1
        if right < n and _sh_less(sh_t, sh_slot, right, left):
            m = right
        if _sh_less(sh_t, sh_slot, m, i):
            tt = sh_t[i]
            sh_t[i] = sh_t[m]
            sh_t[m] = tt
            ts = sh_slot[i]
            sh_slot[i] = sh_slot[m]
            sh_slot[m] = ts
            i = m
        else:
            break


_LINEAR_SLOTS = 64  # up to this many ready slots a scan beats the slot heap


@njit_inline
def _shared_pick(busy, sh_t, sh_slot, n_sh):
    """Ready slot that has been free longest (earliest free time, then lowest index)."""
    if n_sh > _LINEAR_SLOTS:
        return sh_slot[0]
    slot = sh_slot[0]
    free = busy[slot]
    for j in range(1, n_sh):
        cand = sh_slot[j]  # sh_slot is in index order, so `<` keeps the lowest index on ties
        if busy[cand] < free:
            free = busy[cand]
            slot = cand
    return slot


@njit_inline
def _shared_update(e, sh_t, sh_slot, n_sh):
    """The slot just picked is now busy until e (the heap's top; nothing to do for the scan)."""
    if n_sh > _LINEAR_SLOTS:
        sh_t[0] = e
        _sh_sift_down(sh_t, sh_slot, 0, n_sh)


@njit_inline
def _record(x, hist, edges, btab):
    """Count x in its bin; `btab` is `HistogramConfig.lookup()` (no logarithm on the hot path)."""
    nb = edges.shape[0] - 1
    if x < edges[0]:
        hist[0] += 1
        return
    if x >= edges[nb]:
        hist[nb + 1] += 1
        return
    m, ex = math.frexp(x)
    k = btab[1 + (ex - btab[0]) * 256 + int((m - 0.5) * 512.0)]
    # the guess is at most one bin low; the edges decide
    while k < nb - 1 and x >= edges[k + 1]:
        k += 1
    while k > 0 and x < edges[k]:
        k -= 1
    hist[k + 1] += 1


@njit
def _pop_until(t, hf, hi, ist, outstanding, acc_i, acc_f, lat_hist, wait_hist, edges, btab):
    """Retire every in-flight entry whose event time is <= t (completion or timeout)."""
    n = ist[0]
    while n > 0 and hf[0, 0] <= t:
        e = hf[0, 0]
        a = hf[0, 1]
        s = hf[0, 2]
        outstanding[hi[0, 1]] -= 1
        if hi[0, 2] < 0:
            acc_i[TIMED_OUT] += 1
        else:
            acc_i[SERVED] += 1
            lat = e - a
            wt = s - a
            acc_f[LATENCY_SUM] += lat
            acc_f[WAIT_SUM] += wt
            _record(lat, lat_hist, edges, btab)
            _record(wt, wait_hist, edges, btab)
        n -= 1
        if n > 0:
            for k in range(4):
                hf[0, k] = hf[n, k]
            for k in range(3):
                hi[0, k] = hi[n, k]
            _sift_down(hf, hi, 0, n)
    ist[0] = n


@njit
def _route(mode, R, rstate, speed, outstanding, ist):
    """Replica for a new request under a per-replica routing rule (ties: lowest index)."""
    if mode == ROUND_ROBIN:
        p = ist[2]
        for k in range(1, R + 1):
            c = (p + k) % R
            if rstate[c] == READY:
                ist[2] = c
                return c
        return -1
    best = -1
    best_key = 0.0
    for c in range(R):
        if rstate[c] != READY:
            continue
        if mode == LEAST_OUTSTANDING:
            key = float(outstanding[c])
        else:  # join-shortest-queue in expected delay: (outstanding + 1) / speed
            key = (outstanding[c] + 1.0) / speed[c]
        if best < 0 or key < best_key:
            best = c
            best_key = key
    return best


@njit
def _dispatch(
    a,
    w,
    rid,
    t_eff,
    r_forced,
    check_cap,
    t0,
    t1,
    pi,
    pf,
    rstate,
    speed,
    busy,
    outstanding,
    hf,
    hi,
    ist,
    sh_t,
    sh_slot,
    acc_i,
    acc_f,
    q_area,
    s_area,
    lat_hist,
    wait_hist,
    edges,
    btab,
):
    """Dispatch one request at time t_eff (>= its arrival a) by the Lindley recursion.

    When nothing needs per-replica counts during the window (round-robin or shared-queue, and
    pi[4] == 1: no max_queue), a request that finishes (or times out) by t1 is retired at once
    instead of passing through the completion heap.
    """
    mode = pi[0]
    C = pi[1]
    R = pi[2]
    max_q = pi[3]
    timeout = pf[0]
    alpha = pf[1]
    if mode == SHARED_QUEUE:
        slot = _shared_pick(busy, sh_t, sh_slot, ist[4])
        free = busy[slot]
        r = slot // C
        q = R
    else:
        r = r_forced
        if r < 0:
            r = _route(mode, R, rstate, speed, outstanding, ist)
        base = r * C
        slot = base
        free = busy[base]
        for k in range(1, C):
            if busy[base + k] < free:
                free = busy[base + k]
                slot = base + k
        q = r
    if check_cap and max_q >= 0:
        waiting = 0
        for j in range(ist[0]):
            if hf[j, 2] > t_eff and (mode == SHARED_QUEUE or hi[j, 1] == r):
                waiting += 1
        cap = max_q * ist[6] if mode == SHARED_QUEUE else max_q
        if waiting >= cap:
            acc_i[DROPPED] += 1
            return
    s = free if free > t_eff else t_eff
    if s > a + timeout:
        e = a + timeout
        q_area[q] += _overlap(a, e, t0, t1)
        if pi[4] == 1 and e <= t1 and (mode == ROUND_ROBIN or mode == SHARED_QUEUE):
            acc_i[TIMED_OUT] += 1
            return
        _push(hf, hi, ist, e, a, e, w, rid, q, -1)
        outstanding[q] += 1
        return
    n_active = 1
    if alpha > 0.0:
        base = r * C
        for k in range(C):
            if base + k != slot and busy[base + k] > s:
                n_active += 1
    e = s + w / speed[r] * (1.0 + alpha * (n_active - 1))
    busy[slot] = e
    if mode == SHARED_QUEUE:
        _shared_update(e, sh_t, sh_slot, ist[4])
    q_area[q] += _overlap(a, s, t0, t1)
    s_area[r] += _overlap(s, e, t0, t1)
    if pi[4] == 1 and e <= t1 and (mode == ROUND_ROBIN or mode == SHARED_QUEUE):
        acc_i[SERVED] += 1
        acc_f[LATENCY_SUM] += e - a
        acc_f[WAIT_SUM] += s - a
        _record(e - a, lat_hist, edges, btab)
        _record(s - a, wait_hist, edges, btab)
        return
    _push(hf, hi, ist, e, a, s, w, rid, r, slot)
    outstanding[r] += 1


@njit
def begin_window(
    t0,
    t1,
    pi,
    pf,
    rstate,
    speed,
    busy,
    outstanding,
    hf,
    hi,
    held_f,
    held_id,
    ist,
    sh_t,
    sh_slot,
    u_f,
    u_i,
    acc_i,
    acc_f,
    q_area,
    s_area,
    lat_hist,
    wait_hist,
    edges,
    btab,
):
    """Start a window: re-queue requests not yet started, account carried work, dispatch the queue.

    Requests that have not started by t0 (and those waiting to time out) are taken back and
    dispatched again in FCFS (id) order with the replica set and speeds of this window: to the same
    replica under per-replica routing (they sit in that pod's queue), through the load balancer
    under shared-queue routing and for held requests. Capacity: hf/hi must hold n_heap + n_held
    rows, held_f/held_id and u_f/u_i as many.
    """
    mode = pi[0]
    C = pi[1]
    R = pi[2]
    n = ist[0]
    nu = 0
    m = 0
    for j in range(n):
        slot = hi[j, 2]
        if slot < 0 or hf[j, 2] > t0:
            u_f[nu, 0] = hf[j, 1]
            u_f[nu, 1] = hf[j, 3]
            u_i[nu, 0] = hi[j, 0]
            u_i[nu, 1] = -1 if mode == SHARED_QUEUE else hi[j, 1]
            outstanding[hi[j, 1]] -= 1
            if slot >= 0 and hf[j, 2] < busy[slot]:
                busy[slot] = hf[j, 2]
            nu += 1
        else:
            if m != j:
                for k in range(4):
                    hf[m, k] = hf[j, k]
                for k in range(3):
                    hi[m, k] = hi[j, k]
            m += 1
    ist[0] = m
    _heapify(hf, hi, m)
    for j in range(m):
        s_area[hi[j, 1]] += _overlap(hf[j, 2], hf[j, 0], t0, t1)
    nh = ist[1]
    for j in range(nh):
        u_f[nu, 0] = held_f[j, 0]
        u_f[nu, 1] = held_f[j, 1]
        u_i[nu, 0] = held_id[j]
        u_i[nu, 1] = -1
        nu += 1
    ist[1] = 0
    # slot heap of the ready replicas (shared-queue): key (free time, slot index)
    n_sh = 0
    if mode == SHARED_QUEUE:
        for r in range(R):
            if rstate[r] == READY:
                for k in range(C):
                    sh_t[n_sh] = busy[r * C + k]
                    sh_slot[n_sh] = r * C + k
                    n_sh += 1
        if n_sh > _LINEAR_SLOTS:  # otherwise sh_slot stays in index order for the scan
            for i in range(n_sh // 2 - 1, -1, -1):
                _sh_sift_down(sh_t, sh_slot, i, n_sh)
    ist[4] = n_sh
    if nu == 0:
        return
    order = np.argsort(u_i[:nu, 0])
    for oi in range(nu):
        j = order[oi]
        sticky = u_i[j, 1]
        if sticky >= 0 or ist[5] == 1:
            _dispatch(
                u_f[j, 0],
                u_f[j, 1],
                u_i[j, 0],
                t0,
                sticky,
                False,
                t0,
                t1,
                pi,
                pf,
                rstate,
                speed,
                busy,
                outstanding,
                hf,
                hi,
                ist,
                sh_t,
                sh_slot,
                acc_i,
                acc_f,
                q_area,
                s_area,
                lat_hist,
                wait_hist,
                edges,
                btab,
            )
        else:
            h = ist[1]
            held_f[h, 0] = u_f[j, 0]
            held_f[h, 1] = u_f[j, 1]
            held_id[h] = u_i[j, 0]
            ist[1] = h + 1


@njit
def _held_waiting(t, held_f, nh, timeout):
    """Held requests still waiting at t (those due to time out by t have left)."""
    k = 0
    for j in range(nh):
        if held_f[j, 0] + timeout > t:
            k += 1
    return k


@njit
def _serve_arrivals_fast(
    arrival_s,
    work,
    i0,
    t0,
    t1,
    pi,
    pf,
    speed,
    busy,
    outstanding,
    hf,
    hi,
    ist,
    rstate,
    sh_t,
    sh_slot,
    acc_i,
    acc_f,
    q_area,
    s_area,
    lat_hist,
    wait_hist,
    edges,
    btab,
):
    """`serve_arrivals` without max_queue and with a ready replica: the hot loop.

    The same rules as `_pop_until` + `_route` + `_dispatch`, written out in one loop: every call
    that passes arrays costs reference-count traffic per request, several times the work itself.
    Under round-robin and shared-queue a request that finishes by t1 is retired at once; under
    least-outstanding and join-shortest-queue every request goes through the completion heap,
    which is popped up to each arrival so that the outstanding counts are those at its time.
    """
    n = arrival_s.shape[0]
    cap = hf.shape[0]
    mode = pi[0]
    C = pi[1]
    R = pi[2]
    timeout = pf[0]
    alpha = pf[1]
    n_sh = ist[4]
    use_heap = n_sh > _LINEAR_SLOTS
    nb = edges.shape[0] - 1
    x_lo = edges[0]
    x_hi = edges[nb]
    counts = mode == LEAST_OUTSTANDING or mode == JOIN_SHORTEST_QUEUE
    rr = ist[2]
    rid = ist[3]
    arrived = 0
    served = 0
    timed_out = 0
    lat_sum = 0.0
    wait_sum = 0.0
    i = i0
    while i < n:
        if ist[0] >= cap:
            break
        a = arrival_s[i]
        w = work[i]
        arrived += 1
        if counts:  # retire what is due by a (the body of _pop_until, written out)
            nh = ist[0]
            while nh > 0 and hf[0, 0] <= a:
                outstanding[hi[0, 1]] -= 1
                if hi[0, 2] < 0:
                    timed_out += 1
                else:
                    served += 1
                    lat = hf[0, 0] - hf[0, 1]
                    wt = hf[0, 2] - hf[0, 1]
                    lat_sum += lat
                    wait_sum += wt
                    for h in range(2):
                        x = lat if h == 0 else wt
                        if x < x_lo:
                            k = -1
                        elif x >= x_hi:
                            k = nb
                        else:
                            m, ex = math.frexp(x)
                            k = btab[1 + (ex - btab[0]) * 256 + int((m - 0.5) * 512.0)]
                            while k < nb - 1 and x >= edges[k + 1]:
                                k += 1
                            while k > 0 and x < edges[k]:
                                k -= 1
                        if h == 0:
                            lat_hist[k + 1] += 1
                        else:
                            wait_hist[k + 1] += 1
                nh -= 1
                if nh > 0:
                    for k in range(4):
                        hf[0, k] = hf[nh, k]
                    for k in range(3):
                        hi[0, k] = hi[nh, k]
                    _sift_down(hf, hi, 0, nh)
            ist[0] = nh
        if mode == SHARED_QUEUE:
            # _shared_pick, written out (a helper call here costs more than the scan)
            if use_heap:
                slot = sh_slot[0]
                free = sh_t[0]
            else:
                slot = sh_slot[0]
                free = busy[slot]
                for j in range(1, n_sh):
                    cand = sh_slot[j]
                    if busy[cand] < free:
                        free = busy[cand]
                        slot = cand
            r = slot // C
            q = R
        else:
            r = -1
            if mode == ROUND_ROBIN:
                for k in range(1, R + 1):
                    c = (rr + k) % R
                    if rstate[c] == READY:
                        r = c
                        break
                rr = r
            else:  # _route for least-outstanding / join-shortest-queue
                best_key = 0.0
                for c in range(R):
                    if rstate[c] != READY:
                        continue
                    if mode == LEAST_OUTSTANDING:
                        key = float(outstanding[c])
                    else:
                        key = (outstanding[c] + 1.0) / speed[c]
                    if r < 0 or key < best_key:
                        r = c
                        best_key = key
            base = r * C
            slot = base
            free = busy[base]
            for k in range(1, C):
                if busy[base + k] < free:
                    free = busy[base + k]
                    slot = base + k
            q = r
        s = free if free > a else a
        if s > a + timeout:
            e = a + timeout
            q_area[q] += _overlap(a, e, t0, t1)
            if e <= t1 and not counts:
                timed_out += 1
            else:
                _push(hf, hi, ist, e, a, e, w, rid, q, -1)
                outstanding[q] += 1
        else:
            n_active = 1
            if alpha > 0.0:
                base = r * C
                for k in range(C):
                    if base + k != slot and busy[base + k] > s:
                        n_active += 1
            e = s + w / speed[r] * (1.0 + alpha * (n_active - 1))
            busy[slot] = e
            if mode == SHARED_QUEUE and use_heap:
                sh_t[0] = e
                _sh_sift_down(sh_t, sh_slot, 0, n_sh)
            q_area[q] += _overlap(a, s, t0, t1)
            s_area[r] += _overlap(s, e, t0, t1)
            if e <= t1 and not counts:
                served += 1
                lat = e - a
                wt = s - a
                lat_sum += lat
                wait_sum += wt
                # _record, written out for both histograms
                for h in range(2):
                    x = lat if h == 0 else wt
                    if x < x_lo:
                        k = -1
                    elif x >= x_hi:
                        k = nb
                    else:
                        m, ex = math.frexp(x)
                        k = btab[1 + (ex - btab[0]) * 256 + int((m - 0.5) * 512.0)]
                        while k < nb - 1 and x >= edges[k + 1]:
                            k += 1
                        while k > 0 and x < edges[k]:
                            k -= 1
                    if h == 0:
                        lat_hist[k + 1] += 1
                    else:
                        wait_hist[k + 1] += 1
            else:
                _push(hf, hi, ist, e, a, s, w, rid, r, slot)
                outstanding[r] += 1
        rid += 1
        i += 1
    ist[2] = rr
    ist[3] = rid
    acc_i[ARRIVED] += arrived
    acc_i[SERVED] += served
    acc_i[TIMED_OUT] += timed_out
    acc_f[LATENCY_SUM] += lat_sum
    acc_f[WAIT_SUM] += wait_sum
    return i


@njit
def serve_arrivals(
    arrival_s,
    work,
    i0,
    t0,
    t1,
    pi,
    pf,
    rstate,
    speed,
    busy,
    outstanding,
    hf,
    hi,
    held_f,
    held_id,
    ist,
    sh_t,
    sh_slot,
    acc_i,
    acc_f,
    q_area,
    s_area,
    lat_hist,
    wait_hist,
    edges,
    btab,
):
    """Serve arrivals i0.. in order; return the index reached (< len when a buffer is full)."""
    n = arrival_s.shape[0]
    cap = hf.shape[0]
    cap_h = held_f.shape[0]
    max_q = pi[3]
    if pi[4] == 1 and ist[5] == 1:
        return _serve_arrivals_fast(
            arrival_s,
            work,
            i0,
            t0,
            t1,
            pi,
            pf,
            speed,
            busy,
            outstanding,
            hf,
            hi,
            ist,
            rstate,
            sh_t,
            sh_slot,
            acc_i,
            acc_f,
            q_area,
            s_area,
            lat_hist,
            wait_hist,
            edges,
            btab,
        )
    i = i0
    while i < n:
        if ist[0] >= cap or ist[1] >= cap_h:
            return i
        a = arrival_s[i]
        w = work[i]
        if not (pi[4] == 1 and (pi[0] == ROUND_ROBIN or pi[0] == SHARED_QUEUE)):  # counts as of time a
            _pop_until(a, hf, hi, ist, outstanding, acc_i, acc_f, lat_hist, wait_hist, edges, btab)
        acc_i[ARRIVED] += 1
        rid = ist[3]
        ist[3] = rid + 1
        if ist[5] == 1:
            _dispatch(
                a,
                w,
                rid,
                a,
                -1,
                True,
                t0,
                t1,
                pi,
                pf,
                rstate,
                speed,
                busy,
                outstanding,
                hf,
                hi,
                ist,
                sh_t,
                sh_slot,
                acc_i,
                acc_f,
                q_area,
                s_area,
                lat_hist,
                wait_hist,
                edges,
                btab,
            )
        elif max_q >= 0 and _held_waiting(a, held_f, ist[1], pf[0]) >= max_q:
            acc_i[DROPPED] += 1
        else:
            h = ist[1]
            held_f[h, 0] = a
            held_f[h, 1] = w
            held_id[h] = rid
            ist[1] = h + 1
        i += 1
    return n


@njit
def end_window(
    t0,
    t1,
    pi,
    pf,
    hf,
    hi,
    held_f,
    held_id,
    ist,
    outstanding,
    acc_i,
    acc_f,
    q_area,
    lat_hist,
    wait_hist,
    edges,
    btab,
    in_service_end,
    queued_end,
):
    """Retire everything due by t1, time out held requests, and take the end-of-window snapshot."""
    mode = pi[0]
    R = pi[2]
    timeout = pf[0]
    _pop_until(t1, hf, hi, ist, outstanding, acc_i, acc_f, lat_hist, wait_hist, edges, btab)
    nh = ist[1]
    m = 0
    for j in range(nh):
        a = held_f[j, 0]
        lo = a if a > t0 else t0
        if a + timeout <= t1:
            q_area[R] += a + timeout - lo
            acc_i[TIMED_OUT] += 1
        else:
            q_area[R] += t1 - lo
            held_f[m, 0] = held_f[j, 0]
            held_f[m, 1] = held_f[j, 1]
            held_id[m] = held_id[j]
            m += 1
    ist[1] = m
    for j in range(ist[0]):
        r = hi[j, 1]
        if hi[j, 2] >= 0 and hf[j, 2] <= t1:
            in_service_end[r] += 1
        elif mode == SHARED_QUEUE:
            queued_end[R] += 1
        else:
            queued_end[r] += 1
    queued_end[R] += m


@njit
def remove_replica(r, now, mode, hf, hi, ist, outstanding):
    """Drop the requests a removed replica holds; return how many were dropped.

    Per-replica routing drops all of them (the pod's own queue dies with it); shared-queue drops
    only those in service (the rest wait at the load balancer and are re-dispatched).
    """
    n = ist[0]
    m = 0
    dropped = 0
    for j in range(n):
        mine = hi[j, 1] == r
        if mine and (mode != SHARED_QUEUE or (hi[j, 2] >= 0 and hf[j, 2] <= now)):
            outstanding[r] -= 1
            dropped += 1
        else:
            if m != j:
                for k in range(4):
                    hf[m, k] = hf[j, k]
                for k in range(3):
                    hi[m, k] = hi[j, k]
            m += 1
    ist[0] = m
    _heapify(hf, hi, m)
    return dropped


@njit
def serve_window(
    arrival_s,
    work,
    i0,
    resume,
    t0,
    t1,
    pi,
    pf,
    rstate,
    speed,
    busy,
    outstanding,
    hf,
    hi,
    held_f,
    held_id,
    ist,
    sh_t,
    sh_slot,
    u_f,
    u_i,
    acc_i,
    acc_f,
    q_area,
    s_area,
    lat_hist,
    wait_hist,
    edges,
    btab,
    in_service_end,
    queued_end,
):
    """One window in one dispatch: begin_window (unless resuming), serve_arrivals from i0, end_window.

    Returns the arrival index reached; short of the end means a buffer filled up: the caller grows
    it and calls again with that index (the window is then resumed, not restarted).
    """
    if not resume:
        begin_window(
            t0,
            t1,
            pi,
            pf,
            rstate,
            speed,
            busy,
            outstanding,
            hf,
            hi,
            held_f,
            held_id,
            ist,
            sh_t,
            sh_slot,
            u_f,
            u_i,
            acc_i,
            acc_f,
            q_area,
            s_area,
            lat_hist,
            wait_hist,
            edges,
            btab,
        )
    i = serve_arrivals(
        arrival_s,
        work,
        i0,
        t0,
        t1,
        pi,
        pf,
        rstate,
        speed,
        busy,
        outstanding,
        hf,
        hi,
        held_f,
        held_id,
        ist,
        sh_t,
        sh_slot,
        acc_i,
        acc_f,
        q_area,
        s_area,
        lat_hist,
        wait_hist,
        edges,
        btab,
    )
    if i == arrival_s.shape[0]:
        end_window(
            t0,
            t1,
            pi,
            pf,
            hf,
            hi,
            held_f,
            held_id,
            ist,
            outstanding,
            acc_i,
            acc_f,
            q_area,
            lat_hist,
            wait_hist,
            edges,
            btab,
            in_service_end,
            queued_end,
        )
    return i


@njit
def check_window(arrival_s, work, t0, t1):
    """0 if the window's input is valid; else 1 (outside [t0, t1)), 2 (unsorted), 3 (bad work)."""
    n = arrival_s.shape[0]
    for i in range(n):
        a = arrival_s[i]
        if not (a >= t0 and a < t1):
            return 1
        if i > 0 and a < arrival_s[i - 1]:
            return 2
        w = work[i]
        if not (w >= 0.0 and w < np.inf):
            return 3
    return 0


@njit
def service_window(arrival_s, work, i0, resume, t0, t1, fs, js, edges, btab, rstate, hf, hi, held_f, held_id, u_f,
                   u_i, wf, wi, lat_hist, wait_hist, sig):  # fmt: skip
    """`serve_window` over `DataPlane`'s packed buffers (fewer arguments to pass from Python), then,
    once the window is complete, its ready slots' signal integrals added to ``sig`` (see
    `window_signals`). A new window (not `resume`) first checks its input (`check_window`; a bad
    one returns minus its code and changes nothing), counts the ready replicas (``ist[5]``,
    ``ist[6]``) and zeroes ``wf`` and ``wi``. Layouts (``R`` replicas, ``C`` slots each):

        fs = pf[2] speed[R] busy[R*C] sh_t[R*C]                  (float64)
        js = pi[5] outstanding[R+1] ist[8] sh_slot[R*C]          (int64)
        wf = acc_f[2] q_area[R+1] s_area[R]                      (float64, zeroed per window)
        wi = acc_i[4] in_service_end[R] queued_end[R+1]          (int64, zeroed per window)
    """
    R = js[2]
    RC = R * js[1]
    pf = fs[0:2]
    speed = fs[2 : 2 + R]
    busy = fs[2 + R : 2 + R + RC]
    sh_t = fs[2 + R + RC : 2 + R + 2 * RC]
    pi = js[0:5]
    outstanding = js[5 : 6 + R]
    ist = js[6 + R : 14 + R]
    sh_slot = js[14 + R : 14 + R + RC]
    acc_f = wf[0:2]
    q_area = wf[2 : R + 3]
    s_area = wf[R + 3 : 2 * R + 3]
    acc_i = wi[0:4]
    in_service_end = wi[4 : R + 4]
    queued_end = wi[R + 4 : 2 * R + 5]
    if not resume:  # check the input (nothing changed on bad input), count the ready, zero the outputs
        if arrival_s.shape[0]:
            bad = check_window(arrival_s, work, t0, t1)
            if bad:
                return -bad
        n_ready = 0
        for r in range(R):
            if rstate[r] == READY:
                n_ready += 1
        ist[5] = 1 if n_ready else 0
        ist[6] = n_ready
        wf[:] = 0.0
        wi[:] = 0
    i = serve_window(arrival_s, work, i0, resume, t0, t1, pi, pf, rstate, speed, busy, outstanding, hf, hi, held_f,
                     held_id, ist, sh_t, sh_slot, u_f, u_i, acc_i, acc_f, q_area, s_area, lat_hist, wait_hist, edges,
                     btab, in_service_end, queued_end)  # fmt: skip
    if i == arrival_s.shape[0]:
        window_signals(t1 - t0, js[1], rstate, q_area, s_area, in_service_end, queued_end, sig)
    return i


@njit
def window_signals(dt, C, rstate, q_area, s_area, in_service_end, queued_end, sig):
    """Add a window's per-slot integrals to ``sig[:, r]`` for each ready slot r: (concurrency x dt,
    queued x dt, utilisation x dt, dt), the averages computed exactly as `DataPlane.window_averages`
    computes them (the values at the end when dt is 0).
    """
    for r in range(rstate.shape[0]):
        if rstate[r] != READY:
            continue
        if dt > 0:
            in_service = s_area[r] / dt
            queued = q_area[r] / dt
            util = s_area[r] / (C * dt)
        else:
            in_service = float(in_service_end[r])
            queued = float(queued_end[r])
            util = in_service_end[r] / C
        sig[0, r] += (in_service + queued) * dt
        sig[1, r] += queued * dt
        sig[2, r] += util * dt
        sig[3, r] += dt


@njit
def close_interval(counts, total, qs, out):
    """Nearest-rank quantiles `qs` of the counts array `counts` (as `histogram.quantile`: the counts
    index holding each rank, written to ``out[1:]``; ``out[0]`` the number counted, 0: none), then
    add `counts` to `total` and zero it.

    The rank searches and the move to `total` walk only the blocks of 32 bins between the first and
    the last nonzero one: an interval's latencies fill a few dozen of the ~1,000 bins, and with 50
    services' histograms (17 KB each) out of the CPU's cache, walking all of `total` at every tick
    took 2.5 us a call against 0.5 us for 5 services (0.6 us either way now).
    """
    size = counts.shape[0]
    n = 0
    lo = hi = -1  # the first and last nonzero blocks of 32 bins (summed in vector registers)
    for b in range(0, size, 32):
        s = 0
        for k in range(b, min(b + 32, size)):
            s += counts[k]
        if s:
            if lo < 0:
                lo = b
            hi = b
        n += s
    out[0] = n
    if n == 0:
        return
    hi = min(hi + 32, size) - 1
    for j in range(qs.shape[0]):
        rank = max(1, int(math.ceil(qs[j] * n - 1e-9)))
        cum = 0
        idx = size
        for k in range(lo, hi + 1):
            cum += counts[k]
            if cum >= rank:
                idx = k
                break
        out[1 + j] = idx
    for k in range(lo, hi + 1):
        if counts[k]:
            total[k] += counts[k]
            counts[k] = 0


# pod_values signal codes
SIG_CONCURRENCY = 0
SIG_QUEUE_LENGTH = 1
SIG_REQUESTS_RUNNING = 2
SIG_GPU_UTIL = 3
SIG_UTILIZATION = 4
SIG_SHARED = 5  # rps, tokens_per_s: the same share for every pod


@njit
def pod_values(sig, rstate, code, share, request_milli, out):
    """Sum and count of the ready slots' per-pod milli-values of a Pods/Resource signal over the
    integrals ``sig`` (`window_signals`), as `observe.pod_sample` computes each one (rounded half to
    even, as Python's round), and the ready slots without data: ``out = (sum, count, missing)``.
    `share`: the load balancer's queue per ready pod (concurrency, queue_length) or the pod's share
    (rps, tokens_per_s).
    """
    total = 0
    n = 0
    missing = 0
    for r in range(rstate.shape[0]):
        if rstate[r] != READY:
            continue
        dt = sig[3, r]
        if not dt > 0:
            missing += 1
            continue
        if code == SIG_CONCURRENCY:
            v = 1000.0 * (sig[0, r] / dt + share)
        elif code == SIG_QUEUE_LENGTH:
            v = 1000.0 * (sig[1, r] / dt + share)
        elif code == SIG_REQUESTS_RUNNING:
            v = 1000.0 * (sig[0, r] / dt - sig[1, r] / dt)
        elif code == SIG_GPU_UTIL:
            v = 1000.0 * (100.0 * (sig[2, r] / dt))
        elif code == SIG_UTILIZATION:
            v = sig[2, r] / dt * request_milli
        else:
            v = 1000.0 * share
        total += int(np.rint(v))
        n += 1
    out[0] = total
    out[1] = n
    out[2] = missing


@njit
def search_from(a, i, x):
    """``np.searchsorted(a, x)`` for a sorted `a` whose first `i` values are below `x`: gallops
    from `i` (a window's arrivals lie just after the last one's), so it reads only the few cache
    lines around the answer, not a binary search's path through the whole chunk.
    """
    n = a.shape[0]
    lo = i  # a[:lo] < x
    step = 1
    hi = i
    while hi < n and a[hi] < x:
        lo = hi + 1
        hi = i + step
        step *= 2
    if hi > n:
        hi = n
    while lo < hi:  # a[:lo] < x <= a[hi:]
        mid = (lo + hi) >> 1
        if a[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit
def service_advance(arrival_all, work_all, i, t1, t0, fs, js, edges, btab, rstate, hf, hi, held_f, held_id, u_f, u_i,
                    wf, wi, lat_hist, wait_hist, sig, oi, of, tot):  # fmt: skip
    """`service_window` of the requests ``arrival_all[i:j]`` (j: the first arrival at or after t1),
    when the buffers are large enough that the window cannot stop part way (heap and held hold
    every in-flight and new request, the re-dispatch scratch every in-flight one); otherwise, and
    on bad input, returns -1 having changed nothing (the caller takes `DataPlane.serve_into`'s
    path, which grows the buffers as it goes). On success returns j and leaves the window's
    figures in ``oi = (j, arrived, served, timed_out, dropped, ready replicas, queued at the end)``
    (dropped: the window's and those of replicas removed since the last one, ``tot[4]``, then
    zeroed; the window's counts are added to the cumulative ``tot[:4]``)
    and ``of = (latency sum, balancer queue time average)`` (the average as
    `DataPlane.window_averages` computes it; the value at the end when the window is empty).
    """
    if i > 0 and arrival_all[i - 1] >= t1:  # np.searchsorted(arrival_all, t1) < i
        return -1
    j = search_from(arrival_all, i, t1)
    R = js[2]
    ist = js[6 + R : 14 + R]
    pending = ist[0] + ist[1]
    n = j - i
    if hf.shape[0] < pending + n + 1 or held_f.shape[0] < pending + n + 1 or u_f.shape[0] < pending + 1:
        return -1
    r = service_window(arrival_all[i:j], work_all[i:j], 0, False, t0, t1, fs, js, edges, btab, rstate, hf, hi, held_f,
                       held_id, u_f, u_i, wf, wi, lat_hist, wait_hist, sig)  # fmt: skip
    if r < 0:  # bad input: nothing was changed
        return -1
    if r != n:  # cannot happen with the capacities checked above
        return -2
    dt = t1 - t0
    oi[0] = j
    oi[1] = wi[ARRIVED]
    oi[2] = wi[SERVED]
    oi[3] = wi[TIMED_OUT]
    oi[4] = wi[DROPPED] + tot[4]
    for k in range(4):  # arrived, served, timed_out, dropped (acc_i's layout)
        tot[k] += wi[k]
    tot[4] = 0
    oi[5] = ist[6]
    q = 0
    for k in range(R + 4, 2 * R + 5):  # queued_end: at the replicas and the balancer
        q += wi[k]
    oi[6] = q
    of[0] = wf[LATENCY_SUM]
    of[1] = wf[2 + R] / dt if dt > 0 else float(wi[R + 4 + R])
    return j


@njit
def close_quantiles(counts, total, qs, edges, lo, hi, oi, of):
    """`close_interval`, then each quantile's value in ``of`` as `Histogram.quantile` gives it (the
    geometric middle of its bin; `lo` / `hi` for the under- and overflow bins); ``of`` is left as
    it was when nothing was counted (``oi[0] == 0``).
    """
    close_interval(counts, total, qs, oi)
    if oi[0] == 0:
        return
    nb = edges.shape[0] - 1
    for j in range(qs.shape[0]):
        idx = oi[1 + j]
        if idx == 0:
            of[j] = lo
        elif idx == nb + 1:
            of[j] = hi
        else:
            of[j] = math.sqrt(edges[idx - 1] * edges[idx])
