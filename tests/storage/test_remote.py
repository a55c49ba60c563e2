"""RemoteSync, download and staging_dir against memory:// and a real S3 server (moto)."""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

pytest.importorskip("fsspec")

from overtone.storage import _remote  # noqa: E402
from overtone.storage._remote import (  # noqa: E402
    MANIFEST,
    RemoteSync,
    download,
    is_remote,
    staging_dir,
)

KEY, SECRET, BUCKET = "testing", "testing", "overtone-test"  # as the s3_endpoint fixture


# -- fixtures: a moto S3 server on loopback, and remotes to test against -------------------


@dataclass
class Remote:
    """A remote folder to mirror to, with helpers to look at it."""

    uri: str
    fs: Any  # passed to RemoteSync(filesystem=...)
    root: str

    def names(self) -> set[str]:
        self.fs.invalidate_cache()
        try:
            found = self.fs.find(self.root)
        except FileNotFoundError:
            return set()
        prefix = self.root.lstrip("/") + "/"
        return {n.lstrip("/")[len(prefix) :] for n in found}

    def files(self) -> dict[str, bytes]:
        return {rel: self.fs.cat_file(f"{self.root}/{rel}") for rel in self.names()}

    def read(self, rel: str) -> bytes:
        """The file's content, or b"" while it does not exist (for polling)."""
        try:
            return self.fs.cat_file(f"{self.root}/{rel}")
        except FileNotFoundError:
            return b""


@pytest.fixture
def memory_remote() -> Iterator[Remote]:
    from fsspec.implementations.memory import MemoryFileSystem

    fs = MemoryFileSystem()
    uri = f"memory://overtone-test/{uuid.uuid4().hex}/exp"
    root = fs._strip_protocol(uri)
    yield Remote(uri, fs, root)
    if fs.exists(root):
        fs.rm(root, recursive=True)


