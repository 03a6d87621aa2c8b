"""Where a joining host may be handed its credential and the session key."""

from __future__ import annotations

from typing import cast

import grpc

from master.host_gateway import private_link


class Context:
    def __init__(self, peer: str, security: list[bytes] | None = None) -> None:
        self._peer = peer
        self._security = security

    def peer(self) -> str:
        return self._peer

    def auth_context(self) -> dict[str, list[bytes]]:
        return {"transport_security_type": self._security} if self._security else {}


def link(peer: str, security: list[bytes] | None = None) -> bool:
    """private_link on a stand-in for the call's context (only peer and auth_context)."""
    return private_link(cast(grpc.aio.ServicerContext, Context(peer, security)))


def test_plaintext_from_another_machine_is_not_private() -> None:
    assert not link("ipv4:10.20.0.2:51234")
    assert not link("ipv6:[fd00::2]:51234")


def test_tls_or_this_machine_is_private() -> None:
    assert link("ipv4:10.20.0.2:51234", [b"ssl"])
    assert link("ipv4:127.0.0.1:51234")
    assert link("ipv6:[::1]:51234")
