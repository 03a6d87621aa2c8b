"""The whole demo platform in memory: users, posts, comments, DMs, replies, faults.

Everything random comes from one `random.Random(seed)`, so the same seed and the
same sequence of calls build the same ids and texts. Session and login tokens
are the exception: they are secrets and come from `secrets`.
"""

from __future__ import annotations

import bisect
import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Literal, TypeVar

from demosite import seed as content
from demosite.models import Comment, Conversation, Message, Post, Reply, User
from demosite.sessions import LoginTokenStore, SessionStore

log = logging.getLogger(__name__)

LAYOUTS = ("v1", "v2")
MAX_ITEMS_PER_USER = 50_000
EventKind = Literal["comment", "message", "session_expired"]
Listener = Callable[[str, EventKind, Comment | Message | None], None]
T = TypeVar("T", Comment, Message)


class NotFound(KeyError):
    """An id or username that the platform does not know."""


def page_newest_first(items: Sequence[T], cursor: int, count: int) -> tuple[list[T], int, bool]:
    """Newest-first page of `items` (ascending seq) strictly older than `cursor`.

    `cursor` 0 starts at the newest item; the returned cursor is the seq of the
    last item handed out, so items added meanwhile never shift the pages.
    """
    end = len(items) if cursor <= 0 else bisect.bisect_left([i.seq for i in items], cursor)
    start = max(0, end - count)
    chunk = list(reversed(items[start:end]))
    next_cursor = chunk[-1].seq if chunk else cursor
    return chunk, next_cursor, start > 0


