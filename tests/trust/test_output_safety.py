"""Output safety: `--out` never replaces what gpusim did not write; faults leave nothing behind.

Every output here goes to pytest's tmp_path (or a small tmpfs mounted inside it).
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import gpusim
from gpusim.cli import main
from gpusim.errors import InputError
from gpusim.report.atomic import atomic_dir, check_destination, is_gpusim_folder, remove_stale
from tests.conftest import ROOT, small_scenario

QUICK = ROOT / "scenarios" / "quickstart.yaml"


@pytest.fixture(scope="module")
def tiny_result():
    return gpusim.simulate(small_scenario(), seed=1)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_out_onto_a_file_exits_2_and_keeps_it(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    assert main(["run", str(QUICK), "--out", str(notes), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "notes.txt" in err and "existing file" in err and "Traceback" not in err
    assert notes.read_text() == "my notes\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_out_onto_a_user_folder_exits_2_and_keeps_it(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "data.csv").write_text("a,b\n")
    (mine / "summary.json").write_text('{"not": "gpusim"}')  # a summary.json gpusim did not write
    assert main(["run", str(QUICK), "--out", str(mine), "--quiet"]) == 2
    assert "not a gpusim result" in capsys.readouterr().err
    assert sorted(p.name for p in mine.iterdir()) == ["data.csv", "summary.json"]
    assert _leftovers(tmp_path) == []


def test_out_onto_a_pipe_or_link_exits_2(tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert main(["run", str(QUICK), "--out", str(fifo), "--quiet"]) == 2
    assert "named pipe" in capsys.readouterr().err
    target = tmp_path / "target"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target)
    assert main(["run", str(QUICK), "--out", str(link), "--quiet"]) == 2
    assert "symbolic link" in capsys.readouterr().err
    assert link.is_symlink() and list(target.iterdir()) == []


def test_checked_before_the_simulation(tmp_path, monkeypatch):
    import gpusim.sim.engine as engine

    calls = []
    monkeypatch.setattr(engine, "simulate", lambda *a, **k: calls.append(1))
    (tmp_path / "f").write_text("x")
    assert main(["run", str(QUICK), "--out", str(tmp_path / "f"), "--quiet"]) == 2
    assert calls == []


def test_replaces_an_earlier_result_and_an_empty_folder(tmp_path, tiny_result):
    out = tmp_path / "r"
    tiny_result.save(out, plots=False)
    assert is_gpusim_folder(out)
    (out / "extra.txt").write_text("from the first save")
    tiny_result.save(out, plots=False)
    assert not (out / "extra.txt").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    tiny_result.save(empty, plots=False)
    assert is_gpusim_folder(empty)
    assert _leftovers(tmp_path) == []


def test_name_too_long_for_a_folder_is_refused_before_writing(tmp_path):
    with pytest.raises(InputError, match="at most 200"):
        check_destination(tmp_path / ("x" * 300))


def test_stale_temp_folders_of_dead_saves_are_removed(tmp_path, tiny_result):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".r.gpusim-{dead.pid}-deadbeef.tmp"
    stale.mkdir()
    (stale / "summary.json").write_text("{}")
    live = tmp_path / f".r.gpusim-{os.getpid()}-cafe0000.tmp"  # a save in progress in a live process
    live.mkdir()
    tiny_result.save(tmp_path / "r", plots=False)
    assert not stale.exists()
    assert live.exists()
    assert remove_stale(tmp_path) == []


def test_failure_while_writing_leaves_nothing(tmp_path, tiny_result, monkeypatch):
    out = tmp_path / "r"
    tiny_result.save(out, plots=False)
    before = (out / "summary.json").read_text()

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("pandas.DataFrame.to_parquet", boom)
    with pytest.raises(InputError, match="no space left"):
        tiny_result.save(out, plots=False)
    assert (out / "summary.json").read_text() == before
    assert _leftovers(tmp_path) == []


def test_two_saves_at_once_one_wins_the_other_fails(tmp_path, tiny_result):
    out = tmp_path / "r"
    inside = threading.Event()
    release = threading.Event()
    errors = []

    def slow_save():
        try:
            with atomic_dir(out) as tmp:
                (tmp / "summary.json").write_text(json.dumps({"gpusim_version": "slow"}))
                inside.set()
                release.wait(10)
        except InputError as e:
            errors.append(str(e))

    t = threading.Thread(target=slow_save)
    t.start()
    assert inside.wait(10)
    tiny_result.save(out, plots=False)  # the fast save finishes first and wins
    release.set()
    t.join(10)
    assert len(errors) == 1 and "another gpusim run wrote this folder" in errors[0]
    assert json.loads((out / "summary.json").read_text())["seed"] == 1
    assert _leftovers(tmp_path) == []


def test_many_concurrent_cli_saves_never_traceback(tmp_path):
    out = tmp_path / "r"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "gpusim.cli", "run", str(QUICK), "--out", str(out), "--no-plots", "--quiet"]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)
    ]
    results = [(p.wait(120), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert all(code in (0, 2) for code, _ in results), results
    assert any(code == 0 for code, _ in results)
    assert not any("Traceback" in err for _, err in results), results
    for code, err in results:
        if code == 2:
            assert "another gpusim run" in err
    assert is_gpusim_folder(out)
    assert _leftovers(tmp_path) == []


_KILL_DURING_SAVE = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import gpusim
    from gpusim.report import plots
    from tests.conftest import small_scenario

    def stall(result, folder):
        Path(sys.argv[2]).write_text(str(folder))
        time.sleep(120)

    plots.save_run_plots = stall
    gpusim.simulate(small_scenario(), seed=int(sys.argv[3])).save(sys.argv[1], plots=True)
    """
)


