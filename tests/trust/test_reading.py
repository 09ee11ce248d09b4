"""Reading scenario files: one problem per bad value, located on the right line, whatever the size."""

import textwrap

import pytest

import gpusim
from gpusim.scenario.loader import MAX_FILE_BYTES
from tests.trust.corpus import BASE, _big_inline, sub


def problems(tmp_path, text) -> list[str]:
    p = tmp_path / "s.yaml"
    p.write_text(text)
    with pytest.raises(gpusim.ScenarioError) as e:
        gpusim.load_scenario(p)
    return [x.format() for x in e.value.problems]


@pytest.mark.parametrize(
    "dist, where",
    [
        ("{distribution: lognormal, median: 10m, sigma: -1}", "sigma"),
        ("{distribution: lognormal, median: soon, sigma: 1}", "median"),
        ("{distribution: exponential, mean: 0s}", "mean"),
        ("{distribution: uniform, low: 1m}", "high"),
        ("{distribution: gauss, mean: 1m}", "gauss"),
    ],
)
def test_a_bad_value_in_a_distribution_is_one_problem(tmp_path, dist, where):
    found = problems(tmp_path, sub(BASE, "{distribution: exponential, mean: 10m}", dist))
    assert len(found) == 1, found  # the chosen kind's problem only, not one per kind
    assert where in found[0] and "s.yaml:21:" in found[0]


def test_bad_count_distribution_is_one_problem(tmp_path):
    found = problems(tmp_path, sub(BASE, "gpus: [1, 2]", "gpus: {distribution: choice, values: [1, -2]}"))
    assert len(found) == 1 and "values[1]" in found[0]


def test_error_on_the_last_line_of_a_long_file_is_located_there(tmp_path):
    p = tmp_path / "s.yaml"
    _big_inline(20_000)(p)  # the longest inline job list allowed; the last job is bad
    last_line = len(p.read_text().splitlines())
    with pytest.raises(gpusim.ScenarioError) as e:
        gpusim.load_scenario(p)
    (only,) = e.value.problems
    assert only.line == last_line and only.path == "workloads[0].jobs[19999].duration"


def test_too_many_inline_jobs_names_the_limit(tmp_path):
    p = tmp_path / "s.yaml"
    _big_inline(20_001)(p)
    with pytest.raises(gpusim.ScenarioError, match="at most 20000"):
        gpusim.load_scenario(p)


def test_file_over_the_size_limit_is_refused_before_parsing(tmp_path, monkeypatch):
    p = tmp_path / "s.yaml"
    p.write_text(BASE + "description: " + "x" * MAX_FILE_BYTES + "\n")
    import gpusim.scenario.loader as loader

    monkeypatch.setattr(loader, "parse_yaml", lambda *a: pytest.fail("parsed a file over the limit"))
    with pytest.raises(gpusim.ScenarioError, match="limited to 2 MiB"):
        gpusim.load_scenario(p)


def test_merge_key_override_position_points_at_the_override(tmp_path):
    text = sub(
        BASE,
        "    - name: gpu\n      count: 2\n",
        "    - &p {name: gpu, count: 2, gpu_model: nvidia-a100-80gb, gpus_per_node: 8, vcpu: 64, memory: 512Gi}\n"
        "    - <<: *p\n      name: b\n      count: -1\n    - name: c\n      count: 2\n",
    )
    found = problems(tmp_path, text)
    assert (
        len(found) == 1 and "node_pools[1].count" in found[0] and "s.yaml:9:14:" in found[0]
    )  # the override, not the anchor (line 6)


def test_utf16_and_utf8_bom_files_load(tmp_path):
    for name, data in (("a.yaml", b"\xff\xfe" + BASE.encode("utf-16-le")), ("b.yaml", b"\xef\xbb\xbf" + BASE.encode())):
        (tmp_path / name).write_bytes(data)
        assert gpusim.load_scenario(tmp_path / name).name == "hostile"


def test_latin1_byte_is_located(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_bytes(BASE.encode() + textwrap.dedent("description: caf\xe9\n").encode("latin-1"))
    with pytest.raises(gpusim.ScenarioError) as e:
        gpusim.load_scenario(p)
    (only,) = e.value.problems
    assert only.line == len(BASE.splitlines()) + 1 and only.column == 17 and "UTF-8" in only.message
