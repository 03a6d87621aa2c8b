"""What every Control mixin shares."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import grpc

if TYPE_CHECKING:
    from master.app import MasterApp


class RpcBase:
    app: MasterApp


async def fail(context: grpc.aio.ServicerContext, code: grpc.StatusCode, message: str) -> NoReturn:
    await context.abort(code, message)
    raise AssertionError("unreachable: abort raises")
