import numpy as np
import pandas as pd
import pytest

from gpusim.errors import InputError, TraceFormatError
from gpusim.traces.azure_llm import iter_azure_llm, read_azure_llm
from gpusim.traces.dlrm import dlrm_replica_counts, read_dlrm, read_dlrm_instances
from gpusim.traces.gavel import read_gavel
from gpusim.traces.genai import read_genai_model_load, read_genai_requests
from gpusim.traces.generic import read_generic
from gpusim.traces.helios import read_helios
from gpusim.traces.openb import read_openb_nodes, read_openb_pods
from gpusim.traces.pai2020 import read_pai_jobs, read_pai_tasks
from gpusim.traces.philly import read_philly_runtime
from gpusim.traces.records import (
    NODE_COLUMNS,
    TRAINING_COLUMNS,
    validate_nodes,
    validate_requests,
    validate_training,
)


def write(tmp_path, name: str, text: str):
    p = tmp_path / name
    p.write_text(text)
    return p


CODE = "shipped:azure-llm-2023/AzureLLMInferenceTrace_code.csv"
CONV = "shipped:azure-llm-2023/AzureLLMInferenceTrace_conv.csv"
PODS = "shipped:alibaba-gpu-v2023/openb_pod_list_default.csv"
NODES = "shipped:alibaba-gpu-v2023/openb_node_list_gpu_node.csv"

OPENB_HEADER = (
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n"
)


def _dtypes_ok(df, columns):
    assert list(df.columns) == list(columns)
    for c, t in columns.items():
        if t == "str":
            assert pd.api.types.is_string_dtype(df[c].dtype)
        else:
            assert str(df[c].dtype) == t, c


# --- shipped files -------------------------------------------------------------------------


def test_shipped_openb_pods_match_provenance():
    df, rep = read_openb_pods(PODS)
    validate_training(df)
    _dtypes_ok(df, TRAINING_COLUMNS)
    assert rep.rows_read == 8152 and rep.rows_skipped == 0
    assert (df["gpus"] == 0).sum() == 1088
    gpu = df[df["gpus"] > 0]
    assert round(100 * (gpu["gpu_milli"] < 1000).mean(), 1) == 43.6
    assert (df["duration_s"] > 0).all() and df["arrival_s"].is_monotonic_increasing
    assert set(df["qos"]) == {"LS", "BE", "Burstable", "Guaranteed"}
    row = df[df["name"] == "openb-pod-0001"].iloc[0]
    assert (row.arrival_s, row.duration_s, row.gpu_milli, row.cpu_milli) == (
        427061.0,
        12902960.0 - 427061.0,
        460,
        6000,
    )


def test_shipped_openb_nodes_match_provenance():
    df, rep = read_openb_nodes(NODES)
    validate_nodes(df)
    _dtypes_ok(df, NODE_COLUMNS)
    assert len(df) == 1213 and df["gpus"].sum() == 6212
    by = df.groupby("model")["gpus"].agg(["count", "sum"])
    assert by.loc["G2"].tolist() == [549, 4392]
    assert by.loc["T4"].tolist() == [404, 842]
    assert by.loc["A10"].tolist() == [2, 2]


def test_shipped_azure_files():
    for path, n in ((CODE, 8819), (CONV, 19366)):
        df, rep = read_azure_llm(path)
        validate_requests(df)
        assert list(df.columns) == ["arrival_s", "prompt_tokens", "output_tokens"]
        assert len(df) == n and rep.rows_skipped == 0 and df["arrival_s"].iloc[0] == 0.0
    df, _ = read_azure_llm(CODE)
    # 2023-11-16 18:17:03.9799600 -> 18:17:04.0319600: seven fractional digits kept.
    assert df["arrival_s"].iloc[1] == pytest.approx(0.052, abs=1e-9)
    assert df["prompt_tokens"].iloc[0] == 4808 and df["output_tokens"].iloc[0] == 10


def test_azure_chunked_equals_whole():
    whole, _ = read_azure_llm(CODE)
    reader = iter_azure_llm(CODE, chunk_rows=1000)
    parts = list(reader)
    assert len(parts) == 9
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole)
    assert reader.report.rows_read == 8819


