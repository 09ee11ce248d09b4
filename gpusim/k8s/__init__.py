"""Kubernetes manifests as gpusim input: `gpusim import k8s FILE...` writes a scenario.

`gpusim.k8s.manifests` reads the files (multi-document YAML, kubectl's `kind: List`, Helm's
`# Source:` comments) with the position of every field; `gpusim.k8s.importer` maps the objects to
scenario workloads and lists what it cannot carry; `gpusim.k8s.render` writes the commented
scenario and checks it; `gpusim.k8s.cli` is the command.
"""

from gpusim.k8s.importer import ImportOptions, import_manifests

__all__ = ["ImportOptions", "import_manifests"]
