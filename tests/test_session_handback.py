"""Refreshed sessions, part by part: the demo platform's rotating cookie, the
worker's decision to hand a session back, and the master keeping it without a
config bump (end to end with real processes: test_session_failover.py)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from pathlib import Path
from typing import Any

import pytest
from yarl import URL

from hiscrm.v1 import common_pb2, gateway_pb2
from master.accounts import AccountStore, config_of
from master.counters import Counters
from master.events import EventBus
from master.registry import WorkerRecord
from master.sessions import SessionRefreshes
from master.store.database import Database
from master.store.models import AccountRow
from tests.databases import BACKENDS, fresh_database
from tests.delivery_helpers import synthetic_spec
from tests.test_demosite import Site, logged_in, start_site
from worker.browser.crypto import StateCipher
from worker.browser.storage import SessionStore
from worker.handback import SessionHandback

COOKIE = "demo_session"

# ---------------------------------------------------------------- the demo platform


def _cookie(browser: Any, site: Site) -> str:
    return browser.cookie_jar.filter_cookies(URL(site.base))[COOKIE].value


async def test_demo_platform_rotates_the_session_cookie(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    site = await start_site()
    try:
        browser = await logged_in(site)
        first = _cookie(browser, site)
        # a copy of the cookies taken now, like a storage state saved at login
        stale = site.browser()
        stale.cookie_jar.update_cookies({COOKIE: first}, URL(site.base))
        on = await site.admin.post("/admin/session_rotation", json={"every_s": 10, "grace_s": 5})
        assert (await on.json())["every_s"] == 10
        assert (await browser.get("/api/creator/me")).status == 200
        assert _cookie(browser, site) == first  # not due yet

        site.clock.advance(11)
        assert (await browser.get("/api/creator/me")).status == 200
        second = _cookie(browser, site)
        assert second != first
        listing = await (await site.admin.get("/admin/sessions?username=demo1")).json()
        assert [s["session_id"] for s in listing["sessions"]] == [second]
        assert [r["session_id"] for r in listing["retired"]] == [first]

        # the old value works for the grace period, and is told the new one
        assert (await stale.get("/api/creator/me")).status == 200
        assert _cookie(stale, site) == second
        stale.cookie_jar.update_cookies({COOKIE: first}, URL(site.base))
        site.clock.advance(6)
        assert (await stale.get("/api/creator/me")).status == 401  # expired
        assert (await browser.get("/api/creator/me")).status == 200
        assert _cookie(browser, site) == second

        off = await site.admin.post("/admin/session_rotation", json={"every_s": 0})
        assert (await off.json())["rotations"] == 1
        site.clock.advance(100)
        assert (await browser.get("/api/creator/me")).status == 200
        assert _cookie(browser, site) == second
        bad = await site.admin.post("/admin/session_rotation", json={"every_s": "soon"})
        assert bad.status == 400
    finally:
        await site.close()
    assert first not in caplog.text and second not in caplog.text  # never logged


# ---------------------------------------------------------------- the worker side


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _state(value: str) -> dict[str, Any]:
    return {"cookies": [{"name": COOKIE, "value": value, "domain": "x", "path": "/"}]}


def _config(blob: bytes, version: int = 2) -> common_pb2.AccountConfig:
    return common_pb2.AccountConfig(account_id="a1", config_version=version, session=blob)


@pytest.fixture
def handback(tmp_path: Path) -> tuple[SessionHandback, SessionStore, list[Any], Clock]:
    store = SessionStore(tmp_path, StateCipher(secrets.token_bytes(32)), "w1")
    sent: list[gateway_pb2.SessionRefresh] = []
    clock = Clock()

    def send(frame: gateway_pb2.SessionRefresh) -> bool:
        sent.append(frame)
        return True

    hb = SessionHandback("w1", "a1", store, send, min_interval=5.0, clock=clock)
    return hb, store, sent, clock


async def test_worker_hands_back_only_changed_states(handback: Any) -> None:
    hb, store, sent, clock = handback
    login = store.save("a1", _state("c0"))  # what the master holds after the login
    assert hb.received(_config(login), None).session == login
    store.save("a1", _state("c0"))  # saved again after a cycle: new bytes, same state
    assert not await hb.check(2) and not sent

    rotated = store.save("a1", _state("c1"))
    assert await hb.check(2)
    assert (sent[0].account_id, sent[0].session, sent[0].config_version) == ("a1", rotated, 2)
    store.save("a1", _state("c2"))
    clock.now += 1
    assert not await hb.check(2)  # changed, but too soon after the last one
    clock.now += 5
    assert await hb.check(2) and len(sent) == 2  # the next cycle after the interval
    store.save("a1", _state("c2"))
    clock.now += 60
    assert not await hb.check(2) and len(sent) == 2  # unchanged since it was handed back


async def test_worker_keeps_its_live_session_when_the_master_echoes_it(handback: Any) -> None:
    hb, store, sent, clock = handback
    login = store.save("a1", _state("c0"))
    running = _config(login)
    hb.received(running, None)
    store.save("a1", _state("c1"))
    assert await hb.check(2)
    # an operator change bumps the version; the config carries the session
    # this worker handed back: the running one stays, the context is not rebuilt
    echoed = _config(sent[0].session, version=3)
    applied = hb.received(echoed, running)
    assert applied.session == login and applied.config_version == 3
    clock.now += 10
    assert not await hb.check(3)  # the master holds this state already

    # a new login elsewhere: its session is applied as it comes
    fresh = store.cipher.encrypt_state("a1", _state("c9"))
    assert hb.received(_config(fresh, version=4), running).session == fresh


async def test_worker_sends_again_after_a_reconnect_and_on_an_older_config(
    handback: Any,
) -> None:
    hb, store, sent, clock = handback
    hb.received(_config(store.save("a1", _state("c0"))), None)
    store.save("a1", _state("c1"))
    assert await hb.check(2)
    clock.now += 10
    hb.reconnected()  # the frame may have died with the stream
    assert await hb.check(2) and len(sent) == 2
    # the master ignored it (a newer config): the config shows what it holds
    clock.now += 10
    hb.received(_config(store.cipher.encrypt_state("a1", _state("c0")), version=3), None)
    assert await hb.check(3) and sent[-1].config_version == 3


async def test_worker_skips_unreadable_or_missing_states(
    handback: Any, caplog: pytest.LogCaptureFixture
) -> None:
    hb, store, sent, _ = handback
    assert not await hb.check(2)  # nothing saved yet
    store.path("a1").parent.mkdir(parents=True, exist_ok=True)
    store.path("a1").write_bytes(b"\x01" + b"\x00" * 40)
    assert not await hb.check(2)
    assert not await hb.check(2)
    assert caplog.text.count("unreadable") == 1 and not sent


async def test_no_stream_means_try_again_next_cycle(tmp_path: Path) -> None:
    store = SessionStore(tmp_path, StateCipher(secrets.token_bytes(32)), "w1")
    up = False
    sent: list[gateway_pb2.SessionRefresh] = []

    def send(frame: gateway_pb2.SessionRefresh) -> bool:
        if up:
            sent.append(frame)
        return up

    hb = SessionHandback("w1", "a1", store, send)
    hb.received(_config(store.save("a1", _state("c0"))), None)
    store.save("a1", _state("c1"))
    assert not await hb.check(2)
    up = True
    assert await hb.check(2) and len(sent) == 1


# ---------------------------------------------------------------- the master side


@pytest.mark.parametrize("backend", BACKENDS)
def test_master_keeps_the_holders_session_without_a_bump(
    backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    async def scenario(url: str) -> None:
        db = Database(url)
        db.migrate()
        bus = EventBus()
        events = bus.subscribe()
        accounts = AccountStore(db, bus)
        counters = Counters()
        refreshes = SessionRefreshes(accounts, counters)
        row = await accounts.create("a1", synthetic_spec(rate=1, total=1))
        row.worker_id, row.session = "w1", b"login-session"
        await accounts.save(row)
        version = row.config_version
        events.drain()

        def refresh(blob: bytes, v: int = version) -> gateway_pb2.SessionRefresh:
            return gateway_pb2.SessionRefresh(account_id="a1", session=blob, config_version=v)

        holder, other = WorkerRecord(worker_id="w1"), WorkerRecord(worker_id="w2")
        assert await refreshes.on_refresh(holder, refresh(b"rotated-1"))
        assert row.config_version == version and events.empty()  # no bump, no event
        assert config_of(row).session == b"rotated-1"  # what the next Assign carries
        stored = await db.run(lambda s: s.get(AccountRow, "a1"))
        assert stored is not None and stored.session == b"rotated-1"
        assert stored.config_version == version

        assert not await refreshes.on_refresh(other, refresh(b"not-yours"))
        assert not await refreshes.on_refresh(holder, refresh(b"old-config", version - 1))
        assert not await refreshes.on_refresh(holder, refresh(b""))
        assert not await refreshes.on_refresh(holder, gateway_pb2.SessionRefresh(account_id="x"))
        assert row.session == b"rotated-1" and counters.frames_rejected == 3
        stored = await db.run(lambda s: s.get(AccountRow, "a1"))
        assert stored is not None and stored.session == b"rotated-1"
        db.dispose()

    with fresh_database(backend, tmp_path) as url:
        asyncio.run(scenario(url))
    assert "refused: NOT_ASSIGNED" in caplog.text
    for secret in ("rotated-1", "not-yours", "old-config", "login-session"):
        assert secret not in caplog.text


async def test_a_session_too_big_for_a_frame_is_not_sent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SessionStore(tmp_path, StateCipher(secrets.token_bytes(32)), "w1")
    sent: list[gateway_pb2.SessionRefresh] = []

    def send(frame: gateway_pb2.SessionRefresh) -> bool:
        sent.append(frame)
        return True

    hb = SessionHandback("w1", "a1", store, send, frame_limit=lambda: 4096)
    hb.received(_config(store.save("a1", _state("c0"))), None)
    store.save("a1", _state("x" * 5000))
    assert not await hb.check(2)
    assert not await hb.check(2)  # said once per change, not every cycle
    assert not sent and caplog.text.count("frame limit") == 1
