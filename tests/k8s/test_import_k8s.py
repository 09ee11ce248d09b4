"""`gpusim import k8s`: Kubernetes manifests in kubectl and Helm shapes -> a scenario that validates and runs.

The manifests under tests/k8s/manifests/ are written as the tools print them: `helm template`
output (`---` separators, `# Source:` comments, Services and ServiceAccounts next to the
workloads), `kubectl get -o yaml` output (a `kind: List` with status, managedFields-style
bookkeeping, and the ReplicaSet and Pods a Deployment owns), and hand-written Jobs, a StatefulSet
and PriorityClasses. Expected values are read off the manifests by hand.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gpusim.cli import main
from gpusim.k8s.importer import metric_for_name

HERE = Path(__file__).parent
M = HERE / "manifests"
ROOT = HERE.parents[1]


def _import(capsys, *args) -> tuple[int, str, str]:
    rc = main(["import", "k8s", *map(str, args)])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def _workloads(text: str) -> dict:
    return {w["name"]: w for w in yaml.safe_load(text)["workloads"]}


# ---------------------------------------------------------------------------- Helm shape
def test_helm_template_vllm_with_hpa_and_priority_class(capsys):
    rc, out, err = _import(capsys, M / "helm-vllm.yaml")
    assert rc == 0
    w = _workloads(out)
    assert set(w) == {"vllm", "router"}  # Service and ServiceAccount are not workloads
    vllm = w["vllm"]
    assert vllm["type"] == "inference" and vllm["replicas"] == 2
    assert vllm["pod"]["resources"] == {"requests": {"cpu": "8", "memory": "48Gi"}, "limits": {"nvidia.com/gpu": 1}}
    assert vllm["pod"]["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    assert vllm["pod"]["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert vllm["pod"]["priority"] == 100000  # PriorityClass inference-high
    # zero-traffic placeholder: the replicas are held for the whole run
    assert vllm["arrivals"] == {"process": {"process": "mmpp", "rates": [0], "mean_sojourn": ["1d"]}}
    hpa = vllm["autoscaling"]["hpa"]
    assert (hpa["min_replicas"], hpa["max_replicas"]) == (1, 6)
    assert hpa["metrics"] == [
        {"name": "concurrency", "target_type": "AverageValue", "target": 8.0},  # vllm:num_requests_running
        {"name": "utilization", "target_type": "Utilization", "target": 80},  # cpu 80%
    ]
    assert hpa["behavior"] == {
        "scale_up": {"stabilization_window_seconds": 30, "select_policy": "Max",
                     "policies": [{"type": "Pods", "value": 2, "period_seconds": 60}]},
        "scale_down": {"stabilization_window_seconds": 600,
                       "policies": [{"type": "Percent", "value": 50, "period_seconds": 120}]},
    }  # fmt: skip
    # the router has no accelerator: long-running one-pod jobs over the whole run
    router = w["router"]
    assert router["type"] == "training"
    assert router["jobs"] == [{"name": "router-0", "duration": "1d"}]
    assert router["pod"]["resources"] == {"requests": {"cpu": "500m", "memory": "256Mi"}}
    assert yaml.safe_load(out)["drain"] is False
    # Helm's Source comments name the templates
    assert "helm-vllm.yaml document 4 (Deployment/vllm); Helm source vllm/templates/deployment.yaml\n" in out
    # what is not carried is listed in the output and on stderr, never dropped silently
    for text in (out, err):
        assert "kafka_consumergroup_lag_total with a Value target" in text or "spec.metrics[2]" in text
        assert "(ServiceAccount/vllm)" in text and "(Service/vllm)" in text
        assert "readinessProbe" in text and "volumes" in text and "resources.limits.memory" in text
    assert "not mapped: External metric kafka_consumergroup_lag_total" in out
    # helm test hooks are not part of the release's workload
    assert "vllm-test-connection" not in w and "skipped, a Helm hook (test)" in err


def test_kubectl_get_pods_snapshot(tmp_path, capsys):
    # `kubectl get pods -o yaml` alone: running pods whose controllers are absent are imported on their
    # own (a Deployment's pod found by its ReplicaSet's name once the Deployment is present); finished
    # pods are not
    doc = yaml.safe_load((M / "kubectl-list.yaml").read_text())
    pods = [i for i in doc["items"] if i["kind"] == "Pod"]
    done = json.loads(json.dumps(pods[0]))
    done["metadata"]["name"] = "embedder-6d8f9c7b5d-old42"
    done["status"] = {"phase": "Succeeded"}
    f = tmp_path / "pods.yaml"
    f.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": pods + [done]}))
    rc, out, err = _import(capsys, f)
    assert rc == 0
    w = _workloads(out)
    assert set(w) == {"embedder-6d8f9c7b5d-x2k9q", "smoke-test"}
    assert w["embedder-6d8f9c7b5d-x2k9q"]["type"] == "inference" and w["embedder-6d8f9c7b5d-x2k9q"]["replicas"] == 1
    assert "created by ReplicaSet/embedder-6d8f9c7b5d, which is not in the input: imported on its own" in out
    assert "skipped, the pod has finished (status.phase Succeeded)" in err
    deploy = [i for i in doc["items"] if i["kind"] == "Deployment"]
    f.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": deploy + pods}))
    rc, out, err = _import(capsys, f)
    assert set(_workloads(out)) == {"embedder", "smoke-test"}
    assert "skipped, one of the pods of Deployment/embedder, which the input holds" in err


def test_kubectl_json_output_reads_like_yaml(tmp_path, capsys):
    as_json = tmp_path / "list.json"
    as_json.write_text(json.dumps(yaml.safe_load((M / "kubectl-list.yaml").read_text())))
    rc, out_json, _ = _import(capsys, as_json)
    rc2, out_yaml, _ = _import(capsys, M / "kubectl-list.yaml")
    assert rc == rc2 == 0
    assert yaml.safe_load(out_json)["workloads"] == yaml.safe_load(out_yaml)["workloads"]


def test_stdin_external_average_value_and_container_resource(monkeypatch, capsys):
    import io

    text = """apiVersion: apps/v1
