"""Several clusters in one scenario (issue 15 item 2): schema, validation and routing arithmetic.

A multi-cluster scenario has `clusters:` (a list) where a plain scenario has `cluster:`. Each
member has a name, a location (on premises, or a cloud provider and region), its own `cluster:`
block (the plain scenario's `Cluster` model, unchanged), its control plane (a managed provider
tier, or self-managed with an operations cost per hour), an optional failure-rate override and
a provisioning lag. `placement:` puts each training workload (or a single-cluster service) on one
member; `routing:` spreads an inference service over several members. This module validates
them and holds the pure functions the engine (gpusim.sim.multicluster, which says what of the
design below it runs) uses.

Design: how the engine will run several clusters in one SimPy environment.

1. One `simpy.Environment`, one clock, one `RandomStreams(seed)`. Each member gets its own
   per-cluster run, built exactly as a single-cluster run is today: a ClusterState over its node
   pools, its scheduler (queue, placement policy), its NodeManager and Cluster Autoscaler (the
   member's `provisioning_lag` added to every node's time to Ready, its failure override feeding
   the failure model), and the services placed or routed there. Random streams are named
   `cluster/<member>/...` so adding a member never shifts another member's numbers.
2. Training workloads go to the one member `placement:` names; jobs never move between members.
3. A routed service keeps one arrival process (drawn once, from the service's own streams). A
   router component sits between the arrivals and each member's copy of the service: per
   request it picks a client group (by `share`, stream `service/<name>/routing/client`) and a
   member by the policy: static weights (stream `service/<name>/routing`), failover (the first
   member in `order` with a ready replica), or lowest-latency (the member with the smallest
   one-way latency for that client group among those with a ready replica). The request is handed
   to the member's service after the one-way latency and its completion is reported after the
   return leg, so the recorded end-to-end latency includes 2 x one-way (`added_latency_s`).
   Each member's service has its own replicas and autoscaler; the router only reads readiness.
4. Result tables gain a `cluster` column (jobs, pods, nodes, requests, service time series, cost
   lines); summaries are given per member and for the whole scenario. Costs per member: nodes
   (as today, with the member's prices), the control-plane fee (`control_plane_cost_usd`, GKE's
   monthly credit applied to one member per billing account) or the self-managed operations
   cost, and egress (`egress_cost_usd` on the bytes each member sent, priced at its provider's
   tiers, zero where free). SLO attainment per service is computed on latencies that include the
   network legs (`slo_attainment_shifted` gives the same answer from a histogram).
5. The IKEA pattern (scenarios/ikea-hybrid.yaml): training on an on-premises cluster with a
   self-managed control plane and no per-GB egress, inference served from two cloud regions with
   managed control planes, routed by lowest latency from two client groups, the response bytes
   billed as egress of the serving cloud. Its outputs: cost per member (nodes, control plane,
   egress), the training jobs' delay and goodput on premises, each service's SLO attainment with
   the network legs, and the managed fee against the self-managed operations cost.

Nothing here runs a simulation; `load_multicluster()` validates a file with errors located by
file, line, column and field path, as `gpusim.scenario.loader.load_scenario` does.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import (
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from gpusim.errors import InputError, Problem, ScenarioError
from gpusim.hardware.clusters import load_cluster_catalog
from gpusim.hardware.schema import CatalogOverrides
from gpusim.scenario.models import (
    _NAME_RE,
    Cluster,
    InferenceWorkload,
    Output,
    Scenario,
    Scheduler,
    TrainingWorkload,
    Workload,
    _Model,
    unique_names,
)
from gpusim.units import Duration, parse_quantity

__all__ = [
    "MultiClusterScenario",
    "ClusterMember",
    "ServiceRouting",
    "load_multicluster",
    "check_multicluster",
    "added_latency_s",
    "slo_attainment",
    "slo_attainment_shifted",
    "split_by_weights",
    "routing_stream",
    "egress_price_key",
    "member_egress",
    "routed_egress_usd",
    "control_plane_usd",
]

MAX_CLUSTERS = 64
CLOUD_PROVIDERS = ("aws", "gcp", "azure", "oci", "other")
DEFAULT_EGRESS = {"aws": "aws", "gcp": "gcp-premium", "azure": "azure", "oci": "oci"}
"""Catalog egress entry of each cloud provider when a member gives none (GCP: Premium Tier, its
default network tier)."""


def _byte_count(value: object) -> int:
    q = parse_quantity(value)
    if q.denominator != 1:
        raise ValueError(f"{value!r} is not a whole number of bytes")
    if q > 2**50:
        raise ValueError(f"{value!r} is out of range: at most 1Pi bytes per request")
    return int(q)


Bytes = Annotated[
    int,
    BeforeValidator(_byte_count),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "integer"}],
                    "description": "Bytes: an integer or a Kubernetes quantity (2Ki = 2048); at most 1Pi."}),
]  # fmt: skip
"""A byte count: an integer or a Kubernetes quantity (2Ki = 2048, 8k = 8000)."""


# --------------------------------------------------------------------------- locations
class OnPremLocation(_Model):
    """A cluster in one's own data centre."""

    kind: Literal["on-prem"] = Field(description="Where the cluster runs.")
    site: str = Field(min_length=1, max_length=200, description="Data-centre name (free text).")
    region: str | None = Field(None, max_length=200, description="Geographic region (free text).")


