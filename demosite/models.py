"""The in-memory records of the demo platform."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

LoginStatus = Literal["waiting", "scanned", "verify", "confirmed", "expired", "failed"]
Direction = Literal["in", "out"]
ReplyKind = Literal["comment", "message"]


@dataclass
class Comment:
    seq: int  # global creation order; the paging cursor
    comment_id: str
    post_id: str
    post_title: str
    author_id: str
    author_name: str
    text: str
    create_time: int
    reply_to: str | None = None  # comment_id this one answers
    is_author: bool = False  # written by the account itself


@dataclass
class Post:
    post_id: str
    title: str
    create_time: int
    comments: list[Comment] = field(default_factory=list)


@dataclass
class Message:
    seq: int
    message_id: str
    conversation_id: str
    sender_id: str
    sender_name: str
    text: str
    create_time: int
    direction: Direction


@dataclass
class Conversation:
    conversation_id: str
    peer_id: str
    peer_name: str
    messages: list[Message] = field(default_factory=list)

    @property
    def update_time(self) -> int:
        return self.messages[-1].create_time if self.messages else 0


@dataclass
class Reply:
    reply_id: str
    username: str
    kind: ReplyKind
    target_id: str  # the comment_id or conversation_id answered
    item_id: str  # the comment_id or message_id created
    text: str
    create_time: int
    post_id: str | None = None
    conversation_id: str | None = None


@dataclass
class User:
    username: str
    nickname: str
    user_id: str
    sec_uid: str
    unique_id: str
    needs_sms: bool
    sms_code: str
    phone: str
    posts: list[Post] = field(default_factory=list)
    conversations: list[Conversation] = field(default_factory=list)
    # Every comment / message of the account in seq order, for paging across posts.
    all_comments: list[Comment] = field(default_factory=list)
    all_messages: list[Message] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    captcha: bool = False
    rate_limited: bool = False
    comments_on_pick: bool = False  # the page loads a post's comments only when picked
    im_binary: bool = False  # the messages API answers protobuf (admin /im_binary)
    # API path -> refusals its next calls answer, in turn (admin /error_codes)
    error_codes: dict[str, list[str]] = field(default_factory=dict)
    layout: str | None = None  # None: the site-wide layout
    # What the account's browsers asked for: creator page loads ("creator_page"),
    # live channels opened ("live_connect"), and creator API calls by path, so
    # tests and benches can see how often a worker reloads or polls.
    counters: Counter[str] = field(default_factory=Counter)

    @property
    def avatar_path(self) -> str:
        return f"/avatar/{self.user_id}.svg"

    @property
    def masked_phone(self) -> str:
        return f"{self.phone[:3]}****{self.phone[-4:]}"


@dataclass
class LoginToken:
    token: str
    confirm_url: str
    created_at: float
    expires_at: float
    status: LoginStatus = "waiting"
    username: str | None = None
    session_id: str | None = None
    attempts: int = 0
    finished_at: float | None = None


@dataclass
class Session:
    session_id: str
    username: str
    created_at: float
