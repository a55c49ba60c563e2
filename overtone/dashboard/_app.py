"""The dashboard's Starlette app: every route, the JSON endpoints and the safety checks.

The page (``static/index.html`` and ``static/app.js``) and the tests use the same JSON
endpoints under ``/api``. Everything is read-only (GET and HEAD only), every path is built by
:class:`~overtone.cli._store.Store` (which refuses ``..``, hidden names and symlinks out of the
root), and requests whose raw path holds ``..`` segments or encoded slashes are refused before
routing. With a token, every request must carry it (``?token=``, an ``Authorization: Bearer``
header, or the cookie the first request with ``?token=`` sets).
"""

from __future__ import annotations

import hmac
import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from overtone.cli._store import PathRefused, Store
from overtone.cli._views import ExperimentView, finite, summarize
from overtone.dashboard import _insights
from overtone.storage._layout import ERROR_FILE, PBT_GLOBAL_FILE, is_checkpoint_name

STATIC = Path(__file__).parent / "static"
STATIC_FILES = {"index.html", "app.js", "app.css"}
COOKIE = "overtone_dashboard_token"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
_CHUNK = 1 << 16


def plotly_js() -> Path:
    """``plotly.min.js`` as the installed ``plotly`` package ships it (no CDN)."""
    try:
        import plotly
    except ImportError as exc:
        raise ImportError(
            f"the dashboard's plots need plotly: pip install 'overtone[dashboard]' ({exc})"
        ) from exc
    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise ImportError(f"plotly is installed without its plotly.min.js (looked in {path})")
    return path


def _clean(value: Any) -> Any:
    """``value`` with NaN and infinities as None, in any nesting (JSON cannot spell them)."""
    if isinstance(value, float):
        return finite(value)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


