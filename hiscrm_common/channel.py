"""Client channels to the master: token on every call, TLS when configured."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from hiscrm_common import settings


def bearer_metadata(token: str) -> tuple[tuple[str, str], ...]:
    """The call metadata that carries a token, for a call made on a channel
    without token interceptors (see open_channel)."""
    return (("authorization", f"Bearer {token}"),)


class _AddsToken:
    def __init__(self, token: str) -> None:
        (self._header,) = bearer_metadata(token)

    def _with_token(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = list(details.metadata or ())
        metadata.append(self._header)
        return grpc.aio.ClientCallDetails(
            details.method,
            details.timeout,
            grpc.aio.Metadata(*metadata),
            details.credentials,
            details.wait_for_ready,
        )


# grpc.aio files an interceptor under the first call kind it matches, so each
# kind needs its own class.
class _UnaryUnary(_AddsToken, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self._with_token(details), request)


class _UnaryStream(_AddsToken, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(
        self, continuation: Callable[..., Any], details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self._with_token(details), request)


class _StreamUnary(_AddsToken, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(
        self, continuation: Callable[..., Any], details: grpc.aio.ClientCallDetails, requests: Any
    ) -> Any:
        return await continuation(self._with_token(details), requests)


class _StreamStream(_AddsToken, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(
        self, continuation: Callable[..., Any], details: grpc.aio.ClientCallDetails, requests: Any
    ) -> Any:
        return await continuation(self._with_token(details), requests)


def token_interceptors(token: str) -> list[grpc.aio.ClientInterceptor]:
    return [_UnaryUnary(token), _UnaryStream(token), _StreamUnary(token), _StreamStream(token)]


def client_options(max_message_bytes: int = settings.DEFAULT_MAX_MESSAGE_BYTES) -> list:
    return [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.keepalive_time_ms", 10_000),
        ("grpc.keepalive_timeout_ms", 5_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        # Reconnect quickly after a master restart; our own loop adds jitter.
        ("grpc.initial_reconnect_backoff_ms", 200),
        ("grpc.max_reconnect_backoff_ms", 5_000),
    ]


def open_channel(
    address: str,
    token: str | None,
    *,
    max_message_bytes: int = settings.DEFAULT_MAX_MESSAGE_BYTES,
) -> grpc.aio.Channel:
    """token None: no interceptors, so no authorization header (the health
    service is open), or the caller passes bearer_metadata() per call. A
    long-lived bidirectional stream should do the latter: grpc.aio proxies
    the writes of an intercepted stream through a task that it leaves
    pending when the call ends by an error, and that task is then destroyed
    pending ("Task was destroyed but it is pending!") with the channel."""
    tls = settings.tls_settings()
    interceptors = token_interceptors(token) if token is not None else []
    options = client_options(max_message_bytes)
    if not tls.enabled:
        return grpc.aio.insecure_channel(address, options=options, interceptors=interceptors)
    creds = grpc.ssl_channel_credentials(
        root_certificates=tls.ca_file.read_bytes() if tls.ca_file else None,
        private_key=tls.key_file.read_bytes() if tls.key_file else None,
        certificate_chain=tls.cert_file.read_bytes() if tls.cert_file else None,
    )
    return grpc.aio.secure_channel(address, creds, options=options, interceptors=interceptors)


def master_address() -> str:
    return settings.get().master  # HISCRM_MASTER
