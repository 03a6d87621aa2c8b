"""A platform without a browser: items at a configured rate, for delivery
tests and benchmarks. Item ids are deterministic (account + sequence number),
so an account that moves to another worker re-produces the same identities
and the master's idempotent store keeps exactly one of each."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncGenerator

import segno

from hiscrm.v1 import common_pb2, gateway_pb2
from hiscrm_common.timeutil import to_ts, utcnow
from worker.platforms.base import Adapter, AdapterContext, FetchResult

MAX_PER_CYCLE = 50_000


class SyntheticAdapter(Adapter):
    platform = common_pb2.PLATFORM_SYNTHETIC

    def __init__(self, config: common_pb2.AccountConfig, ctx: AdapterContext) -> None:
        super().__init__(config, ctx)
        self._last = time.monotonic()
        self._credit = 0.0

    async def fetch_new(self, cursor: str) -> FetchResult:
        opts = self.config.spec.synthetic
        produced = int(cursor or 0)
        now = time.monotonic()
        rate = opts.items_per_second or 10.0
        if produced == 0 and self._credit == 0.0:
            # the first cycle produces one interval's worth at once
            self._credit = rate * self.config.spec.monitor_interval_ms / 1000
        else:
            self._credit += rate * (now - self._last)
        self._last = now
        count = min(int(self._credit), MAX_PER_CYCLE)
        if opts.total_items:
            count = min(count, opts.total_items - produced)
        count = max(count, 0)
        self._credit -= count
        items = [self._item(produced + i) for i in range(count)]
        return FetchResult(items=items, cursor=str(produced + count))

    def _item(self, n: int) -> common_pb2.Item:
        opts = self.config.spec.synthetic
        is_dm = opts.dm_percent and (n * 37 % 100) < opts.dm_percent
        content = f"synthetic item {n} of {self.account_id}"
        if opts.content_bytes > len(content):
            content += " " + "x" * (opts.content_bytes - len(content) - 1)
        return common_pb2.Item(
            platform=common_pb2.PLATFORM_SYNTHETIC,
            account_id=self.account_id,
            kind=common_pb2.ITEM_KIND_DIRECT_MESSAGE if is_dm else common_pb2.ITEM_KIND_COMMENT,
            platform_item_id=f"{self.account_id}-{n}",
            author_id=f"user-{n % 97}",
            author_name=f"用户{n % 97}",
            content=content,
            post_id="" if is_dm else f"post-{n % 5}",
            conversation_id=f"conv-{n % 97}" if is_dm else "",
            created_at=to_ts(utcnow()),
            # which config produced it: lets tests see a new config take effect
            raw_json=json.dumps(
                {
                    "n": n,
                    "config_version": self.config.config_version,
                    "interval_ms": self.config.spec.monitor_interval_ms,
                }
            ),
        )

    async def login(
        self, session_id: str, codes: asyncio.Queue[str]
    ) -> AsyncGenerator[gateway_pb2.LoginEvent, None]:
        """A browserless login with the real event sequence: a QR, then an SMS
        code (any non-empty code but "000000" is accepted), then success."""
        content = f"synthetic://login/{self.account_id}/{session_id}"
        png = io.BytesIO()
        segno.make(content).save(png, kind="png", scale=4)
        yield gateway_pb2.LoginEvent(qr=gateway_pb2.LoginQr(png=png.getvalue(), content=content))
        yield gateway_pb2.LoginEvent(scanned=gateway_pb2.LoginScanned())
        while True:
            yield gateway_pb2.LoginEvent(
                verification_required=gateway_pb2.LoginVerificationRequired(
                    method=gateway_pb2.VERIFICATION_METHOD_SMS_CODE, hint="138****0000"
                )
            )
            code = await codes.get()
            if code != "000000":
                break
        user = common_pb2.UserInfo(
            platform_user_id=f"syn-{self.account_id}",
            nickname=f"合成账号 {self.account_id}",
            unique_id=self.account_id,
        )
        yield gateway_pb2.LoginEvent(
            success=gateway_pb2.LoginSuccess(session=b"synthetic-session", user=user)
        )