class CloudLocation(_Model):
    """A cluster at a cloud provider."""

    kind: Literal["cloud"] = Field(description="Where the cluster runs.")
    provider: Literal[CLOUD_PROVIDERS] = Field(description="Cloud provider.")  # type: ignore[valid-type]
    region: str = Field(min_length=1, max_length=100, description="Provider region, e.g. eu-west-1.")


Location = Annotated[OnPremLocation | CloudLocation, Discriminator("kind")]


# --------------------------------------------------------------------------- control plane
class ManagedControlPlane(_Model):
    """A provider-run control plane billed per cluster-hour (fees in gpusim/hardware/data/clusters.yaml)."""

    provider: Literal["eks", "gke", "aks", "oke"] = Field(description="Managed Kubernetes service.")
    tier: str = Field(description="Its tier, e.g. standard, extended-support, autopilot, free, premium, enhanced.")
    usd_per_hour: float | None = Field(
        None, ge=0, description="Fee per cluster-hour (USD); default: the catalog's published fee for the tier."
    )
    free_credit: bool = Field(
        False,
        description="Apply the provider's monthly credit to this cluster (GKE: $74.40 per billing account, "
        "zonal Standard or Autopilot clusters only; give it to one cluster per account).",
    )

    @model_validator(mode="after")
    def _known(self):
        cat = load_cluster_catalog()
        if self.usd_per_hour is None:
            try:
                cat.control_plane_usd_per_hour(self.provider, self.tier)
            except InputError as e:
                raise ValueError(str(e)) from None
        else:
            known = sorted(k for k, v in cat.control_planes[self.provider].items() if "usd_per_hour" in (v or {}))
            if self.tier not in known:
                raise ValueError(f"no tier {self.tier!r} for {self.provider}; known: {', '.join(known)}")
        if self.free_credit and cat.free_credit_usd_per_month(self.provider) == 0:
            raise ValueError(f"{self.provider} has no monthly free credit in the catalog; remove free_credit")
        return self

    def fee_usd_per_hour(self) -> float:
        if self.usd_per_hour is not None:
            return self.usd_per_hour
        return load_cluster_catalog().control_plane_usd_per_hour(self.provider, self.tier)