kind: Deployment
metadata: {name: worker}
spec:
  replicas: 2
  template:
    spec:
      containers: [{name: c, resources: {limits: {nvidia.com/gpu: 1}}}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: worker}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: worker}
  minReplicas: 1
  maxReplicas: 5
  metrics:
    - type: External
      external:
        metric: {name: "pubsub.googleapis.com|subscription|num_undelivered_messages"}
        target: {type: AverageValue, averageValue: "30"}
    - type: ContainerResource
      containerResource: {name: cpu, container: c, target: {type: Utilization, averageUtilization: 50}}
    - type: Resource
      resource: {name: memory, target: {type: AverageValue, averageValue: 2Gi}}
"""
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    rc, out, err = _import(capsys, "-")
    assert rc == 0
    doc = yaml.safe_load(out)
    assert doc["name"] == "imported"
    hpa = _workloads(out)["worker"]["autoscaling"]["hpa"]
    assert hpa["metrics"] == [
        {"name": "queue_length", "target_type": "AverageValue", "target": 30.0},  # undelivered messages
        {"name": "utilization", "target_type": "Utilization", "target": 50},
    ]
    assert "not mapped: Resource metric memory AverageValue 2Gi" in err
    assert "<stdin> document 1 (Deployment/worker)" in out


def test_cpu_only_pods_that_fit_no_pool_suggest_skipping_them(tmp_path, capsys):
    cluster = tmp_path / "gpu-only.yaml"
    cluster.write_text(
        "cluster:\n  node_pools:\n    - {name: h100, count: 2, gpu_model: nvidia-h100-80gb, gpus_per_node: 8, vcpu: 192,"
        " memory: 2Ti, labels: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}, taints: ['nvidia.com/gpu=present:NoSchedule']}\n"
    )
    rc, _, err = _import(capsys, M / "helm-vllm.yaml", "--cluster", cluster)
    assert rc == 2 and "(Deployment/router)" in err and "--skip-cpu-only" in err
    rc, out, err = _import(capsys, M / "helm-vllm.yaml", "--cluster", cluster, "--skip-cpu-only")
    assert rc == 0 and set(_workloads(out)) == {"vllm"}
    assert (
        "(Deployment/router); Helm source vllm/templates/router.yaml: skipped, no accelerator (--skip-cpu-only)" in err
    )


def test_suspended_job_and_repeated_priority_class(tmp_path, capsys):
    pc = "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: p}\nvalue: 7\n"
    job = (
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: q}\nspec:\n  suspend: true\n  template:\n"
        "    spec:\n      priorityClassName: p\n      restartPolicy: Never\n"
        "      containers: [{name: c, resources: {limits: {nvidia.com/gpu: 1}}}]\n"
    )
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(pc + "---\n" + job)
    b.write_text(pc)  # the same class again (two charts may both ship it): fine
    rc, out, err = _import(capsys, a, b)
    assert rc == 0
    q = _workloads(out)["q"]
    assert q["pod"]["priority"] == 7 and q["jobs"][0]["pods"] == 1
    assert "spec.suspend true; imported as if resumed" in err
    b.write_text(pc.replace("value: 7", "value: 8"))  # a different value is a conflict
    rc, _, err = _import(capsys, a, b)
    assert rc == 2 and "b.yaml:4:8: document 1 (PriorityClass/p) value: PriorityClass p is defined twice" in err


def test_kubectl_list_skips_owned_objects_and_maps_object_metric(capsys):
    rc, out, err = _import(capsys, M / "kubectl-list.yaml")
    assert rc == 0
    w = _workloads(out)
    # the Deployment's ReplicaSet and Pod are its own replicas, not more workloads
    assert set(w) == {"embedder", "smoke-test"}
    emb = w["embedder"]
    assert emb["replicas"] == 3 and emb["pod"]["resources"]["limits"] == {"amd.com/gpu": 1}
    assert emb["autoscaling"]["hpa"]["metrics"] == [{"name": "rps", "target_type": "AverageValue", "target": 20.0}]
    assert (emb["autoscaling"]["hpa"]["min_replicas"], emb["autoscaling"]["hpa"]["max_replicas"]) == (2, 10)
    smoke = w["smoke-test"]  # restartPolicy Never: runs to completion
    assert smoke["type"] == "training" and smoke["jobs"][0]["pods"] == 1 and smoke["jobs"][0]["duration"] == "1h"
    assert "(ReplicaSet/embedder-6d8f9c7b5d): skipped, one of the pods of Deployment/embedder" in err
    assert "(Pod/embedder-6d8f9c7b5d-x2k9q): skipped, one of the pods of ReplicaSet/embedder-6d8f9c7b5d" in err
    assert "custom resource of monitoring.coreos.com/v1" in err
    assert "status" not in json.dumps(yaml.safe_load(out))  # kubectl's status block is bookkeeping


def test_jobs_statefulset_and_v1_hpa(capsys):
    rc, out, err = _import(capsys, M / "training.yaml", "--job-duration", "90m")
    assert rc == 0
    w = _workloads(out)
    ft = w["llama-finetune"]  # completions == parallelism == 2: one job of 2 pods, 6h from its annotation
    assert ft["jobs"] == [{"name": "llama-finetune", "arrival": "0s", "duration": "6h", "pods": 2}]
    assert ft["pod"]["priority"] == 1000
    assert ft["pod"]["resources"]["limits"] == {"nvidia.com/gpu": 8}
    assert ft["pod"]["nodeSelector"] == {"node.kubernetes.io/instance-type": "p5.48xlarge"}
    assert "vpc.amazonaws.com/efa" in out  # an extended resource gpusim does not model is named
    ev = w["eval-sweep"]  # completions 5 at parallelism 2: waves of 2, 2, 1 pods, 90 min each
    assert [(j["pods"], j["arrival"], j["duration"]) for j in ev["jobs"]] == [(2, "0s", "90m"), (2, "90m", "90m"), (1, "3h", "90m")]  # fmt: skip
    # effective request: max(sum of containers, largest init container) per resource
    assert ev["pod"]["resources"] == {"requests": {"cpu": "6", "memory": "16Gi"}, "limits": {"nvidia.com/mig-1g.10gb": 1}}  # fmt: skip
    sts = w["llama-70b"]
    assert sts["type"] == "inference" and sts["replicas"] == 2
    assert sts["pod"]["nodeSelector"] == {"gpu-class": "h100"}  # from a one-term nodeAffinity
    assert sts["autoscaling"]["hpa"]["metrics"] == [{"name": "utilization", "target_type": "Utilization", "target": 60}]
    assert "tolerations[0].tolerationSeconds" in err and "podAntiAffinity" in err and "volumeClaimTemplates" in err
    assert "preemptionPolicy Never not modelled" in err
    # backoffLimit is carried: the manifest's 4, and the API server's default 6 where it is left out
    assert ft["backoff_limit"] == 4 and ev["backoff_limit"] == 6
    assert "backoffLimit" not in err.replace("backoffLimit 4:", "").replace("backoffLimit 6 (the Job default)", "")


def test_kubeflow_pytorchjob_is_one_gang(capsys):
    rc, out, err = _import(capsys, M / "pytorchjob.yaml")
    assert rc == 0
    job = _workloads(out)["llama-pretrain"]
    assert job["jobs"] == [{"name": "llama-pretrain", "arrival": "0s", "duration": "12h", "pods": 4}]  # 1 + 3
    assert job["pod"]["resources"]["limits"] == {"nvidia.com/gpu": 8}
    assert job["pod"]["tolerations"][0]["key"] == "nvidia.com/gpu"  # the Worker's template
    assert "replica pod templates differ" in err and "spec.runPolicy" in err
    assert "backoff_limit" not in job  # runPolicy.backoffLimit left out: the operator sets no limit


def test_metric_names():
    assert metric_for_name("vllm:num_requests_waiting") == "queue_length"
    assert metric_for_name("vllm:num_requests_running") == "concurrency"
    assert metric_for_name("http_requests_per_second") == "rps"
    assert metric_for_name("DCGM_FI_DEV_GPU_UTIL") == "utilization"
    assert metric_for_name("tokens_generated_total") is None


def test_priority_class_global_default_and_v2beta1(tmp_path, capsys):
    f = tmp_path / "m.yaml"
    f.write_text(
        """apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: default-prio}
