"""Catalog integrity: provenance of every number, MIG geometry, resource names, overrides."""

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from gpusim.errors import InputError
from gpusim.hardware import OPENB_MODEL_MAP, Catalog, GpuModel, UnknownIdError, load_catalog
from gpusim.hardware.catalog import (
    NODE_NUMBER_FIELDS,
    SCENARIO_SOURCE,
    SPEC_FIELDS,
    VENDOR_RESOURCE_PREFIXES,
    VENDORS,
    mig_placement_count,
)
from gpusim.hardware.schema import CatalogOverrides

OPENB_NODES = (
    Path(__file__).resolve().parents[3] / "shared" / "traces" / "alibaba-gpu-v2023" / "openb_node_list_all_node.csv"
)

REQUIRED_GPUS = [
    "nvidia-a100-40gb", "nvidia-a100-80gb", "nvidia-h100-80gb", "nvidia-h200-141gb", "nvidia-b200-180gb",
    "nvidia-l4", "nvidia-t4", "nvidia-p100", "nvidia-v100-16gb", "nvidia-v100-32gb", "nvidia-a10",
    "alibaba-g2", "alibaba-g3", "amd-mi250x", "amd-mi300x", "amd-mi325x", "intel-gaudi2", "intel-gaudi3",
    "intel-max-1550",
]  # fmt: skip
REQUIRED_NODES = [
    "aws-p4d.24xlarge", "aws-p5.48xlarge", "aws-p5en.48xlarge", "aws-p6-b200.48xlarge",
    "gcp-a3-highgpu-8g", "azure-nd96isr-mi300x-v5",
]  # fmt: skip


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_required_gpu_models_and_node_types_exist(catalog):
    for gid in REQUIRED_GPUS:
        assert catalog.gpu(gid).id == gid
    for nid in REQUIRED_NODES:
        assert catalog.node_type(nid).id == nid
    kinds = {n.kind for n in catalog.node_types.values()}
    assert {"cloud", "onprem", "trace"} <= kinds
    assert any(n.cpu_only for n in catalog.node_types.values())
    assert any(
        catalog.gpu(n.gpu_model).id.startswith("intel-gaudi") for n in catalog.node_types.values() if n.gpu_model
    )


def _provenance_ok(entry, name: str) -> bool:
    return name in entry.sources or any(a == name or a.startswith(name + ".") for a in entry.assumptions)


def test_every_gpu_number_has_a_source_or_assumption(catalog):
    for g in catalog.gpu_models.values():
        for name in SPEC_FIELDS:
            if getattr(g, name) is not None:
                assert _provenance_ok(g, name), f"{g.id}.{name} has neither a source nor an assumption"
        for name in ("mig", "amd_partitions", "intel_shared", "proxy", "resource_name"):
            if getattr(g, name) is not None:
                assert _provenance_ok(g, name), f"{g.id}.{name} has neither a source nor an assumption"
        if "package" in g.extra:
            assert _provenance_ok(g, "package")


def test_unknown_specs_are_flagged_not_invented(catalog):
    for g in catalog.gpu_models.values():
        for name in ("bf16_tflops", "hbm_tbps", "tdp_w"):
            if getattr(g, name) is None:
                assert g.is_assumed(name), f"{g.id}.{name} is missing without saying so"


def test_every_node_number_has_a_source_or_assumption(catalog):
    for n in catalog.node_types.values():
        for name in NODE_NUMBER_FIELDS:
            if name == "gpus" and n.gpus == 0 and n.gpu_model is None:
                continue  # CPU-only by definition
            if getattr(n, name) is not None:
                assert _provenance_ok(n, name), f"{n.id}.{name} has neither a source nor an assumption"
        if n.kind == "cloud":
            if n.on_demand_usd_per_hour is None:
                assert n.is_assumed("on_demand_usd_per_hour"), f"{n.id}: missing price not flagged"
            else:
                assert n.price_date, f"{n.id}: a price needs its date"
            assert n.provisioning_s is not None and n.provisioning_s > 0


def test_source_keys_exist(catalog):
    for entry in [*catalog.gpu_models.values(), *catalog.node_types.values()]:
        for name, keys in entry.sources.items():
            assert keys, f"{entry.id}.{name}: empty source list"
            for key in keys:
                assert key in catalog.sources or key == SCENARIO_SOURCE, f"{entry.id}.{name}: unknown source {key}"


