"""HTTP API, live dashboard and operator endpoints, served by the worker's own faust web server.

faust's ``@app.page`` views run on its aiohttp server inside the worker, so the API shares the
worker's event loop and its story view; no second process or framework is needed. Server-sent
events (not websockets) carry live updates: they are one-way, plain HTTP, reconnect by
themselves in the browser (``EventSource``), and pass through proxies untouched.

Routes (documented in ``schemas/openapi.json``, built by :mod:`agents.openapi`)::

    GET /                         live dashboard (static page, no build step)
    GET /stories                  listing with paging and filters
    GET /stories/{id}             current version (301 to the absorbing story after a merge)
    GET /stories/{id}/history     every version with what changed
    GET /events                   server-sent events: one ``update`` event per new version
    GET /healthz  /readyz  /metrics  /openapi.json
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faust
from aiohttp import web as aioweb
from faust.web import Request, Response, View
from pydantic import ValidationError

from agents.metrics import Metrics
from agents.openapi import openapi_document
from agents.viewer import FeedStatus
from stream.views import StoriesQuery, StoryView, VersionChange

log = logging.getLogger("storystream.web")

STATIC = Path(__file__).resolve().parent / "static"
SUBSCRIBER_BACKLOG = 1_000
HEARTBEAT_SECONDS = 15.0


class LiveHub:
    """Fans new story versions out to the dashboard's server-sent-event streams."""

    def __init__(self, view: StoryView) -> None:
        self.view = view
        self._subscribers: set[asyncio.Queue[str]] = set()

    def subscribe(self) -> asyncio.Queue[str]:
        """A queue that receives every event from now on."""
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=SUBSCRIBER_BACKLOG)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str]) -> None:
        """Stop sending to ``queue``."""
        self._subscribers.discard(queue)

    def publish(self, story_id: str, change: VersionChange) -> None:
        """Send one new version to every subscriber.

        A subscriber too far behind is dropped; its browser reconnects and reloads the listing.
        """
        card = self.view.card(story_id)
        if card is None or not self._subscribers:
            return
        payload = json.dumps(
            {"story": card.model_dump(mode="json"), "change": change.model_dump(mode="json")}
        )
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(payload)
            except asyncio.QueueFull:
                self._subscribers.discard(queue)


def _query(request: Request) -> StoriesQuery:
    params: dict[str, Any] = {}
    for name, value in request.query.items():
        if name in params:
            raise ValueError(f"{name} given twice")
        params[name] = value
    return StoriesQuery.model_validate(params)


def _bad_request(error: Exception) -> Response:
    if isinstance(error, ValidationError):
        problems = [
            {"parameter": ".".join(str(p) for p in e["loc"]) or "query", "problem": e["msg"]}
            for e in error.errors()
        ]
    else:
        problems = [{"parameter": "query", "problem": str(error)}]
    body = json.dumps({"error": "bad query parameters", "problems": problems})
    return aioweb.Response(text=body, status=400, content_type="application/json")  # type: ignore[return-value]


def _json(payload: Any, status: int = 200) -> Response:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return aioweb.Response(text=text, status=status, content_type="application/json")  # type: ignore[return-value]


def register_web(
    app: faust.App,
    view: StoryView,
    hub: LiveHub,
    metrics: Metrics,
    feed_status: Callable[[], FeedStatus],
    agents_running: Callable[[], bool],
    ready_max_lag: int,
) -> None:
    """Declare the service's pages on ``app``."""

    @app.page("/")
    class Dashboard(View):
        async def get(self, request: Request) -> Response:
            return aioweb.FileResponse(STATIC / "index.html")  # type: ignore[return-value]

    app.web.add_static("/static/", STATIC)

    @app.page("/stories")
    class Stories(View):
        async def get(self, request: Request) -> Response:
            try:
                query = _query(request)
            except (ValidationError, ValueError) as error:
                return _bad_request(error)
            return _json(view.page(query).model_dump_json())

    def resolve(story_id: str, suffix: str = "") -> str:
        """The id a story lives under now; 404 if unknown, 301 if merged into another."""
        found = view.resolve(story_id)
        if found is None:
            raise aioweb.HTTPNotFound(
                text=json.dumps({"error": f"no story {story_id}"}), content_type="application/json"
            )
        if found != story_id:
            raise aioweb.HTTPMovedPermanently(f"/stories/{found}{suffix}")
        return found

    @app.page("/stories/{story_id}")
    class Story(View):
        async def get(self, request: Request, story_id: str) -> Response:
            update = view.latest(resolve(story_id))
            assert update is not None
            return _json(update.model_dump_json())

    @app.page("/stories/{story_id}/history")
    class History(View):
        async def get(self, request: Request, story_id: str) -> Response:
            history = view.history(resolve(story_id, "/history"))
            assert history is not None
            return _json(history.model_dump_json())

    @app.page("/events")
    class Events(View):
        async def get(self, request: Request) -> Response:
            response = aioweb.StreamResponse(
                headers={
                    "Content-Type": "text/event-stream",
                    "Cache-Control": "no-cache",
                    "X-Accel-Buffering": "no",
                }
            )
            await response.prepare(request)  # type: ignore[arg-type]
            queue = hub.subscribe()
            try:
                await response.write(b"retry: 2000\n\n")
                while True:
                    try:
                        payload = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
                    except TimeoutError:
                        await response.write(b": keep-alive\n\n")
                        continue
                    await response.write(f"event: update\ndata: {payload}\n\n".encode())
            except (ConnectionResetError, asyncio.CancelledError):
                pass
            finally:
                hub.unsubscribe(queue)
            return response  # type: ignore[return-value]

    @app.page("/healthz")
    class Health(View):
        async def get(self, request: Request) -> Response:
            return _json({"status": "ok"})

    @app.page("/readyz")
    class Ready(View):
        async def get(self, request: Request) -> Response:
            status = feed_status()
            lag = sum(status.consumer_lag.values())
            checks = {
                "broker_reachable": status.broker_reachable(),
                "agents_running": agents_running(),
                "view_caught_up": status.caught_up,
                "lag_acceptable": status.broker_reachable() and lag <= ready_max_lag,
            }
            body = {
                "ready": all(checks.values()),
                "checks": checks,
                "consumer_lag": status.consumer_lag,
                "max_lag": ready_max_lag,
                "error": status.error or None,
            }
            return _json(body, status=200 if body["ready"] else 503)

    @app.page("/metrics")
    class MetricsPage(View):
        async def get(self, request: Request) -> Response:
            status = feed_status()
            metrics.stories_active.set(len(view))
            metrics.view_lag.set(status.view_lag)
            for topic, lag in status.consumer_lag.items():
                metrics.consumer_lag.labels(topic=topic).set(lag)
            return aioweb.Response(  # type: ignore[return-value]
                body=metrics.exposition(), headers={"Content-Type": metrics.content_type}
            )

    @app.page("/openapi.json")
    class OpenApi(View):
        async def get(self, request: Request) -> Response:
            return _json(openapi_document())
