"""Costs and routing arithmetic of multi-cluster scenarios, each against a hand computation.

Prices used (gpusim/hardware/data/clusters.yaml, with their sources): AWS internet egress 100 GB
a month free, then $0.09/GB to 10 TB and $0.085/GB for the next 40 TB; GCP Premium Tier 1 GiB
free, then $0.12/GiB; Oracle 10 TB a month free; Cloudflare R2 no egress charge; EKS $0.10 per
cluster-hour (standard) and $0.60 (extended support); GKE $0.10 with a $74.40 monthly credit;
OKE enhanced $0.10 up to $74.40 a month; the self-managed assumption 3 x $0.34 + 0.25 x
$122,023 / 8,760 h.
"""

import math

import numpy as np
import pytest

from gpusim.hardware.clusters import (
    MONTH_HOURS,
    control_plane_cost_usd,
    egress_cost_usd,
    monthly_amounts,
    self_managed_cost_usd,
    self_managed_ops_usd_per_hour,
    tiered_cost_usd,
)
from gpusim.scenario.multicluster import (
    added_latency_s,
    control_plane_usd,
    load_multicluster,
    routed_egress_usd,
    routing_stream,
    slo_attainment,
    slo_attainment_shifted,
    split_by_weights,
)

H = 3600.0
DAY = 24 * H
GB = 1e9
GIB = 2.0**30
DRAFT = "scenarios/ikea-hybrid.yaml"
AWS = ((100.0, 0.0), (10240.0, 0.09), (51200.0, 0.085), (153600.0, 0.07), (None, 0.05))


# ---------------------------------------------------------------------------- tiered prices
def test_tiered_cost_by_hand():
    # 15 TB in a month: 100 GB free, 10,140 GB at $0.09, 5,120 GB at $0.085
    assert tiered_cost_usd(15 * 1024, AWS) == pytest.approx(10140 * 0.09 + 5120 * 0.085)  # 1,347.80
    assert tiered_cost_usd(15 * 1024, AWS) == pytest.approx(1347.80)
    # the same 5 TB costs less when 10 TB were already sent this month (it falls in cheaper tiers)
    assert tiered_cost_usd(5 * 1024, AWS, already_used=10 * 1024) == pytest.approx(5120 * 0.085)
    assert tiered_cost_usd(5 * 1024, AWS) == pytest.approx((5120 - 100) * 0.09)
    # a split of the volume adds up to the whole
    whole = tiered_cost_usd(200_000, AWS)
    assert tiered_cost_usd(120_000, AWS) + tiered_cost_usd(80_000, AWS, already_used=120_000) == pytest.approx(whole)
    assert tiered_cost_usd(0, AWS) == 0.0


def test_tiers_without_a_price_or_an_end_are_errors():
    with pytest.raises(ValueError, match="unknown"):
        tiered_cost_usd(11_000, ((10240.0, 0.0), (None, None)))
    assert tiered_cost_usd(10_000, ((10240.0, 0.0), (None, None))) == 0.0  # inside the free part: fine
    with pytest.raises(ValueError, match="unbounded last tier"):
        tiered_cost_usd(20, ((10.0, 1.0),))
    with pytest.raises(ValueError, match="increase"):
        tiered_cost_usd(1, ((10.0, 1.0), (5.0, 1.0), (None, 1.0)))


# ---------------------------------------------------------------------------- egress of a run
def test_egress_of_a_run_bytes_per_request_times_requests():
    # 3,000,000 responses of 50 kB in one day from AWS: 150 GB, 100 GB free, 50 GB at $0.09 = $4.50
    assert egress_cost_usd(3_000_000 * 50_000, DAY, "aws") == pytest.approx(50 * 0.09)
    # 2,000,000 of them: exactly the free 100 GB
    assert egress_cost_usd(2_000_000 * 50_000, DAY, "aws") == pytest.approx(0.0)
    # GCP bills per GiB: 2 GiB, 1 free, 1 at $0.12
    assert egress_cost_usd(2 * GIB, DAY, "gcp-premium") == pytest.approx(0.12)
    # free egress: Oracle's 10 TB a month, Cloudflare R2, on premises
    assert egress_cost_usd(5 * 1024 * GB, DAY, "oci") == 0.0
    assert egress_cost_usd(1e15, DAY, "cloudflare-r2") == 0.0
    assert egress_cost_usd(1e15, DAY, "on-prem") == 0.0
    # beyond Oracle's 10 TB the price is not known: an error, not a guess
    with pytest.raises(ValueError, match="unknown"):
        egress_cost_usd(11 * 1024 * GB, DAY, "oci")


