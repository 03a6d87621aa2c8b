"""Every bound on what a worker or an operator may send, in one place.

Invariant 6 and 7: a field the master does not know (a newer enum value), an
absurd number or an oversized string is a typed refusal of that one frame or
item, before it touches any state; never a dead task, never a row that
breaks every later read. The proto comments state these numbers; change them
here and there together.

Lengths are counted in UTF-8 bytes for strings (what the database and the
wire carry), in bytes for bytes fields.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from hiscrm.v1 import common_pb2, gateway_pb2

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")  # worker and account ids
MAX_ID = 64
MAX_HOST = 255
MAX_VERSION = 64
MAX_BOOT_ID = 64
MAX_PLATFORMS = 16
MAX_ACCOUNTS_PER_WORKER = 100_000  # Register.max_accounts, held_accounts
MAX_REASON = 2_000  # reasons, errors, hints, goodbyes
MAX_CURSOR = 4_096
MAX_PATH = 1_024  # screenshot paths
MAX_SESSION_ID = 128
MAX_REQUEST_ID = 128
MAX_SESSION_BYTES = 1 << 20  # an encrypted storage state
MAX_QR_PNG_BYTES = 1 << 20
MAX_QR_CONTENT = 4_096
MAX_USER_FIELD = 512  # user id, nickname, avatar URL, unique id
MAX_FINGERPRINT_FIELD = 1_024
# Items: identity fields are short; texts are bounded so that a page of
# ListItems (master/inbox.py trims pages by bytes too) always fits a message.
MAX_ITEM_ID = 256  # platform_item_id, author_id, post_id, conversation_id, parent_id
MAX_AUTHOR_NAME = 512
MAX_POST_TITLE = 1_024
MAX_CONTENT = 128 * 1024
MAX_RAW_JSON = 256 * 1024
MAX_ITEMS_PER_BATCH = 10_000
# Numbers: what fits the database's signed 64-bit integers, and sane bounds.
MAX_INT64 = 2**63 - 1
MAX_COUNT = 2**53  # outbox depths and other counters shown to operators
MAX_PID = 2**31 - 1
MAX_CPU_PERCENT = 100_000.0  # 1,000 cores
# Control requests
MAX_DISPLAY_NAME = 200
MAX_PROXY = 2_048
MAX_BASE_URL = 2_048
MAX_DEMO_USERNAME = 128
MAX_QUERY = 200
MAX_IDS_PER_REQUEST = 1_000
MAX_REPLY_TEXT = 2_000
MAX_VERIFICATION_CODE = 32
MAX_SYNTHETIC_CONTENT = MAX_CONTENT
MAX_LIST_RESPONSE_BYTES = 4 << 20  # a ListItems page is cut here (under the 8 MiB frame limit)


class LimitError(ValueError):
    """A value outside its documented bound; the message names field and bound."""


def check_str(field: str, value: str, limit: int) -> None:
    if len(value) * 4 <= limit:  # no code point takes more than 4 bytes: no need to encode
        return
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > limit:
        raise LimitError(f"{field} is {size} bytes, over the limit of {limit}")


def check_bytes(field: str, value: bytes, limit: int) -> None:
    if len(value) > limit:
        raise LimitError(f"{field} is {len(value)} bytes, over the limit of {limit}")


def check_int(field: str, value: int | float, low: int | float, high: int | float) -> None:
    if not low <= value <= high:  # NaN fails this too
        raise LimitError(f"{field}={value} is out of range [{low}, {high}]")


def check_enum(field: str, enum: Any, value: int, *, allow_unspecified: bool = True) -> None:
    """A value this master knows; a newer one (a worker of a later release)
    is refused with its number, never looked up by name later."""
    # values_by_number is the descriptor's own dict: no list built per item
    if value not in enum.DESCRIPTOR.values_by_number:
        raise LimitError(
            f"{field}={value} is not a {enum.DESCRIPTOR.name} this master knows "
            "(a newer worker? upgrade the master first)"
        )
    if not allow_unspecified and value == 0:
        raise LimitError(f"{field} is required")


def check_id(field: str, value: str) -> None:
    if not ID_RE.match(value):
        raise LimitError(
            f"{field} {value[:80]!r} is invalid: use 1-{MAX_ID} letters, digits and '_.:-', "
            "starting with a letter or digit"
        )


def check_ids(field: str, values: Iterable[str], limit: int = MAX_ID) -> None:
    for i, value in enumerate(values):
        check_str(f"{field}[{i}]", value, limit)


# ---------------------------------------------------------------- worker frames


def check_register(reg: gateway_pb2.Register) -> None:
    check_id("Register.worker_id", reg.worker_id)
    check_str("Register.host", reg.host, MAX_HOST)
    check_str("Register.version", reg.version, MAX_VERSION)
    check_str("Register.boot_id", reg.boot_id, MAX_BOOT_ID)
    check_int("Register.pid", reg.pid, 0, MAX_PID)
    check_int("Register.max_accounts", reg.max_accounts, 0, MAX_ACCOUNTS_PER_WORKER)
    check_int("Register.outbox_pending", reg.outbox_pending, 0, MAX_COUNT)
    if not reg.platforms:
        raise LimitError("Register.platforms is empty")
    check_int("len(Register.platforms)", len(reg.platforms), 1, MAX_PLATFORMS)
    for i, platform in enumerate(reg.platforms):
        check_enum(
            f"Register.platforms[{i}]", common_pb2.Platform, platform, allow_unspecified=False
        )
    check_int("len(Register.held_accounts)", len(reg.held_accounts), 0, MAX_ACCOUNTS_PER_WORKER)
    for i, held in enumerate(reg.held_accounts):
        check_str(f"Register.held_accounts[{i}].account_id", held.account_id, MAX_ID)
        check_int(f"Register.held_accounts[{i}].config_version", held.config_version, 0, MAX_INT64)


def check_stats(field: str, stats: common_pb2.ProcessStats) -> None:
    check_int(f"{field}.cpu_percent", stats.cpu_percent, 0, MAX_CPU_PERCENT)
    for name in ("rss_bytes", "uss_bytes", "browser_rss_bytes"):
        check_int(f"{field}.{name}", getattr(stats, name), 0, MAX_INT64)


def check_heartbeat(hb: gateway_pb2.Heartbeat) -> None:
    check_int("Heartbeat.outbox_pending", hb.outbox_pending, 0, MAX_COUNT)
    check_stats("Heartbeat.stats", hb.stats)
    check_int("len(Heartbeat.accounts)", len(hb.accounts), 0, MAX_ACCOUNTS_PER_WORKER)
    check_str("Heartbeat.delivery_error", hb.delivery_error, MAX_REASON)
    check_int("Heartbeat.delivery_errors", hb.delivery_errors, 0, MAX_COUNT)
    for i, status in enumerate(hb.accounts):
        field = f"Heartbeat.accounts[{i}]"
        check_str(f"{field}.account_id", status.account_id, MAX_ID)
        check_enum(f"{field}.state", common_pb2.RunState, status.state)
        check_int(f"{field}.outbox_pending", status.outbox_pending, 0, MAX_COUNT)
        check_int(f"{field}.config_version", status.config_version, -MAX_INT64, MAX_INT64)
        heap = status.monitor_page.js_heap_used_bytes
        check_int(f"{field}.monitor_page.js_heap_used_bytes", heap, 0, MAX_INT64)


def check_account_state(state: gateway_pb2.AccountState) -> None:
    check_str("AccountState.account_id", state.account_id, MAX_ID)
    check_enum("AccountState.state", common_pb2.RunState, state.state)
    check_enum("AccountState.error_kind", common_pb2.ErrorKind, state.error_kind)
    check_str("AccountState.reason", state.reason, MAX_REASON)
    check_str("AccountState.screenshot_path", state.screenshot_path, MAX_PATH)
    check_str("AccountState.cursor", state.cursor, MAX_CURSOR)
    check_str("AccountState.proxy_health.detail", state.proxy_health.detail, MAX_REASON)


def check_config_ack(ack: gateway_pb2.ConfigAck) -> None:
    check_str("ConfigAck.account_id", ack.account_id, MAX_ID)
    check_int("ConfigAck.config_version", ack.config_version, 0, MAX_INT64)
    check_str("ConfigAck.error", ack.error, MAX_REASON)


def check_command_result(result: gateway_pb2.CommandResult) -> None:
    check_str("CommandResult.request_id", result.request_id, MAX_REQUEST_ID)
    check_str("CommandResult.account_id", result.account_id, MAX_ID)
    check_enum("CommandResult.error_kind", common_pb2.ErrorKind, result.error_kind)
    check_str("CommandResult.error", result.error, MAX_REASON)
    check_str("CommandResult.platform_item_id", result.platform_item_id, MAX_ITEM_ID)


def check_session_refresh(refresh: gateway_pb2.SessionRefresh) -> None:
    check_str("SessionRefresh.account_id", refresh.account_id, MAX_ID)
    check_bytes("SessionRefresh.session", refresh.session, MAX_SESSION_BYTES)
    check_int("SessionRefresh.config_version", refresh.config_version, 0, MAX_INT64)


def check_user(field: str, user: common_pb2.UserInfo) -> None:
    for name in ("platform_user_id", "nickname", "avatar_url", "unique_id"):
        check_str(f"{field}.{name}", getattr(user, name), MAX_USER_FIELD)


def check_login(event: gateway_pb2.LoginEvent) -> None:
    check_str("LoginEvent.session_id", event.session_id, MAX_SESSION_ID)
    check_str("LoginEvent.account_id", event.account_id, MAX_ID)
    kind = event.WhichOneof("event")
    if kind == "qr":
        check_bytes("LoginEvent.qr.png", event.qr.png, MAX_QR_PNG_BYTES)
        check_str("LoginEvent.qr.content", event.qr.content, MAX_QR_CONTENT)
    elif kind == "verification_required":
        v = event.verification_required
        check_enum(
            "LoginEvent.verification_required.method", gateway_pb2.VerificationMethod, v.method
        )
        check_str("LoginEvent.verification_required.hint", v.hint, MAX_REASON)
    elif kind == "success":
        check_bytes("LoginEvent.success.session", event.success.session, MAX_SESSION_BYTES)
        check_user("LoginEvent.success.user", event.success.user)
        fp = event.success.fingerprint
        for f in ("user_agent", "platform", "webgl_vendor", "webgl_renderer", "seed"):
            check_str(f"LoginEvent.success.fingerprint.{f}", getattr(fp, f), MAX_FINGERPRINT_FIELD)
    elif kind == "failed":
        check_enum("LoginEvent.failed.kind", common_pb2.ErrorKind, event.failed.kind)
        check_str("LoginEvent.failed.reason", event.failed.reason, MAX_REASON)
    elif kind in ("expired", "cancelled"):
        check_str(f"LoginEvent.{kind}.reason", getattr(event, kind).reason, MAX_REASON)


def check_goodbye(goodbye: gateway_pb2.Goodbye) -> None:
    check_str("Goodbye.reason", goodbye.reason, MAX_REASON)


def check_batch(batch: gateway_pb2.ItemsBatch) -> None:
    """The batch as a whole (its items are checked one by one: check_item)."""
    check_int("ItemsBatch.seq", batch.seq, 1, MAX_INT64)
    check_str("ItemsBatch.account_id", batch.account_id, MAX_ID)
    check_int("len(ItemsBatch.items)", len(batch.items), 0, MAX_ITEMS_PER_BATCH)


_ITEM_STRINGS = (
    ("platform_item_id", MAX_ITEM_ID),
    ("author_id", MAX_ITEM_ID),
    ("author_name", MAX_AUTHOR_NAME),
    ("content", MAX_CONTENT),
    ("post_id", MAX_ITEM_ID),
    ("post_title", MAX_POST_TITLE),
    ("conversation_id", MAX_ITEM_ID),
    ("parent_id", MAX_ITEM_ID),
    ("raw_json", MAX_RAW_JSON),
)


def check_item(item: common_pb2.Item) -> None:
    """One item: a refusal names the item; the rest of its batch is unaffected."""
    check_enum("Item.platform", common_pb2.Platform, item.platform, allow_unspecified=False)
    check_enum("Item.kind", common_pb2.ItemKind, item.kind, allow_unspecified=False)
    if not item.platform_item_id:
        raise LimitError("Item.platform_item_id is required")
    for name, limit in _ITEM_STRINGS:
        value = getattr(item, name)
        if len(value) * 4 > limit:  # the cheap bound first: this runs for every item
            check_str(f"Item.{name}", value, limit)
    # created_at is not refused: a timestamp out of datetime's range is
    # stored as unknown (timeutil.from_ts), a worker's bad clock loses nothing


CHECKS: dict[str, Any] = {
    "register": check_register,
    "heartbeat": check_heartbeat,
    "login": check_login,
    "items": check_batch,
    "config_ack": check_config_ack,
    "account_state": check_account_state,
    "command_result": check_command_result,
    "goodbye": check_goodbye,
    "session_refresh": check_session_refresh,
}


def check_frame(kind: str | None, frame: gateway_pb2.WorkerFrame) -> None:
    """Raises LimitError for a frame that must not touch any state."""
    if kind is None:
        raise LimitError("empty WorkerFrame: none of its frame fields is set (a newer worker?)")
    check = CHECKS.get(kind)
    if check is None:
        raise LimitError(f"{kind} frames are not known to this master")
    check(getattr(frame, kind))


# ---------------------------------------------------------------- Control requests

# String fields of Control requests by name, in bytes; any other string gets
# MAX_FIELD. Texts an operator types are bounded in characters where they are
# used (validation.py, replies.py); here at 4 bytes a character, so that a
# Chinese name or reply is never refused for its encoding.
REQUEST_STRINGS = {
    "account_id": MAX_ID,
    "worker_id": MAX_ID,
    "pinned_worker_id": MAX_ID,
    "session_id": MAX_SESSION_ID,
    "request_id": MAX_REQUEST_ID,
    "page_token": 128,
    "display_name": MAX_DISPLAY_NAME * 4,
    "proxy": MAX_PROXY,
    "base_url": MAX_BASE_URL,
    "username": MAX_DEMO_USERNAME,
    "query": MAX_QUERY * 4,
    "text": MAX_REPLY_TEXT * 4,
    "code": MAX_VERIFICATION_CODE,
    "conversation_id": MAX_ITEM_ID,
    "post_id": MAX_ITEM_ID,
    "item_id": MAX_ITEM_ID,
    "platform_item_id": MAX_ITEM_ID,
}
MAX_FIELD = 4_096
_STRING, _BYTES, _ENUM, _MESSAGE = 9, 12, 14, 11  # FieldDescriptor.TYPE_*


def check_request(msg: Any, path: str = "") -> None:
    """Every set field of a Control request (recursively) within its bound:
    the same rule for every RPC, before a handler sees the request."""
    for field, value in msg.ListFields():
        name = f"{path}{field.name}"
        values = list(value) if _is_repeated(field) else [value]
        if _is_repeated(field):
            check_int(f"len({name})", len(values), 0, MAX_IDS_PER_REQUEST)
        for i, v in enumerate(values):
            where = f"{name}[{i}]" if _is_repeated(field) else name
            if field.type == _STRING:
                check_str(where, v, REQUEST_STRINGS.get(field.name, MAX_FIELD))
            elif field.type == _BYTES:
                check_bytes(where, v, MAX_FIELD)
            elif field.type == _ENUM:
                if v not in field.enum_type.values_by_number:
                    raise LimitError(
                        f"{where}={v} is not a {field.enum_type.name} this master knows"
                    )
            elif field.type == _MESSAGE and not field.message_type.GetOptions().map_entry:
                check_request(v, f"{where}.")


def _is_repeated(field: Any) -> bool:
    return bool(field.is_repeated)
