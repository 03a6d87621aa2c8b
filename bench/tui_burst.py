"""bench/tui_burst: does a burst of live items block the console's input?

Runs the real HiscrmApp headless (App.run_test) on the deterministic fake
client, then feeds --items item events into the event pump's batching path
(EventPump.feed, where WatchEvents delivers them), yielding to the loop every
--chunk events as a network read would (each event is decoded from wire
bytes in the loop, as the stream does). Meanwhile a key (F12, bound at app
level) is posted every --probe-ms through the app's message queue, the path
terminal input takes, and the time until its handler runs is recorded, from
the burst's first event until 0.5 s after its last item is applied (so the
layout and painting that follow count too).

Prints, for the batched pump (100 ms window, --rounds bursts) and, as the
comparison, a pump that flushes every loop turn (no batching; a smaller
burst, --unbatched-items, because it takes minutes otherwise): input-latency
p50/p99/max during the bursts, the time from the first event fed to the last
item applied to the Inbox, the number of UI applies and the longest one. No
absolute targets: compare the two modes within one run. Run from the repo root:

  .venv/bin/python bench/tui_burst.py [--items 5000] [--rounds 5] [--chunk 1]
                                      [--probe-ms 5] [--unbatched-items 500]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from textual import events  # noqa: E402
from textual.binding import Binding, BindingType  # noqa: E402

from bench.common import out  # noqa: E402
from hiscrm.v1 import control_pb2  # noqa: E402
from tui.app import HiscrmApp  # noqa: E402
from tui.client import FLUSH_INTERVAL_S, EventPump  # noqa: E402
from tui.fake import NOW, FakeClient, item_event, items  # noqa: E402
from tui.messages import EventsArrived  # noqa: E402


@dataclass
class Figures:
    latencies_ms: list[float] = field(default_factory=list)
    applies_ms: list[float] = field(default_factory=list)
    bursts_s: list[float] = field(default_factory=list)
    shown: int = 0


class ProbedApp(HiscrmApp):
    """The console plus an input probe and a timer around each live apply."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *HiscrmApp.BINDINGS,
        Binding("f12", "probe", "probe", show=False, priority=True),
    ]

    def __init__(self, flush_interval: float) -> None:
        # the item log on screen, as the Inbox was before conversations
        super().__init__("fake:0", "", client=FakeClient(), clock=lambda: NOW, initial_tab="items")
        self.pump = EventPump(self.client, self.post_message, flush_interval=flush_interval)
        self.sent: deque[float] = deque()
        self.figures = Figures()
        self.probing = False
        self.last_id = 0
        self.applied = asyncio.Event()
        self.applied_at = 0.0

    def action_probe(self) -> None:
        sent = self.sent.popleft()
        if self.probing:
            self.figures.latencies_ms.append((time.perf_counter() - sent) * 1000)

    def on_events_arrived(self, message: EventsArrived) -> None:
        start = time.perf_counter()
        super().on_events_arrived(message)
        end = time.perf_counter()
        self.figures.applies_ms.append((end - start) * 1000)
        if self.last_id in self.item_log.items:
            self.applied_at = end
            self.applied.set()


async def probe_keys(app: ProbedApp, every_s: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        app.sent.append(time.perf_counter())
        app.post_message(events.Key("f12", None))
        await asyncio.sleep(every_s)


async def run(
    flush_interval: float, count: int, chunk: int, probe_ms: float, rounds: int
) -> Figures:
    app = ProbedApp(flush_interval)
    async with app.run_test(size=(160, 48)) as pilot:
        for _ in range(100):
            if app.full_refreshes and app.item_log.items:
                break
            await pilot.pause(0.05)
        stop = asyncio.Event()
        prober = asyncio.create_task(probe_keys(app, probe_ms / 1000, stop))
        await asyncio.sleep(0.2)  # probes settle before the first burst
        for r in range(rounds):
            first_id = 1_000_000 * (r + 1)
            # Wire bytes, decoded in the loop as the gRPC stream would.
            wire = [
                item_event(s, n).SerializeToString()
                for n, s in enumerate(items(count, first_id=first_id), 1)
            ]
            app.last_id = first_id + count - 1
            app.applied.clear()
            app.probing = True
            start = time.perf_counter()
            for n, raw in enumerate(wire, 1):
                app.pump.feed(control_pb2.Event.FromString(raw))
                if n % chunk == 0:
                    await asyncio.sleep(0)  # a network read yields here
            await asyncio.wait_for(app.applied.wait(), 600)
            app.figures.bursts_s.append(app.applied_at - start)
            # Layout and painting of the new rows follow the apply; keep
            # measuring input through them.
            await asyncio.sleep(0.5)
            app.probing = False
            await asyncio.sleep(0.2)  # quiet between bursts
        stop.set()
        await prober
        await pilot.pause(0.2)
        app.figures.shown = app.item_log.query_one("#items").row_count  # type: ignore[attr-defined]
    return app.figures


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(name: str, f: Figures) -> None:
    lat = f.latencies_ms
    out(
        f"{name:<26} input p50 {pct(lat, 0.5):7.1f} ms  p99 {pct(lat, 0.99):7.1f} ms  "
        f"max {max(lat, default=float('nan')):7.1f} ms  ({len(lat)} probes)"
    )
    out(
        f"{'':<26} burst applied in {statistics.median(f.bursts_s):6.2f} s (median of "
        f"{len(f.bursts_s)}); {len(f.applies_ms)} UI applies, "
        f"median {statistics.median(f.applies_ms) if f.applies_ms else 0:.1f} ms, "
        f"longest {max(f.applies_ms, default=0):.1f} ms; {f.shown} rows shown"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--chunk", type=int, default=1, help="events fed per loop turn")
    parser.add_argument("--probe-ms", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=5, help="bursts per mode")
    parser.add_argument("--unbatched-items", type=int, default=500)
    parser.add_argument("--skip-unbatched", action="store_true")
    args = parser.parse_args()
    out(
        f"tui burst: {args.items} item events, {args.chunk} per loop turn, key every "
        f"{args.probe_ms:g} ms"
    )
    batched = asyncio.run(run(FLUSH_INTERVAL_S, args.items, args.chunk, args.probe_ms, args.rounds))
    report(f"batched ({FLUSH_INTERVAL_S * 1000:.0f} ms window)", batched)
    if args.skip_unbatched:
        return
    # Without batching every event redraws the table, so the comparison runs
    # a smaller burst (the full one takes minutes) and compares per item.
    small = min(args.items, args.unbatched_items)
    unbatched = asyncio.run(run(0.0, small, args.chunk, args.probe_ms, 1))
    report(f"unbatched ({small} items)", unbatched)
    ratio = pct(unbatched.latencies_ms, 0.99) / pct(batched.latencies_ms, 0.99)
    per_item_b = statistics.median(batched.bursts_s) / args.items
    per_item_u = statistics.median(unbatched.bursts_s) / small
    out(
        f"ratio unbatched/batched: input p99 {ratio:.1f}x, "
        f"time to apply per item {per_item_u / per_item_b:.0f}x "
        f"({per_item_u * 1e6:.0f} vs {per_item_b * 1e6:.0f} µs)"
    )


if __name__ == "__main__":
    main()