def test_azure_2024_timestamp_forms(tmp_path):
    p = write(
        tmp_path,
        "week.csv",
        "TIMESTAMP,ContextTokens,GeneratedTokens\n"
        "2024-05-10 00:00:00.009930+00:00,100,10\n"
        "2024-05-10 00:00:01+00:00,200,20\n"
        "2024-05-10 00:00:01.5+00:00,300,30\n"
        "2024-05-10T00:00:02.0000001Z,400,40",
    )
    df, rep = read_azure_llm(p, strict=True)
    assert rep.rows_skipped == 0
    np.testing.assert_allclose(df["arrival_s"], [0, 0.99007, 1.49007, 1.9900701], atol=1e-9)


# --- bad rows ------------------------------------------------------------------------------


def test_bad_rows_skipped_and_reported(tmp_path):
    p = write(
        tmp_path,
        "pods.csv",
        OPENB_HEADER
        + "p0,1000,1024,1,500,,LS,Running,0,100,0\n"
        + "p1,1000,1024,1,500,,LS,Running,50,20,50\n"  # negative duration (line 3)
        + "p2,1000,1024,1,1000,H100X,LS,Running,60,70,60\n"  # unknown GPU model (line 4)
        + "p3,1000,1024,1,1000,,LS,Running,abc,70,60\n"  # malformed time (line 5)
        + "p4,1000,1024,1,1000,,LS,Running,60\n"  # missing columns (line 6)
        + "p5,1000,1024,1,1000,,LS,Running,60,90,60,extra\n"  # too many fields (line 7)
        + "p6,2000,2048,2,1000,V100M32|T4,BE,Running,10,30,10\n",
    )
    df, rep = read_openb_pods(p)
    assert list(df["name"]) == ["p0", "p6"]
    assert df["gpu_models"].tolist() == ["", "V100M32|T4"]
    assert rep.rows_read == 7 and rep.rows_skipped == 5
    lines = [e.line for e in rep.examples]
    assert lines == [3, 4, 5, 6, 7]
    reasons = " | ".join(e.reason for e in rep.examples)
    assert "negative duration" in reasons and "unknown GPU model" in reasons
    assert "malformed creation_time 'abc'" in reasons and "missing deletion_time" in reasons
    assert "line 3:" in rep.format() and "5 skipped" in rep.format()
    with pytest.raises(TraceFormatError, match=r"pods.csv:3: negative duration"):
        read_openb_pods(p, strict=True)


def test_strict_reports_too_many_fields_line(tmp_path):
    p = write(
        tmp_path,
        "a.csv",
        "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-01-01 00:00:00,1,2\n2023-01-01 00:00:01,1,2,3\n",
    )
    with pytest.raises(TraceFormatError, match=r"a.csv:3: expected 3 fields, found 4"):
        read_azure_llm(p, strict=True)
    df, rep = read_azure_llm(p)
    assert len(df) == 1 and rep.examples[0].line == 3


def test_azure_bad_timestamp_and_negative_tokens(tmp_path):
    p = write(
        tmp_path,
        "a.csv",
        "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-01-01 00:00:00,1,2\nyesterday,1,2\n"
        "2023-01-01 00:00:02,-5,2\n2023-01-01 00:00:03,7,x\n",
    )
    df, rep = read_azure_llm(p)
    assert len(df) == 1 and rep.rows_skipped == 3
    assert [e.line for e in rep.examples] == [3, 4, 5]
    assert "malformed TIMESTAMP 'yesterday'" in rep.examples[0].reason
    with pytest.raises(TraceFormatError, match=r":3: malformed TIMESTAMP"):
        read_azure_llm(p, strict=True)


def test_wrong_format_names_expected_and_found_columns(tmp_path):
    with pytest.raises(TraceFormatError) as err:
        read_azure_llm(PODS)
    msg = str(err.value)
    assert "expected columns ['TIMESTAMP', 'ContextTokens', 'GeneratedTokens']" in msg
    assert "found ['name', 'cpu_milli'" in msg
    with pytest.raises(TraceFormatError, match="expected 7 tab-separated fields"):
        read_gavel(write(tmp_path, "x.trace", "a,b,c\n"))