value: 50
globalDefault: true
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: svc}
spec:
  template:
    spec:
      containers:
        - name: c
          resources: {limits: {nvidia.com/mig-3g.40gb: 1}}
---
apiVersion: autoscaling/v2beta1
kind: HorizontalPodAutoscaler
metadata: {name: svc}
spec:
  scaleTargetRef: {kind: Deployment, name: svc}
  maxReplicas: 3
  metrics:
    - type: Pods
      pods: {metricName: queue_depth, targetAverageValue: 500m}
"""
    )
    rc, out, err = _import(capsys, f)
    assert rc == 0
    svc = _workloads(out)["svc"]
    assert svc["replicas"] == 1  # spec.replicas unset: the API default
    assert svc["pod"]["priority"] == 50
    assert svc["autoscaling"]["hpa"] == {
        "min_replicas": 1,
        "max_replicas": 3,
        "metrics": [{"name": "queue_length", "target_type": "AverageValue", "target": 0.5}],
    }


# ---------------------------------------------------------------------------- end to end
def test_import_validate_run_with_cluster(tmp_path, capsys):
    scen = tmp_path / "imported.yaml"
    rc, out, err = _import(
        capsys, M / "helm-vllm.yaml", M / "training.yaml", M / "kubectl-list.yaml",
        "--cluster", M / "cluster.yaml", "-o", scen, "--duration", "3h",
    )  # fmt: skip
    assert rc == 0 and out == ""
    assert f"wrote {scen}" in err
    assert main(["validate", str(scen)]) == 0
    assert "4 node pools, 7 workloads" in capsys.readouterr().out
    res = tmp_path / "res"
    assert main(["run", str(scen), "--out", str(res), "--no-plots", "--quiet", "--seed", "3"]) == 0
    summary = json.loads((res / "summary.json").read_text())["summary"]
    # 6 training jobs: router-0, llama-finetune, 3 eval waves, smoke-test; no requests (no traffic)
    assert summary["jobs_arrived"] == 6 and summary["requests"] == 0
    # every service's replicas held GPUs: vllm 2x1 (HPA may drop to min 1), llama-70b 2x4, embedder 3x1 (min 2)
    assert summary["gpu_hours_used"] > 3 * (1 * 1 + 1 * 4 + 2 * 1) * 0.9


def test_import_without_cluster_validates_once_a_cluster_is_added(tmp_path, capsys):
    scen = tmp_path / "s.yaml"
    assert _import(capsys, M / "helm-vllm.yaml", M / "training.yaml", "-o", scen, "--duration", "2h")[0] == 0
    text = scen.read_text()
    assert main(["validate", str(scen)]) == 2
    assert "missing required field 'cluster'" in capsys.readouterr().err
    # uncomment the suggested cluster block
    lines = text.splitlines()
    start = lines.index("# cluster:")
    block = []
    for ln in lines[start:]:
        if not ln.startswith("# ") or (block and not ln.startswith("#  ")):
            break
        block.append(ln[2:])
    fixed = "\n".join(lines[:start] + block + lines[start + len(block) :]) + "\n"
    scen.write_text(fixed)
    assert main(["validate", str(scen)]) == 0
    capsys.readouterr()
    res = tmp_path / "res"
    assert main(["run", str(scen), "--out", str(res), "--no-plots", "--quiet", "--seed", "1"]) == 0
    summary = json.loads((res / "summary.json").read_text())["summary"]
    assert summary["jobs_unschedulable"] == 0 and summary["jobs_arrived"] == 5


def test_output_replaces_a_scenario_but_never_another_file(tmp_path, capsys):
    manifest = tmp_path / "copy.yaml"
    manifest.write_text((M / "helm-vllm.yaml").read_text())
    before = manifest.read_text()
    rc, _, err = _import(capsys, manifest, "-o", manifest)
    assert rc == 2 and "not a gpusim scenario; not replacing it" in err
    assert manifest.read_text() == before
    scen = tmp_path / "s.yaml"
    assert _import(capsys, M / "helm-vllm.yaml", "-o", scen)[0] == 0
    assert _import(capsys, M / "training.yaml", "-o", scen)[0] == 0  # a scenario may be replaced
    assert "llama-finetune" in scen.read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left


# ---------------------------------------------------------------------------- invalid Kubernetes
_DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  template:
    spec:
      containers:
        - name: c
          resources:
            requests: {cpu: "1", nvidia.com/gpu: 2}
            limits: {nvidia.com/gpu: 2}
"""

