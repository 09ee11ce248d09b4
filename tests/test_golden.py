"""Every shipped scenario, experiment and sweep still produces exactly its recorded outputs.

The digests were recorded with `python tests/golden/golden.py` (see its docstring). A change
here must be a named bug fix that re-records the affected cases in the same commit.
"""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))
import golden  # noqa: E402

SHARED_TRACES = golden.ROOT.parent / "shared" / "traces"


@pytest.mark.parametrize("name", list(golden.CASES))
def test_shipped_outputs_unchanged(name, tmp_path):
    _, _, needs_shared = golden.CASES[name]
    if needs_shared and not SHARED_TRACES.is_dir():
        pytest.skip(f"{name} reads a trace from {SHARED_TRACES}, which is absent")
    recorded = json.loads(golden.golden_path(name).read_text())
    out = tmp_path / name
    assert golden.run_case(name, out) == 0
    diffs = golden.differences(recorded, golden.digest(out))
    assert not diffs, f"{name} differs from its golden outputs:\n" + "\n".join(diffs[:40])
