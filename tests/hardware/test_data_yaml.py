"""The shipped data files read alike with libyaml's safe loader (used when present, for speed) and
PyYAML's pure-Python one."""

from importlib import resources

import pytest
import yaml

from gpusim.hardware.catalog import SAFE_LOADER, load_data_yaml

FILES = sorted(
    p.name for p in resources.files("gpusim.hardware").joinpath("data").iterdir() if p.name.endswith(".yaml")
)


def test_every_data_file_is_listed():
    assert {"gpu_models.yaml", "node_types.yaml", "llm.yaml", "calibration.yaml"} <= set(FILES)


@pytest.mark.parametrize("name", FILES)
def test_fast_loader_reads_like_the_python_one(name):
    text = resources.files("gpusim.hardware").joinpath(f"data/{name}").read_text(encoding="utf-8")
    assert load_data_yaml(text) == yaml.load(text, Loader=yaml.SafeLoader)


def test_loader_is_safe():
    assert SAFE_LOADER in (yaml.SafeLoader, getattr(yaml, "CSafeLoader", None))
    with pytest.raises(yaml.YAMLError):
        load_data_yaml("!!python/object/apply:os.system ['true']")
