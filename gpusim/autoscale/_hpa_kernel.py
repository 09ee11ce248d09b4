"""One HPA sync of an inference service in one compiled call (issue 10: the per-service tick).

`hpa_sync` does what the engine did in Python at every sync for an HPA whose metrics are all
per-pod (Pods, or Resource on GPU replicas): `observe.grouped_sample_slots` for each metric
(`_kernels.pod_values` over the data plane's slot integrals), `hpa.grouped_replicas`, the largest
proposal, `stabilize_recommendation_with_behaviors`, `convert_desired_replicas_with_behavior_rate`
and `_store_scale_event` -- the same integer and float operations in the same order, so the
decision is the same to the bit (tests/autoscale/test_hpa_kernel.py compares it with
`HorizontalPodAutoscaler.reconcile` on random sequences). The controller's state lives in arrays
owned by `gpusim.autoscale.hpa.CompiledHPA`.

Layouts (int64 unless said):

    mi[k, :]  metric k: (signal code, utilization (Resource) 0/1, loading pods count as value 0 0/1,
              target (milli-units; percent for Utilization), share kind 0 none / 1 balancer queue /
              2 rps / 3 tokens per s)
    ci        (min_replicas, max_replicas, up select, down select, up longest period,
              down longest period, n up policies, n down policies, then the up policies' and the down
              policies' (type 0 Pods / 1 Percent, value, period s) triples)
    cf        float64 (tolerance down, tolerance up, up window s, down window s)
    st        (recommendations, up events, down events) in use
    rec_t/rec_v, ev_t[2, cap]/ev_c[2, cap] (row 0 scale-up, row 1 scale-down)
"""

from __future__ import annotations

import math

from gpusim.dataplane._kernels import pod_values
from gpusim.dataplane._numba import njit

SELECT_MAX = 0
SELECT_MIN = 1
SELECT_DISABLED = 2
POLICY_PODS = 0
POLICY_PERCENT = 1
SHARE_NONE = 0
SHARE_LB_QUEUE = 1
SHARE_RPS = 2
SHARE_TOKENS = 3

NO_PROPOSAL = -(2**62)  # a metric upstream fails to compute (MetricsError)
GROW = -1  # hpa_sync's return when a state array is full (nothing was changed)


@njit
def _within(ratio, tol_down, tol_up):
    return (1.0 - tol_down) <= ratio and ratio <= (1.0 + tol_up)


