"""Every class of bad input: one located message, exit status 2, no traceback, nothing written."""

import subprocess
import sys
import textwrap

import pytest

from gpusim.cli import main

GOOD = textwrap.dedent(
    """\
    name: bad
    duration: 1h
    cluster:
      node_pools:
        - name: gpu
          count: 2
          gpu_model: nvidia-a100-80gb
          gpus_per_node: 8
          vcpu: 64
          memory: 512Gi
    workloads:
      - name: train
        pod:
          resources:
            requests: {cpu: "4", memory: 16Gi, nvidia.com/gpu: 2}
            limits: {nvidia.com/gpu: 2}
        generator:
          arrival: {process: poisson, rate: 10/h}
          gpus: [1, 2]
          duration: 30m
    scheduler:
      policy: best-fit
    """
)


def run_bad(tmp_path, capsys, text):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    out = tmp_path / "out"
    code = main(["run", str(path), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert not out.exists(), "an invalid scenario must write nothing"
    assert "Traceback" not in err
    assert str(path) in err
    return err


def test_good_scenario_is_valid(tmp_path, capsys):
    path = tmp_path / "good.yaml"
    path.write_text(GOOD)
    assert main(["validate", str(path)]) == 0


def test_malformed_yaml(tmp_path, capsys):
    err = run_bad(tmp_path, capsys, GOOD.replace("    count: 2\n", "    count: [2\n"))
    assert "malformed YAML" in err
    assert "bad.yaml:7:" in err  # the line after the unclosed bracket


def test_unknown_key(tmp_path, capsys):
    err = run_bad(tmp_path, capsys, GOOD.replace("      count: 2\n", "      count: 2\n      gpus_per_nod: 8\n"))
    assert "bad.yaml:7:7: cluster.node_pools[0].gpus_per_nod: unknown field 'gpus_per_nod'" in err
    assert "gpus_per_node" in err  # the allowed fields are listed


def test_wrong_type(tmp_path, capsys):
    err = run_bad(tmp_path, capsys, GOOD.replace("count: 2", "count: two"))
    assert "bad.yaml:6:14: cluster.node_pools[0].count:" in err
    assert "integer" in err and "'two'" in err


@pytest.mark.parametrize(
    "old,new,where,what",
    [
        ("count: 2", "count: -2", "cluster.node_pools[0].count", "greater than or equal to 0"),
        ("gpus_per_node: 8", "gpus_per_node: -1", "cluster.node_pools[0].gpus_per_node", "greater than or equal to 0"),
        ("rate: 10/h", "rate: 0/h", "workloads[0].generator.arrival.rate", "greater than 0"),
        ("duration: 1h", "duration: 0s", "duration", "greater than 0"),
        ("vcpu: 64", "vcpu: 0", "cluster.node_pools[0]", "vcpu must be > 0"),
    ],
)
def test_negative_or_zero_counts(tmp_path, capsys, old, new, where, what):
    err = run_bad(tmp_path, capsys, GOOD.replace(old, new))
    assert f" {where}:" in err
    assert what in err


def test_unknown_policy(tmp_path, capsys):
    err = run_bad(tmp_path, capsys, GOOD.replace("policy: best-fit", "policy: worst-fit"))
    assert "bad.yaml:22:11: scheduler.policy:" in err
    assert "'first-fit'" in err and "'best-fit'" in err and "'worst-fit'" in err


def test_pod_larger_than_any_pool(tmp_path, capsys):
    err = run_bad(tmp_path, capsys, GOOD.replace("gpus: [1, 2]", "gpus: [1, 16]"))
    assert "workloads[0].generator.gpus:" in err
    assert "16 nvidia.com/gpu" in err and "fits no node pool" in err and "gpu: 8 nvidia.com/gpu per node" in err


def test_requests_differ_from_limits(tmp_path, capsys):
    err = run_bad(tmp_path, capsys, GOOD.replace("limits: {nvidia.com/gpu: 2}", "limits: {nvidia.com/gpu: 4}"))
    # Kubernetes' own wording for extended resources
    assert (
        "workloads[0].pod.resources.requests[nvidia.com/gpu]: "
        'Invalid value: "2": must be equal to nvidia.com/gpu limit of 4' in err
    )
    assert "bad.yaml:15:" in err


def test_request_without_limit(tmp_path, capsys):
    err = run_bad(tmp_path, capsys, GOOD.replace("        limits: {nvidia.com/gpu: 2}\n", ""))
    assert "Limit must be set for non overcommitable resources" in err


def test_fractional_whole_gpu(tmp_path, capsys):
    text = GOOD.replace(
        "nvidia.com/gpu: 2}\n        limits: {nvidia.com/gpu: 2}",
        "nvidia.com/gpu: 0.5}\n        limits: {nvidia.com/gpu: 0.5}",
    )
    err = run_bad(tmp_path, capsys, text)
    assert 'requests[nvidia.com/gpu]: Invalid value: "0.5": must be an integer' in err


def test_unknown_gpu_model_lists_closest(tmp_path, capsys):
    err = run_bad(tmp_path, capsys, GOOD.replace("nvidia-a100-80gb", "nvidia-a100-80"))
    assert "cluster.node_pools[0].gpu_model: unknown GPU model 'nvidia-a100-80'" in err
    assert "nvidia-a100-80gb" in err


def test_duplicate_key(tmp_path, capsys):
    err = run_bad(tmp_path, capsys, GOOD.replace("duration: 1h\n", "duration: 1h\nduration: 2h\n"))
    assert "duplicate key 'duration'" in err and "bad.yaml:3:1" in err


def test_missing_required_field(tmp_path, capsys):
    err = run_bad(tmp_path, capsys, GOOD.replace("      vcpu: 64\n", ""))
    assert "cluster.node_pools[0].vcpu: missing required field 'vcpu'" in err


def test_bad_duration_string(tmp_path, capsys):
    err = run_bad(tmp_path, capsys, GOOD.replace("duration: 30m", "duration: 30 minutes"))
    assert "workloads[0].generator.duration" in err and "is not a duration" in err


def test_negative_duration_says_negative(tmp_path, capsys):
    err = run_bad(tmp_path, capsys, GOOD.replace("duration: 30m", "duration: -30m"))
    assert "workloads[0].generator.duration" in err and "'-30m' is negative" in err


def test_selector_matches_no_pool(tmp_path, capsys):
    text = GOOD.replace("    generator:", "      nodeSelector: {zone: mars}\n    generator:")
    err = run_bad(tmp_path, capsys, text)
    assert "nodeSelector does not match" in err


def test_untolerated_taint(tmp_path, capsys):
    text = GOOD.replace(
        "      memory: 512Gi\n", "      memory: 512Gi\n      taints: ['nvidia.com/gpu=present:NoSchedule']\n"
    )
    err = run_bad(tmp_path, capsys, text)
    assert "untolerated taint nvidia.com/gpu=present:NoSchedule" in err


def test_missing_file(tmp_path, capsys):
    code = main(["run", str(tmp_path / "nope.yaml")])
    err = capsys.readouterr().err
    assert code == 2 and "cannot read scenario file" in err and "Traceback" not in err


def test_all_problems_reported_together(tmp_path, capsys):
    text = GOOD.replace("count: 2", "count: -1").replace("policy: best-fit", "policy: nope")
    err = run_bad(tmp_path, capsys, text)
    assert "count" in err and "scheduler.policy" in err


def test_console_script_exit_status(tmp_path):
    """The installed entry point, as a user runs it: exit 2, message on stderr, no traceback."""
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace("policy: best-fit", "policy: worst-fit"))
    proc = subprocess.run(
        [sys.executable, "-m", "gpusim.cli", "run", str(path), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "scheduler.policy" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists() and not (tmp_path / "results").exists()


def test_bad_cli_argument_exit_status(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "x.yaml", "--seed", "notanumber"])
    assert exc.value.code == 2
