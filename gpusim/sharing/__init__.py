"""GPU sharing modes: one class per mode, each in its own module, registered in `registry`.

Built-in modes, in registration order: whole GPUs (`whole`), Alibaba's GPU-share plugin
(`fractional`), NVIDIA time-slicing (`timeslicing`), MIG static and dynamic (`mig`), AMD
compute partitions (`amd`) and Intel shared devices (`intel`). A pool's `sharing:` block parses
into one of these classes (`registry.sharing_block`), and the engine, the Cluster Autoscaler,
the scenario checks and the metrics ask that object (`base.SharingMode`) instead of branching
on which key is set. A new mode is one new module with a `SharingMode` subclass decorated with
`registry.register`, imported before the scenario schema is built.

This package imports nothing from gpusim.scenario or gpusim.sim (tests/test_layering.py).
"""

# ruff: noqa: E402  (the built-in modes are imported first, in a fixed order, below)
import importlib

BUILT_IN = ("whole", "fractional", "timeslicing", "mig", "amd", "intel")
"""The built-in modes' modules, imported (so registered) in this order: whole GPUs first, then the
keys in the order the scenario language has always listed them (messages, dumps)."""

for _name in BUILT_IN:
    importlib.import_module(f"gpusim.sharing.{_name}")

from gpusim.sharing.amd import AmdPartition, AmdPartitionedGpu, amd_profile
from gpusim.sharing.base import GPU_MILLI_RESOURCE, MIG_PREFIX, UNIT_LABEL, LayoutError, Offer, SharingMode
from gpusim.sharing.fractional import FractionalGpu
from gpusim.sharing.intel import IntelSharedDevices, IntelSharedGpu
from gpusim.sharing.mig import Mig, MigGpu, mig_layout
from gpusim.sharing.registry import default_mode, mode_class, mode_classes, parse_sharing, register, sharing_block
from gpusim.sharing.timeslicing import TimeSlicedGpu, TimeSlicing, TimeSlicingResource
from gpusim.sharing.whole import WholeGpu

__all__ = [
    "BUILT_IN", "GPU_MILLI_RESOURCE", "MIG_PREFIX", "UNIT_LABEL", "AmdPartition", "AmdPartitionedGpu", "FractionalGpu",
    "IntelSharedDevices", "IntelSharedGpu", "LayoutError", "Mig", "MigGpu", "Offer", "SharingMode",
    "TimeSlicedGpu", "TimeSlicing", "TimeSlicingResource", "WholeGpu", "amd_profile", "default_mode",
    "mode_class", "mode_classes", "mig_layout", "offer_share", "parse_sharing", "register", "sharing_block",
]  # fmt: skip


def offer_share(gpu, offer: Offer):
    """The part of one device a unit of `offer` gets alone (performance-model Share): the MIG
    instance, the AMD partition, or the whole device (time-slice co-tenancy is applied by the caller).
    """
    return mode_class(offer.mode).unit_share(gpu, offer)