def test_missing_file_says_where_published():
    with pytest.raises(InputError, match="AzurePublicDataset"):
        read_azure_llm("/nonexistent/week.csv")
    with pytest.raises(InputError, match="cluster-trace-gpu-v2020"):
        read_pai_tasks("/nonexistent/pai_task_table.csv")


# --- formats without shipped files: synthetic files -----------------------------------------


def test_gavel_seven_and_ten_fields(tmp_path):
    seven = write(
        tmp_path,
        "vc.trace",
        "ResNet-50 (batch size 64)\tcmd %s\t-n\t1\t1040\t0.000000\t1\n"
        "LM (batch size 20)\tcmd\t--steps\t1\t15762\t10.5\t16\n"
        "Mystery (batch size 1)\tcmd\t-n\t1\t100\t11\t1\n",
    )
    df, rep = read_gavel(seven, throughput_steps_per_s={"ResNet-50 (batch size 64)": 10.4, "LM": 15.762})
    validate_training(df)
    assert rep.rows_skipped == 1 and "unknown job type" in rep.examples[0].reason
    assert df["duration_s"].tolist() == pytest.approx([100.0, 1000.0])
    assert df[["num_pods", "gpus"]].values.tolist() == [[1, 1], [2, 8]]
    ten = write(
        tmp_path,
        "pc.trace",
        "ResNet-18 (batch size 128)\tpython3 main.py\tcifar10\t--num_steps\t1\t61172\t4\t2\t-1.000000\t30\n",
    )
    df, _ = read_gavel(ten)
    assert df["arrival_s"].iloc[0] == 30 and df["gpus"].iloc[0] == 4 and df["priority"].iloc[0] == 2
    assert df["duration_s"].iloc[0] > 0


def test_pai2020_tables(tmp_path):
    tasks = write(
        tmp_path,
        "pai_task_table.csv",
        "j1,worker,2,Terminated,1000,1600,600,29.3,50,T4\n"
        "j2,ps,1,Terminated,1100,1200,400,10,,\n"
        "j3,worker,1,Terminated,1200,1300,600,10,200,V100\n"
        "j4,worker,1,Running,1300,,600,10,100,V100\n"
        "j5,worker,1,Terminated,1300,1400,600,10,100,H900\n"
        "j6,worker,1,Waiting,,,600,10,100,V100\n"
        "j7,worker,1,Failed,1300,,600,10,100,V100\n",
    )
    df, rep = read_pai_tasks(tasks)
    validate_training(df)
    assert df["name"].tolist() == ["j1/worker", "j2/ps", "j3/worker", "j4/worker"]
    assert df["arrival_s"].tolist() == [0, 100, 200, 300]
    assert df[["num_pods", "gpus", "gpu_milli", "cpu_milli"]].values.tolist() == [
        [2, 1, 500, 6000], [1, 0, 0, 4000], [1, 2, 1000, 6000], [1, 1, 1000, 6000]
    ]  # fmt: skip
    assert df["gpu_models"].tolist() == ["T4", "", "V100", "V100"]
    assert np.isinf(df["duration_s"].iloc[3])
    assert rep.rows_read == 7 and rep.rows_skipped == 2 and [e.line for e in rep.examples] == [5, 7]
    assert "unknown GPU model 'H900'" in rep.examples[0].reason
    assert "missing end_time" in rep.examples[1].reason
    jobs = write(tmp_path, "pai_job_table.csv", "j1,i1,u1,Terminated,1000,1600\nj2,i2,u2,Failed,900,950\n")
    jdf, _ = read_pai_jobs(jobs)
    assert jdf["job_name"].tolist() == ["j2", "j1"] and jdf["duration_s"].tolist() == [50, 600]
    with pytest.raises(TraceFormatError, match="expected 10 headerless columns"):
        read_pai_tasks(jobs)


