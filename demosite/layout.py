"""What the outside sees: JSON shapes and page selectors, per layout variant.

Layout v2 renames the page's test ids / data attributes and the field names of
the comments API (the list, the paging fields and every comment), so that a
worker written against v1 notices a changed layout instead of reading nothing.
The admin API always answers in v1 shapes.
"""

from __future__ import annotations

from typing import Any

from demosite.models import Comment, Conversation, Message, Post, Reply, User

# The label a comment of the account itself carries, as on Douyin.
AUTHOR_LABEL = "作者"

SELECTORS: dict[str, dict[str, str]] = {
    "v1": {
        "post_item": "post-item",
        "post_id_attr": "data-post-id",
        "comment_list": "comment-list",
        "comment_item": "comment-item",
        "comment_id_attr": "data-comment-id",
        "comments_more": "comments-more",
        "conversation_item": "conversation-item",
        "conversation_id_attr": "data-conversation-id",
        "message_list": "message-list",
        "message_item": "message-item",
        "message_id_attr": "data-message-id",
        "reply_input": "reply-input",
        "reply_send": "reply-send",
        "reply_status": "reply-status",
    },
    "v2": {
        "post_item": "feed-card",
        "post_id_attr": "data-item-id",
        "comment_list": "cmt-list",
        "comment_item": "cmt-card",
        "comment_id_attr": "data-cid",
        "comments_more": "cmt-more",
        "conversation_item": "chat-thread",
        "conversation_id_attr": "data-thread-id",
        "message_list": "chat-list",
        "message_item": "chat-bubble",
        "message_id_attr": "data-mid",
        "reply_input": "reply-box",
        "reply_send": "reply-submit",
        "reply_status": "reply-hint",
    },
}


def avatar_path(key: str) -> str:
    return f"/avatar/{key}.svg"


class Serializer:
    def __init__(self, layout: str, origin: str) -> None:
        self.layout = layout
        self.origin = origin.rstrip("/")

    def avatar(self, key: str) -> str:
        return self.origin + avatar_path(key)

    def user(self, user: User) -> dict[str, Any]:
        return {
            "user_id": user.user_id,
            "sec_uid": user.sec_uid,
            "unique_id": user.unique_id,
            "nickname": user.nickname,
            "avatar": self.avatar(user.user_id),
            "username": user.username,
        }

    def post(self, post: Post) -> dict[str, Any]:
        return {
            "post_id": post.post_id,
            "title": post.title,
            "create_time": post.create_time,
            "comment_count": len(post.comments),
        }

    def comment(self, item: Comment) -> dict[str, Any]:
        if self.layout == "v2":
            return {
                "cid": item.comment_id,
                "aweme_id": item.post_id,
                "item_title": item.post_title,
                "content": item.text,
                "ctime": item.create_time,
                "user": {
                    "uid": item.author_id,
                    "nickname": item.author_name,
                    "avatar_thumb": self.avatar(item.author_id),
                },
                "reply_id": item.reply_to or "0",
                "is_author": int(item.is_author),
                "label_text": AUTHOR_LABEL if item.is_author else "",
            }
        return {
            "comment_id": item.comment_id,
            "post_id": item.post_id,
            "post_title": item.post_title,
            "text": item.text,
            "create_time": item.create_time,
            "author_id": item.author_id,
            "author_name": item.author_name,
            "author_avatar": self.avatar(item.author_id),
            "reply_to": item.reply_to,
            "is_author": item.is_author,
            "label_text": AUTHOR_LABEL if item.is_author else "",
        }

    def comments_page(
        self, items: list[Comment], cursor: int, has_more: bool, total: int
    ) -> dict[str, Any]:
        rows = [self.comment(c) for c in items]
        if self.layout == "v2":
            return {
                "status_code": 0,
                "comment_list": rows,
                "next_cursor": cursor,
                "hasMore": int(has_more),
                "total_count": total,
            }
        return {
            "status_code": 0,
            "comments": rows,
            "cursor": cursor,
            "has_more": has_more,
            "total": total,
        }

    def message(self, item: Message) -> dict[str, Any]:
        return {
            "message_id": item.message_id,
            "conversation_id": item.conversation_id,
            "sender_id": item.sender_id,
            "sender_name": item.sender_name,
            "text": item.text,
            "create_time": item.create_time,
            "direction": item.direction,
        }

    def conversation(self, conv: Conversation) -> dict[str, Any]:
        return {
            "conversation_id": conv.conversation_id,
            "peer_id": conv.peer_id,
            "peer_name": conv.peer_name,
            "peer_avatar": self.avatar(conv.peer_id),
            "update_time": conv.update_time,
            "message_count": len(conv.messages),
            "last_message": self.message(conv.messages[-1]) if conv.messages else None,
        }

    @staticmethod
    def reply(reply: Reply) -> dict[str, Any]:
        return {
            "reply_id": reply.reply_id,
            "username": reply.username,
            "kind": reply.kind,
            "target_id": reply.target_id,
            "item_id": reply.item_id,
            "text": reply.text,
            "create_time": reply.create_time,
            "post_id": reply.post_id,
            "conversation_id": reply.conversation_id,
        }
