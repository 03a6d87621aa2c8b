"""Exports: a filtered item list or one conversation as CSV or XLSX.

CSV is UTF-8 with a byte-order mark, so spreadsheets show Chinese text
correctly; XLSX is written by openpyxl in write-only mode. Cells a
spreadsheet would take for a formula are neutralised (CSV: a leading
apostrophe; XLSX: stored as text), because the text comes from strangers.
The file is built off the event loop and streamed in chunks.
"""

from __future__ import annotations

import asyncio
import csv
import io
import tempfile
from collections.abc import AsyncIterator, Iterable
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from hiscrm.v1 import common_pb2, control_pb2
from hiscrm_common.timeutil import from_ts

CHUNK = 256 * 1024
DEFAULT_ROWS = 100_000
MAX_ROWS = 1_000_000
CONTENT_TYPES: dict[int, str] = {
    control_pb2.EXPORT_FORMAT_CSV: "text/csv; charset=utf-8",
    control_pb2.EXPORT_FORMAT_XLSX: (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    ),
}
EXTENSIONS: dict[int, str] = {
    control_pb2.EXPORT_FORMAT_CSV: "csv",
    control_pb2.EXPORT_FORMAT_XLSX: "xlsx",
}
HEADER = [
    "id",
    "account_id",
    "platform",
    "kind",
    "direction",
    "conversation_ref",
    "parent_item_id",
    "author_id",
    "author_name",
    "content",
    "post_id",
    "post_title",
    "conversation_id",
    "platform_item_id",
    "created_at",
    "received_at",
    "replied_by",
]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _iso(ts: Timestamp) -> str:
    when: datetime | None = from_ts(ts)
    return when.isoformat() if when else ""


def row_of(s: control_pb2.StoredItem) -> list[str | int]:
    item = s.item
    return [
        s.id,
        item.account_id,
        common_pb2.Platform.Name(item.platform).removeprefix("PLATFORM_").lower(),
        common_pb2.ItemKind.Name(item.kind).removeprefix("ITEM_KIND_").lower(),
        "outgoing" if item.outgoing else "incoming",
        s.conversation_ref,
        s.parent_item_id,
        item.author_id,
        item.author_name,
        item.content,
        item.post_id,
        item.post_title,
        item.conversation_id,
        item.platform_item_id,
        _iso(item.created_at) if item.HasField("created_at") else "",
        _iso(s.received_at) if s.HasField("received_at") else "",
        s.replied_by,
    ]


def check_format(fmt: int) -> None:
    if fmt not in CONTENT_TYPES:
        raise ValueError("format must be EXPORT_FORMAT_CSV or EXPORT_FORMAT_XLSX")


def file_name(stem: str, fmt: int) -> str:
    return f"{stem}.{EXTENSIONS[fmt]}"


def _csv_safe(value: str | int) -> str | int:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_bytes(rows: Iterable[list[str | int]], header: bool) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    if header:
        writer.writerow(HEADER)
    for row in rows:
        writer.writerow([_csv_safe(v) for v in row])
    data = buf.getvalue().encode("utf-8")
    return (b"\xef\xbb\xbf" + data) if header else data


def xlsx_file(rows: Iterable[list[str | int]]) -> tempfile.SpooledTemporaryFile[bytes]:
    """The workbook, in a spooled file (memory up to 8 MiB, disk after)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet("items")
    sheet.append(HEADER)
    for row in rows:
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # never a formula, whatever the text starts with
            cells.append(cell)
        sheet.append(cells)
    out: tempfile.SpooledTemporaryFile[bytes] = tempfile.SpooledTemporaryFile(8 << 20)
    book.save(out)
    out.seek(0)
    return out


async def chunks(
    pages: AsyncIterator[list[control_pb2.StoredItem]], fmt: int, name: str
) -> AsyncIterator[control_pb2.ExportChunk]:
    """The file's bytes in chunks: the first names the file, the last counts rows."""
    first = control_pb2.ExportChunk(file_name=name, content_type=CONTENT_TYPES[fmt])
    count = 0
    if fmt == control_pb2.EXPORT_FORMAT_CSV:
        header = True
        async for page in pages:
            data = await asyncio.to_thread(csv_bytes, [row_of(s) for s in page], header)
            header = False  # the BOM and the header lead the first chunk only
            count += len(page)
            for i in range(0, len(data), CHUNK):
                first.data = data[i : i + CHUNK]
                yield first
                first = control_pb2.ExportChunk()
        if header:  # no rows at all: still a file with its header
            first.data = csv_bytes([], True)
            yield first
            first = control_pb2.ExportChunk()
    else:
        rows: list[list[str | int]] = []
        async for page in pages:
            rows.extend(row_of(s) for s in page)
        count = len(rows)
        spooled = await asyncio.to_thread(xlsx_file, rows)
        with spooled:
            while True:
                data = await asyncio.to_thread(spooled.read, CHUNK)
                if not data:
                    break
                first.data = data
                yield first
                first = control_pb2.ExportChunk()
    yield control_pb2.ExportChunk(last=True, rows=count)
