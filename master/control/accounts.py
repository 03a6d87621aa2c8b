"""Control RPCs about accounts."""

from __future__ import annotations

import grpc

from hiscrm.v1 import common_pb2, control_pb2, gateway_pb2
from master.control.base import RpcBase, fail
from master.store.models import AccountRow
from master.validation import enum_names

DEFAULT_PAGE = 100
MAX_PAGE = 1000


class AccountRpcs(RpcBase):
    """Domain errors (NotFound, InvalidInput, ...) become statuses in
    master/errors.py; these handlers only raise them."""

    async def ListAccounts(
        self, request: control_pb2.ListAccountsRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.ListAccountsResponse:
        size = min(request.page_size or DEFAULT_PAGE, MAX_PAGE)
        states = set(enum_names(common_pb2.RunState, request.states, "states"))
        platforms = [request.platform] if request.platform else []
        named = enum_names(common_pb2.Platform, platforms, "platform")
        platform = named[0] if named else None
        page: list[AccountRow] = []
        more = False
        for r in self.app.accounts.ordered_after(request.page_token):
            if (
                (platform is None or r.platform == platform)
                and (not request.worker_id or r.worker_id == request.worker_id)
                and (not states or r.state in states)
            ):
                if len(page) == size:
                    more = True
                    break
                page.append(r)
        return control_pb2.ListAccountsResponse(
            accounts=[self.app.accounts.describe(r) for r in page],
            next_page_token=page[-1].account_id if more else "",
        )

    async def GetAccount(
        self, request: control_pb2.GetAccountRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.Account:
        return self.app.accounts.describe(self.app.accounts.get(request.account_id))

    async def CreateAccount(
        self, request: control_pb2.CreateAccountRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.Account:
        spec = common_pb2.AccountSpec()
        spec.CopyFrom(request.spec)
        row = await self.app.accounts.create(request.account_id, spec)
        self.app.scheduler.poke(row.account_id)
        return self.app.accounts.describe(row)

    async def UpdateAccount(
        self, request: control_pb2.UpdateAccountRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.Account:
        row, changed = await self.app.accounts.update(
            request.account_id,
            request.spec,
            list(request.update_mask.paths),
            request.expected_config_version,
        )
        if changed:
            self.app.scheduler.push_config(row, "operator update", changed)
            self.app.scheduler.poke(row.account_id)
        return self.app.accounts.describe(row)

    async def DeleteAccount(
        self, request: control_pb2.DeleteAccountRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.DeleteAccountResponse:
        row = self.app.accounts.get(request.account_id)
        holder = self.app.registry.workers.get(row.worker_id or "")
        if holder is not None and holder.conn is not None:
            holder.conn.send(
                gateway_pb2.MasterFrame(
                    revoke=gateway_pb2.Revoke(
                        account_ids=[row.account_id], reason="account deleted"
                    )
                )
            )
        self.app.scheduler.forget(row.account_id, row.worker_id)
        removed = await self.app.accounts.delete(request.account_id, request.keep_items)
        self.app.inbox.forget(request.account_id)
        if not request.keep_items:
            self.app.ingest.threads.forget(request.account_id)
        self.app.unread_events.forget(request.account_id)
        # Consoles drop the account from their lists now, not at their next poll.
        self.app.bus.publish(
            account_id=request.account_id,
            account_deleted=control_pb2.AccountDeleted(
                account_id=request.account_id, items_deleted=removed
            ),
        )
        self.app.scheduler.poke()
        return control_pb2.DeleteAccountResponse(
            account_id=request.account_id, items_deleted=removed
        )

    async def AssignAccount(
        self, request: control_pb2.AssignAccountRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.Account:
        row = self.app.accounts.get(request.account_id)
        if request.worker_id:
            worker = self.app.registry.workers.get(request.worker_id)
            if worker is None:
                await fail(context, grpc.StatusCode.NOT_FOUND, f"no worker {request.worker_id!r}")
            if common_pb2.Platform.Value(row.platform) not in worker.platforms:
                await fail(
                    context,
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"worker {request.worker_id} does not run {row.platform}",
                )
        row.pinned_worker_id = request.worker_id or None
        await self.app.accounts.save(row)
        self.app.scheduler.poke(row.account_id)
        return self.app.accounts.describe(row)
