"""`hiscrm export`: stored items or one conversation to a CSV (UTF-8 with a
BOM) or XLSX file, made by the master (Control.ExportItems /
ExportConversation) and streamed here. The file appears whole or not at all."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import grpc

from hiscrm.v1 import common_pb2, control_pb2, control_pb2_grpc
from hiscrm_common import settings
from hiscrm_common.channel import open_channel
from hiscrm_common.timeutil import to_ts

FORMATS = {"csv": control_pb2.EXPORT_FORMAT_CSV, "xlsx": control_pb2.EXPORT_FORMAT_XLSX}
KINDS = {"comment": common_pb2.ITEM_KIND_COMMENT, "dm": common_pb2.ITEM_KIND_DIRECT_MESSAGE}


def add_parsers(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    export = command("export", "stored items or a conversation to CSV or XLSX")
    export.add_argument("--format", choices=sorted(FORMATS), default="csv")
    export.add_argument(
        "-o",
        "--output",
        default="",
        help="file to write ('-' = stdout; default: the master's name)",
    )
    export.add_argument("--conversation", type=int, default=0, help="one conversation by its ref")
    export.add_argument("--account", action="append", default=[], help="repeatable")
    export.add_argument("--kind", choices=sorted(KINDS), action="append", default=[])
    export.add_argument("--unread", action="store_true", help="unread items only")
    export.add_argument("--query", default="", help="text in the content or author name")
    export.add_argument("--since", default="", help="ISO time, e.g. 2026-12-01T00:00:00+08:00")
    export.add_argument("--until", default="", help="ISO time")
    export.add_argument("--max-rows", type=int, default=0, help="default 100,000")


def _time(text: str, name: str) -> datetime | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise SystemExit(
            f"--{name}: {text!r} is not an ISO time (2026-12-01T08:00:00+08:00)"
        ) from None
    if when.tzinfo is None:
        when = when.astimezone()  # the local zone, as the operator meant it
    return when


def request_of(args: argparse.Namespace) -> tuple[str, object]:
    fmt = FORMATS[args.format]
    if args.conversation:
        return "ExportConversation", control_pb2.ExportConversationRequest(
            conversation_ref=args.conversation, format=fmt
        )
    query = control_pb2.ListItemsRequest(
        account_ids=args.account,
        kinds=[KINDS[k] for k in args.kind],
        unread_only=args.unread,
        query=args.query,
    )
    for name in ("since", "until"):
        when = _time(getattr(args, name), name)
        if when is not None:
            getattr(query, name).CopyFrom(to_ts(when))
    return "ExportItems", control_pb2.ExportItemsRequest(
        filter=query, format=fmt, max_rows=max(args.max_rows, 0)
    )


async def _receive(address: str, method: str, request: object, out: BinaryIO) -> tuple[str, int]:
    """Writes the streamed file to out; returns the master's file name and the row count."""
    rows, name = 0, ""
    async with open_channel(address, settings.load_token()) as channel:
        stub = control_pb2_grpc.ControlStub(channel)
        try:
            async for chunk in getattr(stub, method)(request, timeout=600):
                name = name or chunk.file_name
                out.write(chunk.data)
                if chunk.last:
                    rows = chunk.rows
        except grpc.aio.AioRpcError as exc:
            raise SystemExit(f"{exc.code().name}: {exc.details()}") from None
    return name, rows


def _settle(partial: str, final: Path | None) -> None:
    """The finished file takes its name; an unfinished one is removed."""
    if final is not None:
        os.replace(partial, final)
    elif os.path.exists(partial):
        os.unlink(partial)


async def cmd_export(fleet: object, args: argparse.Namespace) -> None:
    method, request = request_of(args)
    address = getattr(fleet, "master_address", settings.DEFAULT_MASTER_ADDRESS)
    if args.output == "-":
        await _receive(address, method, request, sys.stdout.buffer)
        sys.stdout.flush()
        return
    target = Path(args.output) if args.output else None
    fd, partial = tempfile.mkstemp(
        prefix=".hiscrm-export-", dir=(target.parent if target else Path.cwd())
    )
    final: Path | None = None
    try:
        with os.fdopen(fd, "wb") as out:
            name, rows = await _receive(address, method, request, out)
        final = target or Path(name or f"export.{args.format}")
    finally:
        await asyncio.to_thread(_settle, partial, final)
    sys.stderr.write(f"{final}: {rows} rows\n")