class SelfManagedControlPlane(_Model):
    """A control plane one runs oneself (kubeadm or similar): its operations cost per hour."""

    ops_usd_per_hour: float | None = Field(
        None,
        ge=0,
        description="Operations cost per cluster-hour (USD): control-plane machines and staff time. Default: "
        "the catalog's labelled ASSUMPTION, 3 VMs at $0.34/h plus 0.25 SRE at $122,023/year = $4.50/h.",
    )


class ControlPlane(_Model):
    """Exactly one of `managed` or `self_managed`."""

    managed: ManagedControlPlane | None = Field(None, description="A provider's managed control plane.")
    self_managed: SelfManagedControlPlane | None = Field(None, description="A self-managed control plane.")

    @model_validator(mode="after")
    def _one(self):
        if (self.managed is None) == (self.self_managed is None):
            raise ValueError("give exactly one of managed or self_managed")
        return self


# --------------------------------------------------------------------------- member
class FailureOverride(_Model):
    """Failure rates of one cluster instead of the catalog's (gpusim/hardware/data/failures.yaml)."""

    interruptions_per_gpu_hour: float | None = Field(
        None, ge=0, le=1, description="Unexpected interruptions per GPU-hour (replaces the per-model rate)."
    )
    rate_scale: float | None = Field(
        None, gt=0, le=1000, description="Multiplier on the catalog's per-model rate (e.g. 2 for older hardware)."
    )
    repair_time: Duration | None = Field(None, ge=0, description="Time to repair or replace a failed node (seconds).")

    @model_validator(mode="after")
    def _one_rate(self):
        if self.interruptions_per_gpu_hour is not None and self.rate_scale is not None:
            raise ValueError("give interruptions_per_gpu_hour or rate_scale, not both")
        return self


class EgressTier(_Model):
    """One monthly volume tier of a per-GB price."""

    up_to_gb: float | None = Field(description="Cumulative upper bound of the tier in units per month (null: none).")
    usd_per_gb: float = Field(ge=0, description="USD per unit in this tier.")


class EgressPricing(_Model):
    """A member's egress price: a catalog entry, or its own tiers (a negotiated contract)."""

    price: str | None = Field(
        None, description="Catalog egress entry (aws, gcp-premium, gcp-standard, azure, oci, on-prem)."
    )
    tiers: list[EgressTier] | None = Field(None, min_length=1, max_length=20, description="Own monthly tiers.")
    unit: Literal["GB", "GiB"] = Field("GB", description="Unit of the tiers' bounds and prices.")

    @model_validator(mode="after")
    def _one(self):
        if (self.price is None) == (self.tiers is None):
            raise ValueError("give exactly one of price or tiers")
        if self.price is not None and self.price not in load_cluster_catalog().egress:
            raise ValueError(
                f"no egress price {self.price!r}; known: {', '.join(sorted(load_cluster_catalog().egress))}"
            )
        if self.tiers is not None:
            bounds = [t.up_to_gb for t in self.tiers]
            if any(b is None for b in bounds[:-1]):
                raise ValueError("only the last tier may have up_to_gb: null")
            finite = [b for b in bounds if b is not None]
            if any(b <= a for a, b in zip([0.0, *finite], finite, strict=False)):
                raise ValueError("tier bounds must increase and be > 0")
            if bounds[-1] is not None:
                raise ValueError("the last tier must have up_to_gb: null (no upper bound)")
        return self


