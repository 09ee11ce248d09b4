"""`gpusim import k8s` on hostile files: exit 2 with file:line:col, never a traceback or a hang."""

import subprocess
import sys

import pytest

MANIFEST = "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: "


def _bomb() -> str:
    text = "a: &a [1,1,1,1,1,1,1,1,1]\n"
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        text += f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]\n"
    return text


CASES = {
    "recursive-alias": (b"a: &d [*d]\n", "recursive alias"),
    "deep-nesting": ((MANIFEST + "[" * 3000 + "]" * 3000).encode(), "nesting"),
    "alias-bomb": (_bomb().encode(), "alias bomb"),
    "binary": (b"\x00\xff\xfe\x01garbage", "not UTF-8"),
    "latin-1": ("apiVersion: v1\nkind: Pod\nmetadata: {name: caf\xe9}\n".encode("latin-1"), "not UTF-8"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_manifest_exits_2_without_traceback(case, tmp_path):
    data, expected = CASES[case]
    f = tmp_path / f"{case}.yaml"
    f.write_bytes(data)
    p = subprocess.run(
        [sys.executable, "-m", "gpusim.cli", "import", "k8s", str(f)], capture_output=True, text=True, timeout=120
    )
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr
    assert f"{f}:" in p.stderr and expected in p.stderr


def test_utf16_cluster_file_is_read(tmp_path):
    cluster = tmp_path / "cluster.yaml"
    cluster.write_bytes(
        "cluster:\n  node_pools:\n  - {name: a, count: 1, vcpu: 8, memory: 8Gi, gpu_model: nvidia-h100-80gb, gpus_per_node: 8}\n".encode(
            "utf-16"
        )
    )
    job = tmp_path / "job.yaml"
    job.write_text(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: train}\nspec:\n  template:\n    spec:\n"
        "      restartPolicy: Never\n      containers:\n      - name: t\n        image: x\n"
        "        resources: {limits: {nvidia.com/gpu: 1}}\n"
    )
    p = subprocess.run(
        [sys.executable, "-m", "gpusim.cli", "import", "k8s", str(job), "--cluster", str(cluster)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "node_pools" in p.stdout and "nvidia-h100-80gb" in p.stdout
