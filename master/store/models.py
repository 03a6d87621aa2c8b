"""Tables. Enum-valued columns hold the protobuf enum *names* so that a row is
readable in any SQL shell and survives renumbering."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from hiscrm_common.timeutil import utcnow


class WorkerRow(SQLModel, table=True):
    __tablename__ = "workers"

    worker_id: str = Field(primary_key=True, max_length=64)
    host: str = ""
    pid: int = 0
    version: str = ""
    platforms: str = ""  # comma-separated Platform names
    max_accounts: int = 0
    state: str = "WORKER_STATE_OFFLINE"
    boot_id: str = ""
    registered_at: datetime = Field(default_factory=utcnow)
    connected_at: datetime | None = None
    last_heartbeat_at: datetime | None = None
    state_changed_at: datetime = Field(default_factory=utcnow)
    cpu_percent: float = 0.0
    rss_bytes: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    uss_bytes: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    process_count: int = 0
    browser_rss_bytes: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, default=0)
    )
    browser_process_count: int = 0
    outbox_pending: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    connections: int = 0


class HostRow(SQLModel, table=True):
    """A worker host (master/hosts.py), kept so that a master restart does not
    forget one whose agent is down: what an operator needs to see it."""

    __tablename__ = "hosts"

    host_id: str = Field(primary_key=True, max_length=64)
    hostname: str = ""
    version: str = ""
    slots: int = 0
    memory_total_bytes: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, default=0)
    )
    state: str = "WORKER_STATE_OFFLINE"
    state_reason: str = ""
    state_changed_at: datetime = Field(default_factory=utcnow)
    joined_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime | None = None  # its last hello or report (written behind)
    left_at: datetime | None = None  # `hiscrm leave` drained and stopped it


class AccountRow(SQLModel, table=True):
    __tablename__ = "accounts"

    account_id: str = Field(primary_key=True, max_length=64)
    platform: str = Field(index=True)
    display_name: str = ""
    enabled: bool = True
    monitor_interval_ms: int = 30_000
    proxy: str = ""  # without its password (write-only, in proxy_secret)
    proxy_secret: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    monitor_comments: bool = True
    monitor_direct_messages: bool = True
    options_json: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    config_version: int = Field(default=1, sa_column=Column(BigInteger, nullable=False, default=1))
    acked_config_version: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, default=0)
    )
    worker_id: str | None = Field(default=None, index=True)
    pinned_worker_id: str | None = None
    # Workers that held the account before: their outboxes may still carry its
    # items, which must be accepted after a failover (nothing is lost).
    past_worker_ids: str = ""
    state: str = "RUN_STATE_UNASSIGNED"
    error_kind: str = "ERROR_KIND_UNSPECIFIED"
    state_reason: str = ""
    state_changed_at: datetime = Field(default_factory=utcnow)
    session: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    platform_user_id: str = ""
    nickname: str = ""
    avatar_url: str = ""
    unique_id: str = ""
    fingerprint_seed: str = ""
    last_cycle_at: datetime | None = None
    cursor: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    screenshot_path: str = ""
    proxy_ok: bool | None = None
    proxy_detail: str = ""
    proxy_latency_ms: int = 0
    proxy_checked_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ItemRow(SQLModel, table=True):
    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint(
            "platform", "account_id", "kind", "platform_item_id", name="uq_items_identity"
        ),
        Index("ix_items_account_read", "account_id", "read"),
        Index("ix_items_conversation", "account_id", "conversation_id"),
        Index("ix_items_conversation_ref", "conversation_ref", "id"),
    )

    # SQLite only autoincrements a column declared exactly INTEGER.
    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    platform: str
    account_id: str
    kind: str
    platform_item_id: str
    author_id: str = ""
    author_name: str = ""
    content: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    post_id: str = ""
    post_title: str = ""
    conversation_id: str = ""
    parent_id: str = ""
    outgoing: bool = False
    created_at: datetime | None = None
    received_at: datetime = Field(default_factory=utcnow, index=True)
    read: bool = False
    worker_id: str = ""
    raw_json: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # the ConversationRow it belongs to (issue 15; 0 for items stored before)
    conversation_ref: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, default=0, server_default="0")
    )


class ReplyRow(SQLModel, table=True):
    """Replies are idempotent by the client's request id."""

    __tablename__ = "replies"

    request_id: str = Field(primary_key=True, max_length=128)
    account_id: str = Field(index=True)
    item_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
    status: str = "pending"  # pending | sent | failed
    error_kind: str = "ERROR_KIND_UNSPECIFIED"
    error: str = ""
    platform_item_id: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    operator: str = ""  # the name of the token that asked for it
    worker_id: str = ""  # the worker it was last sent to: the only one that may settle it