class ClusterMember(_Model):
    """One cluster of a multi-cluster scenario."""

    name: str = Field(pattern=_NAME_RE, max_length=63, description="Cluster name (DNS label), unique in the scenario.")
    location: Location = Field(description="On premises or a cloud provider and region.")
    cluster: Cluster = Field(description="Its node pools, autoscaler and billing (as a plain scenario's cluster:).")
    control_plane: ControlPlane = Field(description="Managed (a provider's tier) or self-managed (ops cost per hour).")
    scheduler: Scheduler = Field(default_factory=Scheduler, description="Its scheduler settings.")
    failures: FailureOverride | None = Field(
        None, description="Failure rates of this cluster instead of the catalog's."
    )
    provisioning_lag: Duration = Field(
        0.0,
        ge=0,
        description="Extra delay before a node the autoscaler adds here is Ready (seconds), on top of the pool's provisioning.",
    )
    egress: EgressPricing | None = Field(
        None, description="Egress price (default: the provider's catalog entry; on premises: free)."
    )

    @model_validator(mode="after")
    def _consistent(self):
        loc = self.location
        cp = self.control_plane.managed
        if cp is not None:
            want = {"eks": "aws", "gke": "gcp", "aks": "azure", "oke": "oci"}[cp.provider]
            if loc.kind == "on-prem":
                raise ValueError(f"a managed {cp.provider} control plane needs a cloud location, not on-prem")
            if loc.provider not in (want, "other"):
                raise ValueError(f"{cp.provider} runs on {want}, but the location's provider is {loc.provider}")
        if loc.kind == "cloud" and loc.provider == "other" and self.egress is None:
            raise ValueError("a cloud location with provider: other needs an egress: block (no catalog price)")
        return self


def egress_price_key(member: ClusterMember) -> str | None:
    """Catalog egress entry of a member (None when it gives its own tiers)."""
    if member.egress is not None:
        return member.egress.price
    if member.location.kind == "on-prem":
        return "on-prem"
    return DEFAULT_EGRESS[member.location.provider]


# --------------------------------------------------------------------------- routing
class StaticPolicy(_Model):
    """Split requests by fixed weights (each request drawn independently)."""

    kind: Literal["static"] = Field(description="Routing policy.")
    weights: dict[str, float] = Field(min_length=1, description="Cluster name -> relative weight (>= 0).")

    @field_validator("weights")
    @classmethod
    def _weights(cls, w):
        bad = [k for k, v in w.items() if not (math.isfinite(v) and v >= 0)]
        if bad:
            raise ValueError(f"weights must be finite and >= 0; bad: {', '.join(bad)}")
        if sum(w.values()) <= 0:
            raise ValueError("at least one weight must be > 0")
        return w


class FailoverPolicy(_Model):
    """Everything to the first cluster of `order` that has a ready replica."""

    kind: Literal["failover"] = Field(description="Routing policy.")
    order: list[str] = Field(min_length=1, description="Clusters in order of preference.")


class LowestLatencyPolicy(_Model):
    """Each client group to the cluster with the smallest one-way latency that has a ready replica."""

    kind: Literal["lowest-latency"] = Field(description="Routing policy.")


RoutingPolicy = Annotated[StaticPolicy | FailoverPolicy | LowestLatencyPolicy, Discriminator("kind")]


class ClientGroup(_Model):
    """Where a share of a service's requests come from, and its network latency to each cluster."""

    name: str = Field(pattern=_NAME_RE, max_length=63, description="Client group name.")
    share: float = Field(1.0, gt=0, description="Relative share of the service's requests.")
    location: Location | None = Field(None, description="Where the clients are (needed when they pay egress).")
    latency: dict[str, Duration] = Field(
        min_length=1, description="Cluster name -> added one-way network latency (seconds, e.g. 12ms)."
    )


class Transfer(_Model):
    """Bytes a request moves, and who pays for them leaving their network."""

    request_bytes: Bytes = Field(0, ge=0, description="Request size (bytes; 2Ki = 2048), client -> cluster.")
    response_bytes: Bytes = Field(0, ge=0, description="Response size (bytes), cluster -> client.")
    payer: Literal["serving-cluster", "client", "both"] = Field(
        "serving-cluster",
        description="serving-cluster: the response is the serving cluster's egress; client: the scenario pays "
        "nothing (bytes still counted); both: the request is also the client location's egress.",
    )


