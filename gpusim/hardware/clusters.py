"""Facts and cost arithmetic for scenarios with several clusters (issue 15 item 2).

Data: ``gpusim/hardware/data/clusters.yaml`` holds managed Kubernetes control-plane fees per
cluster-hour (EKS standard and extended support, GKE Standard/Autopilot with the $74.40 monthly
free credit, AKS Free/Standard/Premium, OKE basic/enhanced), internet egress prices per GB in
monthly tiers by provider (zero where a provider or an allowance makes it free: the first 100 GB
on AWS and Azure, Oracle's 10 TB, Cloudflare R2), published network latency figures, and the
operations cost of a self-managed control plane as an explicitly labelled ASSUMPTION. Every
number carries a source key. `load_cluster_catalog()` reads it.

Pure functions (nothing here draws random numbers or reads the clock):

- `tiered_cost_usd(amount, tiers, already_used=0)`: the price of `amount` units under
  volume tiers (each unit billed at the rate of the tier it falls in).
- `egress_cost_usd(total_bytes, duration_s, provider, ...)`: a run's egress bill, the bytes
  spread evenly over the run and the tiers restarting each billing month.
- `control_plane_cost_usd(duration_s, usd_per_hour, ...)`: a managed fee over a run, with a
  monthly free credit and a monthly cap.
- `self_managed_ops_usd_per_hour(...)`: the assumption's arithmetic (VMs + an SRE fraction).

A billing month is `MONTH_HOURS` = 730 hours (8760 / 12) unless a caller says otherwise. GB are
10^9 bytes and GiB 2^30 bytes, as the provider's entry says which it bills in.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

from gpusim.errors import InputError

HOUR_S = 3600.0
MONTH_HOURS = 8760.0 / 12.0
"""Hours in a billing month when a run is cut into months (730 h; the GKE free credit of $74.40 is
744 h at $0.10, a 31-day month, so a 730 h month slightly over-credits a 31-day one)."""

BYTES_PER_UNIT = {"GB": 1e9, "GiB": float(2**30)}

Tier = tuple[float | None, float | None]
"""(cumulative upper bound of the tier in units per month or None for no bound, USD per unit or
None when the price is unknown)."""


# ---------------------------------------------------------------------------- data
@dataclass(frozen=True)
class EgressPrice:
    """One provider's internet egress price: monthly tiers in `unit` (GB or GiB)."""

    provider: str
    unit: str
    tiers: tuple[Tier, ...]
    raw: dict

    @property
    def free_allowance(self) -> float:
        """Units per month billed at zero before the first paid tier (inf if always free)."""
        free = 0.0
        for bound, price in self.tiers:
            if price != 0.0:
                return free
            if bound is None:
                return math.inf
            free = bound
        return free


@dataclass(frozen=True)
class ClusterCatalog:
    """The multi-cluster facts: control-plane fees, egress prices, latencies, the self-managed
    assumption, and the sources.
    """

    control_planes: dict[str, dict]
    egress: dict[str, EgressPrice]
    internal_transfer: dict[str, dict]
    latency_ms: dict[str, dict]
    self_managed: dict
    sources: dict[str, str]

    def control_plane_usd_per_hour(self, provider: str, tier: str) -> float:
        """Fee per cluster-hour of a managed control plane (`InputError` for unknown or unpriced)."""
        tiers = self.control_planes.get(provider)
        if tiers is None:
            raise InputError(f"no managed control plane {provider!r}; known: {', '.join(sorted(self.control_planes))}")
        entry = tiers.get(tier)
        if not isinstance(entry, dict) or "usd_per_hour" not in entry:
            known = sorted(k for k, v in tiers.items() if isinstance(v, dict) and "usd_per_hour" in v)
            raise InputError(f"no tier {tier!r} for {provider}; known: {', '.join(known)}")
        if entry["usd_per_hour"] is None:
            raise InputError(
                f"{provider} {tier}: the fee is not known from the sources ({entry.get('note', '')}); "
                "give usd_per_hour in the scenario"
            )
        return float(entry["usd_per_hour"])

    def control_plane_max_usd_per_month(self, provider: str, tier: str) -> float | None:
        entry = self.control_planes.get(provider, {}).get(tier) or {}
        v = entry.get("max_usd_per_month")
        return None if v is None else float(v)

    def free_credit_usd_per_month(self, provider: str) -> float:
        """Monthly control-plane credit per billing account (GKE's $74.40), 0 where none."""
        entry = self.control_planes.get(provider, {}).get("free_credit_usd_per_month")
        return float(entry["value"]) if entry else 0.0

    def egress_price(self, provider: str) -> EgressPrice:
        try:
            return self.egress[provider]
        except KeyError:
            raise InputError(f"no egress price for {provider!r}; known: {', '.join(sorted(self.egress))}") from None


