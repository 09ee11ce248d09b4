"""``gpusim import k8s``: turn Kubernetes manifests into a gpusim scenario.

  gpusim import k8s FILE... [-o FILE] [--cluster FILE] [--duration 24h] [--job-duration 1h]

Reads Deployment, StatefulSet, ReplicaSet, Job, Pod, HorizontalPodAutoscaler and PriorityClass
objects (multi-document YAML, ``kind: List`` from ``kubectl get -o yaml``, ``helm template``
output) and writes a scenario to stdout or FILE. Everything not carried is listed, as comments in
the scenario and on stderr. Invalid manifests exit with status 2 naming file, document and field.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path


def _duration(text: str) -> float:
    from gpusim.units import parse_duration

    try:
        s = parse_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if s <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be > 0")
    return s


def register(subparsers) -> None:
    """Add ``import k8s`` to the top-level ``gpusim`` parser."""
    p = subparsers.add_parser(
        "import",
        help="write a scenario from other formats (Kubernetes manifests)",
        description="Write a gpusim scenario from another format.",
    )
    sub = p.add_subparsers(dest="import_format", metavar="FORMAT")
    sub.required = True
    k = sub.add_parser(
        "k8s", help="Kubernetes manifests (kubectl or Helm output)", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    k.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="manifest files (YAML or JSON, one or more documents each; - reads stdin)",
    )
    k.add_argument("-o", "--output", default=None, metavar="FILE", help="write the scenario here (default: stdout)")
    k.add_argument(
        "--cluster", default=None, metavar="FILE",
        help="YAML file with a scenario's cluster: block; the scenario is then complete and checked against it",
    )  # fmt: skip
    k.add_argument("--name", default=None, help="scenario name (default: from -o FILE, else the first manifest)")
    k.add_argument("--duration", type=_duration, default=86400.0, help="scenario duration (default 24h)")
    k.add_argument(
        "--job-duration", type=_duration, default=3600.0,
        help="run time of each Job's pods, which manifests do not state (default 1h; the annotation "
        "gpusim.io/duration on a Job overrides it)",
    )  # fmt: skip
    k.add_argument(
        "--skip-cpu-only", action="store_true",
        help="leave out Deployments, StatefulSets and Pods that ask for no accelerator (they are listed as skipped)",
    )  # fmt: skip
    k.set_defaults(func=cmd_import_k8s)


def _scenario_name(args) -> str:
    raw = args.name or Path(args.output or (args.files[0] if args.files[0] != "-" else "imported")).stem
    name = re.sub(r"[^a-z0-9.-]+", "-", raw.lower()).strip("-.")
    return name or "imported"


def cmd_import_k8s(args) -> int:
    from gpusim.errors import InputError
    from gpusim.k8s.importer import ImportOptions, import_manifests
    from gpusim.k8s.render import ClusterFile, check, render, write_scenario
    from gpusim.scenario import load_scenario

    if args.name is not None and not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", args.name):
        raise InputError(f"--name {args.name!r}: a scenario name is lower-case letters, digits, '-' and '.'")
    options = ImportOptions(
        name=_scenario_name(args),
        duration_s=args.duration,
        job_duration_s=args.job_duration,
        skip_cpu_only=args.skip_cpu_only,
    )
    imported = import_manifests(args.files, options)
    if not imported.workloads:
        raise InputError(
            "no workload in the manifests: nothing that runs pods (Deployment, StatefulSet, ReplicaSet, Job, Pod)"
            + ("; not mapped:\n  " + "\n  ".join(imported.not_mapped) if imported.not_mapped else "")
        )
    cluster = ClusterFile(args.cluster) if args.cluster else None
    check(imported, cluster)
    text = render(
        imported,
        cluster.cluster if cluster else None,
        cluster.catalog if cluster else None,
        cluster_source=args.cluster,
    )
    if cluster is not None:
        load_scenario(text)  # the written text itself must validate
    for note in imported.not_mapped:
        print(f"not mapped: {note}", file=sys.stderr)
    if cluster is not None and cluster.ignored:
        print(
            f"{args.cluster}: only cluster (and catalog) used; ignored: {', '.join(cluster.ignored)}", file=sys.stderr
        )
    if args.output:
        write_scenario(args.output, text)
        what = (
            "run it with `gpusim run`" if cluster else "add a cluster: block (or use --cluster FILE) before running it"
        )
        print(f"wrote {args.output}: {len(imported.workloads)} workloads; {what}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