class CredentialRow(SQLModel, table=True):
    """Operator tokens, worker credentials and the enrollment token: only a
    SHA-256 of each secret is kept."""

    __tablename__ = "credentials"

    token_id: str = Field(primary_key=True, max_length=32)
    secret_hash: str = Field(max_length=64, unique=True)
    kind: str  # CredentialKind name
    name: str = Field(max_length=128, index=True)
    role: str = "ROLE_UNSPECIFIED"
    worker_id: str = Field(default="", index=True, max_length=64)
    cert_identity: str = ""
    created_by: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


class AuditRow(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_account", "account_id", "id"),)

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    at: datetime = Field(default_factory=utcnow)
    actor: str = Field(default="", index=True)
    role: str = "ROLE_UNSPECIFIED"
    action: str = ""
    account_id: str = ""
    item_id: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    worker_id: str = ""
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    outcome: str = "OK"
    peer: str = ""


# ---------------------------------------------------------------- workspace (issue 15)


class ConversationRow(SQLModel, table=True):
    """A DM conversation (one customer, one account) or a comment thread (one
    post of one account). `thread_key` is the platform conversation id or the
    post id; the row's aggregates are kept by ingest (master/conversations.py)."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("account_id", "kind", "thread_key", name="uq_conversations_thread"),
        Index("ix_conversations_last", "last_message_at", "id"),
        Index("ix_conversations_account", "account_id", "last_message_at"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    account_id: str
    platform: str
    kind: str  # ConversationKind name
    thread_key: str
    customer_id: str = ""
    customer_name: str = ""
    post_id: str = ""
    post_title: str = ""
    last_message_text: str = ""
    last_message_at: datetime | None = None
    last_direction: str = "DIRECTION_UNSPECIFIED"
    waiting_since: datetime | None = None
    last_item_id: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    last_incoming_item_id: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, default=0)
    )
    item_count: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    status: str = "CONVERSATION_STATUS_OPEN"
    assignee: str = Field(default="", index=True)
    tags: str = ""  # ",a,b," so that one tag is a LIKE '%,a,%'
    priority: str = "PRIORITY_NORMAL"
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ConversationReadRow(SQLModel, table=True):
    """One operator's read mark on one conversation: every incoming item with
    an id up to read_up_to is read for them."""

    __tablename__ = "conversation_reads"

    conversation_ref: int = Field(sa_column=Column(BigInteger, primary_key=True))
    operator: str = Field(primary_key=True, max_length=128)
    read_up_to: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    updated_at: datetime = Field(default_factory=utcnow)


class SavedReplyRow(SQLModel, table=True):
    __tablename__ = "saved_replies"

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    name: str = Field(max_length=64, unique=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_by: str = ""
    updated_by: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class RuleRow(SQLModel, table=True):
    __tablename__ = "rules"

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    name: str = Field(max_length=128, unique=True)
    match: str = "RULE_MATCH_KEYWORD"
    pattern: str = Field(sa_column=Column(Text, nullable=False))
    kinds: str = ""  # comma-separated ItemKind names; empty = both
    account_ids: str = ""  # comma-separated; empty = every account
    add_tags: str = ""  # comma-separated
    set_priority: str = "PRIORITY_UNSPECIFIED"
    notify: bool = False
    enabled: bool = True
    hits: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    last_hit_at: datetime | None = None
    created_by: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class NotifierRow(SQLModel, table=True):
    """A notification target. The apprise URL carries secrets (webhook keys,
    passwords): stored encrypted like proxy passwords, never returned."""

    __tablename__ = "notifiers"

    name: str = Field(primary_key=True, max_length=64)
    url_secret: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    url_masked: str = ""
    kinds: str = ""  # comma-separated NotificationKind names; empty = all but TEST
    account_ids: str = ""
    max_per_minute: int = 0
    enabled: bool = True
    created_by: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