class DemoState:
    def __init__(
        self,
        seed: int = 1,
        clock: Callable[[], float] = time.time,
        qr_ttl: float = 60.0,
        sms_max_attempts: int = 5,
    ) -> None:
        self.seed = seed
        self.clock = clock
        self.rng = random.Random(seed)
        self.ids = content.IdMaker(self.rng)
        self.started_at = clock()
        self.users: dict[str, User] = {}
        self.layout = "v1"
        self.sessions = SessionStore(clock)
        self.logins = LoginTokenStore(clock, self.sessions, qr_ttl, sms_max_attempts)
        self._seq = 0
        self._people: dict[str, str] = {}  # fan / peer nickname -> their user id
        self._listeners: list[Listener] = []

    # -- users ---------------------------------------------------------------

    def create_user(
        self,
        username: str,
        nickname: str | None = None,
        needs_sms: bool = False,
        sms_code: str | None = None,
        posts: int = 3,
        conversations: int = 3,
    ) -> User:
        if not username or username in self.users:
            raise ValueError(f"username {username!r} is empty or taken")
        user = User(
            username=username,
            nickname=nickname or f"{self.rng.choice(content.NICKNAMES)}的小店",
            user_id=self.ids.user(),
            sec_uid=self.ids.sec_uid(),
            unique_id=f"dy{self.rng.randrange(10**8):08d}",
            needs_sms=needs_sms,
            sms_code=sms_code or self.ids.sms_code(),
            phone=self.ids.phone(),
        )
        self.users[username] = user
        self._seed_content(user, max(1, posts), max(0, conversations))
        log.info("user %s (%s) created, needs_sms=%s", username, user.user_id, needs_sms)
        return user

    def user(self, username: str | None) -> User:
        user = self.users.get(username or "")
        if user is None:
            raise NotFound(f"unknown user {username!r}")
        return user

    def person_id(self, name: str) -> str:
        """The stable user id behind a fan's or a DM peer's nickname."""
        if name not in self._people:
            self._people[name] = self.ids.user()
        return self._people[name]

    def _seed_content(self, user: User, posts: int, conversations: int) -> None:
        now = int(self.clock())
        for i in range(posts):
            age = (posts - i) * 86_400 + self.rng.randrange(3_600)
            title = self.rng.choice(content.POST_TITLES)
            user.posts.append(Post(self.ids.item(), title, now - age))
        # Comments are created in time order so that seq order is time order.
        stamps = []
        for _ in range(self.rng.randint(10, 15) * posts):
            index = self.rng.randrange(posts)
            stamps.append((self.rng.randrange(user.posts[index].create_time, now - 60), index))
        stamps.sort()
        for stamp, index in stamps:
            name = self.rng.choice(content.NICKNAMES)
            self._append_comment(
                user,
                user.posts[index],
                name,
                self.person_id(name),
                self.rng.choice(content.COMMENT_TEXTS),
                stamp,
            )
        peers = self.rng.sample(content.NICKNAMES, k=min(conversations, len(content.NICKNAMES)))
        for name in peers:
            user.conversations.append(self._new_conversation(user, name))
        dm_stamps = sorted(
            (self.rng.randrange(now - 3 * 86_400, now - 60), self.rng.randrange(len(peers)))
            for _ in range(self.rng.randint(3, 8) * len(peers))
        )
        for stamp, index in dm_stamps:
            conv = user.conversations[index]
            outgoing = self.rng.random() < 0.25
            self._append_message(
                user,
                conv,
                self.rng.choice(content.REPLY_TEXTS if outgoing else content.MESSAGE_TEXTS),
                stamp,
                "out" if outgoing else "in",
            )

    # -- reading ---------------------------------------------------------------

    def post(self, user: User, post_id: str) -> Post:
        for post in user.posts:
            if post.post_id == post_id:
                return post
        raise NotFound(f"unknown post {post_id!r}")

    def conversation(self, user: User, conversation_id: str) -> Conversation:
        for conv in user.conversations:
            if conv.conversation_id == conversation_id:
                return conv
        raise NotFound(f"unknown conversation {conversation_id!r}")

    def comment(self, user: User, comment_id: str) -> Comment:
        for item in reversed(user.all_comments):
            if item.comment_id == comment_id:
                return item
        raise NotFound(f"unknown comment {comment_id!r}")

    def layout_for(self, user: User) -> str:
        return user.layout or self.layout

    # -- writing -----------------------------------------------------------------

    def add_comment(
        self,
        user: User,
        text: str,
        post_id: str | None = None,
        author_name: str | None = None,
    ) -> Comment:
        post = self.post(user, post_id) if post_id else user.posts[-1]
        name = author_name or self.rng.choice(content.NICKNAMES)
        item = self._append_comment(user, post, name, self.person_id(name), text, int(self.clock()))
        self._emit(user.username, "comment", item)
        return item

    def add_message(
        self,
        user: User,
        text: str,
        conversation_id: str | None = None,
        from_name: str | None = None,
    ) -> Message:
        conv: Conversation | None
        if conversation_id:
            conv = self.conversation(user, conversation_id)
        else:
            name = from_name or self.rng.choice(content.NICKNAMES)
            conv = next((c for c in user.conversations if c.peer_name == name), None)
            if conv is None:
                conv = self._new_conversation(user, name)
                user.conversations.append(conv)
        item = self._append_message(user, conv, text, int(self.clock()), "in")
        self._emit(user.username, "message", item)
        return item

    def reply(
        self, user: User, kind: str, target_id: str, text: str
    ) -> tuple[Reply, Comment | Message]:
        text = text.strip()
        if not text:
            raise ValueError("empty reply")
        now = int(self.clock())
        created: Comment | Message
        if kind == "comment":
            target = self.comment(user, target_id)
            post = self.post(user, target.post_id)
            created = self._append_comment(
                user,
                post,
                user.nickname,
                user.user_id,
                text,
                now,
                reply_to=target.comment_id,
                is_author=True,
            )
            reply = Reply(
                self.ids.item(),
                user.username,
                "comment",
                target_id,
                created.comment_id,
                text,
                now,
                post_id=post.post_id,
            )
        elif kind == "message":
            conv = self.conversation(user, target_id)
            created = self._append_message(user, conv, text, now, "out")
            reply = Reply(
                self.ids.item(),
                user.username,
                "message",
                target_id,
                created.message_id,
                text,
                now,
                conversation_id=conv.conversation_id,
            )
        else:
            raise ValueError(f"unknown reply kind {kind!r}")
        user.replies.append(reply)
        log.info("%s replied to %s %s", user.username, kind, target_id)
        self._emit(user.username, "comment" if kind == "comment" else "message", created)
        return reply, created

    def expire_sessions(self, username: str) -> int:
        self.user(username)
        count = self.sessions.expire_user(username)
        self.logins.forget_user(username)
        self._emit(username, "session_expired", None)
        log.info("expired %d session(s) of %s", count, username)
        return count

    def set_layout(self, variant: str, username: str | None = None) -> None:
        if variant not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}")
        if username:
            self.user(username).layout = variant
        else:
            self.layout = variant
            for user in self.users.values():
                user.layout = None
        log.info("layout %s for %s", variant, username or "everyone")

    # -- live listeners ------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _emit(self, username: str, kind: EventKind, item: Comment | Message | None) -> None:
        for listener in self._listeners:
            listener(username, kind, item)

    # -- internals -------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _new_conversation(self, user: User, peer_name: str) -> Conversation:
        peer_id = self.person_id(peer_name)
        return Conversation(f"0:1:{user.user_id}:{peer_id}", peer_id, peer_name)

    def _append_comment(
        self,
        user: User,
        post: Post,
        author_name: str,
        author_id: str,
        text: str,
        stamp: int,
        reply_to: str | None = None,
        is_author: bool = False,
    ) -> Comment:
        item = Comment(
            self._next_seq(),
            self.ids.item(),
            post.post_id,
            post.title,
            author_id,
            author_name,
            text,
            stamp,
            reply_to,
            is_author,
        )
        post.comments.append(item)
        user.all_comments.append(item)
        if len(user.all_comments) > MAX_ITEMS_PER_USER:
            self._trim_comments(user)
        return item

    def _append_message(
        self, user: User, conv: Conversation, text: str, stamp: int, direction: str
    ) -> Message:
        outgoing = direction == "out"
        item = Message(
            self._next_seq(),
            self.ids.item(),
            conv.conversation_id,
            user.user_id if outgoing else conv.peer_id,
            user.nickname if outgoing else conv.peer_name,
            text,
            stamp,
            "out" if outgoing else "in",
        )
        conv.messages.append(item)
        user.all_messages.append(item)
        if len(user.all_messages) > MAX_ITEMS_PER_USER:
            self._trim_messages(user)
        return item

    def _trim_comments(self, user: User) -> None:
        cut = user.all_comments[MAX_ITEMS_PER_USER // 10].seq
        log.warning("%s: dropping the oldest comments (before seq %d)", user.username, cut)
        user.all_comments = [c for c in user.all_comments if c.seq >= cut]
        for post in user.posts:
            post.comments = [c for c in post.comments if c.seq >= cut]

    def _trim_messages(self, user: User) -> None:
        cut = user.all_messages[MAX_ITEMS_PER_USER // 10].seq
        log.warning("%s: dropping the oldest messages (before seq %d)", user.username, cut)
        user.all_messages = [m for m in user.all_messages if m.seq >= cut]
        for conv in user.conversations:
            conv.messages = [m for m in conv.messages if m.seq >= cut]
