from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "traces"


@pytest.fixture
def shared() -> Path:
    """The real public traces beside the project (../shared/traces); skip when absent."""
    if not SHARED.is_dir():
        pytest.skip(f"real traces not present at {SHARED} (see shared/traces/PROVENANCE.md)")
    return SHARED