BAD = [
    # (description, text, expected fragments of the message)
    ("unknown kind", _DEPLOY.replace("kind: Deployment", "kind: Deploymnet"),
     ["bad.yaml:6:7:", "document 2 (Deploymnet/web) kind", "unknown kind 'Deploymnet' in apiVersion apps/v1"]),
    ("kind in the wrong group", _DEPLOY.replace("apps/v1", "batch/v1"),
     ["document 2 (Deployment/web) kind", "unknown kind 'Deployment' in apiVersion batch/v1"]),
    ("version not served", _DEPLOY.replace("apps/v1", "apps/v3"),
     ["bad.yaml:5:13:", "Invalid value: \"apps/v3\": this apiVersion does not serve Deployment"]),
    ("missing apiVersion", _DEPLOY.replace("apiVersion: apps/v1\n", ""),
     ["document 2 (Deployment/web)", "Required value: apiVersion"]),
    ("missing name", _DEPLOY.replace("  name: web\n", "  labels: {a: b}\n"),
     ["document 2 (Deployment/?) metadata", "Required value: metadata.name"]),
    ("GPU request != limit", _DEPLOY.replace("limits: {nvidia.com/gpu: 2}", "limits: {nvidia.com/gpu: 4}"),
     ["bad.yaml:16:50:", "spec.template.spec.containers[0].resources.requests[nvidia.com/gpu]",
      'Invalid value: "2": must be equal to nvidia.com/gpu limit of 4']),
    ("GPU request without limit", _DEPLOY.replace("            limits: {nvidia.com/gpu: 2}\n", ""),
     ["Required value: Limit must be set for non overcommitable resources"]),
    ("fractional GPU", _DEPLOY.replace("nvidia.com/gpu: 2}\n", "nvidia.com/gpu: 0.5}\n").replace("gpu: 2,", "gpu: 0.5,"),
     ["resources.requests[nvidia.com/gpu]", "must be an integer"]),
    ("bad quantity", _DEPLOY.replace('cpu: "1"', "cpu: 1 core"),
     ["bad.yaml:16:29:", "resources.requests.cpu", "Invalid value: '1 core'"]),
    ("bad replicas", _DEPLOY.replace("replicas: 1", "replicas: -1"),
     ["spec.replicas", "must be an integer >= 0"]),
    ("unknown priority class", _DEPLOY.replace("      containers:", "      priorityClassName: gold\n      containers:"),
     ["spec.template.spec.priorityClassName", 'Invalid value: "gold": no PriorityClass with this name']),
    ("malformed YAML", _DEPLOY.replace("  replicas: 1\n", "  replicas: [1\n"), ["bad.yaml:", "malformed YAML"]),
]  # fmt: skip