def test_helios_cluster_log(tmp_path):
    p = write(
        tmp_path,
        "cluster_log.csv",
        "job_id,user,vc,gpu_num,cpu_num,node_num,state,submit_time,start_time,end_time,duration,queue\n"
        "1,u,vc1,16,32,2,COMPLETED,2020-04-01 00:00:10,2020-04-01 00:01:00,2020-04-01 01:01:00,3600,50\n"
        "2,u,vc1,0,4,1,CANCELLED,2020-04-01 00:00:00,,,0,0\n"
        "3,u,vc1,1,4,1,FAILED,not-a-date,,,5,0\n",
    )
    df, rep = read_helios(p)
    validate_training(df)
    assert df["name"].tolist() == ["2", "1"] and df["arrival_s"].tolist() == [0, 10]
    assert df[["num_pods", "gpus", "cpu_milli"]].values.tolist() == [[1, 0, 4000], [2, 8, 16000]]
    assert df["duration_s"].tolist() == [1.0, 3600.0] and df["qos"].tolist() == [
        "CANCELLED",
        "COMPLETED",
    ]
    assert rep.rows_skipped == 1 and rep.examples[0].line == 4


def test_generic_csv_and_parquet(tmp_path):
    p = write(tmp_path, "mine.csv", "submit,run_ms,ngpu,pool\n5000,2000,2,A100\n1000,500,1,\n3000,-1,1,\n")
    df, rep = read_generic(
        p,
        {"arrival": "submit", "duration": "run_ms", "gpus": "ngpu", "gpu_models": "pool"},
        time_unit="ms",
    )
    validate_training(df)
    assert df["arrival_s"].tolist() == [0.0, 4.0] and df["duration_s"].tolist() == [0.5, 2.0]
    assert df["gpu_models"].tolist() == ["", "A100"] and rep.rows_skipped == 1
    pq = tmp_path / "req.parquet"
    pd.DataFrame({"t": pd.to_datetime(["2024-01-01 00:00:01", "2024-01-01 00:00:00"]), "in": [5, 6]}).to_parquet(pq)
    req, _ = read_generic(pq, {"arrival": "t", "prompt_tokens": "in"}, kind="requests")
    validate_requests(req)
    assert req["arrival_s"].tolist() == [0.0, 1.0] and req["prompt_tokens"].tolist() == [6, 5]
    with pytest.raises(TraceFormatError, match="expected columns"):
        read_generic(p, {"arrival": "when", "duration": "run_ms"})
    with pytest.raises(InputError, match="unknown mapped fields"):
        read_generic(p, {"arrival": "submit", "duration": "run_ms", "colour": "pool"})


def test_dlrm_and_genai_synthetic(tmp_path):
    p = write(
        tmp_path,
        "dlrm.csv",
        "instance_sn,role,app_name,cpu_request,cpu_limit,gpu_request,gpu_limit,rdma_request,rdma_limit,memory_request,memory_limit,disk_request,disk_limit,max_instance_per_node,creation_time,scheduled_time,deletion_time\n"
        "i0,HN,a,12,12,1,1,25,25,120.0,120.0,640.0,800.0,8,,,100\n"
        "i1,HN,a,12,12,1,1,25,25,120.0,120.0,640.0,800.0,8,50,50,\n"
        "i2,CN,b,8,8,0,0,0,0,16.0,16.0,10,10,1,20,20,60\n"
        "i3,CN,b,8,8,0,0,0,0,16.0,16.0,10,10,1,80,80,60\n",
    )
    inst, rep = read_dlrm_instances(p)
    assert rep.rows_skipped == 1 and "negative duration" in rep.examples[0].reason
    counts = dlrm_replica_counts(inst)
    a = counts[counts["app"] == "a"][["time_s", "replicas"]].values.tolist()
    assert a == [[0, 1], [50, 2], [100, 1]]
    b = counts[counts["app"] == "b"][["time_s", "replicas"]].values.tolist()
    assert b == [[20, 1], [60, 0]]
    df, _ = read_dlrm(p)
    validate_training(df)
    assert np.isinf(df["duration_s"]).sum() == 1
    g = write(
        tmp_path,
        "lora.csv",
        "gmt_create,predict_type,predict_status,exec_time_seconds,groupId\n"
        "2024-11-15 16:57:50,T,SUCCEED,32.0,G\n2024-11-15 16:58:00,T,FAILED,1.0,G\n"
        "2024-11-15 16:59:00,T,SUCCEED,-3,G\n",
    )
    req, rep = read_genai_requests(g)
    assert req["arrival_s"].tolist() == [0, 10] and req["service_s"].tolist() == [32, 1]
    assert rep.rows_skipped == 1
    ok, _ = read_genai_requests(g, statuses=["SUCCEED"])
    assert len(ok) == 1
    lat = write(tmp_path, "lat.csv", "timestamp_anon,value,container_ip\n1.0,2639.0,x\n2.0,1000,y\n")
    v, _ = read_genai_model_load(lat)
    assert v.tolist() == [2.639, 1.0]


