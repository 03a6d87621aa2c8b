"""The Inbox's filter line: a few words an agent types, turned into a
ListConversations request, and the same test applied to live updates.

  from:NAME  customer (substring of the name, or the exact platform id)
  post:ID    one post's comment thread
  tag:TAG    conversations carrying the tag
  @NAME      assigned to NAME; @me and @none are what they say
  since:2h   last message within 30m / 2h / 3d, or since:2026-12-01
  is:unread  unread by me; is:open, is:pending, is:done, is:all (default: open and pending)
  dm, comments   one kind only
  account:ID one account
  anything else: words of the last message

Bad words are a clear error, not a silent no-op.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from hiscrm.v1 import control_pb2
from tui import format as fmt

OPEN = control_pb2.CONVERSATION_STATUS_OPEN
PENDING = control_pb2.CONVERSATION_STATUS_PENDING
DONE = control_pb2.CONVERSATION_STATUS_DONE
DM_KIND = control_pb2.CONVERSATION_KIND_DIRECT_MESSAGE
THREAD_KIND = control_pb2.CONVERSATION_KIND_COMMENT_THREAD
STATUS_WORDS = {"open": (OPEN,), "pending": (PENDING,), "done": (DONE,), "all": ()}
KIND_WORDS = {"dm": DM_KIND, "dms": DM_KIND, "comment": THREAD_KIND, "comments": THREAD_KIND}
AGE = re.compile(r"^(\d+)([mhd])$")
UNIT_S = {"m": 60, "h": 3600, "d": 86400}
PAGE = 200  # conversations listed; older ones are a filter away


class FilterError(ValueError):
    """A word of the filter line that means nothing; the text says which."""


@dataclass
class ConversationFilter:
    statuses: tuple[int, ...] = (OPEN, PENDING)
    kind: int = 0
    account_id: str = ""
    customer: str = ""
    post_id: str = ""
    tag: str = ""
    assignee: str = ""  # a name, "me" or "none"
    since: float | None = None
    unread_only: bool = False
    words: list[str] = field(default_factory=list)

    @property
    def query(self) -> str:
        return " ".join(self.words)

    def request(self) -> control_pb2.ListConversationsRequest:
        req = control_pb2.ListConversationsRequest(
            statuses=list(self.statuses),  # type: ignore[arg-type]  # ConversationStatus values
            kinds=[self.kind] if self.kind else [],  # type: ignore[list-item]  # a ConversationKind
            account_ids=[self.account_id] if self.account_id else [],
            customer=self.customer,
            post_id=self.post_id,
            tag=self.tag,
            unread_only=self.unread_only,
            query=self.query,
            page_size=PAGE,
        )
        if self.assignee == "me":
            req.assigned_to_me = True
        elif self.assignee == "none":
            req.unassigned_only = True
        elif self.assignee:
            req.assignee = self.assignee
        if self.since is not None:
            req.since.FromNanoseconds(int(self.since * 1e9))
        return req

    def matches(self, c: control_pb2.Conversation, me: str) -> bool:
        """The request's test, for a conversation that changed live."""
        if self.statuses and c.status not in self.statuses:
            return False
        if self.kind and c.kind != self.kind:
            return False
        if self.account_id and c.account_id != self.account_id:
            return False
        if self.customer and not (
            self.customer.casefold() in c.customer_name.casefold() or self.customer == c.customer_id
        ):
            return False
        if self.post_id and c.post_id != self.post_id:
            return False
        if self.tag and self.tag not in c.tags:
            return False
        wanted = {"me": me, "none": ""}.get(self.assignee, self.assignee)
        if self.assignee and c.assignee != wanted:
            return False
        at = fmt.seconds(c.last_message_at)
        if self.since is not None and (at is None or at < self.since):
            return False
        if self.unread_only and not c.unread_count:
            return False
        return self.query.casefold() in c.last_message_text.casefold()


def parse(line: str, now: float) -> ConversationFilter:
    out = ConversationFilter()
    for word in line.split():
        key, sep, value = word.partition(":")
        key = key.casefold()
        if word.startswith("@") and len(word) > 1:
            out.assignee = word[1:]
        elif sep and key in ("from", "customer"):
            out.customer = value
        elif sep and key == "post":
            out.post_id = value
        elif sep and key == "tag":
            out.tag = value
        elif sep and key == "account":
            out.account_id = value
        elif sep and key == "since":
            out.since = _since(value, now)
        elif sep and key == "is":
            _is(out, value.casefold())
        elif not sep and key in KIND_WORDS:
            out.kind = KIND_WORDS[key]
        elif sep and key in ("assignee", "assigned"):
            out.assignee = value
        else:
            out.words.append(word)
    return out


def _since(value: str, now: float) -> float:
    m = AGE.match(value)
    if m:
        return now - int(m.group(1)) * UNIT_S[m.group(2)]
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise FilterError(f"since:{value}: use 30m, 2h, 3d or a date like 2026-12-01") from None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()


def _is(out: ConversationFilter, value: str) -> None:
    if value == "unread":
        out.unread_only = True
    elif value in STATUS_WORDS:
        out.statuses = STATUS_WORDS[value]
    else:
        raise FilterError(f"is:{value}: use is:unread, is:open, is:pending, is:done or is:all")
