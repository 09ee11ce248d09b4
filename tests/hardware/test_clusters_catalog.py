"""The multi-cluster facts in gpusim/hardware/data/clusters.yaml and their loader.

The published figures checked here are the ones the catalog cites (AWS Containers Blog 2024:
EKS $0.10 standard, $0.60 extended support; GKE pricing page: $0.10 per cluster-hour and a $74.40
monthly credit; OKE pricing page: enhanced $0.10 per hour up to $74.40 a month; Oracle: 10 TB free
egress a month; Cloudflare R2: no egress charges).
"""

import math
import re
from importlib import resources

import pytest
import yaml

from gpusim.errors import InputError
from gpusim.hardware.clusters import load_cluster_catalog, self_managed_ops_usd_per_hour


def _walk(node, path=()):
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from _walk(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, path + (i,))


def test_package_data_is_shipped_and_parses():
    text = resources.files("gpusim.hardware").joinpath("data/clusters.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert {"sources", "managed_control_planes", "egress", "latency_ms", "self_managed_control_plane"} <= set(data)


def test_every_priced_entry_names_an_existing_source_or_an_assumption():
    data = yaml.safe_load(resources.files("gpusim.hardware").joinpath("data/clusters.yaml").read_text(encoding="utf-8"))
    sources = data["sources"]
    checked = 0
    for path, node in _walk({k: v for k, v in data.items() if k != "sources"}):
        numeric = [k for k in ("usd_per_hour", "usd_per_gb", "value", "mean", "min", "max") if k in node]
        if not numeric:
            continue
        checked += 1
        if node.get("source") is None:
            assert node.get("assumption"), f"{path}: a number without a source must state its assumption"
        else:
            assert node["source"] in sources, f"{path}: unknown source {node['source']!r}"
    assert checked >= 30
    # every source cites at least one URL
    for key, text in sources.items():
        assert re.search(r"https?://", text), key


def test_published_control_plane_fees():
    cat = load_cluster_catalog()
    assert cat.control_plane_usd_per_hour("eks", "standard") == 0.10
    assert cat.control_plane_usd_per_hour("eks", "extended-support") == 0.60
    assert cat.control_plane_usd_per_hour("gke", "autopilot") == 0.10
    assert cat.control_plane_usd_per_hour("aks", "free") == 0.0
    assert cat.control_plane_usd_per_hour("aks", "standard") == 0.10
    assert cat.control_plane_usd_per_hour("oke", "basic") == 0.0
    # GKE's credit is one zonal/Autopilot cluster for a 31-day month: 744 h x $0.10
    assert cat.free_credit_usd_per_month("gke") == pytest.approx(744 * 0.10)
    # OKE's monthly cap is the same 744 h x $0.10
    assert cat.control_plane_max_usd_per_month("oke", "enhanced") == pytest.approx(744 * 0.10)
    assert cat.free_credit_usd_per_month("eks") == 0.0


def test_unpriced_and_unknown_entries_are_errors_not_guesses():
    cat = load_cluster_catalog()
    with pytest.raises(InputError, match="not known"):
        cat.control_plane_usd_per_hour("aks", "premium")
    with pytest.raises(InputError, match="known: "):
        cat.control_plane_usd_per_hour("eks", "platinum")
    with pytest.raises(InputError, match="no managed control plane"):
        cat.control_plane_usd_per_hour("nomad", "standard")
    with pytest.raises(InputError, match="no egress price"):
        cat.egress_price("moon")


def test_free_egress_allowances():
    cat = load_cluster_catalog()
    assert cat.egress_price("aws").free_allowance == 100
    assert cat.egress_price("azure").free_allowance == 100
    assert cat.egress_price("oci").free_allowance == 10 * 1024
    assert cat.egress_price("cloudflare-r2").free_allowance == math.inf
    assert cat.egress_price("on-prem").free_allowance == math.inf
    # Standard Tier: Google's Always Free limits do not apply
    assert cat.egress_price("gcp-standard").free_allowance == 0
    assert cat.egress_price("gcp-premium").unit == "GiB"


def test_self_managed_assumption_arithmetic():
    # 3 VMs x $0.34 + 0.25 FTE x $122,023 / 8,760 h, by hand: 1.02 + 3.48241... = 4.50241...
    assert self_managed_ops_usd_per_hour() == pytest.approx(1.02 + 0.25 * 122023 / 8760)
    assert self_managed_ops_usd_per_hour() == pytest.approx(4.5024, abs=1e-4)
    # overriding any input changes only its term
    assert self_managed_ops_usd_per_hour(sre_fte=0.0) == pytest.approx(1.02)
    assert self_managed_ops_usd_per_hour(vms=0) == pytest.approx(0.25 * 122023 / 8760)
    # against EKS standard it is 45x the managed fee: the assumption's whole point is visible
    assert self_managed_ops_usd_per_hour() / load_cluster_catalog().control_plane_usd_per_hour("eks", "standard") > 40
