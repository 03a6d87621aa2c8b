"""The Xiaohongshu chat page (www.xiaohongshu.com/chat), read as a person
reads it: the page loads the conversation list; a conversation is opened by
clicking it, and the page loads its history; the message list scrolled to
its top makes the page load the older messages. Every request is the page's
own. Opening a conversation makes the platform count it read, so only
conversations whose mark moved since they were last read are opened.
Replies are typed into the open conversation and confirmed by its history.
Shapes and selectors: xiaohongshu_im.py.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from playwright.async_api import Page

from hiscrm.v1 import common_pb2
from worker.platforms import xiaohongshu_api as api
from worker.platforms import xiaohongshu_im as im
from worker.platforms.answers import Answer, query_param
from worker.platforms.errors import LayoutChanged, PlatformError

if TYPE_CHECKING:
    from worker.platforms.xiaohongshu import XiaohongshuAdapter

SCROLL_TO_TOP_JS = "el => { el.scrollTop = 0; }"


def history_of(answer: Answer, peer: str) -> bool:
    # the page names the conversation in the query; without it, the one just opened
    asked = query_param(answer.url, "chat_user_id")
    return answer.path.endswith(im.HISTORY_PATH) and asked in (peer, "")


class ChatPage:
    MAX_OPEN = 20  # conversations opened per cycle; the rest wait for the next one
    CONFIRM_TRIES = 6  # history re-reads after a reply before it counts as not shown

    def __init__(self, adapter: XiaohongshuAdapter) -> None:
        self.adapter = adapter

    async def listed(self, page: Page, *, check_user: bool) -> list[im.Chat]:
        """The chat page freshly loaded: its conversation list."""
        a = self.adapter
        await a._open(page, api.CHAT_URL)
        if check_user:
            await a._check_user(page)
        answer = await a._wait_for(lambda x: im.is_chats_path(x.path), a.LOAD_TIMEOUT_S)
        if answer is None:
            raise LayoutChanged(
                "the chat page loaded no conversation list (" + im.CHATS_PATTERN.pattern + ")"
            )
        return im.chats(api.check_answer(answer, "chats"))

    async def read(
        self, page: Page, mark: int, last_read: dict[str, int], *, check_user: bool
    ) -> tuple[list[common_pb2.Item], dict[str, int]]:
        """The messages at or after `mark` of the conversations that moved
        since `last_read` (per chat: its mark when it was last read), and
        the per-chat marks after this read. Official, AI assistant and group
        chats are never opened."""
        out: list[common_pb2.Item] = []
        read: dict[str, int] = {}
        opened = 0
        for chat in await self.listed(page, check_user=check_user):
            last = last_read.get(chat.peer)
            moved = last is None or chat.mark > last
            if chat.skipped or not moved or opened >= self.MAX_OPEN:
                if last is not None:
                    read[chat.peer] = last
                continue
            opened += 1
            out += await self._history(page, chat, mark)
            read[chat.peer] = chat.mark
        self._log("DMs: %d conversations opened, %d messages", opened, len(out))
        return out, read

    async def _open(self, page: Page, chat: im.Chat) -> Answer:
        """Click the conversation in the list; the page loads its history.
        The entry is the one whose data-conv-id holds the peer's id, else
        (the id can be opaque) the one entry showing the chat's name; never
        a guess between two."""
        a = self.adapter
        entries = page.locator(im.CHAT_ITEM)
        ids = await entries.evaluate_all(im.CONV_IDS_JS)
        hits = [i for i, conv in enumerate(ids) if chat.peer in conv]
        if len(hits) != 1 and chat.nickname:
            names = await entries.evaluate_all(im.CONV_NAMES_JS, im.CHAT_NAME)
            hits = [i for i, name in enumerate(names) if name == chat.nickname]
        if len(hits) != 1:
            raise LayoutChanged(
                f"{len(hits)} conversation entries ({im.CHAT_ITEM}) for {chat.peer} "
                f"named {chat.nickname!r}: cannot tell which one to open"
            )
        entry = entries.nth(hits[0])
        await a._settle()
        last = a._answers[-1] if a._answers else None  # what came before the click
        await entry.click()
        answer = await a._wait_for(lambda x: history_of(x, chat.peer), a.LOAD_TIMEOUT_S, last)
        if answer is None:
            raise LayoutChanged(f"opening the chat with {chat.peer} loaded no {im.HISTORY_PATH}")
        return answer

    async def _history(self, page: Page, chat: im.Chat, mark: int) -> list[common_pb2.Item]:
        """The opened conversation's messages at or after `mark`, older pages
        by scrolling the message list up; revoked messages are dropped."""
        a = self.adapter
        answer = await self._open(page, chat)
        out: list[common_pb2.Item] = []
        for pages in range(1, a.MAX_PAGES + 1):
            rows = im.history_rows(api.check_answer(answer, f"history with {chat.peer}"))
            items = [
                im.dm_item(a.account_id, r, chat, a._self_id, a._self_name)
                for r in rows
                if im.kept(r)
            ]
            out += [i for i in items if i.created_at.seconds >= mark]
            limit = query_param(answer.url, "limit")
            full = limit.isdigit() and len(rows) >= int(limit)
            if not full or min(im.message_time(r) for r in rows) < mark:
                break
            if pages == a.MAX_PAGES:
                self._log("history with %s: stopped after %d pages", chat.peer, pages)
                break
            await page.locator(im.MESSAGE_LIST).first.evaluate(SCROLL_TO_TOP_JS)
            older = await a._wait_for(
                lambda x: history_of(x, chat.peer), a.LOAD_TIMEOUT_S, after=answer
            )
            if older is None:  # a full page that was the last one: nothing older to load
                self._log("history with %s: no older page after scrolling up", chat.peer)
                break
            answer = older
        return out

    async def _newest(self, page: Page, peer: str) -> tuple[im.Chat, list[dict[str, Any]]]:
        """The chat page freshly loaded, the conversation opened: its newest rows."""
        chat = next((c for c in await self.listed(page, check_user=False) if c.peer == peer), None)
        if chat is None:
            raise PlatformError(f"conversation {peer} is not in the chat list")
        answer = await self._open(page, chat)
        return chat, im.history_rows(api.check_answer(answer, f"history with {peer}"))

    async def reply(self, page: Page, peer: str, text: str) -> str:
        """Type `text` into the conversation with `peer`; the new message's id
        once the history shows it (the message itself leaves over the page's
        WebSocket, which has nothing to watch)."""
        a = self.adapter
        chat, rows = await self._newest(page, peer)
        before = {im.message_id(r) for r in rows}
        editor = page.locator(im.CHAT_EDITOR)
        await editor.first.wait_for(state="visible", timeout=a.LOAD_TIMEOUT_S * 1000)
        if await editor.count() != 1:
            raise LayoutChanged(f"{await editor.count()} chat editors ({im.CHAT_EDITOR})")
        await editor.fill(text)
        await editor.press("Enter")
        for _ in range(self.CONFIRM_TRIES):
            await asyncio.sleep(0.5)
            _, rows = await self._newest(page, chat.peer)
            for row in rows:
                item = im.dm_item(a.account_id, row, chat, a._self_id, a._self_name)
                if item.outgoing and item.content == text and item.platform_item_id not in before:
                    return item.platform_item_id
        raise PlatformError("the message was sent but did not show in the history")

    def _log(self, msg: str, *args: object) -> None:
        self.adapter._log(msg, *args)  # with the account and worker ids
