"""``serve.run``: start the replicas and the HTTP front, and return a handle to them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import tempfile
import threading
import time
from typing import Any

from overtone._checks import is_loopback
from overtone._trial import Resources
from overtone.serve import _select
from overtone.serve._handle import ServeError, ServeHandle
from overtone.serve._metrics import Metrics
from overtone.serve._predictors import load_predictor
from overtone.serve._router import Router
from overtone.serve._supervisor import Supervisor

logger = logging.getLogger("overtone.serve")


def _import_http() -> tuple[Any, Any]:
    try:
        import starlette
        import uvicorn
    except ImportError as exc:
        raise ImportError(
            f"overtone.serve needs Starlette and uvicorn ({exc.name} is missing): "
            "pip install 'overtone[serve]'"
        ) from exc
    return starlette, uvicorn


def _replica_host(executor: Any) -> str:
    """The address of this machine that the executor's workers reach the front at."""
    from overtone.executors import LocalExecutor

    if isinstance(executor, LocalExecutor):
        return "127.0.0.1"
    host = getattr(executor, "driver_host", None)
    if host:
        return str(host)
    client = getattr(executor, "client", None)
    address = str(getattr(getattr(client, "scheduler", None), "address", "") or "")
    hostport = address.partition("://")[2]
    host, _, port = hostport.rpartition(":")
    host = host.strip("[]")
    if not host or is_loopback(host):
        return "127.0.0.1"
    try:
        info = socket.getaddrinfo(host, int(port or 8786), type=socket.SOCK_DGRAM)[0]
        with socket.socket(info[0], socket.SOCK_DGRAM) as s:
            s.connect(info[4])
            return str(s.getsockname()[0])
    except (OSError, ValueError):
        return "127.0.0.1"


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::"):
        return "127.0.0.1" if host == "0.0.0.0" else "[::1]"
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def run(
    predictor: Any,
    checkpoint: Any = None,
    *,
    config: dict[str, Any] | None = None,
    result: Any = None,
    metric: str | None = None,
    mode: str | None = None,
    replicas: int = 1,
    resources: dict[str, float] | Resources | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    executor: Any = None,
    name: str = "model",
    max_batch_size: int = 32,
    batch_wait_timeout_s: float = 0.01,
    token: str | None = None,
    follow: bool = False,
    follow_interval_s: float = 2.0,
    request_timeout_s: float = 60.0,
    startup_timeout_s: float = 120.0,
    max_queued: int = 100_000,
    work_dir: str | None = None,
) -> ServeHandle:
    """Serve predictions from a checkpoint over HTTP, with replicas on an executor.

    Example::

        from overtone import serve, tune

        class Model:
            def __init__(self, checkpoint, config):
                with open(os.path.join(checkpoint.path, "model.pkl"), "rb") as f:
                    self.model = pickle.load(f)

            def predict(self, instances):
                return self.model.predict(instances).tolist()

        grid = tune.Tuner(train, param_space=space,
                          tune_config=tune.TuneConfig(metric="acc", mode="max")).fit()
        handle = serve.run(Model, result=grid, replicas=2, port=8000)
        # curl -d '{"instances": [[5.1, 3.5, 1.4, 0.2]]}' localhost:8000/v1/models/model:predict
        handle.stop()

    Args:
        predictor: a class (or ``"module:Class"``) whose ``__init__(checkpoint, config)``
            loads the model and whose ``predict(instances) -> list`` (or ``async def``)
            answers a batch.
        checkpoint: a ``tune.Checkpoint`` or a checkpoint folder to serve, with ``config``.
        result: instead of ``checkpoint``: a ``ResultGrid``, ``ExperimentAnalysis``,
            ``Result`` or an experiment folder; its best trial's best checkpoint is served.
        metric, mode: what "best" means (default: the experiment's own metric and mode).
        replicas: how many replicas serve at once.
        resources: each replica's resources, like a trial's (default ``{"cpu": 1}``).
        host, port: where to listen (port 0: any free port). A host other than loopback
            requires a token: ``token`` or one generated (see ``handle.token``).
        executor: where replicas run: None (worker processes here), ``"dask://host:port"``,
            an ``Executor`` or a Dask cluster or client; it is shut down by ``stop()``.
        max_batch_size: most instances in one batch, and in one request.
        batch_wait_timeout_s: longest a request waits for others to join its batch.
        follow: re-read the experiment every ``follow_interval_s`` and swap the replicas to
            a better checkpoint when one appears (``result`` must be an experiment).
        request_timeout_s: a request not answered by then gets a 503.
        startup_timeout_s: how long to wait for the replicas (and, with ``follow``, for the
            experiment's first checkpoint).
        max_queued: instances that may wait at once; beyond, requests get a 503.
        work_dir: folder for the replicas' trial folders (default: a temporary one; give a
            folder the workers can reach on a cluster without shared temp space).
    """
    predictor = load_predictor(predictor)
    _check_int("replicas", replicas, 1)
    _check_int("max_batch_size", max_batch_size, 1)
    _check_int("max_queued", max_queued, 1)
    _check_int("port", port, 0, 65535)
    for label, value, low in (
        ("batch_wait_timeout_s", batch_wait_timeout_s, 0.0),
        ("follow_interval_s", follow_interval_s, 0.01),
        ("request_timeout_s", request_timeout_s, 0.001),
        ("startup_timeout_s", startup_timeout_s, 0.001),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low:
            raise ValueError(f"{label} is {value!r}, but must be a number >= {low:g}")
    if mode not in (None, "min", "max"):
        raise ValueError(f"mode is {mode!r}, but must be 'min' or 'max'")
    if not name or "/" in name or ":" in name:
        raise ValueError(f"name is {name!r}, but must be a non-empty name without '/' or ':'")
    if token is not None and not token:
        raise ValueError("token is '', but must be a non-empty string or None")
    if not is_loopback(host) and token is None:
        token = secrets.token_urlsafe(24)
    res = Resources.coerce({"cpu": 1} if resources is None else resources)

    selection, follower = _select.resolve(
        checkpoint, config, result, metric, mode, follow, startup_timeout_s
    )
    _import_http()
    import uvicorn

    from overtone.executors import make_executor
    from overtone.serve._http import build_app

    http_sock = _bind(host, port)
    handle = ServeHandle()
    handle.name, handle.token, handle.host = name, token, host
    handle.port = http_sock.getsockname()[1]
    handle.url = f"http://{_url_host(host)}:{handle.port}"
    handle._follow = follower is not None
    the_executor = None
    try:
        the_executor = make_executor(executor)
        total = the_executor.total_resources()
        if (
            res.cpu > total.cpu + 1e-9
            or res.gpu > total.gpu + 1e-9
            or any(v > total.custom.get(k, 0.0) + 1e-9 for k, v in res.custom.items())
        ):
            raise ValueError(
                f"resources is {res.to_dict()} per replica, but the executor has only "
                f"{total.to_dict()} in all"
            )
        short = [
            f"{k} {replicas * v:g} > {have:g}"
            for k, v, have in (
                ("cpu", res.cpu, total.cpu),
                ("gpu", res.gpu, total.gpu),
                *((k, v, total.custom.get(k, 0.0)) for k, v in res.custom.items()),
            )
            if replicas * v > have + 1e-9
        ]
        if short:
            raise ValueError(
                f"replicas is {replicas} with resources {res.to_dict()} each, but the "
                f"executor has only {total.to_dict()} in all ({', '.join(short)}): ask for "
                "fewer replicas or less per replica, e.g. resources={'cpu': 0.5}"
            )
        if work_dir is None:
            handle._work_dir = tempfile.mkdtemp(prefix="overtone-serve-")
            handle._remove_work_dir = True
        else:
            handle._work_dir = os.path.abspath(os.path.expanduser(work_dir))
            os.makedirs(handle._work_dir, exist_ok=True)
        metrics = Metrics(max_batch_size)
        key = secrets.token_bytes(32)
        loop = asyncio.new_event_loop()
        handle._loop = loop
        supervisor_box: list[Supervisor] = []

        def notify(message: tuple[Any, ...]) -> None:
            if supervisor_box:
                supervisor_box[0].post(message)

        router = Router(
            key,
            max_batch_size,
            float(batch_wait_timeout_s),
            float(request_timeout_s),
            max_queued,
            metrics,
            notify,
        )
        handle._router = router

        def describe() -> dict[str, Any]:
            return {
                **handle.serving,
                "replicas": router.describe(),
                "follow": handle._follow,
                "max_batch_size": max_batch_size,
            }

        def health() -> tuple[bool, dict[str, Any]]:
            ready = sum(1 for r in router.describe() if r["state"] == "ready")
            facts: dict[str, Any] = {
                "status": "ok" if ready else "unavailable",
                "replicas_ready": ready,
                "replicas_wanted": replicas,
            }
            if not ready and router.unavailable:
                facts["reason"] = router.unavailable
            return bool(ready), facts

        def render() -> str:
            ready = sum(1 for r in router.describe() if r["state"] == "ready")
            generation = supervisor_box[0].generation if supervisor_box else 1
            return metrics.render(ready, router.queued_instances, generation)

        app = build_app(router, name, metrics, token, describe, health, render)
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                lifespan="off",
                log_level="warning",
                access_log=False,
                loop="asyncio",
                http="h11",
                timeout_graceful_shutdown=5,
                server_header=False,
            )
        )
        handle._server = server
        started = threading.Event()
        box: dict[str, Any] = {}
        replica_host = _replica_host(the_executor)

        async def main() -> None:
            handle._closing = asyncio.Event()
            router.start()
            listener = await asyncio.start_server(router.handle_connection, replica_host, 0)
            box["address"] = listener.sockets[0].getsockname()[:2]
            started.set()
            try:
                await server.serve(sockets=[http_sock])
            finally:
                handle._http_done.set()
            await handle._closing.wait()  # the replicas are stopped
            await router.close("the server is stopping")
            listener.close()

        def loop_main() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(main())
            except BaseException as exc:  # noqa: BLE001 - reported to run() or logged
                box["error"] = exc
                started.set()
                handle._http_done.set()
                logger.exception("overtone serve: the HTTP front failed")
            finally:
                tasks = asyncio.all_tasks(loop)
                for task in tasks:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))

        handle._loop_thread = threading.Thread(
            target=loop_main, name="overtone-serve-http", daemon=True
        )
        handle._loop_thread.start()
        started.wait()
        if "error" in box:
            raise ServeError(f"the HTTP front could not start: {box['error']!r}")
        supervisor = Supervisor(
            the_executor,
            predictor,
            selection,
            replicas,
            res,
            tuple(box["address"]),
            key,
            handle._work_dir,
            router,
            loop,
            metrics,
            follower,
            float(follow_interval_s),
        )
        supervisor_box.append(supervisor)
        handle._supervisor = supervisor
        supervisor.start()
        _await_replicas(supervisor, replicas, startup_timeout_s)
    except BaseException:
        handle.stop()
        if handle._supervisor is None and the_executor is not None:
            with contextlib.suppress(Exception):
                the_executor.shutdown()  # (the supervisor shuts it down once it runs)
        with contextlib.suppress(OSError):
            http_sock.close()
        raise
    return handle


def _await_replicas(supervisor: Supervisor, want: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        supervisor.changed.clear()
        if supervisor.fatal is not None:
            raise ServeError(supervisor.fatal)
        if supervisor.ready_count() >= want:
            return
        left = deadline - time.monotonic()
        if left <= 0:
            raise ServeError(
                f"{supervisor.ready_count()} of {want} replicas were ready after "
                f"startup_timeout_s={timeout:g} s: the executor may lack room for them"
            )
        supervisor.changed.wait(min(left, 0.5))


def _check_int(label: str, value: Any, low: int, high: int | None = None) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        rule = f">= {low}" if high is None else f"in {low}..{high}"
        raise ValueError(f"{label} is {value!r}, but must be an integer {rule}")
