"""The live channel: a WebSocket per logged-in page that pushes new items at once.

Frames (JSON text):
  {"type": "hello", "user_id": ..., "server_time": ...}          on connect
  {"type": "message", "message": {...}}                            a DM, in or out
  {"type": "comment", "comment": {...}}                            a comment (layout-aware)
  {"type": "session_expired"}                                      then close code 4001
  {"type": "pong"}                                                 answer to a "ping" text
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from demosite.guards import api_user, serializer, state_of
from demosite.models import Comment, Message, User
from demosite.state import DemoState, EventKind

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

QUEUE_SIZE = 1000
SESSION_EXPIRED_CLOSE = 4001
OVERFLOW_CLOSE = 1013  # "try again later": the page did not keep up
DROPPED_CLOSE = 1012  # "service restart": /admin/live/drop


@dataclass(eq=False)
class _Subscriber:
    username: str
    ws: web.WebSocketResponse
    queue: asyncio.Queue[tuple[str, Comment | Message | None]] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE)
    )


class LiveHub:
    def __init__(self, state: DemoState) -> None:
        self._subs: dict[str, set[_Subscriber]] = {}
        self._tasks: set[asyncio.Task[object]] = set()
        state.subscribe(self.publish)

    def add(self, username: str, ws: web.WebSocketResponse) -> _Subscriber:
        sub = _Subscriber(username, ws)
        self._subs.setdefault(username, set()).add(sub)
        return sub

    def remove(self, sub: _Subscriber) -> None:
        self._subs.get(sub.username, set()).discard(sub)

    def count(self) -> int:
        return sum(len(s) for s in self._subs.values())

    async def drop(self, username: str) -> int:
        """Close the user's live channels as a flaky network would: the pages
        should reconnect by themselves."""
        subs = list(self._subs.get(username, ()))
        for sub in subs:
            await sub.ws.close(code=DROPPED_CLOSE, message=b"dropped")
        return len(subs)

    def publish(self, username: str, kind: EventKind, item: Comment | Message | None) -> None:
        for sub in list(self._subs.get(username, ())):
            try:
                sub.queue.put_nowait((kind, item))
            except asyncio.QueueFull:
                log.warning("live channel of %s overflowed; closing it", username)
                self.remove(sub)
                task = asyncio.ensure_future(sub.ws.close(code=OVERFLOW_CLOSE))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def close_all(self) -> None:
        for subs in list(self._subs.values()):
            for sub in list(subs):
                await sub.ws.close(code=1001, message=b"server shutdown")
        self._subs.clear()


HUB_KEY = web.AppKey("demosite_live", LiveHub)


async def _pump(request: web.Request, sub: _Subscriber, user: User) -> None:
    ws = sub.ws
    try:
        while True:
            kind, item = await sub.queue.get()
            if kind == "session_expired":
                await ws.send_json({"type": "session_expired"})
                await ws.close(code=SESSION_EXPIRED_CLOSE, message=b"session expired")
                return
            if kind == "pong":
                await ws.send_json({"type": "pong"})
                continue
            ser = serializer(request, user)  # the layout at send time
            if isinstance(item, Comment):
                await ws.send_json({"type": "comment", "comment": ser.comment(item)})
            elif isinstance(item, Message):
                await ws.send_json({"type": "message", "message": ser.message(item)})
    except (ConnectionError, RuntimeError) as exc:
        log.info("live channel of %s lost: %s", user.username, exc)
        await ws.close()


@routes.get("/api/live")
async def live(request: web.Request) -> web.StreamResponse:
    user = api_user(request)  # refusals answer as JSON before any upgrade
    hub = request.app[HUB_KEY]
    ws = web.WebSocketResponse(heartbeat=20.0)
    await ws.prepare(request)
    sub = hub.add(user.username, ws)
    user.counters["live_connect"] += 1
    await ws.send_json(
        {"type": "hello", "user_id": user.user_id, "server_time": state_of(request).clock()}
    )
    pump = asyncio.create_task(_pump(request, sub, user))
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT and msg.data.strip() == "ping":
                sub.queue.put_nowait(("pong", None))
    finally:
        hub.remove(sub)
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
    return ws
