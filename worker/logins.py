"""Running QR logins on this worker: one task per login session.

The adapter's login() yields LoginEvents; they go to the master as they
come. SMS codes from the master reach the adapter through a queue; a cancel
cancels the task. Whatever happens, the session ends with a final event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from hiscrm.v1 import common_pb2, gateway_pb2
from hiscrm_common.timeutil import to_ts, utcnow
from worker.platforms.base import Adapter
from worker.platforms.errors import PlatformError

log = logging.getLogger(__name__)

FINAL = {"success", "failed", "expired", "cancelled"}


@dataclass(eq=False)
class LoginRun:
    session_id: str
    account_id: str
    codes: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(8))
    task: asyncio.Task[None] | None = None


class LoginRunner:
    def __init__(self, worker_id: str, send: Callable[[gateway_pb2.LoginEvent], None]) -> None:
        self.worker_id = worker_id
        self.send = send
        self.runs: dict[str, LoginRun] = {}

    def start(self, start: gateway_pb2.LoginStart, adapter: Adapter | None) -> None:
        run = LoginRun(start.session_id, start.account_id)
        if adapter is None:
            self._final(run, "failed", f"account {start.account_id} is not held by this worker")
            return
        for other in list(self.runs.values()):
            if other.account_id == start.account_id and other.task is not None:
                other.task.cancel()
        self.runs[run.session_id] = run
        run.task = asyncio.create_task(self._drive(run, adapter), name=f"login:{run.account_id}")

    def code(self, msg: gateway_pb2.VerificationCode) -> None:
        run = self.runs.get(msg.session_id)
        if run is None:
            log.warning(
                "account %s on worker %s: code for unknown login %s",
                msg.account_id,
                self.worker_id,
                msg.session_id,
            )
            return
        run.codes.put_nowait(msg.code)

    def cancel(self, msg: gateway_pb2.LoginCancel) -> None:
        run = self.runs.get(msg.session_id)
        if run is not None and run.task is not None:
            run.task.cancel()

    async def _drive(self, run: LoginRun, adapter: Adapter) -> None:
        final_sent = False
        adapter.logging_in = True
        pool = adapter.ctx.browser
        if pool is not None:
            pool.logins[run.account_id] += 1  # nothing blocked: the QR is an image
        try:
            # aclosing: the adapter's own cleanup (its login page) runs now,
            # not whenever the generator is collected.
            events = adapter.login(run.session_id, run.codes)
            async with contextlib.aclosing(events):
                async for event in events:
                    event.session_id = run.session_id
                    event.account_id = run.account_id
                    if not event.HasField("at"):
                        event.at.CopyFrom(to_ts(utcnow()))
                    self.send(event)
                    kind = event.WhichOneof("event")
                    log.info(
                        "account %s on worker %s: login %s: %s",
                        run.account_id,
                        self.worker_id,
                        run.session_id,
                        kind,
                    )
                    if kind in FINAL:
                        final_sent = True
                        return
            self._final(run, "failed", "the login ended without a result")
            final_sent = True
        except asyncio.CancelledError:
            if not final_sent:
                self._final(run, "cancelled", "cancelled")
                final_sent = True
        except PlatformError as exc:
            self._final(run, "failed", str(exc), exc.kind)
            final_sent = True
        except Exception as exc:
            log.exception("account %s on worker %s: login crashed", run.account_id, self.worker_id)
            self._final(run, "failed", f"{type(exc).__name__}: {exc}")
            final_sent = True
        finally:
            adapter.logging_in = False
            if pool is not None:
                pool.logins[run.account_id] -= 1
                if pool.logins[run.account_id] <= 0:
                    del pool.logins[run.account_id]
            self.runs.pop(run.session_id, None)

    def _final(
        self,
        run: LoginRun,
        kind: str,
        reason: str,
        error: common_pb2.ErrorKind = common_pb2.ERROR_KIND_INTERNAL,
    ) -> None:
        event = gateway_pb2.LoginEvent(
            session_id=run.session_id, account_id=run.account_id, at=to_ts(utcnow())
        )
        if kind == "cancelled":
            event.cancelled.reason = reason
        elif kind == "expired":
            event.expired.reason = reason
        else:
            event.failed.kind = error
            event.failed.reason = reason
        log.warning(
            "account %s on worker %s: login %s %s: %s",
            run.account_id,
            self.worker_id,
            run.session_id,
            kind,
            reason,
        )
        self.send(event)

    async def stop(self) -> None:
        tasks = [r.task for r in self.runs.values() if r.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
