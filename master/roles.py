"""Which operator role each Control method needs: the one table.

Roles are ordered (viewer < agent < admin); a token may call a method when its
role is at least the one listed. A Control method missing here is refused to
everyone (fail closed); a test checks every method of the service is listed.
"""

from __future__ import annotations

from typing import cast

from hiscrm.v1 import control_pb2

VIEWER = control_pb2.ROLE_VIEWER
AGENT = control_pb2.ROLE_AGENT
ADMIN = control_pb2.ROLE_ADMIN

METHOD_ROLE: dict[str, int] = {
    # read
    "ListWorkers": VIEWER,
    "GetWorker": VIEWER,
    "ListAccounts": VIEWER,
    "GetAccount": VIEWER,
    "ListItems": VIEWER,
    "GetUnreadCounts": VIEWER,
    "WatchEvents": VIEWER,
    "GetStats": VIEWER,
    "WhoAmI": VIEWER,
    # workspace reads (issue 15): viewers may read and export
    "ListConversations": VIEWER,
    "GetConversation": VIEWER,
    "ListAssignees": VIEWER,  # names and roles only: who a conversation may go to
    "ListSavedReplies": VIEWER,
    "RenderSavedReply": VIEWER,
    "ListRules": VIEWER,
    "ExportItems": VIEWER,
    "ExportConversation": VIEWER,
    "GetReport": VIEWER,
    "ListHosts": VIEWER,
    "GetHost": VIEWER,
    # customer service
    "MarkRead": AGENT,
    "SendReply": AGENT,
    "StartLogin": AGENT,
    "SubmitVerification": AGENT,
    "CancelLogin": AGENT,
    # workspace changes (issue 15)
    "MarkConversationRead": AGENT,
    "MarkConversationUnread": AGENT,
    "ClaimConversation": AGENT,
    "AssignConversation": AGENT,
    "SetConversationStatus": AGENT,
    "LabelConversation": AGENT,
    "CreateSavedReply": AGENT,
    "UpdateSavedReply": AGENT,
    "DeleteSavedReply": AGENT,
    "CreateRule": AGENT,
    "UpdateRule": AGENT,
    "DeleteRule": AGENT,
    # accounts, fleet, credentials; worker logs may carry account details
    "CreateAccount": ADMIN,
    "UpdateAccount": ADMIN,
    "DeleteAccount": ADMIN,
    "AssignAccount": ADMIN,
    "StartWorker": ADMIN,
    "StopWorker": ADMIN,
    "RestartWorker": ADMIN,
    "ScaleWorkers": ADMIN,
    "TailWorkerLog": ADMIN,
    "ForgetHost": ADMIN,  # also revokes the host's credential
    "CreateToken": ADMIN,
    "ListTokens": ADMIN,
    "RevokeToken": ADMIN,
    "ListAuditLog": ADMIN,
    # notification targets carry secrets in their URLs
    "ListNotifiers": ADMIN,
    "CreateNotifier": ADMIN,
    "UpdateNotifier": ADMIN,
    "DeleteNotifier": ADMIN,
    "TestNotifier": ADMIN,
}

# Methods that change something: each call is written to the audit log.
READ_ONLY = frozenset(m for m, role in METHOD_ROLE.items() if role == VIEWER) | {
    "ListTokens",
    "ListNotifiers",
}


def role_name(role: int) -> str:
    """'admin' for ROLE_ADMIN: what operators type and read."""
    return control_pb2.Role.Name(role).removeprefix("ROLE_").lower()


def parse_role(text: str) -> control_pb2.Role:
    try:
        # Value() is typed int in the generated stubs; it is this enum's value.
        return cast(control_pb2.Role, control_pb2.Role.Value("ROLE_" + text.strip().upper()))
    except ValueError:
        raise ValueError(f"unknown role {text!r}: use viewer, agent or admin") from None


def allowed(method: str, role: int) -> bool:
    needed = METHOD_ROLE.get(method)
    return needed is not None and role >= needed