class ServiceRouting(_Model):
    """How one inference service's requests are spread over clusters."""

    service: str = Field(description="Name of an inference workload.")
    clusters: list[str] = Field(min_length=1, max_length=MAX_CLUSTERS, description="Clusters that serve it.")
    policy: RoutingPolicy = Field(description="static (weights), failover (order) or lowest-latency.")
    clients: list[ClientGroup] = Field(min_length=1, max_length=100, description="Client groups and their latencies.")
    transfer: Transfer = Field(default_factory=Transfer, description="Request and response sizes, and who pays.")


# --------------------------------------------------------------------------- scenario
class MultiClusterScenario(_Model):
    """A scenario with several clusters (on premises and in clouds) sharing one clock."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="gpusim multi-cluster scenario", allow_inf_nan=False)

    name: str = Field(pattern=_NAME_RE, max_length=63, description="Scenario name; results go to results/<name>/.")
    description: str = Field("", max_length=10_000, description="Free text.")
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description="Random seed.")
    duration: Duration = Field(gt=0, description="Horizon of the run (seconds).")
    drain: bool = Field(True, description="As in a plain scenario.")
    clusters: list[ClusterMember] = Field(min_length=1, max_length=MAX_CLUSTERS, description="The clusters (1 to 64).")
    workloads: list[Workload] = Field(min_length=1, max_length=1000, description="Workloads (1 to 1,000).")
    placement: dict[str, str] = Field(
        default_factory=dict,
        description="Workload name -> the cluster it runs on (every training workload; unrouted services).",
    )
    routing: list[ServiceRouting] = Field(default_factory=list, description="Inference services spread over clusters.")
    output: Output = Field(default_factory=Output, description="Recording settings.")
    catalog: CatalogOverrides | None = Field(None, description="Hardware catalog additions, shared by every cluster.")

    @field_validator("clusters")
    @classmethod
    def _unique_clusters(cls, cs):
        return unique_names(cs, "cluster names")

    @field_validator("workloads")
    @classmethod
    def _unique_workloads(cls, ws):
        return unique_names(ws, "workload names")

    def member(self, name: str) -> ClusterMember:
        return next(c for c in self.clusters if c.name == name)

    def workloads_on(self, cluster: str) -> list[tuple[int, TrainingWorkload | InferenceWorkload]]:
        """(index in `workloads`, workload) of everything that runs on `cluster`."""
        routed = {r.service: set(r.clusters) for r in self.routing}
        return [(i, w) for i, w in enumerate(self.workloads)
                if self.placement.get(w.name) == cluster or cluster in routed.get(w.name, ())]  # fmt: skip


# --------------------------------------------------------------------------- semantic checks
def check_multicluster(s: MultiClusterScenario, *, per_cluster: bool = True) -> list[tuple[tuple, str]]:
    """Cross-references between clusters, workloads, placement and routing, then each member's own
    checks (the plain scenario's `check_scenario` on the member's cluster and workloads), with
    paths into the multi-cluster file. Returns (path, message) pairs.
    """
    out: list[tuple[tuple, str]] = []
    names = [c.name for c in s.clusters]
    known = set(names)
    kinds = {w.name: w.type for w in s.workloads}
    allowed = ", ".join(names)
    for wname, cname in s.placement.items():
        if wname not in kinds:
            out.append((("placement", wname), f"no workload named {wname!r}; workloads: {', '.join(kinds)}"))
        if cname not in known:
            out.append((("placement", wname), f"no cluster named {cname!r}; clusters: {allowed}"))
    routed: dict[str, int] = {}
    for ri, r in enumerate(s.routing):
        base = ("routing", ri)
        if r.service in routed:
            out.append((base + ("service",), f"{r.service!r} is routed twice (routing[{routed[r.service]}])"))
        routed.setdefault(r.service, ri)
        if r.service not in kinds:
            out.append((base + ("service",), f"no workload named {r.service!r}"))
        elif kinds[r.service] != "inference":
            out.append((base + ("service",), f"{r.service!r} is a training workload; only inference services are routed (use placement:)"))  # fmt: skip
        if r.service in s.placement:
            out.append((base + ("service",), f"{r.service!r} is both placed and routed; give one"))
        for ci, c in enumerate(r.clusters):
            if c not in known:
                out.append((base + ("clusters", ci), f"no cluster named {c!r}; clusters: {allowed}"))
        if len(set(r.clusters)) != len(r.clusters):
            out.append((base + ("clusters",), "a cluster is listed twice"))
        serving = set(r.clusters)
        pol = r.policy
        if isinstance(pol, StaticPolicy):
            for c in pol.weights:
                if c not in serving:
                    out.append((base + ("policy", "weights", c), f"{c!r} is not one of this service's clusters ({', '.join(r.clusters)})"))  # fmt: skip
            missing = [c for c in r.clusters if c not in pol.weights]
            if missing:
                out.append((base + ("policy", "weights"), f"no weight for {', '.join(missing)}"))
        elif isinstance(pol, FailoverPolicy):
            for oi, c in enumerate(pol.order):
                if c not in serving:
                    out.append((base + ("policy", "order", oi), f"{c!r} is not one of this service's clusters ({', '.join(r.clusters)})"))  # fmt: skip
            if len(set(pol.order)) != len(pol.order):
                out.append((base + ("policy", "order"), "a cluster is listed twice"))
        gnames = [g.name for g in r.clients]
        if len(set(gnames)) != len(gnames):
            out.append((base + ("clients",), "client group names must be unique"))
        for gi, g in enumerate(r.clients):
            for c in g.latency:
                if c not in serving:
                    out.append((base + ("clients", gi, "latency", c), f"{c!r} is not one of this service's clusters ({', '.join(r.clusters)})"))  # fmt: skip
            missing = [c for c in r.clusters if c not in g.latency]
            if missing:
                out.append((base + ("clients", gi, "latency"), f"no latency to {', '.join(missing)} (give 0s where none is added)"))  # fmt: skip
            if r.transfer.payer == "both" and g.location is None:
                out.append((base + ("clients", gi), "transfer.payer is both: the client group needs a location: to price its egress"))  # fmt: skip
    for wi, w in enumerate(s.workloads):
        if w.name not in s.placement and w.name not in routed:
            what = (
                "placement: (a training workload runs on one cluster)"
                if w.type == "training"
                else "placement: or routing:"
            )
            out.append((("workloads", wi, "name"), f"{w.name!r} runs nowhere; give it a cluster in {what}"))
    if out or not per_cluster:
        return out
    return _member_checks(s)


def _member_checks(s: MultiClusterScenario) -> list[tuple[tuple, str]]:
    from gpusim.scenario.checks import check_scenario

    out: list[tuple[tuple, str]] = []
    for ci, m in enumerate(s.clusters):
        on = s.workloads_on(m.name)
        sub = Scenario.model_construct(
            name=f"{s.name}-{m.name}"[:63], description="", seed=s.seed, duration=s.duration, drain=s.drain,
            cluster=m.cluster, workloads=[w for _, w in on], scheduler=m.scheduler, output=s.output,
            sweep=None, catalog=s.catalog,
        )  # fmt: skip
        for path, msg in check_scenario(sub):
            if path[:1] == ("cluster",):
                path = ("clusters", ci) + path
            elif path[:1] == ("workloads",) and len(path) > 1 and isinstance(path[1], int):
                path = ("workloads", on[path[1]][0]) + path[2:]
                msg = f"on cluster {m.name!r}: {msg}"
            out.append((path, msg))
    return list(dict.fromkeys(out))


# --------------------------------------------------------------------------- loading with locations
def load_multicluster(source: str | Path | dict, *, check: bool = True) -> MultiClusterScenario:
    """Load and validate a multi-cluster scenario (YAML path, YAML text or dict).

    Raises `ScenarioError` listing every problem with file, line, column and field path, as
    `load_scenario` does; `check=False` skips the cross-reference and per-cluster checks.
    """
    from gpusim.scenario import loader as L

    filename: str | None = None
    if isinstance(source, dict):
        data, positions = source, L.dict_paths(source)
    else:
        if isinstance(source, Path) or ("\n" not in str(source) and str(source).lower().endswith((".yaml", ".yml"))):
            filename = str(source)
            text: str | bytes = L.read_file(source)
        else:
            text = str(source)
        data, positions = L.parse_yaml(text, filename)
    if not isinstance(data, dict):
        raise ScenarioError([Problem("a multi-cluster scenario is a YAML mapping (name:, duration:, clusters:, workloads: ...)",
                                     file=filename, line=1, column=1)])  # fmt: skip
    bad = L.check_values(data, positions, filename)
    if bad:
        raise ScenarioError(bad)
    if filename is not None:
        data = L.resolve_trace_paths(data, Path(filename).resolve().parent)
    try:
        scenario = MultiClusterScenario.model_validate(data)
    except ValidationError as e:
        raise ScenarioError([L.problem_from_error(err, positions, filename, MultiClusterScenario) for err in e.errors()]) from None  # fmt: skip
    if check:
        problems = check_multicluster(scenario)
        if problems:
            located = []
            for path, message in problems:
                pos = positions.get(path) or positions.get(L.locate_field(path, positions)[0])
                located.append(Problem(message, file=filename, line=pos[2] if pos else None,
                                       column=pos[3] if pos else None, path=L.format_path(path)))  # fmt: skip
            raise ScenarioError(located)
    return scenario


# --------------------------------------------------------------------------- routing arithmetic
def added_latency_s(one_way_s: float, round_trips: int = 1) -> float:
    """Network time a routed request adds to its end-to-end latency: the request's leg to the
    cluster and the response's leg back, 2 x one-way per round trip (persistent connections: no
    handshake counted).
    """
    if not (math.isfinite(one_way_s) and one_way_s >= 0) or round_trips < 1:
        raise ValueError("need one_way_s >= 0 and round_trips >= 1")
    return 2.0 * one_way_s * round_trips


def slo_attainment(latencies_s: Sequence[float] | np.ndarray, slo_s: float, added_s: float = 0.0) -> float:
    """Fraction of requests whose latency plus the added network time is within the SLO (<=)."""
    lat = np.asarray(latencies_s, dtype=float)
    if lat.size == 0:
        return math.nan
    return float(np.count_nonzero(lat + added_s <= slo_s) / lat.size)


def slo_attainment_shifted(
    edges_s: Sequence[float], counts: Sequence[float], slo_s: float, added_s: float = 0.0
) -> float:
    """SLO attainment from a latency histogram shifted right by `added_s`.

    The histogram has bins [edges[i], edges[i+1]) holding counts[i] requests, spread uniformly
    within each bin. Shifting every latency by `added_s` is the same as lowering the threshold to
    slo - added: the attained fraction is the mass below it, the straddled bin counted pro rata.
    """
    e = np.asarray(edges_s, dtype=float)
    c = np.asarray(counts, dtype=float)
    if e.ndim != 1 or c.ndim != 1 or e.size != c.size + 1 or np.any(np.diff(e) <= 0) or np.any(c < 0):
        raise ValueError("need increasing edges, one more than counts, and counts >= 0")
    total = c.sum()
    if total == 0:
        return math.nan
    x = slo_s - added_s
    frac = np.clip((x - e[:-1]) / np.diff(e), 0.0, 1.0)
    return float((frac * c).sum() / total)


def routing_stream(seed: int, service: str, what: str = "routing") -> np.random.Generator:
    """The router's own random stream for a service, keyed by name like gpusim.sim.random's
    streams (`service/<name>/<what>`): the same seed and service give the same split, and no other
    stream's numbers move when routing is added.
    """
    key = zlib.crc32(f"service/{service}/{what}".encode())
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed), spawn_key=(key,))))


def split_by_weights(n: int, weights: Sequence[float], rng: np.random.Generator) -> np.ndarray:
    """Cluster index (0..k-1) of each of `n` requests, drawn independently with probabilities
    proportional to `weights`. Over n requests cluster j gets Binomial(n, p_j) of them.
    """
    w = np.asarray(weights, dtype=float)
    if n < 0 or w.ndim != 1 or w.size == 0 or np.any(~np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError("need n >= 0 and finite weights >= 0 with a positive sum")
    p = w / w.sum()
    # inverse-CDF on one uniform per request: a request's cluster does not depend on how many follow
    u = rng.random(n)
    return np.minimum(np.searchsorted(np.cumsum(p), u, side="right"), w.size - 1).astype(np.int64)


# --------------------------------------------------------------------------- costs of a member
def member_egress(member: ClusterMember) -> tuple[tuple, str]:
    """(tiers, unit) of a member's egress price (its own tiers, or the catalog entry)."""
    if member.egress is not None and member.egress.tiers is not None:
        return tuple((t.up_to_gb, t.usd_per_gb) for t in member.egress.tiers), member.egress.unit
    price = load_cluster_catalog().egress_price(egress_price_key(member))
    return price.tiers, price.unit


