"""The multi-cluster scenario language: the IKEA draft validates (it is not run: the engine cannot
run several clusters yet), and bad input gives errors located by file, line, column and field.
"""

from pathlib import Path

import pytest

from gpusim.errors import ScenarioError
from gpusim.scenario.loader import load_scenario
from gpusim.scenario.models import Cluster
from gpusim.scenario.multicluster import (
    CloudLocation,
    FailoverPolicy,
    LowestLatencyPolicy,
    OnPremLocation,
    StaticPolicy,
    egress_price_key,
    load_multicluster,
    member_egress,
)

DRAFT = Path(__file__).resolve().parents[1] / "scenarios" / "ikea-hybrid.yaml"
TEXT = DRAFT.read_text(encoding="utf-8")


def _problems(tmp_path, text):
    f = tmp_path / "bad.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as e:
        load_multicluster(f)
    return e.value.problems, f


def _line_of(text, needle, nth=0):
    lines = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return lines[nth]


def test_ikea_draft_validates():
    s = load_multicluster(DRAFT)
    assert [c.name for c in s.clusters] == ["onprem-dc", "aws-eu-west-1", "gcp-europe-west4"]
    onprem, aws, gcp = s.clusters
    assert isinstance(onprem.location, OnPremLocation) and onprem.control_plane.self_managed is not None
    assert isinstance(aws.location, CloudLocation) and aws.location.region == "eu-west-1"
    assert aws.control_plane.managed.fee_usd_per_hour() == 0.10
    assert gcp.control_plane.managed.free_credit is True
    assert isinstance(aws.cluster, Cluster)  # the plain scenario's model, unchanged
    assert aws.provisioning_lag == 120.0 and onprem.failures.repair_time == 3 * 86400
    # training on premises, inference in the two cloud regions
    assert [w.name for _, w in s.workloads_on("onprem-dc")] == ["recsys-training"]
    assert [w.name for _, w in s.workloads_on("aws-eu-west-1")] == ["chat"]
    r = s.routing[0]
    assert isinstance(r.policy, LowestLatencyPolicy)
    assert r.clients[0].latency == {"aws-eu-west-1": pytest.approx(0.014), "gcp-europe-west4": pytest.approx(0.009)}
    assert (r.transfer.request_bytes, r.transfer.response_bytes) == (4096, 16384)
    # egress prices: on premises free, the clouds at their catalog tiers
    assert egress_price_key(onprem) == "on-prem" and egress_price_key(gcp) == "gcp-premium"
    assert member_egress(gcp)[1] == "GiB"


def test_the_plain_loader_does_not_take_it():
    # a multi-cluster file is not a runnable scenario (no cluster:, unknown clusters:)
    with pytest.raises(ScenarioError) as e:
        load_scenario(DRAFT)
    assert any("clusters" in p.path or "cluster" in p.message for p in e.value.problems)


def test_member_cluster_errors_are_located_in_the_member(tmp_path):
    bad = TEXT.replace("node_type: aws-p5.48xlarge", "node_type: aws-p9.mega")
    probs, f = _problems(tmp_path, bad)
    p = probs[0]
    assert p.file == str(f) and p.path == "clusters[1].cluster.node_pools[0].node_type"
    assert p.line == _line_of(bad, "node_type: aws-p9.mega")
    assert p.column == bad.splitlines()[p.line - 1].index("aws-p9.mega") + 1


def test_unknown_field_lists_the_allowed_ones(tmp_path):
    bad = TEXT.replace("    provisioning_lag: 0s ", "    provisioning_lagg: 0s ")
    probs, _ = _problems(tmp_path, bad)
    assert probs[0].path == "clusters[0].provisioning_lagg"
    assert "allowed fields here" in probs[0].message and "provisioning_lag" in probs[0].message
    assert probs[0].line == _line_of(bad, "provisioning_lagg")


def test_routing_cross_references(tmp_path):
    bad = TEXT.replace("gcp-europe-west4: 9ms", "gcp-europe-west9: 9ms")
    probs, _ = _problems(tmp_path, bad)
    paths = {p.path: p for p in probs}
    assert "routing[0].clients[0].latency.gcp-europe-west9" in paths
    assert "routing[0].clients[0].latency" in paths  # and gcp-europe-west4 has no latency now
    assert paths["routing[0].clients[0].latency.gcp-europe-west9"].line == _line_of(bad, "gcp-europe-west9")

    bad = TEXT.replace("clusters: [aws-eu-west-1, gcp-europe-west4]", "clusters: [aws-eu-west-1, azure-nowhere]")
    probs, _ = _problems(tmp_path, bad)
    assert any(p.path == "routing[0].clusters[1]" and "no cluster named 'azure-nowhere'" in p.message for p in probs)


