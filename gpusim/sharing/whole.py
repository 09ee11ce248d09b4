"""Whole GPUs: the vendor's device plugin advertises each device as one unit (no `sharing:` key)."""

from __future__ import annotations

from gpusim.sharing.base import SharingMode
from gpusim.sharing.registry import register


@register
class WholeGpu(SharingMode):
    """Whole GPUs (no sharing): a pod takes whole devices of the vendor's GPU resource."""

    tag = "whole"
    key = None
    needs_gpu = False
    remaps_trace_pods = False
