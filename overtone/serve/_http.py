"""The HTTP routes (Starlette): KServe v1 predictions, model facts, health and metrics.

    POST /v1/models/<name>:predict   {"instances": [...]} -> {"predictions": [...]}
    GET  /v1/models/<name>           the trial, config, metrics and checkpoint served
    GET  /v1/models                  {"models": [<name>]}
    GET  /healthz                    200 while a replica is ready, else 503
    GET  /metrics                    Prometheus text

Every error is JSON, ``{"error": "..."}``, with a 4xx status for the client's mistakes and
a 5xx one for the server's. With a token, every request must carry
``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable
from typing import Any

from overtone.serve._metrics import Metrics
from overtone.serve._router import RequestError, Router

MAX_BODY_BYTES = 16 * 1024 * 1024


def _dumps(value: Any) -> bytes:
    return json.dumps(value, default=str, separators=(",", ":")).encode()


def build_app(
    router: Router,
    name: str,
    metrics: Metrics,
    token: str | None,
    describe: Callable[[], dict[str, Any]],
    health: Callable[[], tuple[bool, dict[str, Any]]],
    render_metrics: Callable[[], str],
) -> Any:
    """The ASGI app of one served model."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        return Response(_dumps({"error": message}), status, headers, media_type="application/json")

    async def predict(request: Request) -> Response:
        started = time.perf_counter()
        status = 200
        try:
            if request.path_params["name"] != name:
                raise RequestError(
                    404,
                    f"model {request.path_params['name']!r} is not served "
                    f"here; this server serves {name!r}",
                )
            instances = _instances(await _body(request), router.max_batch_size)
            if not instances:
                body = b'{"predictions":[]}'
            else:
                body = b'{"predictions":' + await router.predict(instances) + b"}"
            return Response(body, media_type="application/json")
        except RequestError as exc:
            status = exc.status
            headers = {"Retry-After": "1"} if status == 503 else None
            return error(status, exc.message, headers)
        finally:
            metrics.observe_request(status, time.perf_counter() - started)

    async def model(request: Request) -> Response:
        if request.path_params["name"] == f"{name}:predict":
            return error(
                405,
                f"GET {request.url.path}: predictions are asked for with POST",
                {"Allow": "POST"},
            )
        if request.path_params["name"] != name:
            return error(
                404,
                f"model {request.path_params['name']!r} is not served here; "
                f"this server serves {name!r}",
            )
        return Response(_dumps(describe()), media_type="application/json")

    async def models(request: Request) -> Response:
        return Response(_dumps({"models": [name]}), media_type="application/json")

    async def healthz(request: Request) -> Response:
        ok, facts = health()
        return Response(_dumps(facts), 200 if ok else 503, media_type="application/json")

    async def prometheus(request: Request) -> Response:
        return Response(render_metrics(), media_type="text/plain; version=0.0.4")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return error(exc.status_code, f"{request.method} {request.url.path}: {exc.detail}")

    async def server_error(request: Request, exc: Exception) -> Response:
        return error(500, f"the server failed: {type(exc).__name__}: {exc}")

    app = Starlette(
        routes=[
            Route("/v1/models/{name}:predict", predict, methods=["POST"]),
            Route("/v1/models/{name}", model, methods=["GET"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", prometheus, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )
    if token is None:
        return app
    return _TokenCheck(app, token)


class _TokenCheck:
    """Answers 401 to any request without ``Authorization: Bearer <token>``."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                why = "is missing" if not given else "is wrong"
                body = _dumps(
                    {"error": f"the token {why}: send the header 'Authorization: Bearer <token>'"}
                )
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"www-authenticate", b"Bearer"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


async def _body(request: Any) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise RequestError(413, f"the body has {length} bytes, but may have {MAX_BODY_BYTES}")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise RequestError(413, f"the body has over {MAX_BODY_BYTES} bytes, the limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _instances(body: bytes, max_batch_size: int) -> list[Any]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(400, f"the body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise RequestError(
            400,
            f"the body is a JSON {type(payload).__name__}, but must be an object "
            '{"instances": [...]}',
        )
    if "instances" not in payload:
        raise RequestError(
            400,
            f'the body has no "instances" key (it has {sorted(payload)}), but must be '
            '{"instances": [...]}',
        )
    instances = payload["instances"]
    if not isinstance(instances, list):
        raise RequestError(
            400, f'"instances" is a JSON {type(instances).__name__}, but must be a list'
        )
    if len(instances) > max_batch_size:
        raise RequestError(
            413,
            f'"instances" has {len(instances)} items, but a request may hold at most '
            f"{max_batch_size} (max_batch_size)",
        )
    return instances
