"""`hiscrm join`, `hiscrm hosts`, `hiscrm leave`: worker hosts (issue 17).

join  on a new host: writes its run directory (ops/join.py), starts its
      supervisord (host agent + workers) and waits until the agent enrolled.
hosts on the main host: every worker host with its health (Control.ListHosts),
      down ones too (kept across master restarts) with when they were last
      seen; `hosts forget HOST` removes one gone for good and revokes its
      credential (Control.ForgetHost).
leave on a worker host: the master drains it (its accounts move first,
      HostGateway.Leave with the host's own credential), then its
      supervisord stops.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import grpc

from hiscrm.v1 import common_pb2, control_pb2, control_pb2_grpc, hosts_pb2, hosts_pb2_grpc
from hiscrm_common import settings
from hiscrm_common.channel import bearer_metadata, open_channel
from hiscrm_common.timeutil import from_ts
from ops import join
from ops.fleet import Fleet

ENROLL_WAIT_S = 60.0
MAX_SLOTS = 16
MIB = 1 << 20


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def add_parsers(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    joining = command("join", "make this machine a worker host of the fleet at MASTER")
    joining.add_argument("master", help="the master's host:port, as this host reaches it")
    joining.add_argument("--enroll-token", required=True, help="the master's enroll-token")
    joining.add_argument("--ca", type=Path, help="the CA of the master's certificate (TLS)")
    joining.add_argument("--cert", type=Path, help="this host's client certificate (mTLS)")
    joining.add_argument("--key", type=Path, help="its key (mTLS)")
    joining.add_argument("--workers", type=int, default=2, help="workers to run (default 2)")
    joining.add_argument("--slots", type=int, default=MAX_SLOTS, help="most workers (16)")
    joining.add_argument("--host-id", default="", help="this host's id (default: hostname)")
    joining.add_argument("--platforms", default="", help="the workers' platforms")
    hosts = command("hosts", "list the worker hosts and their health")
    hsub = hosts.add_subparsers(dest="hosts_command")
    forget = hsub.add_parser(
        "forget", help="remove a host gone for good and revoke its credential (admin)"
    )
    forget.add_argument("host_id", help="as `hiscrm hosts` lists it")
    leaving = command("leave", "drain this worker host (accounts move first), then stop it")
    leaving.add_argument("--timeout", type=float, default=120.0, help="seconds to drain")


def handler(name: str) -> Callable[[Fleet, argparse.Namespace], Coroutine[Any, Any, None]]:
    return {"join": cmd_join, "hosts": cmd_hosts, "leave": cmd_leave}[name]


async def cmd_join(fleet: Fleet, args: argparse.Namespace) -> None:
    if not 0 <= args.workers <= args.slots <= 1000:
        raise SystemExit(f"--workers {args.workers} must be between 0 and --slots {args.slots}")
    host_id = args.host_id or socket.gethostname()
    config = join.prepare(
        fleet.home,
        master=args.master,
        host_id=host_id,
        enroll_token=args.enroll_token.strip(),
        workers=args.workers,
        slots=args.slots,
        tls={"ca": args.ca, "cert": args.cert, "key": args.key},
        worker_args=f"--platforms {args.platforms}" if args.platforms else "",
    )
    fleet.start_supervisord(config)
    credential = fleet.home / "host-credential"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ENROLL_WAIT_S
    while not credential.exists():
        if loop.time() > deadline:
            raise SystemExit(
                f"host {host_id}: not enrolled within {ENROLL_WAIT_S:.0f}s; see "
                f"{fleet.home / 'logs' / 'hostagent.log'}"
            )
        await asyncio.sleep(0.2)
    _out(
        f"host {host_id} joined {args.master}: {args.workers} workers starting "
        f"(run directory {fleet.home}; `hiscrm leave --home {fleet.home}` to leave)"
    )


def host_table(hosts: list[control_pb2.Host]) -> str:
    lines = [
        f"{'HOST':<16} {'STATE':<9} {'WORKERS':>7} {'SLOTS':>5} {'ACCTS':>5} {'CAP':>5} "
        f"{'CPU%':>5} {'MEM FREE':>9} {'DISK FREE':>10}  LAST SEEN"
    ]
    for h in hosts:
        state = common_pb2.WorkerState.Name(h.state).removeprefix("WORKER_STATE_").lower()
        running = sum(1 for p in h.processes if p.state == common_pb2.PROCESS_STATE_RUNNING)
        r = h.resources
        lines.append(
            f"{h.host_id:<16} {state:<9} {running:>7} {h.slots:>5} {h.account_count:>5} "
            f"{h.account_cap:>5} {r.cpu_percent:>5.0f} {r.memory_available_bytes // MIB:>5} MiB "
            f"{r.disk_free_bytes // MIB:>6} MiB  {_seen(h)}"
        )
        if h.state != common_pb2.WORKER_STATE_ONLINE and h.state_reason:
            lines.append(f"{'':<16} {h.state_reason}")
    if not hosts:
        lines.append("(no worker host has joined; `hiscrm join` on one)")
    return "\n".join(lines)


def _seen(host: control_pb2.Host) -> str:
    at = from_ts(host.last_report_at) if host.HasField("last_report_at") else None
    return at.strftime("%Y-%m-%d %H:%M:%S UTC") if at else "never"


async def cmd_hosts(fleet: Fleet, args: argparse.Namespace) -> None:
    async with open_channel(fleet.master_address, settings.load_token()) as channel:
        stub = control_pb2_grpc.ControlStub(channel)
        if getattr(args, "hosts_command", None) == "forget":
            done = await stub.ForgetHost(
                control_pb2.ForgetHostRequest(host_id=args.host_id), timeout=30
            )
            revoked = (
                f"its credential {done.revoked_token_id} revoked"
                if done.revoked_token_id
                else "it had no live credential"
            )
            _out(f"host {done.host_id} forgotten; {revoked}")
            if done.worker_ids:
                _out(f"its workers' records stay: {', '.join(done.worker_ids)}")
            return
        resp = await stub.ListHosts(control_pb2.ListHostsRequest(), timeout=10)
    _out(host_table(list(resp.hosts)))


async def scale_hosts(fleet: Fleet, count: int, host: str, spread: bool) -> None:
    """`hiscrm scale N --host H` / `--spread`: through the master (Control)."""
    async with open_channel(fleet.master_address, settings.load_token()) as channel:
        stub = control_pb2_grpc.ControlStub(channel)
        resp = await stub.ScaleWorkers(
            control_pb2.ScaleWorkersRequest(count=count, host=host, spread=spread), timeout=180
        )
    changed = ", ".join(f"{r.worker_id} {'ok' if r.ok else r.message}" for r in resp.results)
    where = f"on {host}" if host else "over the hosts"
    _out(f"workers: {count} wanted {where}; {changed or 'no change'}")
    failed = [r for r in resp.results if not r.ok]
    if failed:
        raise SystemExit("; ".join(f"{r.worker_id}: {r.message}" for r in failed))


async def cmd_leave(fleet: Fleet, args: argparse.Namespace) -> None:
    credential = fleet.home / "host-credential"
    if not credential.exists():
        raise SystemExit(f"{fleet.home} is not a joined worker host (no host-credential)")
    token = settings.read_secret_file(credential).strip()
    async with open_channel(fleet.master_address, None) as channel:
        stub = hosts_pb2_grpc.HostGatewayStub(channel)
        try:
            resp = await stub.Leave(
                hosts_pb2.LeaveRequest(timeout_ms=int(args.timeout * 1000)),
                metadata=bearer_metadata(token),
                timeout=args.timeout + 10,
            )
        except grpc.aio.AioRpcError as exc:
            raise SystemExit(f"leave refused: {exc.code().name}: {exc.details()}") from None
    if resp.accounts_left:
        raise SystemExit(
            f"host {resp.host_id}: {resp.accounts_left} accounts still here after "
            f"{args.timeout:.0f}s (no other host with room?); not stopped"
        )
    stopped = await fleet.shutdown()
    _out(
        f"host {resp.host_id} left: its accounts moved; workers "
        f"{', '.join(resp.worker_ids) or 'none'} {'stopped' if stopped else 'still stopping'}"
    )
