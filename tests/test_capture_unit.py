"""Captured answers belong to the page they came with: an answer whose body is
still being read when the adapter navigates is not taken for the new page's
(under load, the old page's user info or IM init would pass for a fresh one)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from hiscrm.v1 import common_pb2
from tests.platform_helpers import monitor_config
from worker.platforms.base import AdapterContext
from worker.platforms.douyin import DouyinAdapter
from worker.platforms.douyin_api import CREATOR_ORIGIN, USER_INFO_PATH


class SlowResponse:
    """What Playwright hands the response handler: its body comes later."""

    def __init__(self, uid: str) -> None:
        self.url = CREATOR_ORIGIN + USER_INFO_PATH
        self.status = 200
        self.headers = {"content-type": "application/json"}
        self.release = asyncio.Event()
        self._body = json.dumps({"status_code": 0, "user": {"uid": uid}}).encode()

    async def body(self) -> bytes:
        await self.release.wait()
        return self._body


class Page:
    async def goto(self, url: str, **_: Any) -> None:
        return None


async def test_an_answer_read_across_a_navigation_is_dropped(tmp_path: Path) -> None:
    ctx = AdapterContext(worker_id="w-cap", data_dir=tmp_path, page_slots=asyncio.Semaphore(1))
    adapter = DouyinAdapter(monitor_config("cap-1", common_pb2.PLATFORM_DOUYIN), ctx)

    old = SlowResponse("before")
    adapter._on_response(old)  # type: ignore[arg-type]
    await adapter._goto(Page(), CREATOR_ORIGIN + "/creator-micro/home")  # type: ignore[arg-type]
    new = SlowResponse("after")
    adapter._on_response(new)  # type: ignore[arg-type]
    old.release.set()
    new.release.set()
    await adapter._settle()

    kept = adapter.answers(USER_INFO_PATH)
    assert [a.body["user"]["uid"] for a in kept] == ["after"]