@pytest.mark.parametrize("what,text,expect", BAD, ids=[b[0] for b in BAD])
def test_invalid_manifests_exit_2_with_file_document_and_field(tmp_path, capsys, what, text, expect):
    f = tmp_path / "bad.yaml"
    # a valid first document (4 lines), so the bad one is document 2 and its line numbers are 4 more than in BAD
    f.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n---\n" + text)
    out_file = tmp_path / "out.yaml"
    rc, out, err = _import(capsys, f, "-o", out_file)
    assert rc == 2, err
    for frag in expect:
        assert frag in err, (frag, err)
    assert "Traceback" not in err and out == ""
    assert not out_file.exists()  # nothing half-written


def test_bad_hpa_and_job_fields(tmp_path, capsys):
    f = tmp_path / "bad.yaml"
    f.write_text(
        _DEPLOY
        + """---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {kind: Deployment, name: web}
  minReplicas: 5
  maxReplicas: 2
---
apiVersion: batch/v1
kind: Job
metadata: {name: j}
spec:
  parallelism: two
  template: {spec: {restartPolicy: Never, containers: [{name: c}]}}
"""
    )
    rc, _, err = _import(capsys, f)
    assert rc == 2
    assert (
        "document 2 (HorizontalPodAutoscaler/web) spec.minReplicas: Invalid value: 5: must be <= maxReplicas 2" in err
    )
    assert "document 3 (Job/j) spec.parallelism: Invalid value: 'two'" in err
    f.write_text(f.read_text().replace("parallelism: two", "backoffLimit: -1"))
    rc, _, err = _import(capsys, f)
    assert rc == 2 and "document 3 (Job/j) spec.backoffLimit: Invalid value: -1: must be an integer >= 0" in err


