"""``overtone`` run as a subprocess: ls, show, export, dashboard and serve."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import types
import urllib.request
import uuid

import pytest
from cli_helpers import BUCKET, KEY, ROOT, SECRET, made, overtone

from overtone.cli import main


def _last(experiment, key):
    return {
        t["trial_id"]: made.journal(experiment / t["dirname"])[-1][key]
        for t in made.state_of(experiment)["trials"]
    }


def test_ls_lists_experiments_with_counts_and_best(results):
    done = overtone("ls", str(results["root"]), "--json")
    assert done.returncode == 0, done.stderr
    listing = {e["name"]: e for e in json.loads(done.stdout)}
    assert set(listing) == {"finished", "asha"}
    finished = listing["finished"]
    assert finished["trials"] == 6
    assert finished["status"] == {"TERMINATED": 3, "ERROR": 3}
    assert finished["best"] == min(_last(results["finished"], "loss").values())
    assert finished["running"] is False and finished["started"] > 0
    text = overtone("ls", str(results["root"]))
    assert text.returncode == 0
    lines = text.stdout.splitlines()
    assert lines[0].split()[:4] == ["NAME", "TRIALS", "STATUS", "BEST"]
    assert lines[2].startswith("finished") and "3 terminated, 3 error" in lines[2]
    assert "finished" in lines[2].split()[-1]


def test_ls_never_imports_pandas(results):
    code = (
        "import sys; from overtone.cli import main; main(['ls', sys.argv[1]]); "
        "print('PANDAS' if 'pandas' in sys.modules else 'NO PANDAS')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(results["root"])], capture_output=True, text=True
    )
    assert done.stdout.splitlines()[-1] == "NO PANDAS", done.stderr


def test_ls_of_an_empty_or_missing_folder(tmp_path):
    done = overtone("ls", str(tmp_path / "nothing"))
    assert done.returncode == 0 and "No experiments" in done.stdout


def test_show_sorts_filters_and_prints_errors(results):
    path = str(results["finished"])
    done = overtone("show", path, "--json", "--sort=-best loss")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    bests = [r["best loss"] for r in rows]
    assert bests == sorted(bests, reverse=True) and len(rows) == 6
    done = overtone(
        "show", "finished", "--storage-path", str(results["root"]),
        "--filter", "status=ERROR", "--columns", "trial_name,lr,status", "--errors",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    table, _, errors = done.stdout.partition("\n\n")
    assert table.splitlines()[0].split() == ["trial_name", "lr", "status"]
    assert [line.split()[-1] for line in table.splitlines()[1:]] == ["ERROR"] * 3
    assert errors.count("RuntimeError: boom on purpose") == 3
    done = overtone("show", path, "--filter", "lr>=0.2", "--filter", "status!=ERROR", "--json")
    assert sorted(r["config/lr"] for r in json.loads(done.stdout)) == [0.2, 0.3]


def test_show_names_bad_arguments(results):
    done = overtone("show", str(results["finished"]), "--sort", "nope")
    assert done.returncode == 1 and "sort is 'nope', but must be one of" in done.stderr
    done = overtone("show", str(results["finished"]), "--filter", "lr~1")
    assert done.returncode == 1 and "filter is 'lr~1'" in done.stderr
    done = overtone("show", "missing", "--storage-path", str(results["root"]))
    assert done.returncode == 1 and "not an experiment directory" in done.stderr


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_export_writes_one_row_per_trial_or_per_result(results, tmp_path, fmt):
    experiment = results["asha"]
    state = made.state_of(experiment)
    journals = {t["trial_id"]: made.journal(experiment / t["dirname"]) for t in state["trials"]}
    for per_result in (False, True):
        out = tmp_path / f"out-{per_result}.{fmt}"
        args = ["export", str(experiment), "--format", fmt, "-o", str(out)]
        done = overtone(*args, *(["--results"] if per_result else []))
        assert done.returncode == 0, done.stderr
        if fmt == "csv":
            with open(out, newline="") as f:
                rows = list(csv.DictReader(f))
        elif fmt == "json":
            rows = json.loads(out.read_text())
        else:
            import pandas as pd

            rows = pd.read_parquet(out).to_dict("records")
        if per_result:
            assert len(rows) == sum(len(j) for j in journals.values())
            first = journals[state["trials"][0]["trial_id"]]
            got = [r for r in rows if r["trial_id"] == state["trials"][0]["trial_id"]]
            assert [float(r["loss"]) for r in got] == [r["loss"] for r in first]
        else:
            assert len(rows) == len(state["trials"])
            by_id = {r["trial_id"]: r for r in rows}
            for tid, journal in journals.items():
                assert float(by_id[tid]["loss"]) == journal[-1]["loss"]
                assert int(float(by_id[tid]["training_iteration"])) == len(journal)
            lrs = {t["trial_id"]: t["config"]["lr"] for t in state["trials"]}
            assert {k: float(r["config/lr"]) for k, r in by_id.items()} == lrs


def test_memory_storage_in_process(results, capsys):
    import fsspec

    base = f"memory://cli-{uuid.uuid4().hex}"
    fs = fsspec.filesystem("memory")
    fs.put(str(results["finished"]), base.removeprefix("memory://") + "/finished", recursive=True)
    assert main(["ls", base, "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [(e["name"], e["trials"]) for e in listing] == [("finished", 6)]
    assert main(["show", f"{base}/finished", "--json", "--filter", "status=ERROR"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 3


def test_s3_storage_through_a_real_s3_server(results, moto_s3, tmp_path):
    import s3fs

    fs = s3fs.S3FileSystem(endpoint_url=moto_s3, key=KEY, secret=SECRET, skip_instance_cache=True)
    fs.mkdir(BUCKET)
    fs.put(str(results["asha"]), f"{BUCKET}/runs/asha", recursive=True)
    env = {
        "AWS_ENDPOINT_URL": moto_s3,
        "AWS_ACCESS_KEY_ID": KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    done = overtone("ls", f"s3://{BUCKET}/runs", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert [(e["name"], e["trials"]) for e in json.loads(done.stdout)] == [("asha", 12)]
    done = overtone("show", f"s3://{BUCKET}/runs/asha", "--json", env=env)
    rows = json.loads(done.stdout)
    assert {r["trial_name"]: r["iterations"] for r in rows} == {
        t["trial_name"]: made.journal(results["asha"] / t["dirname"])[-1]["training_iteration"]
        for t in made.state_of(results["asha"])["trials"]
    }
    out = tmp_path / "s3.json"
    done = overtone(
        "export", f"s3://{BUCKET}/runs/asha", "--format", "json", "-o", str(out), "--results",
        env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    total = sum(
        len(made.journal(results["asha"] / t["dirname"]))
        for t in made.state_of(results["asha"])["trials"]
    )
    assert len(json.loads(out.read_text())) == total


def test_dashboard_subcommand_serves_until_stopped(results):
    proc = subprocess.Popen(
        [sys.executable, "-m", "overtone", "dashboard", str(results["root"]), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    try:
        line = proc.stdout.readline()
        url = line.split(" at ", 1)[1].strip()
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{url}api/experiments", timeout=30) as response:
            names = [e["name"] for e in json.loads(response.read())["experiments"]]
        assert names == ["asha", "finished"]
    finally:
        proc.terminate()
        proc.wait(30)


def test_serve_is_imported_only_when_asked(results):
    code = (
        "import sys; from overtone.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('LOADED' if 'overtone.serve._cli' in sys.modules else 'NOT LOADED')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "serve" in done.stdout and done.stdout.splitlines()[-1] == "NOT LOADED"


def test_serve_hands_its_arguments_to_the_serve_module(monkeypatch):
    seen = {}
    fake = types.ModuleType("overtone.serve._cli")

    def add_arguments(parser):
        parser.add_argument("checkpoint")
        parser.add_argument("--port", type=int, default=8000)

    def run(args):
        seen.update(vars(args))
        return 0

    fake.add_arguments, fake.main = add_arguments, run
    monkeypatch.setitem(sys.modules, "overtone.serve._cli", fake)
    assert main(["serve", "ckpt", "--port", "9"]) == 0
    assert seen == {"checkpoint": "ckpt", "port": 9}


def test_serve_without_its_module_says_so(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "overtone.serve._cli", None)  # import fails
    monkeypatch.setitem(sys.modules, "overtone.serve", None)
    assert main(["serve", "--help"]) == 2
    assert "'overtone serve' is not available" in capsys.readouterr().err


def test_the_console_script_is_declared():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"overtone": "overtone.cli:main"}
    done = overtone("--help")
    assert done.returncode == 0
    for command in ("ls", "show", "export", "dashboard", "serve"):
        assert command in done.stdout
