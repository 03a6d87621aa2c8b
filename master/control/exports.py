"""Control RPCs that read in bulk (issue 15): exports and reports."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from hiscrm.v1 import control_pb2
from master import exporting
from master.control.base import RpcBase, fail
from master.control.conversations import operator

PAGE = 1000


class ExportRpcs(RpcBase):
    async def _check_format(self, fmt: int, context: grpc.aio.ServicerContext) -> None:
        try:
            exporting.check_format(fmt)
        except ValueError as exc:
            await fail(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))

    async def ExportItems(
        self, request: control_pb2.ExportItemsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[control_pb2.ExportChunk]:
        await self._check_format(request.format, context)
        if request.max_rows > exporting.MAX_ROWS:
            await fail(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"max_rows is at most {exporting.MAX_ROWS}",
            )
        limit = request.max_rows or exporting.DEFAULT_ROWS
        query = control_pb2.ListItemsRequest()
        query.CopyFrom(request.filter)
        query.page_token = ""
        # the first page checks the filter before a byte is streamed
        first = await self.app.inbox.list(_sized(query, min(PAGE, limit)))

        async def pages() -> AsyncIterator[list[control_pb2.StoredItem]]:
            page, left = first, limit
            while True:
                items = list(page.items)[:left]
                left -= len(items)
                yield items
                if not page.next_page_token or left <= 0:
                    return
                query.page_token = page.next_page_token
                page = await self.app.inbox.list(_sized(query, min(PAGE, left)))

        async for chunk in exporting.chunks(
            pages(), request.format, exporting.file_name("items", request.format)
        ):
            yield chunk

    async def ExportConversation(
        self, request: control_pb2.ExportConversationRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[control_pb2.ExportChunk]:
        await self._check_format(request.format, context)
        conv, pairs, _ = await self.app.conversations.thread(
            request.conversation_ref, operator(), max_items=5000
        )
        rows = [r for r, _ in pairs]
        items = [m for _, m in pairs]
        await self.app.inbox.replied_by(rows, items)

        async def pages() -> AsyncIterator[list[control_pb2.StoredItem]]:
            yield items

        name = exporting.file_name(f"conversation-{conv.conversation_ref}", request.format)
        async for chunk in exporting.chunks(pages(), request.format, name):
            yield chunk

    async def GetReport(
        self, request: control_pb2.GetReportRequest, context: grpc.aio.ServicerContext
    ) -> control_pb2.Report:
        return await self.app.reports.report(request)


def _sized(query: control_pb2.ListItemsRequest, size: int) -> control_pb2.ListItemsRequest:
    query.page_size = size
    return query
