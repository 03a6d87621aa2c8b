"""`hiscrm token ...` and `hiscrm audit`: credentials and the audit log,
through the Control RPCs (so they need an admin token, like grpcurl would)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from hiscrm.v1 import control_pb2, control_pb2_grpc
from hiscrm_common import settings
from hiscrm_common.channel import open_channel
from hiscrm_common.timeutil import from_ts
from master.roles import parse_role, role_name


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def add_parsers(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """Adds `token` and `audit` through ops/cli.py's factory of subcommands."""
    token = command("token", "operator tokens and worker credentials (admin)")
    tsub = token.add_subparsers(dest="token_command", required=True)
    create = tsub.add_parser("create", help="make a token; its secret is printed once")
    create.add_argument("name", nargs="?", default="", help="e.g. alice (worker: worker:ID)")
    create.add_argument("--role", default="agent", help="viewer, agent or admin (default agent)")
    create.add_argument("--worker", default="", help="a worker credential for this worker id")
    listing = tsub.add_parser("list", help="tokens, without their secrets")
    listing.add_argument("--all", action="store_true", help="include revoked ones")
    revoke = tsub.add_parser("revoke", help="revoke by name or token id")
    revoke.add_argument("name_or_id")
    audit = command("audit", "the audit log, newest first (admin)")
    audit.add_argument("--account", default="")
    audit.add_argument("--actor", default="")
    audit.add_argument("--action", default="", help="prefix, e.g. Control/DeleteAccount")
    audit.add_argument("--limit", type=int, default=50)


def _when(ts: Timestamp) -> str:
    at = from_ts(ts)
    return at.strftime("%Y-%m-%d %H:%M:%S") if at else "-"


def _describe(t: control_pb2.TokenInfo) -> str:
    kind = control_pb2.CredentialKind.Name(t.kind).removeprefix("CREDENTIAL_KIND_").lower()
    who = role_name(t.role) if t.role else (t.worker_id or "-")
    revoked = f" revoked {_when(t.revoked_at)}" if t.HasField("revoked_at") else ""
    return (
        f"{t.token_id}  {t.name:<24} {kind:<10} {who:<10} created {_when(t.created_at)} "
        f"by {t.created_by or '-'}  last used {_when(t.last_used_at)}{revoked}"
    )


async def _token(stub: control_pb2_grpc.ControlStub, args: argparse.Namespace) -> None:
    if args.token_command == "create":
        try:
            role = control_pb2.ROLE_UNSPECIFIED if args.worker else parse_role(args.role)
        except ValueError as exc:
            raise SystemExit(str(exc)) from None
        resp = await stub.CreateToken(
            control_pb2.CreateTokenRequest(name=args.name, role=role, worker_id=args.worker),
            timeout=10,
        )
        _out(_describe(resp.token))
        _out(resp.secret)
        sys.stderr.write("the secret above is shown only now; keep it owner-only (chmod 600)\n")
    elif args.token_command == "list":
        resp = await stub.ListTokens(
            control_pb2.ListTokensRequest(include_revoked=args.all), timeout=10
        )
        for t in resp.tokens:
            _out(_describe(t))
    else:
        value = args.name_or_id
        is_id = len(value) == 16 and all(c in "0123456789abcdef" for c in value)
        req = control_pb2.RevokeTokenRequest(
            token_id=value if is_id else "", name="" if is_id else value
        )
        _out(_describe(await stub.RevokeToken(req, timeout=10)))


async def _audit(stub: control_pb2_grpc.ControlStub, args: argparse.Namespace) -> None:
    resp = await stub.ListAuditLog(
        control_pb2.ListAuditLogRequest(
            account_id=args.account,
            actor=args.actor,
            action=args.action,
            page_size=max(1, min(args.limit, 1000)),
        ),
        timeout=10,
    )
    for e in resp.entries:
        target = " ".join(
            x
            for x in (
                f"account={e.account_id}" if e.account_id else "",
                f"item={e.item_id}" if e.item_id else "",
                f"worker={e.worker_id}" if e.worker_id else "",
            )
            if x
        )
        _out(f"{_when(e.at)}  {e.actor:<20} {e.action:<28} {e.outcome:<18} {target} {e.detail}")


def handler(command: str) -> Callable[[object, argparse.Namespace], Coroutine[Any, Any, None]]:
    run = _token if command == "token" else _audit

    async def call(fleet: object, args: argparse.Namespace) -> None:
        address = getattr(fleet, "master_address", settings.DEFAULT_MASTER_ADDRESS)
        async with open_channel(address, settings.load_token()) as channel:
            try:
                await run(control_pb2_grpc.ControlStub(channel), args)
            except grpc.aio.AioRpcError as exc:
                raise SystemExit(f"{exc.code().name}: {exc.details()}") from None

    return call