def test_pytorchjob_run_policy_backoff_limit_is_carried(tmp_path, capsys):
    f = tmp_path / "pj.yaml"
    f.write_text((M / "pytorchjob.yaml").read_text().replace("cleanPodPolicy: None", "backoffLimit: 3"))
    rc, out, err = _import(capsys, f)
    assert rc == 0 and _workloads(out)["llama-pretrain"]["backoff_limit"] == 3
    assert "spec.runPolicy" not in err  # nothing of it left uncarried


def test_cluster_file_errors_point_into_the_cluster_file(tmp_path, capsys):
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text("cluster:\n  node_pools:\n    - {name: g, count: many, gpu_model: nvidia-h100-80gb, gpus_per_node: 8, vcpu: 8, memory: 64Gi}\n")  # fmt: skip
    rc, _, err = _import(capsys, M / "helm-vllm.yaml", "--cluster", cluster)
    assert rc == 2
    assert f"{cluster}:3:" in err and "cluster.node_pools[0].count" in err
    # a valid cluster where the vLLM replica fits no pool: the manifest is named
    cluster.write_text("node_pools:\n  - {name: small, count: 1, gpu_model: nvidia-l4, gpus_per_node: 1, vcpu: 4, memory: 16Gi}\n")  # fmt: skip
    rc, _, err = _import(capsys, M / "helm-vllm.yaml", "--cluster", cluster)
    assert rc == 2
    assert "helm-vllm.yaml" in err and "document 4 (Deployment/vllm)" in err and "fits no node pool" in err