@functools.cache
def _read() -> dict:
    text = resources.files("gpusim.hardware").joinpath("data/clusters.yaml").read_text(encoding="utf-8")
    from gpusim.hardware.catalog import load_data_yaml

    return load_data_yaml(text)


def load_cluster_catalog() -> ClusterCatalog:
    """Read ``data/clusters.yaml`` (cached per process) into a `ClusterCatalog`."""
    data = _read()
    egress = {}
    for provider, e in data["egress"].items():
        tiers = tuple(
            (
                None if t["up_to_gb"] is None else float(t["up_to_gb"]),
                None if t["usd_per_gb"] is None else float(t["usd_per_gb"]),
            )  # fmt: skip
            for t in e["tiers"]
        )
        egress[provider] = EgressPrice(provider=provider, unit=e["unit"], tiers=tiers, raw=e)
    return ClusterCatalog(
        control_planes=data["managed_control_planes"],
        egress=egress,
        internal_transfer=data["internal_transfer"],
        latency_ms=data["latency_ms"],
        self_managed=data["self_managed_control_plane"],
        sources=data["sources"],
    )


# ---------------------------------------------------------------------------- arithmetic
def _check(**values: float) -> None:
    for name, v in values.items():
        if not (isinstance(v, (int, float)) and math.isfinite(v)) or v < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")


def check_tiers(tiers: Sequence[Tier]) -> None:
    """Tiers must have increasing bounds, only the last unbounded, and prices >= 0 (or None)."""
    if not tiers:
        raise ValueError("at least one tier is needed")
    last = 0.0
    for i, (bound, price) in enumerate(tiers):
        if price is not None:
            _check(price=price)
        if bound is None:
            if i != len(tiers) - 1:
                raise ValueError("only the last tier may be unbounded")
        else:
            _check(bound=bound)
            if bound <= last:
                raise ValueError(f"tier bounds must increase: {bound} after {last}")
            last = bound


def tiered_cost_usd(amount: float, tiers: Sequence[Tier], already_used: float = 0.0) -> float:
    """Price of `amount` units when `already_used` units were billed earlier in the same month.

    Each unit is billed at the rate of the tier its cumulative position falls in (the usual
    volume-tier rule: 15 TB on AWS is 100 GB free, 10,140 GB at $0.09 and 5,120 GB at $0.085).
    A unit beyond the last bounded tier with no unbounded tier, or in a tier of unknown price,
    raises ValueError.
    """
    _check(amount=amount, already_used=already_used)
    check_tiers(tiers)
    start, end = already_used, already_used + amount
    cost, lo = 0.0, 0.0
    for bound, price in tiers:
        hi = math.inf if bound is None else bound
        overlap = min(end, hi) - max(start, lo)
        if overlap > 0:
            if price is None:
                raise ValueError(
                    f"the price between {lo:g} and {hi:g} units per month is unknown; give it in the scenario"
                )
            cost += overlap * price
        lo = hi
        if lo >= end:
            return cost
    raise ValueError(f"{end:g} units exceed the last tier ({lo:g}); the tiers need an unbounded last tier")


