"""The hostile corpus (tests/trust/corpus.py) through the command line: every case exits as expected.

In-process: each case runs `gpusim.cli.main` in a fresh temp folder; an exception escaping
`main` is a traceback. Large cases are generated at test time (the 50 MB inline-jobs file).
"""

import traceback

import pytest

from gpusim.cli import main
from tests.trust.corpus import LOCATED, cases, judge, run_case, write_files

CASES = cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input(case, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_files(case, tmp_path)
    try:
        code = main(run_case(case, tmp_path))
    except SystemExit as e:
        code = e.code
    except BaseException:
        code = 1
        print(traceback.format_exc(), file=__import__("sys").stderr)
    err = capsys.readouterr().err
    assert judge(case, code, err) == "pass", f"exit {code}: {err[-2000:]}"
    if case.expect != "ok":
        # nothing half-written: a refused input leaves no output folder behind
        assert not (tmp_path / "out").exists() and not (tmp_path / "o").exists()
    if case.large:  # refused by its size, before any parsing
        assert "scenario files are limited to" in err


RUN_ERRORS = [c for c in CASES if c.expect == "error" and c.argv[0] == "run" and not c.large]


@pytest.mark.parametrize("case", RUN_ERRORS, ids=[c.id for c in RUN_ERRORS])
def test_validate_catches_what_run_rejects(case, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_files(case, tmp_path)
    assert main(["validate", *[a for a in run_case(case, tmp_path) if a.endswith(".yaml")]]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and LOCATED.search(err)
