"""No import runs upward from gpusim.scenario (issue 10, item 7).

The scenario package sits below the experiments, the sweep and the simulator. Experiment kinds
and the sweep's scenario check are *registered* with gpusim.scenario.registry by the packages
above; the scenario package must not import them, at module level or inside a function.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import gpusim

SCENARIO_DIR = Path(gpusim.__file__).parent / "scenario"
FORBIDDEN = ("gpusim.experiments", "gpusim.sweep", "gpusim.sim")
KNOWN_EXCEPTIONS: set[tuple[str, str]] = set()  # (file, module) pairs allowed for now: none left

SHARING_DIR = Path(gpusim.__file__).parent / "sharing"
SHARING_MAY_IMPORT = ("gpusim.sharing", "gpusim.units", "gpusim.hardware", "gpusim.cluster", "gpusim.errors")
"""The sharing modes sit below both the scenario and the simulator (issue 10, item 2): they may
use the units, the hardware catalog and performance model, and the cluster state's constants."""


def _imports(path: Path, package: tuple[str, ...] = ("gpusim", "scenario")) -> list[tuple[str, int]]:
    """Every module an import statement in `path` names (relative imports resolved), with its line."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = list(package)
    out = []
    for node in ast.walk(tree):  # module level and function bodies alike
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            out.append((mod, node.lineno))
            # `from gpusim import sweep` names the package through the imported name
            out += [(f"{mod}.{a.name}", node.lineno) for a in node.names]
    return out


def _upward(mod: str) -> bool:
    return any(mod == f or mod.startswith(f + ".") for f in FORBIDDEN)


def test_scenario_imports_nothing_above_it():
    files = sorted(SCENARIO_DIR.glob("*.py"))
    assert any(f.name == "loader.py" for f in files) and any(f.name == "checks.py" for f in files)
    bad = []
    for f in files:
        for mod, line in _imports(f):
            known = any(f.name == n and (mod == m or mod.startswith(m + ".")) for n, m in KNOWN_EXCEPTIONS)
            if _upward(mod) and not known:
                bad.append(f"gpusim/scenario/{f.name}:{line}: imports {mod}")
    assert not bad, "gpusim.scenario imports packages above it:\n" + "\n".join(bad)


def test_checker_sees_imports_in_function_bodies(tmp_path):
    # The check above must be able to fail: an import inside a function is found too.
    p = tmp_path / "x.py"
    p.write_text(
        "def f():\n    from gpusim.experiments.files import ExperimentScenario\n    import gpusim.sweep.plan\n"
        "    from gpusim import sim\n    from .models import Scenario\n"
    )
    mods = [m for m, _ in _imports(p) if _upward(m)]
    assert "gpusim.experiments.files" in mods and "gpusim.sweep.plan" in mods and "gpusim.sim" in mods
    assert not _upward("gpusim.scenario.models") and not _upward("gpusim.simulation_free")


def test_experiment_kinds_are_registered_by_loading_experiments_lazily():
    # In a fresh interpreter, the loader does not pull in gpusim.experiments or gpusim.sweep
    # until an experiment file (or a scenario check) asks the registry for them.
    root = Path(gpusim.__file__).parent.parent
    code = (
        "import sys\n"
        "from gpusim.scenario.loader import load_scenario\n"
        "assert 'gpusim.experiments' not in sys.modules, 'loader imported experiments'\n"
        "assert 'gpusim.sweep' not in sys.modules, 'loader imported sweep'\n"
        f"s = load_scenario({str(root / 'scenarios' / 'vendor-comparison.yaml')!r})\n"
        "assert 'gpusim.experiments' in sys.modules\n"
        "from gpusim.scenario.registry import experiment_kinds\n"
        "print(s.experiment.kind, ','.join(experiment_kinds()))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["vendor-comparison", "fgd-packing,autoscaler-lag,vendor-comparison,sizing"]


def _sharing_may_import(mod: str) -> bool:
    return not mod.startswith("gpusim") or any(mod == m or mod.startswith(m + ".") for m in SHARING_MAY_IMPORT)


def test_sharing_modes_import_nothing_above_them():
    files = sorted(SHARING_DIR.glob("*.py"))
    assert {"registry.py", "base.py", "mig.py", "timeslicing.py"} <= {f.name for f in files}
    bad = []
    for f in files:
        for mod, line in _imports(f, ("gpusim", "sharing")):
            if not _sharing_may_import(mod):
                bad.append(f"gpusim/sharing/{f.name}:{line}: imports {mod}")
    assert not bad, "gpusim.sharing imports packages above it:\n" + "\n".join(bad)


def test_sharing_checker_would_see_an_upward_import(tmp_path):
    p = tmp_path / "x.py"
    p.write_text("def f():\n    from gpusim.scenario.models import NodePool\n    from ..sim import engine\n")
    mods = [m for m, _ in _imports(p, ("gpusim", "sharing"))]
    assert "gpusim.scenario.models" in mods and "gpusim.sim" in mods
    assert not _sharing_may_import("gpusim.scenario.models") and not _sharing_may_import("gpusim.sim")
    assert _sharing_may_import("gpusim.cluster.state") and _sharing_may_import("pydantic")


def test_sharing_package_loads_without_the_scenario_or_the_simulator():
    root = Path(gpusim.__file__).parent.parent
    code = (
        "import sys\n"
        "import gpusim.sharing as s\n"
        "bad = [m for m in sys.modules if m.startswith(('gpusim.scenario', 'gpusim.sim', 'gpusim.traces'))]\n"
        "assert not bad, bad\n"
        "print(','.join(c.tag for c in s.mode_classes()))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["whole,gpu-share,time-slicing,multi-instance,amd-partition,intel-shared"]
