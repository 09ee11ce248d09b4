"""The analysis notebooks run top to bottom without error (on their small built-in inputs)."""

from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks_and_they_are_stored_without_outputs():
    nbformat = pytest.importorskip("nbformat")
    names = [p.name for p in NOTEBOOKS]
    assert {"01-policy-analysis.ipynb", "02-vendor-comparison.ipynb", "03-autoscaler-lag.ipynb"} <= set(names)
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: clear the outputs"


def _kernel_or_skip(name: str = "python3") -> None:
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        pytest.skip(f"no Jupyter kernel named {name!r} is installed (python -m ipykernel install --user)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path):
    _kernel_or_skip()
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, "each notebook shows at least one plot"
    # a notebook that sweeps wrote its run folders under the working directory
    if any("gpusim.sweep(" in c.source for c in nb.cells if c.cell_type == "code"):
        assert list((tmp_path / "results" / "notebooks").glob("*/sweep.parquet"))