def _location_egress(loc) -> tuple[tuple, str]:
    key = "on-prem" if loc.kind == "on-prem" else DEFAULT_EGRESS.get(loc.provider)
    if key is None:
        raise InputError(f"no egress price for a client at provider {loc.provider!r}")
    price = load_cluster_catalog().egress_price(key)
    return price.tiers, price.unit


def routed_egress_usd(
    s: MultiClusterScenario,
    routing_index: int,
    requests_per_cluster: dict[str, int],
    duration_s: float,
    requests_per_client: dict[str, int] | None = None,
) -> dict[str, float]:
    """Egress bill of one routed service over a run: response bytes x requests served by each
    cluster, priced at that cluster's tiers (zero where free); with payer `both`, also request
    bytes x requests of each client group at its location's tiers (keys ``client:<name>``);
    with payer `client`, nothing is billed to the scenario (every cluster 0).
    """
    from gpusim.hardware.clusters import egress_cost_usd

    r = s.routing[routing_index]
    out: dict[str, float] = {}
    for c in r.clusters:
        n = int(requests_per_cluster.get(c, 0))
        if r.transfer.payer == "client":
            out[c] = 0.0
            continue
        tiers, unit = member_egress(s.member(c))
        out[c] = egress_cost_usd(n * r.transfer.response_bytes, duration_s, tiers=tiers, unit=unit)
    if r.transfer.payer == "both":
        for g in r.clients:
            n = int((requests_per_client or {}).get(g.name, 0))
            tiers, unit = _location_egress(g.location)
            out[f"client:{g.name}"] = egress_cost_usd(n * r.transfer.request_bytes, duration_s, tiers=tiers, unit=unit)
    return out


def control_plane_usd(member: ClusterMember, duration_s: float) -> float:
    """A member's control-plane cost over a run: the managed fee (with its monthly cap and, if
    `free_credit`, the provider's monthly credit) or the self-managed operations cost.
    """
    from gpusim.hardware.clusters import control_plane_cost_usd, self_managed_cost_usd, self_managed_ops_usd_per_hour

    cat = load_cluster_catalog()
    m = member.control_plane.managed
    if m is None:
        ops = member.control_plane.self_managed.ops_usd_per_hour
        return self_managed_cost_usd(duration_s, self_managed_ops_usd_per_hour() if ops is None else ops)
    return control_plane_cost_usd(
        duration_s,
        m.fee_usd_per_hour(),
        free_credit_usd_per_month=cat.free_credit_usd_per_month(m.provider) if m.free_credit else 0.0,
        max_usd_per_month=cat.control_plane_max_usd_per_month(m.provider, m.tier),
    )