@njit
def grouped_proposal(current, total, n, n_missing, n_unready, util, target, request_milli, tol_down, tol_up):
    """`hpa.grouped_replicas` (NO_PROPOSAL where it raises MetricsError)."""
    if util and n == 0:
        return NO_PROPOSAL
    if n + n_missing + n_unready == 0:
        return NO_PROPOSAL
    if n == 0:
        return NO_PROPOSAL
    req = request_milli
    if util:
        if req * n == 0:
            return NO_PROPOSAL
        ratio = ((total * 100) // (req * n)) / target
        fill_down = req * max(100, target) // 100
    else:
        ratio = (total // n) / target
        fill_down = target
    up_unready = n_unready > 0 and ratio > 1.0
    if not up_unready and n_missing == 0:
        if _within(ratio, tol_down, tol_up):
            return current
        return int(math.ceil(ratio * n))
    n_filled = n
    total_filled = total
    if n_missing:
        if ratio < 1.0:
            n_filled += n_missing
            total_filled += fill_down * n_missing
        elif ratio > 1.0:
            n_filled += n_missing
    if up_unready:
        n_filled += n_unready
    if util:
        new_ratio = ((total_filled * 100) // (req * n_filled)) / target
    else:
        new_ratio = (total_filled // n_filled) / target
    # _guarded
    if _within(new_ratio, tol_down, tol_up) or (ratio < 1.0 and 1.0 < new_ratio) or (ratio > 1.0 and 1.0 > new_ratio):
        return current
    new = int(math.ceil(new_ratio * n_filled))
    if (new_ratio < 1.0 and new > current) or (new_ratio > 1.0 and new < current):
        return current
    return new


@njit
def _change(ev_t, ev_c, row, n, period, now):
    cutoff = now - period
    s = 0
    for j in range(n):
        if ev_t[row, j] > cutoff:
            s += ev_c[row, j]
    return s


@njit
def _limit(current, up, ci, ev_t, ev_c, st, now):
    """scale_up_limit (up) / scale_down_limit (not up) over the policies in ci."""
    select = ci[2] if up else ci[3]
    if select == SELECT_DISABLED:
        return current
    n_pol = ci[6] if up else ci[7]
    base = 8 if up else 8 + 3 * ci[6]
    result = 0
    have = False
    for p in range(n_pol):
        typ = ci[base + 3 * p]
        value = ci[base + 3 * p + 1]
        period = ci[base + 3 * p + 2]
        start = current - _change(ev_t, ev_c, 0, st[1], period, now) + _change(ev_t, ev_c, 1, st[2], period, now)
        if up:
            if typ == POLICY_PODS:
                proposed = start + value
            else:
                proposed = int(math.ceil(start * (1 + value / 100)))
        else:
            if typ == POLICY_PODS:
                proposed = start - value
            else:
                proposed = int(start * (1 - value / 100))
        if not have:
            result = proposed
            have = True
        elif (select == SELECT_MIN) == up:  # up: Min picks min; down: Min picks max
            if proposed < result:
                result = proposed
        else:
            if proposed > result:
                result = proposed
    return result


@njit
def _store_event(ev_t, ev_c, st, row, longest, now, change):
    n = st[1 + row]
    m = 0
    for j in range(n):
        if ev_t[row, j] >= now - longest:
            ev_t[row, m] = ev_t[row, j]
            ev_c[row, m] = ev_c[row, j]
            m += 1
    ev_t[row, m] = now
    ev_c[row, m] = change
    st[1 + row] = m + 1


@njit
def hpa_sync(now, current, acc, state, n_ready, n_pending, n_loading, lb_queue_dt, dt, arrivals, output_tokens,
             request_milli, mi, ci, cf, st, rec_t, rec_v, ev_t, ev_c, out):  # fmt: skip
    """One reconcile over the slot integrals `acc` (`SignalWindow.acc`) and slot states `state`;
    returns the desired replicas, or GROW (nothing changed) when a state array must grow first.
    """
    if st[0] >= rec_t.shape[0] or st[1] >= ev_t.shape[1] or st[2] >= ev_t.shape[1]:
        return GROW
    min_r = ci[0]
    max_r = ci[1]
    if st[0] == 0:  # recordInitialRecommendation
        rec_t[0] = now
        rec_v[0] = current
        st[0] = 1
    if current == 0 and min_r != 0:
        return 0  # ScalingDisabled
    if current > max_r:
        desired = max_r
    elif current < min_r:
        desired = min_r
    else:
        tol_down = cf[0]
        tol_up = cf[1]
        nr = n_ready if n_ready > 1 else 1
        proposal = NO_PROPOSAL
        for k in range(mi.shape[0]):
            kind = mi[k, 4]
            if kind == SHARE_LB_QUEUE:
                share = (lb_queue_dt / dt if dt > 0 else 0.0) / nr
            elif kind == SHARE_RPS:
                share = (arrivals / dt if dt > 0 else 0.0) / nr
            elif kind == SHARE_TOKENS:
                share = (output_tokens / dt if dt > 0 else 0.0) / nr
            else:
                share = 0.0
            pod_values(acc, state, mi[k, 0], share, request_milli, out)
            total = out[0]
            n = out[1]
            missing = out[2]
            if mi[k, 2]:
                n += n_loading
            else:
                missing += n_loading
            p = grouped_proposal(current, total, n, missing, n_pending, mi[k, 1] == 1, mi[k, 3], request_milli,
                                 tol_down, tol_up)  # fmt: skip
            if p != NO_PROPOSAL and (proposal == NO_PROPOSAL or p > proposal):
                proposal = p
        if proposal == NO_PROPOSAL:
            return current  # FailedComputeMetricsReplicas
        if proposal < 0:
            proposal = 0
        # stabilize_recommendation_with_behaviors
        up_cutoff = now - cf[2]
        down_cutoff = now - cf[3]
        both = up_cutoff if up_cutoff < down_cutoff else down_cutoff
        up_rec = proposal
        down_rec = proposal
        old = -1
        for i in range(st[0]):
            t = rec_t[i]
            rec = rec_v[i]
            if t > up_cutoff and rec < up_rec:
                up_rec = rec
            if t > down_cutoff and rec > down_rec:
                down_rec = rec
            if t < both:
                old = i
        if old < 0:
            old = st[0]
            st[0] = old + 1
        rec_t[old] = now
        rec_v[old] = proposal
        stabilized = current
        if stabilized < up_rec:
            stabilized = up_rec
        if stabilized > down_rec:
            stabilized = down_rec
        # convert_desired_replicas_with_behavior_rate
        desired = stabilized
        if stabilized > current:
            limit = _limit(current, True, ci, ev_t, ev_c, st, now)
            if limit < current:
                limit = current
            allowed = limit if max_r > limit else max_r
            if stabilized > allowed:
                desired = allowed
        elif stabilized < current:
            limit = _limit(current, False, ci, ev_t, ev_c, st, now)
            if limit > current:
                limit = current
            allowed = limit if min_r < limit else min_r
            if stabilized < allowed:
                desired = allowed
    if desired != current:  # _store_scale_event
        if desired > current:
            _store_event(ev_t, ev_c, st, 0, ci[4], now, desired - current)
        else:
            _store_event(ev_t, ev_c, st, 1, ci[5], now, current - desired)
    return desired