def test_egress_tiers_restart_every_billing_month():
    two_months = 2 * MONTH_HOURS * H
    assert monthly_amounts(400.0, two_months) == pytest.approx([200.0, 200.0])
    # 400 GB spread over two months: each month 100 free + 100 at $0.09 -> $18 (one month: 300 x 0.09 = $27)
    assert egress_cost_usd(400 * GB, two_months, "aws") == pytest.approx(18.0)
    assert egress_cost_usd(400 * GB, MONTH_HOURS * H, "aws") == pytest.approx(27.0)
    # a month and a half: 300 GB -> 200 GB in the whole month ($9) and 100 GB in the half (free)
    assert monthly_amounts(300.0, 1.5 * MONTH_HOURS * H) == pytest.approx([200.0, 100.0])
    assert egress_cost_usd(300 * GB, 1.5 * MONTH_HOURS * H, "aws") == pytest.approx(9.0)
    # a scenario's own contract instead of the catalog: flat $0.02/GB
    assert egress_cost_usd(250 * GB, DAY, tiers=((None, 0.02),), unit="GB") == pytest.approx(5.0)


# ---------------------------------------------------------------------------- control planes
def test_managed_control_plane_fees_over_a_run():
    assert control_plane_cost_usd(DAY, 0.10) == pytest.approx(2.40)  # EKS standard, one day
    assert control_plane_cost_usd(DAY, 0.60) == pytest.approx(14.40)  # EKS extended support
    assert control_plane_cost_usd(1000 * H, 0.10) == pytest.approx(100.0)
    # GKE: the $74.40 credit covers a whole 730 h month ($73.00) and the 270 h rest ($27.00)
    assert control_plane_cost_usd(1000 * H, 0.10, free_credit_usd_per_month=74.40) == 0.0
    # two clusters on one account: the credit goes to one; the other pays in full
    assert control_plane_cost_usd(1000 * H, 0.10) + control_plane_cost_usd(
        1000 * H, 0.10, free_credit_usd_per_month=74.40
    ) == pytest.approx(100.0)
    # OKE enhanced: capped at $74.40 a month; with 800 h months the $80.00 month is capped
    assert control_plane_cost_usd(800 * H, 0.10, max_usd_per_month=74.40, month_hours=800) == pytest.approx(74.40)
    assert control_plane_cost_usd(700 * H, 0.10, max_usd_per_month=74.40, month_hours=800) == pytest.approx(70.0)


def test_managed_fee_against_self_managed_ops_cost():
    ops = self_managed_ops_usd_per_hour()  # the labelled assumption
    assert ops == pytest.approx(3 * 0.34 + 0.25 * 122023 / 8760)
    # over 30 days: 720 h x 4.5024 = 3,241.72 self-managed against 720 h x 0.10 = 72.00 on EKS
    assert self_managed_cost_usd(720 * H, ops) == pytest.approx(720 * (1.02 + 0.25 * 122023 / 8760))
    assert self_managed_cost_usd(720 * H, ops) == pytest.approx(3241.72, abs=0.01)
    assert control_plane_cost_usd(720 * H, 0.10) == pytest.approx(72.0)
    # with no staff time (sre_fte 0) the self-managed VMs alone still cost 10.2 x the managed fee
    assert self_managed_ops_usd_per_hour(sre_fte=0) / 0.10 == pytest.approx(10.2)


def test_members_of_the_draft_scenario():
    s = load_multicluster(DRAFT)
    cost = {m.name: control_plane_usd(m, DAY) for m in s.clusters}
    assert cost["onprem-dc"] == pytest.approx(24 * (1.02 + 0.25 * 122023 / 8760))  # self-managed assumption
    assert cost["aws-eu-west-1"] == pytest.approx(2.40)  # EKS standard
    assert cost["gcp-europe-west4"] == 0.0  # GKE standard with the monthly credit


def test_routed_egress_of_the_draft_by_hand():
    s = load_multicluster(DRAFT)
    # 16 KiB responses; AWS serves 100,000 (1.6384 GB: inside the 100 GB free), GCP 159,200
    served = {"aws-eu-west-1": 100_000, "gcp-europe-west4": 159_200}
    bill = routed_egress_usd(s, 0, served, DAY)
    assert bill["aws-eu-west-1"] == 0.0
    gib = 159_200 * 16384 / 2**30  # 2.4292 GiB, 1 GiB free
    assert bill["gcp-europe-west4"] == pytest.approx((gib - 1) * 0.12)
    assert bill["gcp-europe-west4"] == pytest.approx(0.171504, abs=1e-6)
    # ten times the traffic on AWS: 16.384 GB, still free; 10,000 times: 16,384 GB
    big = routed_egress_usd(s, 0, {"aws-eu-west-1": 1_000_000_000}, DAY)["aws-eu-west-1"]
    assert big == pytest.approx(tiered_cost_usd(16_384.0, AWS))