def _kill_mid_save(tmp_path, out, seed):
    marker = tmp_path / "marker"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen([sys.executable, "-c", _KILL_DURING_SAVE, str(out), str(marker), str(seed)], env=env, cwd=ROOT)
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert p.poll() is None, "the saving process ended early"
        assert time.monotonic() < deadline
        time.sleep(0.1)
    tmp = Path(marker.read_text())
    assert tmp.is_dir() and (tmp / "jobs.parquet").exists()  # killed with the folder half written
    p.send_signal(signal.SIGKILL)
    p.wait()
    return tmp


def test_kill_during_save_keeps_the_earlier_result_and_next_save_cleans_up(tmp_path, tiny_result):
    out = tmp_path / "r"
    tiny_result.save(out, plots=False)
    before = (out / "summary.json").read_text()
    tmp = _kill_mid_save(tmp_path, out, seed=5)
    assert (out / "summary.json").read_text() == before  # the earlier result is intact
    assert tmp.exists()
    tiny_result.save(out, plots=False)  # the next save removes what the killed one left
    assert not tmp.exists()
    assert _leftovers(tmp_path) == []


def test_kill_during_first_save_leaves_no_result(tmp_path, tiny_result):
    out = tmp_path / "new"
    tmp = _kill_mid_save(tmp_path, out, seed=6)
    assert not out.exists()
    assert main(["validate", str(QUICK)]) == 0
    tiny_result.save(tmp_path / "other", plots=False)  # any save in the same folder cleans up
    assert not tmp.exists()


def _mount_tmpfs(where: Path, options: str) -> None:
    where.mkdir()
    if sys.platform != "linux":
        pytest.skip("tmpfs mounts need Linux")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {r.stderr.strip()}")


def _umount(where: Path) -> None:
    subprocess.run(["umount", str(where)], capture_output=True)


def test_read_only_output_folder_exits_2_before_simulating(tmp_path, capsys):
    ro = tmp_path / "ro"
    if os.geteuid() == 0:
        _mount_tmpfs(ro, "ro,size=64k")
    else:
        ro.mkdir()
        ro.chmod(0o555)
    try:
        t0 = time.perf_counter()
        assert main(["run", str(QUICK), "--out", str(ro / "r"), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert str(ro) in err and ("read-only" in err or "permission denied" in err)
        assert "Traceback" not in err
        assert list(ro.iterdir()) == []
        assert time.perf_counter() - t0 < 30
    finally:
        if os.geteuid() == 0:
            _umount(ro)
        else:
            ro.chmod(0o755)


def test_full_disk_exits_2_and_leaves_nothing(tmp_path, capsys):
    full = tmp_path / "full"
    _mount_tmpfs(full, "size=64k")
    try:
        assert main(["run", str(QUICK), "--out", str(full / "r"), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert "no space left" in err and str(full / "r") in err and "Traceback" not in err
        assert list(full.iterdir()) == []
    finally:
        _umount(full)


def test_export_and_compare_never_overwrite_a_user_file(tmp_path, tiny_result, capsys):
    run = tmp_path / "run"
    tiny_result.save(run, plots=False)
    notes = tmp_path / "notes.txt"
    notes.write_text("mine\n")
    assert main(["export", str(run), "--format", "openmetrics", "--out", str(notes)]) == 2
    assert "notes.txt" in capsys.readouterr().err and notes.read_text() == "mine\n"
    out = tmp_path / "m.txt"
    assert main(["export", str(run), "--format", "openmetrics", "--out", str(out)]) == 0
    assert main(["export", str(run), "--format", "openmetrics", "--out", str(out)]) == 0  # its own file: replaced
    fake_png = tmp_path / "c.png"
    fake_png.write_text("not an image")
    assert main(["compare", str(run), str(run), "--out", str(fake_png)]) == 2
    assert fake_png.read_text() == "not an image"


def test_sweep_out_onto_a_user_folder_is_refused(tmp_path, capsys):
    from tests.sweep.tiny import TINY_YAML

    s = tmp_path / "s.yaml"
    s.write_text(TINY_YAML)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "a.txt").write_text("x")
    assert main(["sweep", str(s), "--out", str(mine), "--quiet", "--workers", "1"]) == 2
    assert "sweep" in capsys.readouterr().err and sorted(p.name for p in mine.iterdir()) == ["a.txt"]