@pytest.fixture
def s3_remote(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Remote:
    import s3fs

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    fs = s3fs.S3FileSystem(
        endpoint_url=s3_endpoint, key=KEY, secret=SECRET, skip_instance_cache=True
    )
    prefix = f"{BUCKET}/{uuid.uuid4().hex}/exp"
    return Remote(f"s3://{prefix}", fs, prefix)


@pytest.fixture(params=["memory", "s3"])
def remote(request: pytest.FixtureRequest) -> Remote:
    return request.getfixturevalue(f"{request.param}_remote")


@pytest.fixture
def local(tmp_path) -> str:
    path = tmp_path / "staging" / "exp"
    path.mkdir(parents=True)
    return str(path)


def write(root: str, rel: str, data: bytes | str, mode: str = "w") -> None:
    path = os.path.join(root, *rel.split("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(path, mode + "b") as f:
        f.write(data)


def make_experiment(root: str) -> None:
    write(root, "experiment_state.json", '{"trials": []}')
    write(root, "tuner.pkl", b"\x80tuner")
    write(root, "search_state.pkl", b"\x80search")
    write(root, "t_0/params.json", '{"x": 1}')
    write(root, "t_0/result.json", '{"i": 1}\n')
    write(root, "t_0/progress.csv", "i\n1\n")


EXPERIMENT = {
    "experiment_state.json",
    "tuner.pkl",
    "search_state.pkl",
    "t_0/params.json",
    "t_0/result.json",
    "t_0/progress.csv",
}


class FlakyFS:
    """Wraps a filesystem: its put_file fails ``fail_times`` times (-1: always) for matching
    paths, after an optional delay; every put_file and rm is recorded in ``calls``."""

    def __init__(
        self,
        inner: Any,
        fail_times: int = 0,
        match: Callable[[str], bool] = lambda p: True,
        delay: float = 0.0,
        before_put: Callable[[str], None] | None = None,
    ):
        self.inner = inner
        self.fail_left = fail_times
        self.match = match
        self.delay = delay
        self.before_put = before_put
        self.calls: list[tuple[str, str]] = []

    def put_file(self, lpath: str, rpath: str, **kwargs: Any) -> None:
        self.calls.append(("put", rpath))
        if self.before_put is not None:
            self.before_put(lpath)
        time.sleep(self.delay)
        if self.match(rpath) and self.fail_left != 0:
            self.fail_left -= 1
            raise OSError(f"injected failure for {rpath}")
        self.inner.put_file(lpath, rpath, **kwargs)

    def rm(self, path: str, **kwargs: Any) -> None:
        self.calls.append(("rm", path))
        self.inner.rm(path, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def put_names(fs: FlakyFS) -> list[str]:
    return [p.rsplit("/", 1)[-1] for kind, p in fs.calls if kind == "put"]


# -- mirroring ---------------------------------------------------------------------------------


def test_mirrors_files_and_reuploads_only_what_changed(local: str, remote: Remote) -> None:
    make_experiment(local)
    first_bytes = sum(os.path.getsize(os.path.join(local, r)) for r in EXPERIMENT)
    sync = RemoteSync(local, remote.uri, filesystem=remote.fs)
    assert sync.flush() == []
    files = remote.files()
    assert set(files) == EXPERIMENT
    assert files["t_0/params.json"] == b'{"x": 1}'
    assert sync.uploaded_files == len(EXPERIMENT)

    write(local, "t_0/result.json", '{"i": 2}\n', mode="a")  # results only grow
    assert sync.flush() == []
    assert remote.files()["t_0/result.json"] == b'{"i": 1}\n{"i": 2}\n'
    assert sync.uploaded_files == len(EXPERIMENT) + 1  # nothing else went up again

    assert sync.flush() == []
    assert sync.uploaded_files == len(EXPERIMENT) + 1
    assert sync.failed == 0
    assert sync.uploaded_bytes == first_bytes + len(b'{"i": 1}\n{"i": 2}\n')


def test_atomic_replacement_with_same_size_is_uploaded(local: str, memory_remote: Remote) -> None:
    write(local, "experiment_state.json", '{"n": 1}')
    sync = RemoteSync(local, memory_remote.uri, filesystem=memory_remote.fs)
    assert sync.flush() == []
    # Same size and the same mtime (coarse clocks tick every few ms): os.replace gives a new
    # inode, and that is what tells them apart.
    path = os.path.join(local, "experiment_state.json")
    before = os.stat(path)
    write(local, "state.tmp1", '{"n": 2}')
    os.replace(os.path.join(local, "state.tmp1"), path)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert sync.flush() == []
    assert memory_remote.files()["experiment_state.json"] == b'{"n": 2}'


def test_pruned_checkpoints_are_deleted_remotely(local: str, remote: Remote) -> None:
    make_experiment(local)
    for i in range(1, 5):
        write(local, f"t_0/checkpoint_{i:06d}/model.bin", os.urandom(1000))
        write(local, f"t_0/checkpoint_{i:06d}/sub/meta.json", f'{{"i": {i}}}')
    sync = RemoteSync(local, remote.uri, filesystem=remote.fs)
    assert sync.flush() == []
    assert {n for n in remote.names() if n.endswith("model.bin")} == {
        f"t_0/checkpoint_{i:06d}/model.bin" for i in range(1, 5)
    }
    # num_to_keep=2: the controller removes 1 and 3 and writes a new state file.
    shutil.rmtree(os.path.join(local, "t_0", "checkpoint_000001"))
    shutil.rmtree(os.path.join(local, "t_0", "checkpoint_000003"))
    write(local, "experiment_state.json", '{"trials": ["kept 2 and 4"]}')
    assert sync.flush() == []
    names = remote.names()
    assert {n.split("/")[1] for n in names if "checkpoint_" in n} == {
        "checkpoint_000002",
        "checkpoint_000004",
    }
    assert "t_0/checkpoint_000002/sub/meta.json" in names
    assert EXPERIMENT <= names
    assert sync.deleted_folders == 2


def test_rewritten_checkpoint_loses_its_stale_files(local: str, memory_remote: Remote) -> None:
    write(local, "t/checkpoint_000001/a.bin", b"a")
    write(local, "t/checkpoint_000001/b.bin", b"b")
    sync = RemoteSync(local, memory_remote.uri, filesystem=memory_remote.fs)
    assert sync.flush() == []
    shutil.rmtree(os.path.join(local, "t", "checkpoint_000001"))  # a restarted trial
    write(local, "t/checkpoint_000001/a.bin", b"A2")
    assert sync.flush() == []
    assert memory_remote.files() == {"t/checkpoint_000001/a.bin": b"A2"}


def test_staging_folders_and_temp_files_are_never_uploaded(local: str, remote: Remote) -> None:
    make_experiment(local)
    write(local, "t_0/checkpoint_000005.tmp/model.bin", b"half")
    write(local, "t_0/.save-abc123/model.bin", b"half")
    write(local, "t_0/result.json.tmp4242", b"torn")
    write(local, "experiment_state.json.tmp77", b"torn")
    sync = RemoteSync(local, remote.uri, filesystem=remote.fs)
    assert sync.flush() == []
    assert remote.names() == EXPERIMENT
    # Renamed into place: now it is a complete checkpoint.
    os.replace(
        os.path.join(local, "t_0", "checkpoint_000005.tmp"),
        os.path.join(local, "t_0", "checkpoint_000005"),
    )
    assert sync.flush() == []
    assert remote.names() == EXPERIMENT | {"t_0/checkpoint_000005/model.bin"}
    assert MANIFEST not in remote.names()


def test_state_file_goes_last_and_deletions_after_it(local: str, memory_remote: Remote) -> None:
    make_experiment(local)
    write(local, "t_0/checkpoint_000001/m", b"1")
    fs = FlakyFS(memory_remote.fs)
    sync = RemoteSync(local, memory_remote.uri, filesystem=fs)
    assert sync.flush() == []
    assert put_names(fs)[-1] == "experiment_state.json"
    assert put_names(fs)[0] == "m"  # checkpoints before the files that name them

    fs.calls.clear()
    shutil.rmtree(os.path.join(local, "t_0", "checkpoint_000001"))
    write(local, "t_0/checkpoint_000002/m", b"2")
    write(local, "experiment_state.json", '{"trials": ["ckpt 2"]}')
    assert sync.flush() == []
    kinds = [(kind, p.rsplit("/", 2)[-2:]) for kind, p in fs.calls]
    assert kinds == [
        ("put", ["checkpoint_000002", "m"]),
        ("put", ["exp", "experiment_state.json"]),
        ("rm", ["t_0", "checkpoint_000001"]),
    ]


def test_failed_checkpoint_holds_back_state_file_and_deletions(
    local: str, memory_remote: Remote
) -> None:
    make_experiment(local)
    write(local, "t_0/checkpoint_000001/m", b"1")
    sync = RemoteSync(local, memory_remote.uri, filesystem=memory_remote.fs, backoff_s=0.001)
    assert sync.flush() == []
    shutil.rmtree(os.path.join(local, "t_0", "checkpoint_000001"))
    write(local, "t_0/checkpoint_000002/m", b"2")
    write(local, "experiment_state.json", '{"trials": ["ckpt 2"]}')
    fs = FlakyFS(memory_remote.fs, fail_times=-1, match=lambda p: "checkpoint_000002" in p)
    sync._fs = fs  # the same sync, now with a remote that refuses the new checkpoint
    reports: list[str] = []
    sync._on_error = reports.append
    errors = sync.flush()
    assert len(errors) == 2
    assert any("checkpoint_000002" in e and "injected failure" in e for e in errors)
    assert any("experiment_state.json" in e and "not uploaded" in e for e in errors)
    files = memory_remote.files()
    assert files["experiment_state.json"] == b'{"trials": []}'  # still the old state...
    assert "t_0/checkpoint_000001/m" in files  # ...and what it names is still there

    fs.fail_left = 0  # the remote heals: the next pass catches up
    assert sync.flush() == []
    files = memory_remote.files()
    assert files["experiment_state.json"] == b'{"trials": ["ckpt 2"]}'
    assert {n for n in files if "checkpoint" in n} == {"t_0/checkpoint_000002/m"}


# -- failures ----------------------------------------------------------------------------------


def test_transient_failures_are_retried_with_backoff(local: str, remote: Remote) -> None:
    make_experiment(local)
    fs = FlakyFS(remote.fs, fail_times=3, match=lambda p: p.endswith("params.json"))
    reports: list[str] = []
    sync = RemoteSync(
        local, remote.uri, filesystem=fs, backoff_s=0.01, max_retries=5, on_error=reports.append
    )
    start = time.monotonic()
    assert sync.flush() == []
    assert time.monotonic() - start >= 0.01 + 0.02 + 0.04  # it backed off
    assert put_names(fs).count("params.json") == 4
    assert remote.files()["t_0/params.json"] == b'{"x": 1}'
    assert reports == [] and sync.failed == 0


def test_persistent_failure_is_reported_once_and_never_dropped(local: str, remote: Remote) -> None:
    make_experiment(local)
    fs = FlakyFS(remote.fs, fail_times=-1, match=lambda p: p.endswith("progress.csv"))
    reports: list[str] = []
    sync = RemoteSync(
        local, remote.uri, filesystem=fs, backoff_s=0.001, max_retries=2, on_error=reports.append
    )
    errors = sync.flush()
    assert len(errors) == 1 and "progress.csv" in errors[0] and remote.uri in errors[0]
    assert "3 attempts" in errors[0]
    assert put_names(fs).count("progress.csv") == 3
    assert len(reports) == 1 and "progress.csv" in reports[0]
    # A log file's failure does not hold back the state file.
    assert remote.names() == EXPERIMENT - {"t_0/progress.csv"}

    assert sync.flush() == errors  # tried again, still failing, not reported twice
    assert len(reports) == 1
    assert sync.failed == 2

    fs.fail_left = 0
    assert sync.flush() == []
    assert remote.names() == EXPERIMENT
    assert sync.pending_errors == []


def test_one_exhausted_file_stops_retries_for_the_rest_of_the_pass(
    local: str, memory_remote: Remote
) -> None:
    make_experiment(local)
    fs = FlakyFS(memory_remote.fs, fail_times=-1)  # the remote is down
    sync = RemoteSync(
        local,
        memory_remote.uri,
        filesystem=fs,
        backoff_s=0.001,
        max_retries=3,
        on_error=lambda m: None,
    )
    errors = sync.flush()
    # Every file except the held-back state file failed; the state file is reported too.
    assert len(errors) == len(EXPERIMENT)
    assert len(fs.calls) == 4 + (len(EXPERIMENT) - 2)  # 1 + 3 retries, then 1 try each


def test_default_on_error_warns_on_stderr_once_per_file(
    local: str, memory_remote: Remote, capsys: pytest.CaptureFixture[str]
) -> None:
    write(local, "t/params.json", "{}")
    fs = FlakyFS(memory_remote.fs, fail_times=-1)
    sync = RemoteSync(local, memory_remote.uri, filesystem=fs, max_retries=0)
    sync.flush()
    sync.flush()
    err = capsys.readouterr().err
    assert err.count("warning") == 1 and "t/params.json" in err


def test_a_file_deleted_during_upload_is_not_an_error(local: str, memory_remote: Remote) -> None:
    write(local, "t/checkpoint_000001/a", b"a")
    write(local, "t/checkpoint_000001/b", b"b")

    def prune(lpath: str) -> None:  # the controller prunes the checkpoint mid-upload
        shutil.rmtree(os.path.join(local, "t", "checkpoint_000001"), ignore_errors=True)

    fs = FlakyFS(memory_remote.fs, before_put=prune)
    sync = RemoteSync(local, memory_remote.uri, filesystem=fs, on_error=pytest.fail)
    assert sync.flush() == []
    assert memory_remote.names() == set()  # nothing of the half-uploaded checkpoint is left


# -- the background thread ---------------------------------------------------------------------


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_background_thread_syncs_when_notified(local: str, remote: Remote) -> None:
    sync = RemoteSync(local, remote.uri, filesystem=remote.fs, interval_s=0.05).start()
    try:
        make_experiment(local)
        sync.notify()
        assert wait_for(lambda: remote.names() == EXPERIMENT)
        write(local, "t_0/result.json", '{"i": 2}\n', mode="a")
        sync.notify()
        assert wait_for(lambda: remote.read("t_0/result.json").count(b"\n") == 2)
    finally:
        assert sync.close(timeout=10) == []
    assert not sync._thread.is_alive()


def test_background_thread_sweeps_without_notify(
    local: str, memory_remote: Remote, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_remote, "_SWEEP_S", 0.05)
    sync = RemoteSync(local, memory_remote.uri, filesystem=memory_remote.fs, interval_s=0.01)
    sync.start()
    try:
        write(local, "t/stdout", "written by a worker")
        assert wait_for(lambda: memory_remote.names() == {"t/stdout"}, timeout=5)
    finally:
        sync.close()


def test_background_thread_retries_failures_on_its_own(local: str, memory_remote: Remote) -> None:
    write(local, "t/params.json", "{}")
    fs = FlakyFS(memory_remote.fs, fail_times=3)
    sync = RemoteSync(
        local,
        memory_remote.uri,
        filesystem=fs,
        interval_s=0.02,
        max_retries=0,
        on_error=lambda m: None,
    ).start()
    try:
        sync.notify()
        assert wait_for(lambda: memory_remote.names() == {"t/params.json"}, timeout=5)
        assert sync.failed == 3
    finally:
        sync.close()


def test_notify_does_not_block_on_a_slow_upload(local: str, memory_remote: Remote) -> None:
    make_experiment(local)
    fs = FlakyFS(memory_remote.fs, delay=0.3)  # each upload takes 0.3 s
    sync = RemoteSync(local, memory_remote.uri, filesystem=fs, interval_s=0.0).start()
    try:
        sync.notify()
        assert wait_for(lambda: len(fs.calls) >= 1, timeout=5)  # a pass is uploading now
        start = time.perf_counter()
        for _ in range(1000):
            sync.notify()
        elapsed = time.perf_counter() - start
        assert elapsed < 0.2, f"1000 notify() calls took {elapsed:.3f} s"
        assert len(fs.calls) < len(EXPERIMENT)  # the pass was still going on meanwhile
    finally:
        fs.delay = 0.0
        assert sync.close(timeout=10) == []
    assert memory_remote.names() == EXPERIMENT


def test_flush_timeout_is_reported(local: str, memory_remote: Remote) -> None:
    make_experiment(local)
    fs = FlakyFS(memory_remote.fs, delay=0.2)
    sync = RemoteSync(local, memory_remote.uri, filesystem=fs)
    errors = sync.flush(timeout=0.3)
    assert len(errors) == 1 and "timed out after 0.3 s" in errors[0]
    assert "not yet uploaded" in errors[0]
    fs.delay = 0.0
    assert sync.flush() == []


def test_close_flushes_stops_and_is_idempotent(local: str, memory_remote: Remote) -> None:
    sync = RemoteSync(local, memory_remote.uri, filesystem=memory_remote.fs, interval_s=30).start()
    make_experiment(local)  # never notified: close() must still upload it
    assert sync.close() == []
    assert memory_remote.names() == EXPERIMENT
    assert not sync._thread.is_alive()
    assert sync.close() == []
    with pytest.raises(RuntimeError, match="closed"):
        sync.start()


# -- download, the manifest, URIs --------------------------------------------------------------


def test_download_round_trip(local: str, remote: Remote, tmp_path) -> None:
    make_experiment(local)
    write(local, "t_0/checkpoint_000001/model.bin", os.urandom(3000))
    sync = RemoteSync(local, remote.uri, filesystem=remote.fs)
    assert sync.close() == []

    target = str(tmp_path / "restored")
    assert download(remote.uri, target, filesystem=remote.fs) == target
    for rel in EXPERIMENT | {"t_0/checkpoint_000001/model.bin"}:
        with open(os.path.join(local, rel), "rb") as a, open(os.path.join(target, rel), "rb") as b:
            assert a.read() == b.read(), rel

    # The manifest says all of it is remote already: a new sync uploads only changes.
    again = RemoteSync(target, remote.uri, filesystem=remote.fs)
    assert again.flush() == [] and again.uploaded_files == 0
    write(target, "t_0/result.json", '{"i": 2}\n', mode="a")
    shutil.rmtree(os.path.join(target, "t_0", "checkpoint_000001"))
    assert again.flush() == [] and again.uploaded_files == 1
    assert "t_0/checkpoint_000001/model.bin" not in remote.names()


def test_manifest_is_kept_across_processes(local: str, memory_remote: Remote) -> None:
    make_experiment(local)
    assert RemoteSync(local, memory_remote.uri, filesystem=memory_remote.fs).close() == []
    later = RemoteSync(local, memory_remote.uri, filesystem=memory_remote.fs)
    assert later.flush() == [] and later.uploaded_files == 0
    # A manifest for another URI is ignored.
    other = RemoteSync(local, memory_remote.uri + "-other", filesystem=memory_remote.fs)
    assert other.flush() == [] and other.uploaded_files == len(EXPERIMENT)
    memory_remote.fs.rm(memory_remote.root + "-other", recursive=True)


def test_download_of_nothing_names_the_uri(tmp_path, remote: Remote) -> None:
    with pytest.raises(ValueError, match=f"storage_path '{remote.uri}' holds no experiment"):
        download(remote.uri, str(tmp_path / "x"), filesystem=remote.fs)


def test_s3_endpoint_from_the_environment(
    local: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import s3fs

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    s3fs.S3FileSystem.clear_instance_cache()
    uri = f"s3://{BUCKET}/{uuid.uuid4().hex}/exp"
    make_experiment(local)
    assert RemoteSync(local, uri).close() == []  # no filesystem= given
    s3fs.S3FileSystem.clear_instance_cache()
    restored = download(uri, os.path.join(os.path.dirname(local), "restored"))
    assert sorted(os.listdir(os.path.join(restored, "t_0"))) == [
        "params.json",
        "progress.csv",
        "result.json",
    ]
    s3fs.S3FileSystem.clear_instance_cache()


def test_file_uri_target(local: str, tmp_path) -> None:
    make_experiment(local)
    target = tmp_path / "mirror"
    sync = RemoteSync(local, f"file://{target}")
    assert sync.flush() == []
    assert (target / "t_0" / "result.json").read_text() == '{"i": 1}\n'
    assert not [p for p in target.rglob("*") if ".tmp" in p.name]
    with pytest.raises(ValueError, match="is local_dir itself"):
        RemoteSync(local, f"file://{local}")


def test_is_remote() -> None:
    assert is_remote("s3://bucket/prefix")
    assert is_remote("memory://x") and is_remote("gs://b/p")
    assert not is_remote("file:///tmp/x")
    assert not is_remote("/tmp/x") and not is_remote("~/overtone_results")


def test_staging_dir_is_stable_and_respects_the_environment(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVERTONE_STAGING_DIR", str(tmp_path))
    a = staging_dir("s3://bucket/results/exp")
    assert a == staging_dir("s3://bucket/results/exp/")
    assert a.startswith(str(tmp_path) + os.sep) and os.path.basename(a) == "exp"
    assert len(os.path.basename(os.path.dirname(a))) == 12
    assert staging_dir("gs://bucket/results/exp") != a
    assert os.path.basename(staging_dir("s3://bucket")) == "bucket"
    monkeypatch.delenv("OVERTONE_STAGING_DIR")
    monkeypatch.setenv("OVERTONE_STORAGE_PATH", str(tmp_path / "store"))
    assert staging_dir("s3://b/e").startswith(str(tmp_path / "store" / ".staging"))


def test_missing_extra_and_bad_arguments_are_named(local: str) -> None:
    with pytest.raises(ImportError, match=r"'gs://b/exp' needs fsspec and gcsfs.*overtone\[gcs\]"):
        RemoteSync(local, "gs://b/exp")
    with pytest.raises(ValueError, match="protocol that fsspec does not know"):
        RemoteSync(local, "nosuchproto://b/exp")
    with pytest.raises(ValueError, match="names no folder"):
        RemoteSync(local, "memory://")
    with pytest.raises(ValueError, match="max_retries is -1, but must be >= 0"):
        RemoteSync(local, "memory://x", max_retries=-1)
    with pytest.raises(ValueError, match="interval_s is -2, but must be >= 0"):
        RemoteSync(local, "memory://x", interval_s=-2)


def test_concurrent_writes_during_background_sync_converge(
    local: str, memory_remote: Remote
) -> None:
    sync = RemoteSync(
        local, memory_remote.uri, filesystem=memory_remote.fs, interval_s=0.0
    ).start()
    stop = threading.Event()

    def writer() -> None:
        n = 0
        while not stop.is_set() and n < 300:
            n += 1
            write(local, "t/result.json", f'{{"i": {n}}}\n', mode="a")
            sync.notify()

    thread = threading.Thread(target=writer)
    thread.start()
    thread.join(10)
    stop.set()
    assert sync.close() == []
    with open(os.path.join(local, "t", "result.json"), "rb") as f:
        assert memory_remote.files()["t/result.json"] == f.read()


def test_notify_with_a_path_looks_only_there(
    local: str, memory_remote: Remote, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_remote, "_SWEEP_S", 100.0)  # no full pass unless asked
    for t in ("a", "b"):
        write(local, f"{t}/checkpoint_000001/m", b"1")
        write(local, f"{t}/checkpoint_000002/m", b"2")
    write(local, "experiment_state.json", "{}")
    sync = RemoteSync(local, memory_remote.uri, filesystem=memory_remote.fs, interval_s=0.01)
    assert sync.flush() == []
    sync.start()
    try:
        write(local, "a/result.json", "{}\n")
        write(local, "b/result.json", "{}\n")
        for t in ("a", "b"):
            shutil.rmtree(os.path.join(local, t, "checkpoint_000001"))
        write(local, "experiment_state.json", '{"v": 2}')
        sync.notify(os.path.join(local, "a"))  # absolute
        assert wait_for(lambda: "a/result.json" in memory_remote.names(), timeout=5)
        assert wait_for(lambda: memory_remote.read("experiment_state.json") == b'{"v": 2}')
        assert wait_for(lambda: "a/checkpoint_000001/m" not in memory_remote.names())
        time.sleep(0.2)
        names = memory_remote.names()
        assert "b/result.json" not in names and "b/checkpoint_000001/m" in names

        sync.notify("b/result.json")  # relative, a file
        assert wait_for(lambda: "b/result.json" in memory_remote.names(), timeout=5)
        sync.notify("/elsewhere/not/ours")  # ignored
        assert "b/checkpoint_000001/m" in memory_remote.names()  # b was not walked
        sync.notify()  # a full pass
        assert wait_for(lambda: "b/checkpoint_000001/m" not in memory_remote.names(), timeout=5)
    finally:
        assert sync.close() == []
    assert {n for n in memory_remote.names() if "checkpoint" in n} == {
        "a/checkpoint_000002/m",
        "b/checkpoint_000002/m",
    }


def test_hinted_pass_sees_a_new_checkpoint_folder(local: str, memory_remote: Remote) -> None:
    sync = RemoteSync(local, memory_remote.uri, filesystem=memory_remote.fs)
    write(local, "t/checkpoint_000003/m", b"3")
    write(local, "t/checkpoint_000004.tmp/m", b"half")
    assert sync._pass(deadline=None, background=False, only={"t/checkpoint_000003"}) == 0
    assert sync._pass(deadline=None, background=False, only={"t/checkpoint_000004.tmp"}) == 0
    assert memory_remote.names() == {"t/checkpoint_000003/m"}
    shutil.rmtree(os.path.join(local, "t", "checkpoint_000003"))
    assert sync._pass(deadline=None, background=False, only={"t/checkpoint_000003"}) == 0
    assert memory_remote.names() == set()