# ---------------------------------------------------------------------------- latency and SLOs
def test_added_latency_is_both_legs():
    assert added_latency_s(0.012) == pytest.approx(0.024)
    assert added_latency_s(0.012, round_trips=3) == pytest.approx(0.072)
    with pytest.raises(ValueError):
        added_latency_s(-1.0)


def test_slo_attainment_shift_by_hand():
    lat = [0.5, 1.0, 1.5, 1.9, 2.1]
    assert slo_attainment(lat, 2.0) == pytest.approx(4 / 5)
    # +200 ms of network: 0.7 1.2 1.7 2.1 2.3 -> 3 of 5 within 2 s
    assert slo_attainment(lat, 2.0, added_s=0.2) == pytest.approx(3 / 5)
    # histogram: bins [0,1) [1,2) [2,3) [3,4) with 10, 20, 30, 40 requests, uniform inside a bin;
    # SLO 2.5 s with 0.25 s added -> threshold 2.25 s: 10 + 20 + 30 x 0.25 = 37.5 of 100
    edges, counts = [0, 1, 2, 3, 4], [10, 20, 30, 40]
    assert slo_attainment_shifted(edges, counts, 2.5, 0.25) == pytest.approx(0.375)
    assert slo_attainment_shifted(edges, counts, 2.5) == pytest.approx(0.45)
    assert slo_attainment_shifted(edges, counts, 10.0) == 1.0
    assert slo_attainment_shifted(edges, counts, 0.1, 0.2) == 0.0


def test_slo_attainment_against_theory_for_exponential_latency():
    # latency ~ Exp(mean 0.5 s); P(L + d <= s) = 1 - exp(-(s - d) / 0.5)
    rng = np.random.default_rng(3)
    lat = rng.exponential(0.5, 200_000)
    slo, d = 1.5, 0.03
    theory = 1 - math.exp(-(slo - d) / 0.5)
    se = math.sqrt(theory * (1 - theory) / lat.size)
    assert abs(slo_attainment(lat, slo, d) - theory) < 4 * se
    counts, edges = np.histogram(lat, bins=np.linspace(0, lat.max() + 1e-9, 4001))
    assert slo_attainment_shifted(edges, counts, slo, d) == pytest.approx(slo_attainment(lat, slo, d), abs=2e-3)
    # the network legs lower attainment
    assert slo_attainment(lat, slo, d) < slo_attainment(lat, slo)


# ---------------------------------------------------------------------------- splitting arrivals
def test_static_split_matches_the_binomial():
    n, w = 100_000, [3.0, 1.0]
    idx = split_by_weights(n, w, routing_stream(7, "chat"))
    p = 0.75
    se = math.sqrt(p * (1 - p) / n)
    assert abs(np.mean(idx == 0) - p) < 4 * se
    # three clusters, one with weight 0: never chosen; the others within 4 standard errors
    w3 = [2.0, 0.0, 6.0]
    idx3 = split_by_weights(n, w3, routing_stream(7, "chat"))
    assert not np.any(idx3 == 1)
    for j, pj in enumerate(np.asarray(w3) / sum(w3)):
        assert abs(np.mean(idx3 == j) - pj) < 4 * math.sqrt(pj * (1 - pj) / n) + 1e-12


def test_split_is_reproducible_and_has_its_own_stream():
    a = split_by_weights(10_000, [1, 1, 2], routing_stream(11, "chat"))
    b = split_by_weights(10_000, [1, 1, 2], routing_stream(11, "chat"))
    assert np.array_equal(a, b)
    # another service (or seed) draws from another stream
    assert not np.array_equal(a, split_by_weights(10_000, [1, 1, 2], routing_stream(11, "search")))
    assert not np.array_equal(a, split_by_weights(10_000, [1, 1, 2], routing_stream(12, "chat")))
    # one uniform per request: the first 1,000 requests go to the same clusters whatever follows
    first = split_by_weights(1_000, [1, 1, 2], routing_stream(11, "chat"))
    assert np.array_equal(first, a[:1_000])
    with pytest.raises(ValueError):
        split_by_weights(10, [0.0, 0.0], routing_stream(1, "x"))