def monthly_amounts(total: float, duration_s: float, month_hours: float = MONTH_HOURS) -> list[float]:
    """Split `total` (spread evenly over a run of `duration_s`) into billing months: whole months
    first, then the part-month that ends the run.
    """
    _check(total=total, duration_s=duration_s, month_hours=month_hours)
    if duration_s == 0:
        return [total] if total else []
    month_s = month_hours * HOUR_S
    whole = int(duration_s // month_s)
    rest = duration_s - whole * month_s
    rate = total / duration_s
    out = [rate * month_s] * whole
    if rest > 1e-9 * month_s:
        out.append(rate * rest)
    return out


def egress_cost_usd(
    total_bytes: float,
    duration_s: float,
    provider: str | None = None,
    *,
    tiers: Sequence[Tier] | None = None,
    unit: str | None = None,
    month_hours: float = MONTH_HOURS,
    catalog: ClusterCatalog | None = None,
) -> float:
    """The egress bill of a run that sends `total_bytes` out over `duration_s` seconds.

    Prices come from the catalog entry of `provider` (aws, gcp-premium, azure, oci, ...) or from
    `tiers` and `unit` given directly (a scenario's own contract). The bytes are spread evenly over
    the run, cut into billing months of `month_hours`, and each month's tiers start from zero
    (a part-month at the end is billed from zero too: billing is per calendar month, and the run
    is taken to be the account's only egress).
    """
    if tiers is None:
        if provider is None:
            raise ValueError("give a provider or tiers")
        price = (catalog or load_cluster_catalog()).egress_price(provider)
        tiers, unit = price.tiers, price.unit
    unit = unit or "GB"
    try:
        per_unit = BYTES_PER_UNIT[unit]
    except KeyError:
        raise ValueError(f"unit must be one of {', '.join(BYTES_PER_UNIT)}, got {unit!r}") from None
    _check(total_bytes=total_bytes)
    return sum(tiered_cost_usd(b / per_unit, tiers) for b in monthly_amounts(total_bytes, duration_s, month_hours))


def control_plane_cost_usd(
    duration_s: float,
    usd_per_hour: float,
    *,
    free_credit_usd_per_month: float = 0.0,
    max_usd_per_month: float | None = None,
    month_hours: float = MONTH_HOURS,
) -> float:
    """A managed control plane's fee over a run: `usd_per_hour` per cluster-hour, billed per
    second, cut into billing months; each month's fee is capped at `max_usd_per_month` (OKE
    enhanced) and then reduced by a monthly credit (GKE's free tier), never below zero.

    The GKE credit is per billing account: pass it to one cluster of the account only.
    """
    _check(duration_s=duration_s, usd_per_hour=usd_per_hour, free_credit_usd_per_month=free_credit_usd_per_month)
    if max_usd_per_month is not None:
        _check(max_usd_per_month=max_usd_per_month)
    total = 0.0
    for fee in monthly_amounts(usd_per_hour * duration_s / HOUR_S, duration_s, month_hours):
        if max_usd_per_month is not None:
            fee = min(fee, max_usd_per_month)
        total += max(0.0, fee - free_credit_usd_per_month)
    return total


def self_managed_ops_usd_per_hour(
    vms: int | None = None,
    vm_usd_per_hour: float | None = None,
    sre_fte: float | None = None,
    sre_usd_per_year: float | None = None,
    hours_per_year: float | None = None,
    *,
    catalog: ClusterCatalog | None = None,
) -> float:
    """ASSUMPTION (see clusters.yaml): a self-managed control plane costs its VMs plus a fraction
    of an SRE, vms x vm_usd_per_hour + sre_fte x sre_usd_per_year / hours_per_year. Arguments left
    out take the catalog's values (3 x $0.34 + 0.25 x $122,023 / 8,760 h = $4.50 per hour).
    """
    sm = (catalog or load_cluster_catalog()).self_managed
    vms = sm["vms"] if vms is None else vms
    vm_usd_per_hour = sm["vm_usd_per_hour"]["value"] if vm_usd_per_hour is None else vm_usd_per_hour
    sre_fte = sm["sre_fte"]["value"] if sre_fte is None else sre_fte
    sre_usd_per_year = sm["sre_usd_per_year"]["value"] if sre_usd_per_year is None else sre_usd_per_year
    hours_per_year = sm["hours_per_year"] if hours_per_year is None else hours_per_year
    _check(vms=vms, vm_usd_per_hour=vm_usd_per_hour, sre_fte=sre_fte, sre_usd_per_year=sre_usd_per_year)
    if not hours_per_year or hours_per_year <= 0:
        raise ValueError("hours_per_year must be > 0")
    return vms * vm_usd_per_hour + sre_fte * sre_usd_per_year / hours_per_year


def self_managed_cost_usd(duration_s: float, ops_usd_per_hour: float) -> float:
    """A self-managed control plane's operations cost over a run (no credit, no cap)."""
    _check(duration_s=duration_s, ops_usd_per_hour=ops_usd_per_hour)
    return ops_usd_per_hour * duration_s / HOUR_S