def test_assumption_texts_are_explanations(catalog):
    for entry in [*catalog.gpu_models.values(), *catalog.node_types.values()]:
        for name, why in entry.assumptions.items():
            assert len(why) >= 10, f"{entry.id}.{name}: assumption needs a reason"


def test_resource_names_match_vendor(catalog):
    for g in catalog.gpu_models.values():
        assert g.vendor in VENDORS
        assert g.resource_name.startswith(VENDOR_RESOURCE_PREFIXES[g.vendor]), g.id
        if g.mig:
            for p in g.mig.profiles:
                if p.resource_name is not None:
                    assert p.resource_name == f"nvidia.com/mig-{p.name}"
        if g.amd_partitions:
            for p in g.amd_partitions.profiles:
                assert p.resource_name == f"amd.com/{p.name}"
    assert catalog.gpu("intel-gaudi3").resource_name == "habana.ai/gaudi"
    assert catalog.gpu("intel-max-1550").resource_name == "gpu.intel.com/i915"


def test_mig_counts_follow_from_placements(catalog):
    mig_models = [g for g in catalog.gpu_models.values() if g.mig]
    assert {g.id for g in mig_models} >= {
        "nvidia-a100-40gb",
        "nvidia-a100-80gb",
        "nvidia-h100-80gb",
        "nvidia-h200-141gb",
        "nvidia-b200-180gb",
    }
    for g in mig_models:
        assert g.vendor == "nvidia"
        for p in g.mig.profiles:
            derived = mig_placement_count(p)
            if p.count_limit:
                assert p.max_count <= derived, (g.id, p.name)
            else:
                assert p.max_count == derived, (g.id, p.name, p.max_count, derived)
            for s in p.placements:
                assert 0 <= s and s + p.memory_slices <= 8, (g.id, p.name, s)
            m = re.match(r"(\d)g\.(\d+)gb", p.name)
            assert m and int(m.group(1)) == p.compute_slices
            assert int(m.group(2)) == round(p.memory_gib)
            # Profile memory is its share of the 8 memory slices (names round to whole GB).
            assert abs(p.memory_gib - g.memory_gib * p.memory_slices / 8) <= 1.0, (g.id, p.name)


def test_mig_documented_examples(catalog):
    """The MIG guide's worked examples: two 3g at 0:4 and 4:4; 1g@0, 1g@1, 2g@2, 3g@4 coexist."""
    mig = catalog.gpu("nvidia-a100-40gb").mig
    p1, p2, p3 = mig.profile("1g.5gb"), mig.profile("2g.10gb"), mig.profile("3g.20gb")
    used_m = used_c = 0
    for p, s in [(p1, 0), (p1, 1), (p2, 2), (p3, 4)]:
        assert s in p.placements
        assert not (used_m & p.memory_mask(s)) and not (used_c & p.compute_mask(s))
        used_m |= p.memory_mask(s)
        used_c |= p.compute_mask(s)
    # 3g at 0 strands compute slice 3: a 4g cannot follow at any placement.
    p4 = mig.profile("4g.20gb")
    assert p3.compute_mask(0) == 0b111
    assert all(p4.memory_mask(s) & p3.memory_mask(0) for s in p4.placements)
    assert mig.profile("nvidia.com/mig-3g.20gb") is p3
    with pytest.raises(UnknownIdError):
        mig.profile("5g.30gb")


def test_amd_partitions_consistent(catalog):
    for gid in ("amd-mi300x", "amd-mi325x"):
        g = catalog.gpu(gid)
        part = g.amd_partitions
        modes = {m.name: m for m in part.compute_modes}
        mem_modes = {m.name: m for m in part.memory_modes}
        assert set(modes) == {"SPX", "DPX", "QPX", "CPX"}
        for p in part.profiles:
            assert p.count == modes[p.compute_mode].partitions
            mm = mem_modes[p.memory_mode]
            assert not mm.only_with or p.compute_mode in mm.only_with
            assert p.memory_gib * p.count <= g.memory_gib + 1e-9
    assert catalog.gpu("amd-mi250x").amd_partitions is None
    assert not catalog.gpu("amd-mi300x").timeslicing  # AMD plugin has no time-slicing [S17]


