"""Control RPCs for QR login."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from hiscrm.v1 import control_pb2
from hiscrm_common.timeutil import to_ts, utcnow
from master.control.base import RpcBase
from master.logins import FINAL


class LoginRpcs(RpcBase):
    async def StartLogin(
        self, request: control_pb2.StartLoginRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[control_pb2.LoginUpdate]:
        logins = self.app.logins
        session = logins.start(request.account_id)
        # Other consoles follow the login from here; this caller's own stream
        # starts with the QR, as it always has.
        self.app.bus.publish(
            account_id=session.account_id,
            login=control_pb2.LoginUpdate(
                session_id=session.session_id,
                account_id=session.account_id,
                worker_id=session.worker_id,
                at=to_ts(utcnow()),
                started=control_pb2.LoginStarted(),
            ),
        )
        try:
            while True:
                update = await session.updates.get()
                yield update
                if update.WhichOneof("event") in FINAL:
                    return
        finally:
            if not session.done:
                logins.cancel(session.session_id)  # the caller went away
            logins.forget(session)

    async def SubmitVerification(
        self, request: control_pb2.SubmitVerificationRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.SubmitVerificationResponse:
        self.app.logins.submit_code(request.session_id, request.code)
        return control_pb2.SubmitVerificationResponse(session_id=request.session_id)

    async def CancelLogin(
        self, request: control_pb2.CancelLoginRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.CancelLoginResponse:
        self.app.logins.cancel(request.session_id)
        return control_pb2.CancelLoginResponse(session_id=request.session_id)
