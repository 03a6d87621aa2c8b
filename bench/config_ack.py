"""bench/config_ack: time from Control.UpdateAccount to the worker's ConfigAck.

Starts a real master and one real worker process (hiscrm-worker, synthetic
platform only) on loopback in a fresh HISCRM_HOME, creates synthetic accounts
that produce almost nothing, waits until every one runs with its config
acknowledged, then opens Control.WatchEvents (config acks only) and, --updates
times, changes monitor_interval_ms of one account (rotating) and measures the
time until the ConfigAcked event for that account and the config_version the
update returned arrives. That is the whole path an operator waits on: RPC,
database write, ConfigUpdate frame, worker applies it to the running loop,
ConfigAck frame, event bus, back to the client.

Target: p99 <= 100 ms. Run from the repo root:
  .venv/bin/python bench/config_ack.py [--updates N] [--accounts N] [--concurrency N]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
from google.protobuf import field_mask_pb2  # noqa: E402

from bench.common import (  # noqa: E402
    EventWatcher,
    accounts_by_id,
    cpu_seconds,
    out,
    percentile,
    run_cluster,
    wait_states,
)
from hiscrm.v1 import common_pb2, control_pb2, control_pb2_grpc  # noqa: E402
from hiscrm_common.channel import open_channel  # noqa: E402
from tests.harness import Cluster  # noqa: E402

TARGET_P99_MS = 100.0
WORKER_ID = "bench-cfg-1"
BASE_INTERVAL_MS = 60_000
ACK_TIMEOUT_S = 5.0
SETTLE_TIMEOUT_S = 60.0

Key = tuple[str, int]  # (account id, config version)


class AckWatcher(EventWatcher):
    """Resolves a future per (account, version) when its ConfigAcked event arrives."""

    def __init__(self, control: control_pb2_grpc.ControlStub) -> None:
        super().__init__(control, [control_pb2.EVENT_KIND_CONFIG_ACK])
        self.arrived: dict[Key, asyncio.Future[float]] = {}

    def future(self, key: Key) -> asyncio.Future[float]:
        fut = self.arrived.get(key)
        if fut is None:
            fut = asyncio.get_running_loop().create_future()
            self.arrived[key] = fut
        return fut

    def on_event(self, event: control_pb2.Event, now: float) -> None:
        acked = event.config_acked
        if not acked.ok:
            self.failed.append(f"{acked.account_id} v{acked.config_version}: {acked.error}")
            return
        fut = self.future((acked.account_id, acked.config_version))
        if not fut.done():
            fut.set_result(now)


async def update_interval(
    control: control_pb2_grpc.ControlStub, account_id: str, interval_ms: int
) -> int:
    account = await control.UpdateAccount(
        control_pb2.UpdateAccountRequest(
            account_id=account_id,
            spec=common_pb2.AccountSpec(monitor_interval_ms=interval_ms),
            update_mask=field_mask_pb2.FieldMask(paths=["monitor_interval_ms"]),
        )
    )
    return account.config_version


async def settle(control: control_pb2_grpc.ControlStub, ids: list[str]) -> None:
    behind = await wait_states(
        control,
        ids,
        common_pb2.RUN_STATE_RUNNING,
        SETTLE_TIMEOUT_S,
        worker_id=WORKER_ID,
        acked=True,
        every=0.1,
    )
    if behind:
        raise RuntimeError(f"accounts not all RUNNING with acked config within {SETTLE_TIMEOUT_S}s")


async def bench(cluster: Cluster, args: argparse.Namespace) -> int:
    channel = open_channel(cluster.address, cluster.token())
    control = control_pb2_grpc.ControlStub(channel)
    watcher = AckWatcher(control)
    ids = [f"cfg-{i}" for i in range(args.accounts)]
    counter = iter(range(1, 10**9))
    latencies: list[float] = []
    rpc_latencies: list[float] = []
    timeouts: list[str] = []
    stopped_early: list[int] = []

    async def one(account_id: str, record: bool) -> None:
        t0 = time.perf_counter()
        version = await update_interval(control, account_id, BASE_INTERVAL_MS + next(counter))
        t_rpc = time.perf_counter()
        fut = watcher.future((account_id, version))
        try:
            arrived = await asyncio.wait_for(asyncio.shield(fut), ACK_TIMEOUT_S)
        except TimeoutError:
            timeouts.append(f"{account_id} v{version}")
            return
        if record:
            latencies.append(arrived - t0)
            rpc_latencies.append(t_rpc - t0)

    async def updater(mine: list[str], count: int, deadline: float) -> None:
        for i in range(count):
            if time.monotonic() > deadline:
                stopped_early.append(count - i)
                return
            await one(mine[i % len(mine)], True)
            if args.gap_ms:
                await asyncio.sleep(args.gap_ms / 1000)

    try:
        for i in range(args.load_accounts):
            await control.CreateAccount(
                control_pb2.CreateAccountRequest(
                    account_id=f"load-{i}",
                    spec=common_pb2.AccountSpec(
                        platform=common_pb2.PLATFORM_SYNTHETIC,
                        display_name=f"background load {i}",
                        enabled=True,
                        monitor_interval_ms=200,
                        synthetic=common_pb2.SyntheticOptions(
                            items_per_second=args.load_rate, content_bytes=200
                        ),
                    ),
                )
            )
        for account_id in ids:
            await control.CreateAccount(
                control_pb2.CreateAccountRequest(
                    account_id=account_id,
                    spec=common_pb2.AccountSpec(
                        platform=common_pb2.PLATFORM_SYNTHETIC,
                        display_name=f"config bench {account_id}",
                        enabled=True,
                        monitor_interval_ms=BASE_INTERVAL_MS,
                        synthetic=common_pb2.SyntheticOptions(
                            items_per_second=0.01, total_items=10
                        ),
                    ),
                )
            )
        await settle(control, ids)
        watcher.start()
        for account_id in ids:  # warm-up, not measured; also proves the stream is live
            await one(account_id, False)
        if timeouts:
            raise RuntimeError(f"warm-up updates never acked: {timeouts}")

        worker = psutil.Process(cluster.workers[WORKER_ID].pid)
        assert cluster.master is not None
        master = psutil.Process(cluster.master.pid)
        if args.load_accounts:  # measure while items flow
            deadline = time.monotonic() + SETTLE_TIMEOUT_S
            while time.monotonic() < deadline:
                if (await control.GetStats(control_pb2.GetStatsRequest())).items_total:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(2.0)
        items0 = (await control.GetStats(control_pb2.GetStatsRequest())).items_ingested
        cpu0 = [cpu_seconds(p) for p in (master, worker)]
        c = min(args.concurrency, len(ids))
        shares = [ids[j::c] for j in range(c)]
        counts = [args.updates // c + (1 if j < args.updates % c else 0) for j in range(c)]
        t0 = time.perf_counter()
        deadline = time.monotonic() + args.max_seconds
        await asyncio.gather(*(updater(shares[j], counts[j], deadline) for j in range(c)))
        wall = time.perf_counter() - t0
        cpu = [cpu_seconds(p) - c0 for p, c0 in zip((master, worker), cpu0, strict=True)]

        final = await accounts_by_id(control)
        unacked = [
            a.account_id
            for a in final.values()
            if a.account_id in ids and a.acked_config_version != a.config_version
        ]
        stats = await control.GetStats(control_pb2.GetStatsRequest())
    finally:
        await watcher.stop()
        await channel.close()

    ms = [x * 1000 for x in latencies]
    rpc_ms = [x * 1000 for x in rpc_latencies]
    out()
    out(
        f"{len(ms)} updates over {len(ids)} accounts, concurrency {c}, "
        f"gap {args.gap_ms} ms, {wall:.2f} s wall ({len(ms) / wall:.0f} updates/s)"
    )
    if stopped_early:
        out(f"time bound of {args.max_seconds:.0f} s reached: {sum(stopped_early)} updates skipped")
    out(f"master cpu {cpu[0]:.2f} s, worker cpu {cpu[1]:.2f} s")
    if args.load_accounts:
        ingested = stats.items_ingested - items0
        out(
            f"background load: {args.load_accounts} synthetic accounts x {args.load_rate:.0f} "
            f"items/s asked; {ingested} items stored during the run ({ingested / wall:.0f}/s)"
        )
    header = f"{'':<34}{'p50':>9}{'p90':>9}{'p99':>9}{'max':>9}"
    out(header)
    out("-" * len(header))
    for label, values in (
        ("UpdateAccount -> ConfigAcked (ms)", ms),
        ("UpdateAccount RPC alone (ms)", rpc_ms),
    ):
        out(
            f"{label:<34}{percentile(values, 0.5):>9.2f}{percentile(values, 0.9):>9.2f}"
            f"{percentile(values, 0.99):>9.2f}{max(values, default=float('nan')):>9.2f}"
        )
    p99 = percentile(ms, 0.99)
    out()
    out(
        f"target p99 <= {TARGET_P99_MS:.0f} ms: "
        f"{'MET' if p99 <= TARGET_P99_MS and not timeouts else 'NOT MET'} ({p99:.2f} ms)"
    )
    out(
        f"check: {len(timeouts)} updates not acked within {ACK_TIMEOUT_S:.0f} s, "
        f"{len(watcher.failed)} failed acks, {len(unacked)} accounts left unacked, "
        f"pending_config_acks {stats.pending_config_acks}"
    )
    problems = timeouts + watcher.failed + unacked
    if problems:
        out("PROBLEMS: " + "; ".join(problems[:10]))
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=300, help="measured UpdateAccount calls")
    parser.add_argument("--accounts", type=int, default=10, help="synthetic accounts to rotate")
    parser.add_argument(
        "--concurrency", type=int, default=1, help="updaters in parallel (distinct accounts)"
    )
    parser.add_argument("--gap-ms", type=int, default=0, help="pause between one updater's calls")
    parser.add_argument(
        "--load-accounts",
        type=int,
        default=0,
        help="extra synthetic accounts on the same worker producing items meanwhile",
    )
    parser.add_argument(
        "--load-rate", type=float, default=1000.0, help="items/s of each load account"
    )
    parser.add_argument(
        "--max-seconds", type=float, default=60.0, help="stop issuing updates after this long"
    )
    parser.add_argument("--keep", action="store_true", help="keep the run directory (logs, db)")
    args = parser.parse_args(argv)
    if args.updates < 1 or args.accounts < 1 or args.concurrency < 1:
        parser.error("--updates, --accounts and --concurrency must be >= 1")
    if args.load_accounts and not 0 < args.load_rate <= 1_000_000:
        parser.error("--load-rate must be in (0, 1000000]")

    def run(cluster: Cluster) -> int:
        # The production heartbeat (2 s); the harness default of 0.5 s is for tests.
        cluster.start_master(HISCRM_HEARTBEAT_MS="2000")
        cluster.start_worker(WORKER_ID, "--platforms", "synthetic", HISCRM_HEARTBEAT_MS="2000")
        cluster.wait_worker_state(WORKER_ID, common_pb2.WORKER_STATE_ONLINE)
        out(f"master on {cluster.address}, worker {WORKER_ID}, home {cluster.home}")
        return asyncio.run(bench(cluster, args))

    return run_cluster("config", run, keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