def test_openb_map(catalog):
    assert set(OPENB_MODEL_MAP) == {"P100", "T4", "V100M16", "V100M32", "A10", "G2", "G3"}
    assert catalog.openb_model_map() == OPENB_MODEL_MAP
    for code, gid in OPENB_MODEL_MAP.items():
        assert catalog.openb_gpu(code).id == gid
    for code in ("G2", "G3"):
        g = catalog.openb_gpu(code)
        assert g.proxy and g.is_assumed("proxy") and g.is_assumed("memory_gib")
    with pytest.raises(UnknownIdError):
        catalog.openb_gpu("K80")


@pytest.mark.skipif(not OPENB_NODES.exists(), reason="openb trace not available")
def test_openb_map_covers_trace_and_node_shapes(catalog):
    import pandas as pd

    nodes = pd.read_csv(OPENB_NODES)
    assert set(nodes["model"].dropna()) <= set(OPENB_MODEL_MAP)
    shapes = {(n.gpu_model, n.gpus, n.vcpu, n.memory_gib) for n in catalog.node_types.values() if n.kind == "trace"}
    counts = nodes.assign(model=nodes["model"].fillna("")).groupby(["model", "gpu", "cpu_milli", "memory_mib"]).size()
    for model in set(nodes["model"].dropna()):
        (gpu, cpu, mem), _ = max(((k[1:], v) for k, v in counts.items() if k[0] == model), key=lambda kv: kv[1])
        assert (OPENB_MODEL_MAP[model], gpu, cpu / 1000, mem / 1024) in shapes, model


def test_unknown_id_lists_closest(catalog):
    with pytest.raises(UnknownIdError) as e:
        catalog.gpu("nvidia-h100")
    assert "nvidia-h100-80gb" in str(e.value)
    assert isinstance(e.value, InputError) and isinstance(e.value, KeyError)
    with pytest.raises(UnknownIdError) as e:
        catalog.node_type("p5.48xlarge")
    assert "aws-p5.48xlarge" in str(e.value)
    with pytest.raises(UnknownIdError) as e:
        catalog.get("mi300")
    assert "amd-mi300x" in e.value.suggestions


def test_onprem_price_is_amortised(catalog):
    n = catalog.node_type("onprem-hgx-h100-8x")
    expected = n.purchase_usd / (n.amortisation_years * 8760) + n.power_kw * n.pue * n.electricity_usd_per_kwh
    assert n.on_demand_usd_per_hour == pytest.approx(expected)
    assert n.is_assumed("on_demand_usd_per_hour")
    assert not n.autoscalable


def test_overrides_field_by_field_and_new_ids():
    base = load_catalog()
    c = load_catalog(
        {
            "gpu_models": [
                {"id": "nvidia-h100-80gb", "tdp_w": 650},
                {"id": "my-card", "proxy": "nvidia-l4", "memory_gib": 48},
            ],
            "node_types": [
                {"id": "azure-nd96isr-mi300x-v5", "on_demand_usd_per_hour": 48.0, "price_date": "2026-05"},
                {"id": "my-node", "gpu_model": "my-card", "gpus": 4, "vcpu": 64, "memory_gib": 512},
            ],
        }
    )
    h = c.gpu("nvidia-h100-80gb")
    assert h.tdp_w == 650 and h.sources["tdp_w"] == (SCENARIO_SOURCE,)
    assert h.bf16_tflops == base.gpu("nvidia-h100-80gb").bf16_tflops
    assert h.mig == base.gpu("nvidia-h100-80gb").mig
    card = c.gpu("my-card")
    assert card.memory_gib == 48 and card.bf16_tflops == base.gpu("nvidia-l4").bf16_tflops
    assert card.is_assumed("bf16_tflops") and not card.is_assumed("memory_gib")
    assert c.node_type("azure-nd96isr-mi300x-v5").on_demand_usd_per_hour == 48.0
    assert not c.node_type("azure-nd96isr-mi300x-v5").is_assumed("on_demand_usd_per_hour")
    assert c.node_type("my-node").gpu_model == "my-card"
    # The shipped data is untouched: the next load sees the original values.
    again = load_catalog()
    assert again.gpu("nvidia-h100-80gb").tdp_w == 700
    assert "my-card" not in again.gpu_models
    assert again is not base and again.gpu_models is not base.gpu_models


