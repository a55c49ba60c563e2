"""The dashboard's JSON endpoints over real sockets, and what it refuses to answer."""

from __future__ import annotations

import http.client
import json
import os
import urllib.parse
import uuid

import pytest
from made_experiments import get, journal, make_finished, state_of

from overtone.dashboard import DashboardServer
from overtone.dashboard._callback import DashboardCallback


def raw_get(server: DashboardServer, path: str, headers: dict[str, str] | None = None):
    """A GET of ``path`` exactly as written (urllib would normalize ``..``)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_the_trial_endpoint_gives_the_table_and_changes_since(server, storage):
    status, table = get(f"{server.url}api/experiments/finished/trials")
    assert status == 200
    assert table["metric"] == "loss" and table["total"] == 6
    rows = [dict(zip(table["columns"], row)) for row in table["rows"]]
    state = state_of(storage["finished"])
    assert {r["trial_id"]: r["status"] for r in rows} == {
        t["trial_id"]: t["status"] for t in state["trials"]
    }
    # Nothing changed since: no rows.
    status, again = get(f"{server.url}api/experiments/finished/trials?since={table['rev']}")
    assert status == 200 and again["rows"] == [] and again["rev"] == table["rev"]
    status, maxed = get(f"{server.url}api/experiments/finished/trials?metric=acc&mode=max")
    best = {r[0]: r[maxed["columns"].index("best")] for r in maxed["rows"]}
    for entry in state["trials"]:
        results = journal(storage["finished"] / entry["dirname"])
        assert best[entry["trial_id"]] == max(r["acc"] for r in results)


def test_curves_give_each_trial_its_journal(server, storage):
    entries = state_of(storage["asha"])["trials"][:3]
    ids = ",".join(t["trial_id"] for t in entries)
    status, body = get(f"{server.url}api/experiments/asha/curves?metric=loss&trials={ids}")
    assert status == 200
    for series, entry in zip(body["series"], entries):
        results = journal(storage["asha"] / entry["dirname"])
        assert series["x"] == [r["training_iteration"] for r in results]
        assert series["y"] == [r["loss"] for r in results]


def test_unknown_names_are_404_and_bad_values_400(server):
    assert get(f"{server.url}api/experiments/nothing/trials")[0] == 404
    assert get(f"{server.url}api/experiments/finished/trials/nobody")[0] == 404
    assert get(f"{server.url}api/experiments/finished/trials?mode=sideways")[0] == 400
    assert get(f"{server.url}static/secret.py")[0] == 404


@pytest.mark.parametrize(
    "path",
    [
        "/api/experiments/../../etc/trials",
        "/api/experiments/..%2F..%2Fetc/trials",
        "/api/experiments/%2e%2e/trials",
        "/files/finished/x/..%2F..%2F..%2Fetc%2Fpasswd",
        "/files/finished/x/%5c..%5cpasswd",
        "/static/..%2F_app.py",
    ],
)
def test_paths_out_of_the_root_are_refused(server, path):
    status, body = raw_get(server, path)
    assert status == 400, body
    assert b"root:" not in body and b"import" not in body


@pytest.mark.parametrize("parts", [("..",), ("a", ".."), ("a/b",), ("a\\b",), (".hidden",), ("",)])
def test_the_store_refuses_parts_that_are_not_plain_names(tmp_path, parts):
    from overtone.cli._store import PathRefused, Store

    with pytest.raises(PathRefused, match="is refused"):
        Store(str(tmp_path)).path(*parts)


def test_symlinks_out_of_the_root_are_refused(tmp_path):
    outside = tmp_path / "outside"
    make_finished(outside)
    (outside / "secret.txt").write_text("secret")
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(outside / "finished", root / "linked")  # a whole experiment elsewhere
    inside = make_finished(root)
    entry = state_of(inside)["trials"][0]
    os.symlink(outside / "secret.txt", inside / entry["dirname"] / "leak.txt")
    server = DashboardServer(str(root), port=0).start()
    try:
        status, listing = get(f"{server.url}api/experiments")
        assert [e["name"] for e in listing["experiments"] if "error" not in e] == ["finished"]
        assert get(f"{server.url}api/experiments/linked/trials")[0] == 403
        status, body = get(f"{server.url}files/finished/{entry['trial_id']}/leak.txt")
        assert status == 403 and b"secret" not in json.dumps(body).encode()
        assert get(f"{server.url}files/finished/{entry['trial_id']}/params.json")[0] == 200
    finally:
        server.stop()


def test_only_reading_methods_are_answered(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("POST", "/api/experiments", body=b"{}")
        assert conn.getresponse().status == 405
    finally:
        conn.close()


def test_a_foreign_host_header_is_refused_on_loopback(server):
    status, _ = raw_get(server, "/api/experiments", headers={"Host": "evil.example:8265"})
    assert status == 403
    assert raw_get(server, "/api/experiments", headers={"Host": "localhost:1"})[0] == 200


def test_a_token_is_needed_on_every_request(storage):
    server = DashboardServer(str(storage["root"]), port=0, token="s3cret").start()
    try:
        base = f"http://127.0.0.1:{server.port}/"
        assert get(f"{base}api/experiments")[0] == 401
        assert get(f"{base}?token=wrong")[0] == 401
        assert get(f"{base}api/experiments?token=s3cret")[0] == 200
        bearer = {"Authorization": "Bearer s3cret"}
        assert get(f"{base}api/experiments", headers=bearer)[0] == 200
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request("GET", "/?token=s3cret")
        response = conn.getresponse()
        response.read()
        cookie = response.getheader("set-cookie").split(";", 1)[0]
        conn.close()
        assert get(f"{base}api/experiments", headers={"Cookie": cookie})[0] == 200
        assert server.url.startswith(base) and "token=s3cret" in server.url
    finally:
        server.stop()


def test_a_non_loopback_host_gets_a_generated_token(storage):
    server = DashboardServer(str(storage["root"]), host="192.0.2.1", port=0)  # not started
    assert server.token and len(server.token) >= 24
    assert f"token={urllib.parse.quote(server.token)}" in server.url
    assert DashboardServer(str(storage["root"]), port=0).token is None


def test_a_memory_storage_is_served(tmp_path, monkeypatch):
    pytest.importorskip("fsspec")
    import fsspec

    monkeypatch.setenv("OVERTONE_STAGING_DIR", str(tmp_path / "staging"))
    base = f"memory://dash-{uuid.uuid4().hex}"
    local = make_finished(tmp_path / "local")
    fs = fsspec.filesystem("memory")
    fs.put(str(local), base.removeprefix("memory://") + "/finished", recursive=True)
    server = DashboardServer(base, port=0).start()
    try:
        status, listing = get(f"{server.url}api/experiments")
        assert status == 200 and [e["name"] for e in listing["experiments"]] == ["finished"]
        status, table = get(f"{server.url}api/experiments/finished/trials")
        assert status == 200 and len(table["rows"]) == 6
        state = state_of(local)
        entry = state["trials"][0]
        status, trial = get(f"{server.url}api/experiments/finished/trials/{entry['trial_id']}")
        assert status == 200 and len(trial["results"]) == len(journal(local / entry["dirname"]))
        assert [c["name"] for c in trial["checkpoints"]] == [
            c["dirname"] for c in entry["checkpoints"]
        ]
    finally:
        server.stop()


def test_an_s3_storage_is_served_through_a_real_s3_server(storage):
    s3fs = pytest.importorskip("s3fs")
    pytest.importorskip("moto.server")
    from made_experiments import moto_server

    with moto_server() as endpoint:
        fs = s3fs.S3FileSystem(
            endpoint_url=endpoint, key="testing", secret="testing", skip_instance_cache=True
        )
        fs.mkdir("dash")
        fs.put(str(storage["pbt"]), "dash/runs/pbt", recursive=True)
        server = DashboardServer("s3://dash/runs", port=0, filesystem=fs).start()
        try:
            status, listing = get(f"{server.url}api/experiments")
            assert status == 200 and [e["name"] for e in listing["experiments"]] == ["pbt"]
            status, table = get(f"{server.url}api/experiments/pbt/trials")
            assert status == 200 and len(table["rows"]) == 4
            status, view = get(f"{server.url}api/experiments/pbt/scheduler")
            lines = (storage["pbt"] / "pbt_global.txt").read_text().splitlines()
            assert view["kind"] == "pbt" and len(view["exploits"]) == len(lines)
            entry = state_of(storage["pbt"])["trials"][0]
            checkpoint = entry["checkpoints"][-1]["dirname"]
            url = f"{server.url}checkpoints/pbt/{entry['trial_id']}/{checkpoint}.zip"
            status, body = get(url)
            assert status == 200 and body[:2] == b"PK"
        finally:
            server.stop()


def test_run_config_dashboard_serves_while_the_run_lasts(tmp_path, capsys):
    from overtone import tune
    from overtone.config import DashboardConfig

    seen = {}

    class Probe(tune.Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):
            if not seen:
                out = capsys.readouterr().out
                url = out.split("Overtone dashboard: ", 1)[1].split()[0]
                base = url.split("#", 1)[0]
                seen["url"] = url
                seen["status"] = get(f"{base}api/experiments")[0]

    def train(config):
        for i in range(3):
            tune.report({"loss": config["x"] / (i + 1)})

    tune.Tuner(
        train,
        param_space={"x": tune.grid_search([1, 2])},
        tune_config=tune.TuneConfig(metric="loss", mode="min"),
        run_config=tune.RunConfig(
            name="with_dashboard",
            storage_path=str(tmp_path),
            verbose=0,
            callbacks=[Probe()],
            dashboard=DashboardConfig(port=0),
        ),
    ).fit()
    assert seen["status"] == 200 and seen["url"].endswith("#/exp/with_dashboard")
    base = seen["url"].split("#", 1)[0]
    with pytest.raises(OSError):  # stopped with the run
        get(f"{base}api/experiments")
    with pytest.raises(ValueError, match="dashboard is 'yes', but must be"):
        tune.RunConfig(dashboard="yes")


def test_the_callback_can_keep_serving(tmp_path):
    callback = DashboardCallback(str(tmp_path / "exp"), port=0, keep_running=True)
    callback.setup()
    try:
        callback.on_experiment_end([])
        assert callback.server.running
        assert get(f"http://127.0.0.1:{callback.server.port}/api/experiments")[0] == 200
    finally:
        callback.server.stop()
