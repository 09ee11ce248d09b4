"""Trace formats by name: what each reader returns and how to call it.

Kinds: ``training`` (training records), ``requests`` (request records), ``instances`` (DLRM
instances, arrival-based), ``jobs`` (PAI job table), ``distribution`` (an array of values),
``nodes`` (node records).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gpusim.errors import InputError


@dataclass(frozen=True)
class FormatSpec:
    """One trace format."""

    name: str
    kind: str
    read_fn: Callable
    iter_fn: Callable | None = None
    value_name: str = ""
    description: str = ""


def _specs() -> dict[str, FormatSpec]:
    from gpusim.traces import azure_llm, dlrm, gavel, genai, generic, helios, openb, pai2020, philly

    specs = [
        FormatSpec("openb", "training", openb.read_openb_pods, description="Alibaba GPU v2023 pod list"),
        FormatSpec("openb-nodes", "nodes", openb.read_openb_nodes, description="Alibaba GPU v2023 node list"),
        FormatSpec("gavel", "training", gavel.read_gavel, description="Gavel Philly-derived trace (7/10 fields)"),
        FormatSpec("philly-runtime", "distribution", philly.read_philly_runtime, value_name="runtime_s",
                   description="Philly job run times"),
        FormatSpec("azure-llm", "requests", azure_llm.read_azure_llm, azure_llm.iter_azure_llm,
                   description="Azure LLM inference 2023/2024"),
        FormatSpec("genai-requests", "requests", genai.read_genai_requests,
                   description="Alibaba GenAI 2026 request trace"),
        FormatSpec("genai-model-load", "distribution", genai.read_genai_model_load, value_name="model_load_s",
                   description="Alibaba GenAI 2026 base-model load latency"),
        FormatSpec("dlrm", "instances", dlrm.read_dlrm_instances, description="Alibaba DLRM 2025 instances"),
        FormatSpec("pai-job", "jobs", pai2020.read_pai_jobs, description="Alibaba PAI 2020 job table"),
        FormatSpec("pai-task", "training", pai2020.read_pai_tasks, description="Alibaba PAI 2020 task table"),
        FormatSpec("helios", "training", helios.read_helios, description="Helios cluster_log"),
        FormatSpec("generic", "training", generic.read_generic, description="your CSV/Parquet with a column map"),
    ]  # fmt: skip
    return {s.name: s for s in specs}


FORMAT_NAMES = (
    "openb", "openb-nodes", "gavel", "philly-runtime", "azure-llm", "genai-requests",
    "genai-model-load", "dlrm", "pai-job", "pai-task", "helios", "generic",
)  # fmt: skip


def get(name: str) -> FormatSpec:
    """The format called `name`; InputError listing the known names otherwise."""
    specs = _specs()
    if name not in specs:
        raise InputError(f"unknown trace format {name!r}; known formats: {', '.join(FORMAT_NAMES)}")
    return specs[name]