class Json(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        try:
            text = json.dumps(content, allow_nan=False, separators=(",", ":"), default=str)
        except ValueError:
            text = json.dumps(_clean(content), separators=(",", ":"), default=str)
        return text.encode("utf-8")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class Dashboard:
    """The app's state: the store, each experiment's cached view, and the settings."""

    #: Seconds a request may spend reading journals; the rest are read by the next polls.
    READ_BUDGET_S = 0.3

    def __init__(self, store: Store, refresh_s: float = 1.0) -> None:
        self.store = store
        self.refresh_s = refresh_s
        self.views: dict[str, ExperimentView] = {}
        self.tables: dict[str, tuple[Any, bytes]] = {}  # the last full table of each

    def view(self, name: str) -> ExperimentView:
        view = self.views.get(name)
        if view is None:
            view = ExperimentView(self.store, name)
            view.refresh(budget=self.READ_BUDGET_S)
            self.views[name] = view
            return view
        return view.refresh(min_interval=self.refresh_s / 2, budget=self.READ_BUDGET_S)


def _metric_mode(request: Request, view: ExperimentView) -> tuple[str | None, str | None]:
    metric = request.query_params.get("metric") or view.metric
    mode = request.query_params.get("mode") or view.mode or "min"
    if mode not in ("min", "max"):
        raise ValueError(f"mode is {mode!r}, but must be 'min' or 'max'")
    return metric, mode


def _handler(fn: Callable[[Dashboard, Request], Any]) -> Callable[[Request], Any]:
    """Turn the readers' errors into HTTP answers: refused paths 403, unknown names 404."""

    async def endpoint(request: Request) -> Response:
        dashboard: Dashboard = request.app.state.dashboard
        try:
            import anyio.to_thread

            result = await anyio.to_thread.run_sync(fn, dashboard, request)
        except PathRefused as exc:
            return _error(403, str(exc))
        except KeyError as exc:
            return _error(404, str(exc.args[0] if exc.args else exc))
        except FileNotFoundError as exc:
            return _error(404, f"not found: {exc}")
        except ImportError as exc:
            return _error(501, str(exc))
        except ValueError as exc:  # includes a missing or corrupted experiment state
            missing = "not an experiment directory" in str(exc)
            return _error(404 if missing else 400, str(exc))
        if isinstance(result, Response):
            return result
        return Json(result)

    return endpoint


# -- JSON endpoints ------------------------------------------------------------------------
def list_experiments(dash: Dashboard, request: Request) -> Any:
    out = []
    for name in dash.store.experiment_names():
        try:
            out.append(summarize(dash.store, name))
        except (ValueError, FileNotFoundError) as exc:
            out.append({"name": name, "error": str(exc)})
    return {"root": dash.store.display(), "experiments": out}


def experiment(dash: Dashboard, request: Request) -> Any:
    view = dash.view(request.path_params["name"])
    return {
        "name": view.name,
        "path": dash.store.display(view.name),
        "metric": view.metric,
        "mode": view.mode,
        "started": view.state.get("start_time"),
        "last_update": view.last_update,
        "running": view.running(),
        "status": view.counts(),
        "trials": len(view.trials),
        "config_keys": view.config_keys(),
        "metrics": view.result_keys(),
        "pbt": dash.store.stat(view.name, PBT_GLOBAL_FILE) is not None,
        "refresh_s": dash.refresh_s,
    }


TABLE_COLUMNS = [
    "trial_id",
    "trial_name",
    "status",
    "iterations",
    "runtime_s",
    "last",
    "best",
    "num_failures",
    "error",
    "checkpoints",
]


def trials(dash: Dashboard, request: Request) -> Any:
    """The trial table as columns and rows; ``since=REV`` gives only the rows changed since."""
    view = dash.view(request.path_params["name"])
    metric, mode = _metric_mode(request, view)
    try:
        since = int(request.query_params.get("since") or 0)
    except ValueError:
        raise ValueError(
            f"since is {request.query_params['since']!r}, but must be an integer"
        ) from None
    key = (view.rev, view.complete, metric, mode, view.running())
    cached = dash.tables.get(view.name)
    if since == 0 and cached is not None and cached[0] == key:
        return Response(cached[1], media_type="application/json")
    config_keys = view.config_keys()
    columns = TABLE_COLUMNS + [f"config/{k}" for k in config_keys]
    rows = []
    for trial in view.trials.values():
        if trial.rev <= since:
            continue
        row = view.row(trial, metric, mode)
        config = row["config"]
        rows.append(
            [row.get(c) for c in TABLE_COLUMNS] + [_clean(config.get(k)) for k in config_keys]
        )
    table = Json(
        {
            "rev": view.rev,
            "since": since,
            "complete": view.complete,
            "metric": metric,
            "mode": mode,
            "running": key[-1],
            "status": view.counts(),
            "total": len(view.trials),
            "columns": columns,
            "rows": rows,
        }
    )
    if since == 0:
        dash.tables[view.name] = (key, table.body)
    return table


def curves(dash: Dashboard, request: Request) -> Any:
    """One series per requested trial: ``x`` (default ``training_iteration``) and ``metric``."""
    view = dash.view(request.path_params["name"])
    metric, _ = _metric_mode(request, view)
    if not metric:
        raise ValueError("metric is missing, but must be given: the experiment has none")
    x_key = request.query_params.get("x") or "training_iteration"
    wanted = [t for t in (request.query_params.get("trials") or "").split(",") if t]
    series = []
    for tid in wanted[:200]:
        xs, ys = [], []
        for i, row in enumerate(view.results(tid)):
            y = row.get(metric)
            if y is None:
                continue
            xs.append(row.get(x_key, i + 1))
            ys.append(y)
        series.append({"trial_id": tid, "x": _clean(xs), "y": _clean(ys)})
    return {"metric": metric, "x": x_key, "series": series}


def scheduler(dash: Dashboard, request: Request) -> Any:
    view = dash.view(request.path_params["name"])
    metric, mode = _metric_mode(request, view)
    return _insights.scheduler_view(view, metric, mode)


def importance(dash: Dashboard, request: Request) -> Any:
    view = dash.view(request.path_params["name"])
    metric, mode = _metric_mode(request, view)
    if not metric:
        raise ValueError("metric is missing, but must be given: the experiment has none")
    return _insights.importance(view, metric, mode)


def trial(dash: Dashboard, request: Request) -> Any:
    view = dash.view(request.path_params["name"])
    record = view.find(request.path_params["trial_id"])
    store = dash.store
    error = None
    if record.entry.get("error_file"):
        error = store.read_text(
            view.name,
            record.dirname,
            os.path.basename(str(record.entry["error_file"])) or ERROR_FILE,
        )
    results = view.results(record.trial_id)
    keys: dict[str, None] = {}
    for row in results:
        keys.update(dict.fromkeys(row))
    files, checkpoints = [], []
    for name, is_dir, size, _mtime in store.listdir(view.name, record.dirname):
        if is_dir and is_checkpoint_name(name):
            inner = store.sizes(view.name, record.dirname, name)
            checkpoints.append(
                {"name": name, "files": len(inner), "bytes": sum(s for s, _ in inner.values())}
            )
        elif not is_dir:
            files.append({"name": name, "bytes": size, "tensorboard": "tfevents" in name})
    kept = {
        os.path.basename(str(c.get("dirname"))): c.get("metrics")
        for c in record.entry.get("checkpoints") or []
    }
    for checkpoint in checkpoints:
        checkpoint["metrics"] = _clean(kept.get(checkpoint["name"]) or {})
    return {
        "trial_id": record.trial_id,
        "trial_name": record.entry.get("trial_name") or record.trial_id,
        "status": record.status,
        "path": store.display(view.name, record.dirname),
        "dirname": record.dirname,
        "config": _clean(record.entry.get("config") or {}),
        "num_failures": record.entry.get("num_failures") or 0,
        "columns": list(keys),
        "results": [[_clean(row.get(k)) for k in keys] for row in results],
        "error": error,
        "checkpoints": checkpoints,
        "files": files,
    }


# -- files ---------------------------------------------------------------------------------
def trial_file(dash: Dashboard, request: Request) -> Any:
    """A file at the top of a trial's folder (results, params, TensorBoard events...)."""
    view = dash.view(request.path_params["name"])
    record = view.find(request.path_params["trial_id"])
    filename = request.path_params["filename"]
    parts = (view.name, record.dirname, filename)
    local = dash.store.open_local(*parts)
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if local is not None:
        if not os.path.isfile(local):
            raise FileNotFoundError(filename)
        return FileResponse(local, filename=filename)
    data = dash.store.read_bytes(*parts)
    if data is None:
        raise FileNotFoundError(filename)
    return Response(data, media_type="application/octet-stream", headers=headers)


def checkpoint_zip(dash: Dashboard, request: Request) -> Any:
    """A checkpoint folder as a zip file."""
    view = dash.view(request.path_params["name"])
    record = view.find(request.path_params["trial_id"])
    name = request.path_params["checkpoint"]
    if not is_checkpoint_name(name):
        raise PathRefused(f"checkpoint is {name!r}, but must be a checkpoint_NNNNNN folder")
    entries = list(dash.store.walk_files(view.name, record.dirname, name))
    if not entries:
        raise FileNotFoundError(name)
    spool = tempfile.SpooledTemporaryFile(max_size=32 << 20)
    with zipfile.ZipFile(spool, "w", zipfile.ZIP_DEFLATED) as archive:
        for rel, full in entries:
            archive.writestr(f"{name}/{rel}", dash.store.read_full(full))
    size = spool.tell()
    spool.seek(0)

    def chunks() -> Any:
        try:
            while chunk := spool.read(_CHUNK):
                yield chunk
        finally:
            spool.close()

    filename = f"{record.trial_id}_{name}.zip"
    return StreamingResponse(
        chunks(),
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Content-Length": str(size),
        },
    )


