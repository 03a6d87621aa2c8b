"""The accounts this worker runs, driven by the master's frames.

Assign/ConfigUpdate carry the full config with a version; older versions are
ignored, and every applied (or already current) version is acknowledged.
"""

from __future__ import annotations

import asyncio
import logging

from hiscrm.v1 import common_pb2, gateway_pb2
from worker.browser.crypto import StateCipher
from worker.browser.pool import BrowserPool
from worker.browser.storage import SessionStore
from worker.config import WorkerConfig
from worker.cursors import CursorStore
from worker.delivery import Delivery
from worker.handback import SessionHandback
from worker.link import Link
from worker.logins import LoginRunner
from worker.monitor import AccountMonitor
from worker.outbox import Outbox
from worker.platforms import make_adapter
from worker.platforms.base import AdapterContext
from worker.platforms.errors import PlatformError

log = logging.getLogger(__name__)


class Runner:
    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.worker_id = config.worker_id
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.outbox = Outbox(config.data_dir / "outbox.db", max_items=config.outbox_max_items)
        self.cursors = CursorStore(config.data_dir / "cursors.db")
        self.delivery = Delivery(
            self.worker_id, self.outbox, config.data_dir / "quarantine", self._refused
        )
        self.monitors: dict[str, AccountMonitor] = {}
        self.browser = BrowserPool(self.worker_id, config.data_dir)
        self.ctx = AdapterContext(
            worker_id=self.worker_id,
            data_dir=config.data_dir,
            page_slots=asyncio.Semaphore(config.page_concurrency),
            browser=self.browser,  # Chromium starts with the first browser account
            sessions=SessionStore(config.data_dir, StateCipher.from_env(), self.worker_id),
        )
        self.link: Link | None = None
        self.logins = LoginRunner(self.worker_id, self._send_login)
        self._pending_total = 0
        self._frame_limit = 0  # the master's, from Welcome
        self._counter: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # set at the stop signal: from then on no account is taken, because
        # the browser pool is about to close (the master learns it from the
        # goodbye that follows and places the accounts elsewhere)
        self.stopping = False

    def attach(self, link: Link) -> None:
        self.link = link
        self._counter = asyncio.get_running_loop().create_task(self._count_pending())

    async def _count_pending(self) -> None:
        """Heartbeats report the outbox's depth; counting is a query, so it
        runs here in the background rather than in the heartbeat."""
        while True:
            self._pending_total = await asyncio.to_thread(self.outbox.pending_count)
            await asyncio.sleep(1.0)

    # ------------------------------------------------------------ LinkHandler

    def held_accounts(self) -> list[gateway_pb2.HeldAccount]:
        return [
            gateway_pb2.HeldAccount(account_id=a, config_version=m.config.config_version)
            for a, m in sorted(self.monitors.items())
        ]

    def account_statuses(self) -> list[gateway_pb2.AccountStatus]:
        return [m.status() for m in self.monitors.values()]

    def outbox_pending(self) -> int:
        return self._pending_total

    def delivery_status(self) -> tuple[str, int]:
        return self.delivery.status()

    async def on_connected(self, link: Link, welcome: gateway_pb2.Welcome) -> None:
        self._frame_limit = welcome.max_message_bytes
        self._pending_total = await asyncio.to_thread(self.outbox.pending_count)
        for monitor in self.monitors.values():
            link.send(gateway_pb2.WorkerFrame(account_state=monitor.state_frame()))
            if monitor.handback is not None:
                monitor.handback.reconnected()
        self.delivery.start(link, welcome)

    async def on_disconnected(self) -> None:
        self.delivery.stop()

    async def on_frame(self, frame: gateway_pb2.MasterFrame) -> None:
        kind = frame.WhichOneof("frame")
        if kind == "ack":
            await self.delivery.on_ack(frame.ack)
        elif kind == "nack":
            await self.delivery.on_nack(frame.nack)
        elif kind in ("assign", "config_update") and self.stopping:
            log.info(
                "worker %s: stopping; %s for %s not applied",
                self.worker_id,
                kind,
                ", ".join(c.account_id for c in _configs(frame)),
            )
        elif kind == "assign":
            for config in frame.assign.accounts:
                await self._apply(config, "assigned")
        elif kind == "config_update":
            await self._apply(frame.config_update.config, frame.config_update.reason)
        elif kind == "revoke":
            for account_id in frame.revoke.account_ids:
                await self._revoke(account_id, frame.revoke.reason)
        elif kind == "send_reply":
            task = asyncio.create_task(self._reply(frame.send_reply))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif kind == "login_start":
            monitor = self.monitors.get(frame.login_start.account_id)
            self.logins.start(frame.login_start, monitor.adapter if monitor else None)
        elif kind == "verification_code":
            self.logins.code(frame.verification_code)
        elif kind == "login_cancel":
            self.logins.cancel(frame.login_cancel)
        elif kind == "drain":
            log.warning("worker %s: drain requested: %s", self.worker_id, frame.drain.reason)
            for account_id in list(self.monitors):
                await self._revoke(account_id, "drain")
        else:
            log.error(
                "worker %s: master sent %s, which this worker cannot do yet", self.worker_id, kind
            )

    # ------------------------------------------------------------ accounts

    async def _apply(self, config: common_pb2.AccountConfig, reason: str) -> None:
        account_id = config.account_id
        monitor = self.monitors.get(account_id)
        if monitor is not None and config.config_version < monitor.config.config_version:
            log.info(
                "account %s on worker %s: ignoring config v%d, running v%d",
                account_id,
                self.worker_id,
                config.config_version,
                monitor.config.config_version,
            )
            self._ack(account_id, monitor.config.config_version, True, "")
            return
        try:
            if monitor is None:
                handback = self._handback(account_id)
                if handback is not None:
                    config = handback.received(config, None)
                adapter = make_adapter(config, self.ctx)
                monitor = AccountMonitor(
                    self.worker_id,
                    adapter,
                    self.outbox,
                    self.cursors,
                    self._report,
                    self.delivery.notify,
                    handback,
                )
                self.monitors[account_id] = monitor
                monitor.start()
                log.info(
                    "account %s on worker %s: started (config v%d, %s)",
                    account_id,
                    self.worker_id,
                    config.config_version,
                    reason,
                )
            else:
                if monitor.handback is not None:
                    config = monitor.handback.received(config, monitor.config)
                if config.config_version > monitor.config.config_version or (
                    config != monitor.config
                ):
                    await monitor.apply(config)
        except Exception as exc:
            log.exception(
                "account %s on worker %s: config v%d failed",
                account_id,
                self.worker_id,
                config.config_version,
            )
            self._ack(account_id, config.config_version, False, f"{type(exc).__name__}: {exc}")
            return
        self._ack(account_id, config.config_version, True, "")

    def _handback(self, account_id: str) -> SessionHandback | None:
        if self.ctx.sessions is None:
            return None
        return SessionHandback(
            self.worker_id,
            account_id,
            self.ctx.sessions,
            self._send_refresh,
            frame_limit=lambda: self._frame_limit,
        )

    def _send_refresh(self, refresh: gateway_pb2.SessionRefresh) -> bool:
        return self.link is not None and self.link.send(
            gateway_pb2.WorkerFrame(session_refresh=refresh)
        )

    def _ack(self, account_id: str, version: int, ok: bool, error: str) -> None:
        if self.link is not None:
            self.link.send(
                gateway_pb2.WorkerFrame(
                    config_ack=gateway_pb2.ConfigAck(
                        account_id=account_id, config_version=version, ok=ok, error=error
                    )
                )
            )

    async def _revoke(self, account_id: str, reason: str) -> None:
        monitor = self.monitors.pop(account_id, None)
        if monitor is None:
            return
        await monitor.stop()
        log.info("account %s on worker %s: stopped (%s)", account_id, self.worker_id, reason)

    async def _reply(self, cmd: gateway_pb2.SendReply) -> None:
        """Post a reply once per request id, even when the master asks again."""
        key = f"reply:{cmd.request_id}"
        done = await asyncio.to_thread(self.cursors.get, key)
        if done:
            result = gateway_pb2.CommandResult.FromString(bytes.fromhex(done))
        else:
            result = gateway_pb2.CommandResult(request_id=cmd.request_id, account_id=cmd.account_id)
            monitor = self.monitors.get(cmd.account_id)
            try:
                if monitor is None:
                    raise PlatformError(f"account {cmd.account_id} is not held by this worker")
                result.platform_item_id = await monitor.adapter.send_reply(cmd.target, cmd.text)
                result.ok = True
            except PlatformError as exc:
                result.error_kind, result.error = exc.kind, str(exc)
            except Exception as exc:
                log.exception(
                    "account %s on worker %s: reply %s crashed",
                    cmd.account_id,
                    self.worker_id,
                    cmd.request_id,
                )
                result.error_kind = common_pb2.ERROR_KIND_INTERNAL
                result.error = f"{type(exc).__name__}: {exc}"
            if result.ok or monitor is not None:
                await asyncio.to_thread(self.cursors.put, key, result.SerializeToString().hex())
        log.info(
            "account %s on worker %s: reply %s %s %s",
            cmd.account_id,
            self.worker_id,
            cmd.request_id,
            "sent" if result.ok else "failed:",
            result.error,
        )
        if self.link is not None:
            self.link.send(gateway_pb2.WorkerFrame(command_result=result))

    def _send_login(self, event: gateway_pb2.LoginEvent) -> None:
        if self.link is None or not self.link.send(gateway_pb2.WorkerFrame(login=event)):
            log.error(
                "account %s on worker %s: login event %s not sent: no stream to the master",
                event.account_id,
                self.worker_id,
                event.WhichOneof("event"),
            )

    def _report(self, frame: gateway_pb2.AccountState) -> None:
        if self.link is not None:
            self.link.send(gateway_pb2.WorkerFrame(account_state=frame))

    def _refused(self, account_id: str, reason: str) -> None:
        monitor = self.monitors.get(account_id)
        if monitor is not None:
            monitor.refuse(reason)  # reports the state, and keeps it past clean cycles
            return
        self._report(
            gateway_pb2.AccountState(
                account_id=account_id,
                state=common_pb2.RUN_STATE_ERROR,
                error_kind=common_pb2.ERROR_KIND_INVALID_REQUEST,
                reason=reason,
            )
        )

    # ------------------------------------------------------------ shutdown

    async def shutdown(self) -> None:
        await self.logins.stop()
        self.delivery.stop()
        if self._counter is not None:
            self._counter.cancel()
        for account_id in list(self.monitors):
            await self._revoke(account_id, "worker stopping")
        await self.browser.close()

    def close(self) -> None:
        self.outbox.close()
        self.cursors.close()


def _configs(frame: gateway_pb2.MasterFrame) -> list[common_pb2.AccountConfig]:
    if frame.WhichOneof("frame") == "assign":
        return list(frame.assign.accounts)
    return [frame.config_update.config]
