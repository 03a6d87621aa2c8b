"""hiscrm: run and inspect the whole system from one command.

hiscrm up [--workers N] [--no-follow]   start supervisord with the fleet
hiscrm status                           supervisord and gateway view
hiscrm scale N                          run N workers (others untouched)
hiscrm watch                            follow live events
hiscrm token create NAME --role agent   operator token (or --worker ID); list; revoke NAME
hiscrm audit [--account A]              the audit log
hiscrm down                             stop everything
hiscrm join MASTER --enroll-token T     make this machine a worker host; hosts; leave
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

import grpc

from hiscrm.v1 import control_pb2, control_pb2_grpc
from hiscrm_common import qrterm, settings
from hiscrm_common.channel import open_channel
from hiscrm_common.supervisor_client import SupervisorError
from hiscrm_common.worker_counts import count_workers
from ops import cli_export, cli_hosts, cli_settings, cli_tokens, demo
from ops.console import event_line, worker_table
from ops.fleet import WORKER_GROUP, Fleet
from ops.health import NO_TOKEN

MAX_WORKERS = 16


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


async def _control(fleet: Fleet) -> tuple[grpc.aio.Channel, control_pb2_grpc.ControlStub]:
    channel = open_channel(fleet.master_address, settings.load_token())
    return channel, control_pb2_grpc.ControlStub(channel)


async def _wait_master(fleet: Fleet, within_s: float = 60.0) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    # The health service needs no token, but it needs the same TLS as every
    # other client (open_channel reads the tls_* settings).
    async with open_channel(fleet.master_address, NO_TOKEN) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while loop.time() < deadline:
            try:
                # types-grpcio-health-checking declares HealthStub without its methods.
                resp = await stub.Check(health_pb2.HealthCheckRequest(), timeout=2)  # type: ignore[attr-defined]
                if resp.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.3)
    raise SystemExit(f"the master did not come up; see {fleet.home / 'logs' / 'master.log'}")


async def _process_states(fleet: Fleet) -> dict[str, str]:
    try:
        procs = await fleet.client().group_processes(WORKER_GROUP)
    except SupervisorError:
        return {}
    return {p.process: p.state for p in procs}


async def _print_status(fleet: Fleet) -> None:
    channel, stub = await _control(fleet)
    async with channel:
        workers = await stub.ListWorkers(control_pb2.ListWorkersRequest(), timeout=10)
        stats = await stub.GetStats(control_pb2.GetStatsRequest(), timeout=10)
    _out(worker_table(list(workers.workers), await _process_states(fleet)))
    _out(count_workers(workers.workers).text())
    _out(
        f"items {stats.items_total} ({stats.items_unread} unread), "
        f"accounts {dict(stats.accounts_by_state) or 0}, "
        f"pending config acks {stats.pending_config_acks}"
    )
    failed = {t: n for t, n in stats.task_failures.items() if n}
    if failed:
        _out(f"task failures since start (see the master's log): {failed}")
    for problem in stats.problems:
        _out(f"PROBLEM: {problem}")


# Unread counts follow every new item; as text they only repeat what the
# item line just said (the console shows them as a column instead).
FOLLOWED_KINDS = [
    kind
    for kind in control_pb2.EventKind.values()
    if kind not in (control_pb2.EVENT_KIND_UNSPECIFIED, control_pb2.EVENT_KIND_UNREAD)
]


async def _follow(fleet: Fleet) -> None:
    channel, stub = await _control(fleet)
    async with channel:
        # EventKind.values() is typed list[int] in the generated stubs.
        request = control_pb2.WatchEventsRequest(kinds=FOLLOWED_KINDS)  # type: ignore[arg-type]
        async for event in stub.WatchEvents(request):
            _out(event_line(event))


async def _start(fleet: Fleet, workers: int | None, with_demo: bool) -> None:
    fleet.start_supervisord()
    await _wait_master(fleet)
    count = workers if workers is not None else fleet.wanted_workers()
    await fleet.scale(count)
    _out(f"hiscrm is up: master {fleet.master_address}, {count} workers, run dir {fleet.home}")
    if not with_demo:
        return
    base = fleet.demosite_url
    await demo.wait_for_demosite(base)
    channel, stub = await _control(fleet)
    async with channel:
        await demo.ensure_accounts(stub, base)
        await demo.log_in_all(stub, base, _out)
    await demo.traffic(base, per_minute=6)
    _out(f"demo platform {base}: accounts {', '.join(demo.DEMO_USERS)} live, gentle traffic on")


async def cmd_up(fleet: Fleet, args: argparse.Namespace) -> None:
    await _start(fleet, args.workers, with_demo=not args.no_demo)
    if args.no_follow:
        return
    if not args.no_tui and sys.stdin.isatty() and sys.stdout.isatty():
        args.open_tui = True  # main() runs the console once this loop is gone
        return
    await asyncio.sleep(3)
    await _print_status(fleet)
    _out("following live events (Ctrl-C stops following; `hiscrm down` stops the system)")
    await _follow(fleet)


async def cmd_demo(fleet: Fleet, args: argparse.Namespace) -> None:
    was_running = fleet.supervisord_running()
    try:
        await _start(fleet, args.workers, with_demo=True)
        await demo.traffic(fleet.demosite_url, per_minute=60)
        channel, stub = await _control(fleet)
        counts: dict[str, int] = {}
        async with channel:
            stream = stub.WatchEvents(
                control_pb2.WatchEventsRequest(kinds=[control_pb2.EVENT_KIND_ITEM])
            )
            await stream.initial_metadata()  # subscribed: the window starts now
            try:
                async with asyncio.timeout(args.seconds):
                    async for event in stream:
                        _out(event_line(event))
                        account = event.item.item.account_id
                        counts[account] = counts.get(account, 0) + 1
            except TimeoutError:
                pass
            stream.cancel()
        total = sum(counts.values())
        _out(f"demo: {total} items arrived in {args.seconds}s: {dict(sorted(counts.items()))}")
        if total == 0:
            raise SystemExit("demo: no item arrived; see var/logs/ for why")
    finally:
        if not was_running:
            # "stopped" only once it is: a test (or a script) goes on from it
            if not await fleet.shutdown():
                why = (
                    "demo: supervisord did not stop in time; see "
                    f"{fleet.home / 'logs' / 'supervisord.log'} (`hiscrm down` tries again)"
                )
                if sys.exc_info()[1] is None:
                    raise SystemExit(why)
                sys.stderr.write(why + "\n")  # the error already on its way says more
            else:
                _out("demo: stopped")


async def cmd_scale(fleet: Fleet, args: argparse.Namespace) -> None:
    if args.host or args.spread:
        await cli_hosts.scale_hosts(fleet, args.count, args.host, args.spread)
        return
    if not 0 <= args.count <= MAX_WORKERS:
        raise SystemExit(f"scale: count must be 0..{MAX_WORKERS} (etc/supervisord.conf numprocs)")
    result = await fleet.scale(args.count)
    started = ", ".join(r.name for r in result.started) or "none"
    stopped = ", ".join(r.name for r in result.stopped) or "none"
    _out(f"workers: {args.count} wanted; started {started}; stopped {stopped}")
    failed = [r for r in (*result.started, *result.stopped) if not r.ok]
    if failed:
        raise SystemExit("; ".join(f"{r.name}: {r.message}" for r in failed))


async def cmd_down(fleet: Fleet, args: argparse.Namespace) -> None:
    if await fleet.shutdown():
        _out("hiscrm is down")
    else:
        raise SystemExit("supervisord did not stop in time; see var/logs/supervisord.log")


async def cmd_status(fleet: Fleet, args: argparse.Namespace) -> None:
    if not fleet.supervisord_running():
        _out(f"supervisord is not running for {fleet.home}; start it with `hiscrm up`")
    await _print_status(fleet)


async def cmd_login(fleet: Fleet, args: argparse.Namespace) -> None:
    channel, stub = await _control(fleet)
    async with channel:
        stream = stub.StartLogin(control_pb2.StartLoginRequest(account_id=args.account))
        async for update in stream:
            kind = update.WhichOneof("event")
            if kind == "qr":
                try:
                    drawing = qrterm.render(update.qr.png)
                except qrterm.QrImageError as exc:
                    drawing = f"(cannot draw the QR: {exc}; content: {update.qr.content})"
                refreshed = (
                    f" (refreshed {update.qr.refresh_count}x)" if update.qr.refresh_count else ""
                )
                _out(f"\nScan with the {args.account} account's app{refreshed}:\n{drawing}")
            elif kind == "scanned":
                _out("scanned; confirm on the phone")
            elif kind == "verification_required":
                hint = update.verification_required.hint
                if not sys.stdin.isatty():
                    _out(
                        f"verification code needed ({hint}); send it with grpcurl "
                        f"Control/SubmitVerification session_id={update.session_id}"
                    )
                    continue
                code = await asyncio.to_thread(input, f"verification code sent to {hint}: ")
                await stub.SubmitVerification(
                    control_pb2.SubmitVerificationRequest(session_id=update.session_id, code=code)
                )
            elif kind == "success":
                _out(f"logged in as {update.success.nickname} ({update.success.platform_user_id})")
            elif kind == "failed":
                raise SystemExit(f"login failed: {update.failed.reason}")
            elif kind == "expired":
                raise SystemExit(f"login expired: {update.expired.reason}")
            elif kind == "cancelled":
                raise SystemExit(f"login cancelled: {update.cancelled.reason}")


async def cmd_watch(fleet: Fleet, args: argparse.Namespace) -> None:
    await _follow(fleet)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="hiscrm", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    home_help = "run directory (default $HISCRM_HOME or ./var)"
    parser.add_argument("--home", help=home_help)
    # `hiscrm up --home DIR` as well as `hiscrm --home DIR up`
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", help=home_help, default=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help_text, parents=[common])

    up = command("up", "start the fleet under supervisord")
    up.add_argument("--workers", type=int, help="how many workers (default: as last time, or 2)")
    up.add_argument("--no-follow", action="store_true", help="start, then return")
    up.add_argument("--no-demo", action="store_true", help="no demo accounts or traffic")
    up.add_argument(
        "--no-tui", action="store_true", help="follow events as text instead of the console"
    )
    demo_cmd = command("demo", "start, log demo accounts in, show traffic, stop")
    demo_cmd.add_argument("--seconds", type=int, default=60)
    demo_cmd.add_argument("--workers", type=int, default=None)
    scale = command("scale", "run N workers")
    scale.add_argument("count", type=int)
    scale.add_argument("--host", default="", help="on this worker host (`hiscrm hosts`)")
    scale.add_argument(
        "--spread", action="store_true", help="N in total over the worker hosts, by free memory"
    )
    command("down", "stop everything")
    command("status", "show the fleet")
    command("watch", "follow live events")
    login = command("login", "log an account in by QR code")
    login.add_argument("account")
    cli_tokens.add_parsers(command)
    cli_export.add_parsers(command)
    cli_hosts.add_parsers(command)
    cli_settings.add_parsers(command)
    args = parser.parse_args(argv)
    fleet = Fleet.from_env(args.home)
    os.environ["HISCRM_HOME"] = str(fleet.home)
    settings.home()  # owner-only from here on (umask 0077), the run directory too
    handler = {
        "up": cmd_up,
        "scale": cmd_scale,
        "down": cmd_down,
        "status": cmd_status,
        "watch": cmd_watch,
        "login": cmd_login,
        "demo": cmd_demo,
        "token": cli_tokens.handler("token"),
        "audit": cli_tokens.handler("audit"),
        "export": cli_export.cmd_export,
        "config": cli_settings.handler("config"),
        "init": cli_settings.handler("init"),
        "join": cli_hosts.handler("join"),
        "hosts": cli_hosts.handler("hosts"),
        "leave": cli_hosts.handler("leave"),
    }[args.command]
    try:
        asyncio.run(handler(fleet, args))
        if getattr(args, "open_tui", False):
            from tui.app import main as console

            console(["--master", fleet.master_address])
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        # `hiscrm status | head`: the reader left; that is not an error of ours.
        # Point stdout at /dev/null so the interpreter's final flush stays quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(0) from None
    except SupervisorError as exc:
        raise SystemExit(str(exc)) from None
    except grpc.aio.AioRpcError as exc:
        raise SystemExit(
            f"master at {fleet.master_address}: {exc.code().name}: {exc.details()}"
        ) from None


if __name__ == "__main__":
    main()