# --- real files beside the project ---------------------------------------------------------


def test_real_traces_read_cleanly(shared):
    checks = [
        (read_openb_pods, "alibaba-gpu-v2023/openb_pod_list_gpuspec33.csv", 8152),
        (read_openb_pods, "alibaba-gpu-v2023/openb_pod_list_multigpu50.csv", None),
        (read_openb_nodes, "alibaba-gpu-v2023/openb_node_list_all_node.csv", 1523),
        (read_philly_runtime, "philly-runtime/philly_runtime.csv", 83154),
        (read_genai_requests, "alibaba-genai-2026/lora_request_trace.csv", 26823),
        (read_genai_model_load, "alibaba-genai-2026/basemodel_update_latency_anon.csv", 7531),
        (read_dlrm_instances, "alibaba-dlrm-2025/disaggregated_DLRM_trace.csv", 23871),
    ]
    for fn, rel, n in checks:
        data, rep = fn(shared / rel)
        assert rep.rows_skipped == 0, rep.format()
        if n is not None:
            assert len(data) == n, rel
    multi, _ = read_openb_pods(shared / "alibaba-gpu-v2023/openb_pod_list_multigpu50.csv")
    assert (multi["arrival_s"] == 0).all() and np.isinf(multi["duration_s"]).all()
    rt, _ = read_philly_runtime(shared / "philly-runtime/philly_runtime.csv")
    assert np.median(rt) == 1186 and round(rt.mean()) == 14613
    lat, _ = read_genai_model_load(shared / "alibaba-genai-2026/basemodel_update_latency_anon.csv")
    assert round(np.median(lat), 1) == 22.7 and round(lat.max()) == 79
    inst, _ = read_dlrm_instances(shared / "alibaba-dlrm-2025/disaggregated_DLRM_trace.csv")
    assert inst["app"].nunique() == 156
    assert (dlrm_replica_counts(inst)["replicas"] >= 0).all()


def test_real_gavel_traces(shared):
    total = 0
    for f in sorted((shared / "gavel-philly/msr/seed=0").glob("*.trace")):
        df, rep = read_gavel(f)
        validate_training(df)
        assert rep.rows_skipped == 0
        total += len(df)
    assert total == 15264
    for f in sorted((shared / "gavel-philly/physical_cluster").glob("*.trace")):
        df, rep = read_gavel(f)
        validate_training(df)
        assert rep.rows_skipped == 0


@pytest.mark.parametrize("chunk_rows", [None, 1, 2, 3, 100])
def test_line_numbers_survive_blank_and_long_lines(tmp_path, chunk_rows):
    from gpusim.traces._io import read_csv_chunks

    p = write(tmp_path, "t.csv", "a,b,c\n1,2,3\n4,5,6,7\n\n8,9\n1,2,3\n1,2,3,4\n1,2,3,4\n5,x,6\n9,9,9\n")
    lines, extra = [], []
    for df, ln, ex in read_csv_chunks(p, "t", strict=False, chunk_rows=chunk_rows):
        assert len(df) == len(ln)
        lines += ln.tolist()
        extra += [e[0] for e in ex]
    assert lines == [2, 4, 5, 6, 9, 10] and extra == [3, 7, 8]


def test_chunked_azure_bad_rows_have_file_lines(tmp_path):
    rows = [f"2023-01-01 00:00:{i:02d}.0000000,{i},1" for i in range(40)]
    rows[17] = "garbage,1,1"
    rows[33] = rows[33] + ",extra"
    p = write(tmp_path, "a.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n" + "\n".join(rows))
    reader = iter_azure_llm(p, chunk_rows=7)
    df = pd.concat(list(reader), ignore_index=True)
    assert len(df) == 38 and reader.report.rows_read == 40
    assert [e.line for e in reader.report.examples] == [19, 35]