async def page(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def static(request: Request) -> Response:
    name = request.path_params["filename"]
    if name == "plotly.min.js":
        return FileResponse(plotly_js(), headers={"Cache-Control": "max-age=86400"})
    if name not in STATIC_FILES:
        return _error(404, f"no static file {name!r}")
    return FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})


# -- safety --------------------------------------------------------------------------------
class Guard:
    """Refuses what the dashboard must never answer, before any route sees the request:
    methods that could write, raw paths with ``..`` or encoded slashes, foreign ``Host``
    headers on a loopback server without a token (DNS rebinding), and requests without the
    token when there is one."""

    def __init__(self, app: ASGIApp, token: str | None, loopback: bool) -> None:
        self.app = app
        self.token = token
        self.loopback = loopback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refusal = self.refuse(request)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        set_cookie = bool(self.token) and request.query_params.get("token") == self.token

        async def send_with_cookie(message: Any) -> None:
            if set_cookie and message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                cookie = f"{COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/"
                headers.append((b"set-cookie", cookie.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def refuse(self, request: Request) -> Response | None:
        if request.method not in ("GET", "HEAD"):
            return _error(405, f"method is {request.method}, but this dashboard is read-only")
        raw = request.scope.get("raw_path") or request.scope["path"].encode()
        raw_text = raw.decode("latin-1").split("?", 1)[0]
        lowered = raw_text.lower()
        if "%2f" in lowered or "%5c" in lowered or "%00" in lowered or "\\" in raw_text:
            return _error(400, "path holds an encoded slash, but must not")
        segments = unquote(raw_text).split("/")
        if any(s in ("..", ".") for s in segments):
            return _error(400, "path holds a '..' segment, but must not")
        if self.token:
            given = (
                request.query_params.get("token")
                or request.cookies.get(COOKIE)
                or _bearer(request.headers.get("authorization", ""))
            )
            if not given or not hmac.compare_digest(given.encode(), self.token.encode()):
                return _error(401, "this dashboard needs its token: add ?token=... to the URL")
        elif self.loopback:
            host = request.headers.get("host", "")
            hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if hostname not in LOOPBACK_HOSTS:
                return _error(403, f"host is {host!r}, but must be a loopback name")
        return None


def _bearer(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def create_app(
    storage: str | Store,
    *,
    token: str | None = None,
    loopback: bool = True,
    refresh_s: float = 1.0,
) -> ASGIApp:
    """The dashboard's ASGI app over a storage root (a folder or an fsspec URI)."""
    store = storage if isinstance(storage, Store) else Store(storage)
    routes = [
        Route("/", page),
        Route("/static/{filename}", static),
        Route("/api/experiments", _handler(list_experiments)),
        Route("/api/experiments/{name}", _handler(experiment)),
        Route("/api/experiments/{name}/trials", _handler(trials)),
        Route("/api/experiments/{name}/curves", _handler(curves)),
        Route("/api/experiments/{name}/scheduler", _handler(scheduler)),
        Route("/api/experiments/{name}/importance", _handler(importance)),
        Route("/api/experiments/{name}/trials/{trial_id}", _handler(trial)),
        Route("/files/{name}/{trial_id}/{filename}", _handler(trial_file)),
        Route("/checkpoints/{name}/{trial_id}/{checkpoint}.zip", _handler(checkpoint_zip)),
    ]
    app = Starlette(routes=routes)
    app.state.dashboard = Dashboard(store, refresh_s=refresh_s)
    return Guard(app, token=token, loopback=loopback)