def test_cli_subprocess_no_traceback(tmp_path):
    f = tmp_path / "x.yaml"
    f.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {template: {spec: {containers: [{name: c, resources: {limits: {nvidia.com/gpu: x}}}]}}}\n")  # fmt: skip
    p = subprocess.run(
        [sys.executable, "-m", "gpusim.cli", "import", "k8s", str(f)], capture_output=True, text=True, cwd=ROOT
    )
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    assert "document 1 (Deployment/a) spec.template.spec.containers[0].resources.limits[nvidia.com/gpu]" in p.stderr


# ---------------------------------------------------------------------------- robustness
_JUNK = [None, 0, -3, 1.5, "x", "", [], [1, "a"], {}, {"a": 1}, True, "500m", {"name": 3}]


def _paths(o, p=()):
    yield p
    items = o.items() if isinstance(o, dict) else enumerate(o) if isinstance(o, list) else ()
    for k, v in items:
        yield from _paths(v, p + (k,))


def test_mutated_manifests_never_crash(tmp_path):
    """Seeded mutations of the test manifests (a field replaced by junk, 1-3 times): every import ends
    in a scenario or an input error (exit 2), never an exception."""
    import copy
    import random

    from gpusim.errors import InputError
    from gpusim.k8s.importer import ImportOptions, import_manifests
    from gpusim.k8s.render import check, render

    docs = [d for f in sorted(M.glob("*.yaml")) if f.name != "cluster.yaml" for d in yaml.safe_load_all(f.read_text()) if d]  # fmt: skip
    rng = random.Random(15)
    f = tmp_path / "m.yaml"
    outcomes = {"ok": 0, "input error": 0}
    for _ in range(300):
        d = copy.deepcopy(rng.choice(docs))
        for _ in range(rng.randint(1, 3)):
            path = rng.choice([p for p in _paths(d) if p])
            target = d
            for k in path[:-1]:
                target = target[k]
            target[path[-1]] = copy.deepcopy(rng.choice(_JUNK))
        f.write_text(yaml.safe_dump(d))
        try:
            imp = import_manifests([str(f)], ImportOptions())
            check(imp, None)
            render(imp, None)
            outcomes["ok"] += 1
        except InputError:
            outcomes["input error"] += 1
    assert outcomes["ok"] > 30 and outcomes["input error"] > 30  # both paths exercised
