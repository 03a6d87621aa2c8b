"""Rules: keyword or regular-expression matches on incoming text that tag a
conversation, raise its priority and/or notify.

Matching runs in a task of its own after ingest has committed (ingest only
hands over what it stored, without waiting), and every regular expression
runs with a timeout, so a slow pattern can delay tags but never ingest.
A hit is a ConversationUpdate (LABELS) naming the rules; master/notify
turns hits of notifying rules into messages.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import regex
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from hiscrm.v1 import common_pb2, control_pb2
from hiscrm_common.timeutil import aware, to_ts, utcnow
from master.accounts import AlreadyExists, NotFound
from master.conversation_actions import add_tags, check_tags, raise_priority
from master.conversations import Conversations
from master.limits import MAX_ID, MAX_IDS_PER_REQUEST
from master.ratelog import RateLimitedLog
from master.store.database import Database
from master.store.models import ConversationRow, ItemRow, RuleRow
from master.threads import Touched
from master.validation import InvalidInput, enum_names

log = logging.getLogger(__name__)

MAX_NAME = 128
MAX_PATTERN = 500
MATCH_TEXT = 4096  # of each item's text, what rules look at
REGEX_TIMEOUT_S = 0.05
QUEUE_COMMITS = 1000
KEYWORD_SEPARATORS = (",", "，")


@dataclass
class Compiled:
    row: RuleRow
    kinds: frozenset[str]
    accounts: frozenset[str]
    keywords: tuple[str, ...] = ()
    pattern: Any = None

    def matches(self, account_id: str, kind: str, text: str) -> bool:
        if (self.kinds and kind not in self.kinds) or (
            self.accounts and account_id not in self.accounts
        ):
            return False
        text = text[:MATCH_TEXT]
        if self.pattern is not None:
            return self.pattern.search(text, timeout=REGEX_TIMEOUT_S) is not None
        folded = text.casefold()
        return any(k in folded for k in self.keywords)


def _split(text: str) -> list[str]:
    return [p for p in text.split(",") if p]


def compile_rule(row: RuleRow) -> Compiled:
    base = Compiled(row, frozenset(_split(row.kinds)), frozenset(_split(row.account_ids)))
    if row.match == "RULE_MATCH_REGEX":
        base.pattern = regex.compile(row.pattern, regex.IGNORECASE | regex.V0)
    else:
        text = row.pattern
        for sep in KEYWORD_SEPARATORS[1:]:
            text = text.replace(sep, KEYWORD_SEPARATORS[0])
        base.keywords = tuple(k.strip().casefold() for k in text.split(",") if k.strip())
    return base


def check(rule: control_pb2.Rule) -> RuleRow:
    """The row a valid rule becomes; INVALID_ARGUMENT naming what is wrong."""
    name = rule.name.strip()
    if not 1 <= len(name) <= MAX_NAME:
        raise InvalidInput(f"rule name must be 1-{MAX_NAME} characters")
    if rule.match not in (control_pb2.RULE_MATCH_KEYWORD, control_pb2.RULE_MATCH_REGEX):
        raise InvalidInput("match must be RULE_MATCH_KEYWORD or RULE_MATCH_REGEX")
    if not 1 <= len(rule.pattern) <= MAX_PATTERN:
        raise InvalidInput(f"pattern must be 1-{MAX_PATTERN} characters")
    if len(rule.account_ids) > MAX_IDS_PER_REQUEST or any(
        not 1 <= len(a) <= MAX_ID or "," in a for a in rule.account_ids
    ):
        raise InvalidInput(
            f"account_ids: at most {MAX_IDS_PER_REQUEST} ids of 1-{MAX_ID} characters"
        )
    kinds = enum_names(common_pb2.ItemKind, rule.kinds, "kinds")
    tags = check_tags(list(rule.add_tags), "add_tags")
    if rule.set_priority not in control_pb2.Priority.values():
        raise InvalidInput(f"set_priority {rule.set_priority} is not one this master knows")
    if not (tags or rule.set_priority or rule.notify):
        raise InvalidInput("a rule needs an action: add_tags, set_priority or notify")
    row = RuleRow(
        name=name,
        match=control_pb2.RuleMatch.Name(rule.match),
        pattern=rule.pattern,
        kinds=",".join(kinds),
        account_ids=",".join(rule.account_ids),
        add_tags=",".join(tags),
        set_priority=control_pb2.Priority.Name(rule.set_priority),
        notify=rule.notify,
        enabled=rule.enabled,
    )
    try:
        compile_rule(row)
    except regex.error as exc:
        raise InvalidInput(f"pattern is not a valid regular expression: {exc}") from None
    return row


def proto_of(row: RuleRow) -> control_pb2.Rule:
    msg = control_pb2.Rule(
        id=row.id or 0,
        name=row.name,
        match=row.match,  # enum names, as stored
        pattern=row.pattern,
        kinds=_split(row.kinds),
        account_ids=_split(row.account_ids),
        add_tags=_split(row.add_tags),
        set_priority=row.set_priority,
        notify=row.notify,
        enabled=row.enabled,
        hits=row.hits,
        created_by=row.created_by,
    )
    for name in ("last_hit_at", "created_at", "updated_at"):
        ts = to_ts(aware(getattr(row, name)))
        if ts is not None:
            getattr(msg, name).CopyFrom(ts)
    return msg


@dataclass
class Hit:
    tags: list[str] = field(default_factory=list)
    priority: int = 0
    rules: list[str] = field(default_factory=list)


class Rules:
    def __init__(self, db: Database, conversations: Conversations) -> None:
        self.db = db
        self.conversations = conversations
        self.compiled: list[Compiled] = []
        self.queue: asyncio.Queue[list[Touched]] = asyncio.Queue(QUEUE_COMMITS)
        self.dropped = 0
        self.timeouts = 0
        self._ratelog = RateLimitedLog(log)

    def notifying(self, name: str) -> bool:
        return any(c.row.name == name and c.row.notify for c in self.compiled)

    async def load(self) -> None:
        rows = await self.db.run(lambda s: list(s.exec(select(RuleRow).order_by(col(RuleRow.id)))))
        self.compiled = [compile_rule(r) for r in rows if r.enabled]

    # ------------------------------------------------------------ CRUD

    async def listing(self) -> list[control_pb2.Rule]:
        rows = await self.db.run(lambda s: list(s.exec(select(RuleRow).order_by(col(RuleRow.id)))))
        return [proto_of(r) for r in rows]

    async def save(
        self, rule: control_pb2.Rule, operator: str, rule_id: int = 0
    ) -> control_pb2.Rule:
        fresh = check(rule)

        def write(session: Session) -> RuleRow:
            if rule_id:
                row = session.get(RuleRow, rule_id)
                if row is None:
                    raise NotFound(f"no rule {rule_id}")
                for name in ("name", "match", "pattern", "kinds", "account_ids", "add_tags",
                             "set_priority", "notify", "enabled"):  # fmt: skip
                    setattr(row, name, getattr(fresh, name))
            else:
                row = fresh
                row.created_by = operator
            row.updated_at = utcnow()
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                raise AlreadyExists(f"a rule is already named {fresh.name!r}") from None
            session.refresh(row)
            return RuleRow(**row.model_dump())

        saved = await self.db.run(write)
        await self.load()
        return proto_of(saved)

    async def delete(self, rule_id: int) -> None:
        def write(session: Session) -> None:
            row = session.get(RuleRow, rule_id)
            if row is None:
                raise NotFound(f"no rule {rule_id}")
            session.delete(row)
            session.commit()

        await self.db.run(write)
        await self.load()

    # ------------------------------------------------------------ matching

    def after_ingest(self, touched: list[Touched]) -> None:
        """Called by ingest after a commit; never waits."""
        if not self.compiled:
            return
        incoming = [t for t in touched if t.new_incoming]
        if not incoming:
            return
        try:
            self.queue.put_nowait(incoming)
        except asyncio.QueueFull:
            self.dropped += sum(t.new_incoming for t in incoming)
            self._ratelog.warning(
                "rules-full",
                "rules are %d commits behind: %d items were not matched (total %d)",
                QUEUE_COMMITS,
                sum(t.new_incoming for t in incoming),
                self.dropped,
            )

    async def run(self) -> None:
        while True:
            touched = await self.queue.get()
            while not self.queue.empty() and len(touched) < 2000:
                touched.extend(self.queue.get_nowait())
            await self.evaluate(touched)

    async def evaluate(self, touched: list[Touched]) -> None:
        ids = [i for t in touched for i in t.item_ids]

        def read(session: Session) -> list[tuple[int, int, str, str, str]]:
            out: list[tuple[int, int, str, str, str]] = []
            for i in range(0, len(ids), 500):
                stmt = sa_select(
                    col(ItemRow.id),
                    col(ItemRow.conversation_ref),
                    col(ItemRow.account_id),
                    col(ItemRow.kind),
                    col(ItemRow.content),
                ).where(
                    col(ItemRow.id).in_(ids[i : i + 500]),
                    col(ItemRow.outgoing) == False,  # noqa: E712
                )
                out.extend(
                    (int(a or 0), int(b), c, d, e) for a, b, c, d, e in session.execute(stmt)
                )
            return out

        items = await self.db.run(read)
        hits: dict[int, Hit] = defaultdict(Hit)
        counts: dict[int, int] = defaultdict(int)
        for _item_id, ref, account_id, kind, content in items:
            for rule in self.compiled:
                try:
                    matched = rule.matches(account_id, kind, content)
                except TimeoutError:
                    self.timeouts += 1
                    self._ratelog.warning(
                        f"rule-timeout:{rule.row.id}",
                        "account %s: rule %s took over %.0f ms on item %d: skipped",
                        account_id,
                        rule.row.name,
                        REGEX_TIMEOUT_S * 1000,
                        _item_id,
                    )
                    continue
                if not matched:
                    continue
                hit = hits[ref]
                hit.tags.extend(t for t in _split(rule.row.add_tags) if t not in hit.tags)
                hit.priority = max(hit.priority, control_pb2.Priority.Value(rule.row.set_priority))
                if rule.row.name not in hit.rules:
                    hit.rules.append(rule.row.name)
                counts[rule.row.id or 0] += 1
        if hits:
            await self._apply(hits, counts)

    async def _apply(self, hits: dict[int, Hit], counts: dict[int, int]) -> None:
        def write(session: Session) -> list[ConversationRow]:
            now = utcnow()
            changed = []
            for ref, hit in hits.items():
                row = session.get(ConversationRow, ref)
                if row is None:
                    continue
                try:
                    add_tags(row, hit.tags)
                except InvalidInput:
                    log.warning(
                        "account %s: conversation %d has too many tags", row.account_id, ref
                    )
                raise_priority(row, hit.priority)
                row.updated_at = now
                session.add(row)
                changed.append(row)
            for rule_id, n in counts.items():
                rule = session.get(RuleRow, rule_id)
                if rule is not None:
                    rule.hits += n
                    rule.last_hit_at = now
                    session.add(rule)
            session.commit()
            return [ConversationRow(**r.model_dump()) for r in changed]

        for row in await self.db.run(write):
            hit = hits[row.id or 0]
            log.info(
                "account %s: conversation %d matched rule(s) %s",
                row.account_id,
                row.id,
                ", ".join(hit.rules),
            )
            self.conversations.publish(
                row, control_pb2.CONVERSATION_CHANGE_LABELS, rules_hit=hit.rules
            )