def test_policy_kinds_and_their_checks(tmp_path):
    probs, _ = _problems(tmp_path, TEXT.replace("kind: lowest-latency", "kind: cheapest"))
    assert probs[0].path == "routing[0].policy" and "'static', 'failover', 'lowest-latency'" in probs[0].message

    static = TEXT.replace("policy: {kind: lowest-latency}", "policy: {kind: static, weights: {aws-eu-west-1: 3}}")
    probs, _ = _problems(tmp_path, static)
    assert probs[0].path == "routing[0].policy.weights" and "no weight for gcp-europe-west4" in probs[0].message
    ok = TEXT.replace("policy: {kind: lowest-latency}", "policy: {kind: static, weights: {aws-eu-west-1: 3, gcp-europe-west4: 1}}")  # fmt: skip
    f = tmp_path / "ok.yaml"
    f.write_text(ok, encoding="utf-8")
    assert isinstance(load_multicluster(f).routing[0].policy, StaticPolicy)

    failover = TEXT.replace("policy: {kind: lowest-latency}", "policy: {kind: failover, order: [gcp-europe-west4, onprem-dc]}")  # fmt: skip
    probs, _ = _problems(tmp_path, failover)
    assert probs[0].path == "routing[0].policy.order[1]" and "not one of this service's clusters" in probs[0].message
    f.write_text(failover.replace("order: [gcp-europe-west4, onprem-dc]", "order: [gcp-europe-west4, aws-eu-west-1]"))
    assert isinstance(load_multicluster(f).routing[0].policy, FailoverPolicy)


def test_placement_and_routing_must_cover_every_workload_once(tmp_path):
    probs, _ = _problems(tmp_path, TEXT.replace("  recsys-training: onprem-dc\n", "  recsys-training: nowhere\n"))
    assert probs[0].path == "placement.recsys-training" and "no cluster named 'nowhere'" in probs[0].message
    probs, _ = _problems(tmp_path, TEXT.replace("placement:\n  recsys-training: onprem-dc\n", "placement: {}\n"))
    assert probs[0].path == "workloads[0].name" and "runs nowhere" in probs[0].message
    probs, _ = _problems(tmp_path, TEXT.replace("  - service: chat", "  - service: recsys-training"))
    assert any(p.path == "routing[0].service" and "training workload" in p.message for p in probs)
    both = TEXT.replace("  recsys-training: onprem-dc\n", "  recsys-training: onprem-dc\n  chat: aws-eu-west-1\n")
    probs, _ = _problems(tmp_path, both)
    assert any("both placed and routed" in p.message for p in probs)


def test_control_plane_and_location_rules(tmp_path):
    probs, _ = _problems(tmp_path, TEXT.replace("provider: eks, tier: standard", "provider: gke, tier: standard"))
    assert probs[0].path == "clusters[1]" and "gke runs on gcp" in probs[0].message
    probs, _ = _problems(tmp_path, TEXT.replace("provider: eks, tier: standard", "provider: eks, tier: gold"))
    assert (
        probs[0].path == "clusters[1].control_plane.managed" and "known: extended-support, standard" in probs[0].message
    )
    probs, _ = _problems(tmp_path, TEXT.replace("self_managed: {}", "self_managed: {}\n      managed: {provider: eks, tier: standard}"))  # fmt: skip
    assert probs[0].path == "clusters[0].control_plane" and "exactly one" in probs[0].message
    # AKS Premium has no confirmed published total: the scenario must give it
    azure = (
        TEXT.replace("provider: eks, tier: standard", "provider: aks, tier: premium")
        .replace("provider: aws, region: eu-west-1", "provider: azure, region: westeurope")
        .replace("node_type: aws-p5.48xlarge", "price_per_hour: 98.32")
    )
    probs, _ = _problems(tmp_path, azure)
    assert probs[0].path == "clusters[1].control_plane.managed" and "give usd_per_hour" in probs[0].message
    f = tmp_path / "azure.yaml"
    f.write_text(azure.replace("tier: premium}", "tier: premium, usd_per_hour: 0.70}"), encoding="utf-8")
    assert load_multicluster(f).clusters[1].control_plane.managed.fee_usd_per_hour() == 0.70
    # a fee given by hand still needs a real tier name
    probs, _ = _problems(
        tmp_path,
        TEXT.replace(
            "provider: gke, tier: standard,", "provider: gke, tier: free_credit_usd_per_month, usd_per_hour: 1,"
        ),
    )
    assert (
        probs[0].path == "clusters[2].control_plane.managed"
        and "known: autopilot, extended-support, standard" in probs[0].message
    )
    # a free credit only where the provider has one
    probs, _ = _problems(tmp_path, TEXT.replace("provider: eks, tier: standard}", "provider: eks, tier: standard, free_credit: true}"))  # fmt: skip
    assert "no monthly free credit" in probs[0].message


def test_transfer_quantities_and_payer(tmp_path):
    probs, _ = _problems(tmp_path, TEXT.replace("response_bytes: 16Ki", "response_bytes: 1.5"))
    assert probs[0].path == "routing[0].transfer.response_bytes" and "whole number of bytes" in probs[0].message
    probs, _ = _problems(tmp_path, TEXT.replace("payer: serving-cluster", "payer: both"))
    # the west-europe group has no location to price its egress
    assert probs[0].path == "routing[0].clients[1]" and "needs a location" in probs[0].message


def test_duplicate_cluster_names(tmp_path):
    probs, _ = _problems(tmp_path, TEXT.replace("- name: gcp-europe-west4", "- name: aws-eu-west-1").replace(
        "clusters: [aws-eu-west-1, gcp-europe-west4]", "clusters: [aws-eu-west-1]"))  # fmt: skip
    assert any(p.path == "clusters" and "repeated: aws-eu-west-1" in p.message for p in probs)