def test_bad_overrides_are_input_errors():
    with pytest.raises(InputError, match="lacks"):
        load_catalog({"gpu_models": [{"id": "new-gpu", "memory_gib": 10}]})
    with pytest.raises(UnknownIdError, match="nvidia-h100-80gb"):
        load_catalog(
            {"node_types": [{"id": "x", "gpu_model": "nvidia-h100-80", "gpus": 1, "vcpu": 8, "memory_gib": 64}]}
        )
    with pytest.raises(InputError, match="allowed"):
        load_catalog({"gpus": []})
    with pytest.raises(UnknownIdError):
        load_catalog({"gpu_models": [{"id": "y", "proxy": "nvidia-l5"}]})


def test_schema_round_trip_and_strictness():
    block = {
        "gpu_models": [{"id": "nvidia-h100-80gb", "software_efficiency": 0.5}],
        "node_types": [{"id": "aws-p5.48xlarge", "spot_usd_per_hour": 20}],
    }
    model = CatalogOverrides.model_validate(block)
    c = load_catalog(model.model_dump(exclude_none=True))
    assert c.gpu("nvidia-h100-80gb").software_efficiency == 0.5
    assert c.node_type("aws-p5.48xlarge").spot_usd_per_hour == 20
    assert load_catalog(model).gpu("nvidia-h100-80gb").software_efficiency == 0.5
    with pytest.raises(ValidationError):
        CatalogOverrides.model_validate({"gpu_models": [{"id": "a", "memroy_gib": 3}]})
    with pytest.raises(ValidationError):
        CatalogOverrides.model_validate({"gpu_models": [{"id": "a", "vendor": "qualcomm"}]})


def test_schema_fields_have_descriptions():
    schema = CatalogOverrides.model_json_schema()
    for name, definition in schema.get("$defs", {}).items():
        for field_name, prop in definition.get("properties", {}).items():
            assert prop.get("description"), f"{name}.{field_name} has no description"


def test_gpu_model_keeps_contract_attributes(catalog):
    g = catalog.gpu("nvidia-a100-80gb")
    assert isinstance(g, GpuModel)
    assert (g.id, g.vendor, g.memory_gib, g.resource_name) == ("nvidia-a100-80gb", "nvidia", 80.0, "nvidia.com/gpu")
    assert g.mig_capable and g.timeslicing and g.mig.profile("3g.40gb").max_count == 2
    assert hash(g) == hash(catalog.gpu("nvidia-a100-80gb"))


def test_unknown_id_error_pickles():
    import pickle

    err = UnknownIdError("GPU model", "h100", ["nvidia-h100-80gb", "nvidia-a100-80gb"])
    back = pickle.loads(pickle.dumps(err))
    assert str(back) == str(err) and back.suggestions == err.suggestions


def test_mig_placements_agree_with_cluster_rule(catalog):
    """The cluster's start-index rule (gpusim.cluster.state) reproduces every catalog placement list."""
    import gpusim.cluster.state as state

    for g in catalog.gpu_models.values():
        if g.mig:
            for p in g.mig.profiles:
                assert state.mig_valid_starts(p.compute_slices, p.memory_slices) == list(p.placements), (g.id, p.name)
                assert state.mig_masks(p.compute_slices, p.memory_slices, p.placements[-1]) == (
                    p.memory_mask(p.placements[-1]),
                    p.compute_mask(p.placements[-1]),
                )


def test_service_time_entries_carry_sources(catalog):
    from gpusim.hardware.catalog import calibration_data

    for model, entries in calibration_data()["service_times"].items():
        for device, entry in entries.items():
            assert entry["source"] in catalog.sources, (model, device)
            assert entry["throughput_per_s"] > 0
            if device.startswith("cpu:"):
                assert catalog.node_type(device[4:]).cpu_only
            else:
                catalog.gpu(device)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(REQUIRED_GPUS),
    st.sampled_from(["memory_gib", "bf16_tflops", "hbm_tbps", "tdp_w"]),
    st.floats(1, 5000),
)
def test_any_override_keeps_provenance(gid, field_name, value):
    c = load_catalog({"gpu_models": [{"id": gid, field_name: value}]})
    g = c.gpu(gid)
    assert getattr(g, field_name) == value
    assert g.sources[field_name] == (SCENARIO_SOURCE,)
    assert not g.is_assumed(field_name)
    for name in SPEC_FIELDS:
        if getattr(g, name) is not None:
            assert _provenance_ok(g, name)
