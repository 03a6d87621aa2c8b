"""The Control service: every operator action, one mixin per area."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hiscrm.v1 import control_pb2_grpc
from master.control.accounts import AccountRpcs
from master.control.conversations import ConversationRpcs
from master.control.credentials import CredentialRpcs
from master.control.exports import ExportRpcs
from master.control.fleet import FleetRpcs
from master.control.hosts import HostRpcs
from master.control.inbox import InboxRpcs
from master.control.live import LiveRpcs
from master.control.login import LoginRpcs
from master.control.notifiers import NotifierRpcs
from master.control.processes import ProcessRpcs
from master.control.replies import ReplyRpcs
from master.control.stats import StatsRpcs
from master.control.team import TeamRpcs

if TYPE_CHECKING:
    from master.app import MasterApp


class ControlService(
    FleetRpcs,
    HostRpcs,
    ProcessRpcs,
    AccountRpcs,
    InboxRpcs,
    LoginRpcs,
    ReplyRpcs,
    LiveRpcs,
    StatsRpcs,
    CredentialRpcs,
    ConversationRpcs,
    TeamRpcs,
    ExportRpcs,
    NotifierRpcs,
    control_pb2_grpc.ControlServicer,
):
    def __init__(self, app: MasterApp) -> None:
        self.app = app
        self.processes = app.processes
