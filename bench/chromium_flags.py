"""bench/chromium_flags: the PSS each extra account page costs, per set of Chromium switches.

Answers "does this switch make an account cheaper?" within one run, so the
shared machine's noise hits every variant alike. Starts the demo platform
only (no master, no worker process) and, for each variant in turn, a
BrowserPool exactly as a worker builds it (its executable, switches,
sandbox, per-account fingerprint, init script and resource policy) plus the
variant's extra switches. In that pool it opens --pages account contexts,
logs each in by QR the way the login runner does (nothing blocked while the
login runs), leaves the creator centre open as monitoring does and runs a
few monitor-like cycles (in-page fetches of the me, comments and messages
APIs). It samples Chromium's process tree after the first page and after
all of them (median of --samples), and the pool's Playwright driver.

Per extra page = (PSS at N - PSS at 1) / (N - 1), split by Chromium process
type (renderer, gpu-process, ...). Every variant runs --rounds times, the
order rotating each round, so a figure and its repeat can be compared.

  nice -n 19 .venv/bin/python bench/chromium_flags.py [--pages 10] [--rounds 2]
      [--variant 'name=--switch-a --switch-b' ...]

Without --variant it compares the pool's default (`default`) with the
candidate sets in CANDIDATES. Three switches of a variant are the bench's,
not Chromium's: `--render-scale=X` paints its monitor pages at X instead of
HISCRM_RENDER_SCALE (`full-size`: 1, as before); `--close-pages` keeps no
page between cycles (each cycle opens the creator centre, reads, closes it);
`--block=TYPE,...` blocks more resource types while monitoring (e.g.
stylesheet). A variant named `bare` drops the pool's memory switches
(MEMORY_ARGS) to show what they save. The cycle column is the median time of
one account's cycle.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
from playwright.async_api import Page, Request, Route  # noqa: E402

from bench.common import machine, out, run_cluster  # noqa: E402
from bench.memory import chromium_type  # noqa: E402
from hiscrm_common import config_model  # noqa: E402
from tests.demo_helpers import admin  # noqa: E402
from tests.harness import Cluster  # noqa: E402
from worker.browser import pool as pool_module  # noqa: E402
from worker.browser.account_context import AccountContext  # noqa: E402
from worker.browser.fingerprint import Fingerprint  # noqa: E402
from worker.browser.pool import BrowserPool  # noqa: E402
from worker.platforms import demo_api  # noqa: E402

MIB = 1024 * 1024
# Not a Chromium switch: the scale the bench paints monitor pages at
# (HISCRM_RENDER_SCALE, AccountContext.render_scale); 1 paints them in full.
RENDER_SCALE = "--render-scale="
CLOSE_PAGES = "--close-pages"  # each cycle opens the creator centre and closes it after
BLOCK = "--block="  # e.g. --block=stylesheet: more resource types monitoring skips
# Candidates measured against the pool's default; each is one idea.
CANDIDATES: dict[str, tuple[str, ...]] = {
    "full-size": (RENDER_SCALE + "1",),
    "close-pages": (CLOSE_PAGES,),
    "block-css": (BLOCK + "stylesheet",),
    "low-end": ("--enable-low-end-device-mode",),
    "lite-mode": ("--js-flags=--lite-mode",),
    "one-raster-thread": ("--num-raster-threads=1",),
}
CYCLE_PATHS = (demo_api.ME_PATH, demo_api.COMMENTS_PATH, demo_api.MESSAGES_PATH)
FETCH = """async (paths) => {
  for (const p of paths) { await (await fetch(p, {credentials: 'include'})).text(); }
}"""


@dataclass
class Sample:
    chromium: int = 0
    driver: int = 0
    processes: int = 0
    by_type: dict[str, int] = field(default_factory=dict)


def sample(pool: BrowserPool, driver_pid: int | None) -> Sample:
    s = Sample()
    for proc in pool.processes():
        try:
            with proc.oneshot():
                pss = proc.memory_full_info().pss
                kind = chromium_type(proc.cmdline())
        except psutil.Error:
            continue
        s.chromium += pss
        s.processes += 1
        s.by_type[kind] = s.by_type.get(kind, 0) + pss
    if driver_pid is not None:
        try:
            s.driver = psutil.Process(driver_pid).memory_full_info().pss
        except psutil.Error:
            pass
    return s


async def measure(pool: BrowserPool, driver_pid: int | None, n: int, gap: float) -> Sample:
    taken = []
    for i in range(n):
        if i:
            await asyncio.sleep(gap)
        taken.append(await asyncio.to_thread(sample, pool, driver_pid))
    taken.sort(key=lambda s: s.chromium)
    return taken[len(taken) // 2]


def force_viewport(spec: str) -> None:
    size, _, scale = spec.partition("@")
    width, height = (int(x) for x in size.split("x"))
    original = Fingerprint.context_options

    def options(self: Fingerprint) -> dict[str, Any]:
        opts = original(self)
        opts["viewport"] = {"width": width, "height": height}
        opts["device_scale_factor"] = float(scale or 1)
        return opts

    Fingerprint.context_options = options  # type: ignore[method-assign]


def driver_pid() -> int | None:
    """The newest Playwright driver (node) this process started."""
    nodes = [c for c in psutil.Process().children() if "node" in c.name().lower()]
    return max(nodes, key=lambda p: p.create_time()).pid if nodes else None


@dataclass(frozen=True)
class Mode:
    """What a variant changes besides Chromium's switches (the bench's own
    pseudo-switches, taken off the command line)."""

    scale: float
    close_pages: bool = False  # no page between cycles: each cycle opens one
    block: frozenset[str] = frozenset()  # more resource types blocked while monitoring

    @staticmethod
    def of(switches: tuple[str, ...]) -> tuple[Mode, tuple[str, ...]]:
        scale, close, block, rest = config_model.get().render_scale, False, frozenset(), []
        for switch in switches:
            if switch.startswith(RENDER_SCALE):
                scale = float(switch.split("=", 1)[1])
            elif switch == CLOSE_PAGES:
                close = True
            elif switch.startswith(BLOCK):
                block = frozenset(switch.split("=", 1)[1].split(","))
            else:
                rest.append(switch)
        return Mode(scale, close, block), tuple(rest)


async def load_creator(page: Page, base: str, mode: Mode, actx: AccountContext) -> None:
    await page.goto(base + "/creator", wait_until="domcontentloaded")  # policy in force
    await page.locator("body[data-loaded=true]").wait_for(state="attached", timeout=60_000)
    if mode.scale < 1:  # as the monitor page is (creator_centre._monitor_page)
        await actx.render_scale(page, mode.scale)


async def open_account(pool: BrowserPool, base: str, n: int, mode: Mode) -> None:
    account = f"acct-{n}"
    actx = await pool.context(account, seed=f"cap-{n}")
    pool.logins[account] += 1  # as the login runner does: the QR page loads everything
    try:
        page = await actx.new_page()
        await page.goto(base + "/login", wait_until="domcontentloaded")
        token = await page.get_attribute("#qr", "data-token")
        scan = {"username": f"demo{n}", "token": token}
        await asyncio.to_thread(admin, base, "/admin/scan", scan)
        await page.wait_for_url(base + "/creator", timeout=60_000)
    finally:
        pool.logins[account] -= 1
    if mode.block:

        async def handle(route: Route, request: Request) -> None:
            if request.resource_type in mode.block and not pool.logins[account]:
                await route.abort("blockedbyclient")
            else:
                await route.fallback()

        await actx.context.route("**/*", handle)
    await load_creator(page, base, mode, actx)
    if mode.close_pages:
        await page.close()


async def cycles(pool: BrowserPool, base: str, mode: Mode, rounds: int) -> list[float]:
    """Monitor-like cycles over every account; the seconds each took."""
    took = []
    for _ in range(rounds):
        for account in pool.accounts:
            actx = pool.get(account)
            if actx is None:
                raise RuntimeError(f"{account}: its context is gone")
            t0 = time.monotonic()
            if mode.close_pages:
                page = await actx.new_page()
                await load_creator(page, base, mode, actx)
            elif not actx.context.pages:
                raise RuntimeError(f"{account}: its page is gone")
            else:
                page = actx.context.pages[0]
            await page.evaluate(FETCH, list(CYCLE_PATHS))
            if mode.close_pages:
                await page.close()
            took.append(time.monotonic() - t0)
    return took


@dataclass
class Result:
    variant: str
    first: Sample
    last: Sample
    pages: int
    seconds: float
    cycle_s: float

    def per_page(self, attr: str) -> float:
        return (getattr(self.last, attr) - getattr(self.first, attr)) / (self.pages - 1) / MIB

    def per_page_type(self, kind: str) -> float:
        a, b = self.first.by_type.get(kind, 0), self.last.by_type.get(kind, 0)
        return (b - a) / (self.pages - 1) / MIB


async def run_variant(
    name: str, extra: tuple[str, ...], base: str, home: Path, args: argparse.Namespace
) -> Result:
    t0 = time.monotonic()
    mode, extra = Mode.of(extra)
    saved = pool_module.MEMORY_ARGS
    if name == "bare":
        pool_module.MEMORY_ARGS = ()
    try:
        pool = BrowserPool(f"flags-{name}", Path(tempfile.mkdtemp(dir=home)), extra_args=extra)
        await pool.start()
    finally:
        pool_module.MEMORY_ARGS = saved
    try:
        driver = await asyncio.to_thread(driver_pid)
        await open_account(pool, base, 1, mode)
        await cycles(pool, base, mode, 2)
        await asyncio.sleep(args.settle)
        first = await measure(pool, driver, args.samples, args.gap)
        for n in range(2, args.pages + 1):
            await open_account(pool, base, n, mode)
        took = await cycles(pool, base, mode, args.cycles)
        await asyncio.sleep(args.settle)
        last = await measure(pool, driver, args.samples, args.gap)
    finally:
        await pool.close()
    seconds = time.monotonic() - t0
    return Result(name, first, last, args.pages, seconds, statistics.median(took))


async def bench(
    base: str, home: Path, variants: dict[str, tuple[str, ...]], args: argparse.Namespace
) -> int:
    results: list[Result] = []
    names = list(variants)
    for r in range(args.rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            res = await run_variant(name, variants[name], base, home, args)
            results.append(res)
            out(
                f"round {r + 1} {name:<20} chromium {res.last.chromium / MIB:7.1f} MiB at "
                f"{res.pages} pages ({res.first.chromium / MIB:.1f} at 1); per extra page "
                f"{res.per_page('chromium'):5.1f} MiB chromium + {res.per_page('driver'):4.1f} "
                f"driver; cycle {res.cycle_s * 1000:.0f} ms (median); {res.seconds:.0f} s; "
                f"load {psutil.getloadavg()[0]:.1f}"
            )
    kinds = sorted({k for r in results for k in r.last.by_type})
    out()
    out(f"per extra page, MiB (median over {args.rounds} rounds; range in brackets)")
    head = f"{'variant':<20}{'chromium':>16}" + "".join(f"{k[:16]:>18}" for k in kinds)
    out(head + f"{'driver':>10}{'cycle ms':>10}")
    for name in names:
        mine = [r for r in results if r.variant == name]

        def cell(values: list[float]) -> str:
            return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"

        row = f"{name:<20}{cell([r.per_page('chromium') for r in mine]):>16}"
        row += "".join(f"{cell([r.per_page_type(k) for r in mine]):>18}" for k in kinds)
        driver = statistics.median(r.per_page("driver") for r in mine)
        cycle = statistics.median(r.cycle_s for r in mine) * 1000
        out(row + f"{driver:>10.1f}{cycle:>10.0f}")
    for name in names:
        out(f"  {name}: {' '.join(variants[name]) or '(no extra switch)'}")
    out(f"pool switches: {' '.join(pool_module.CHROMIUM_ARGS + pool_module.MEMORY_ARGS)}")
    out(f"machine: {machine()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=10, help="account pages per variant")
    parser.add_argument("--rounds", type=int, default=2, help="runs of every variant")
    parser.add_argument("--cycles", type=int, default=3, help="monitor-like cycles before sampling")
    parser.add_argument("--settle", type=float, default=8.0, help="seconds before sampling")
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--gap", type=float, default=2.0)
    parser.add_argument(
        "--viewport",
        default="",
        help="WxH@scale for every context instead of its fingerprint's (diagnosis only: "
        "how much of a page's cost is pixels)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="'name=--switch ...' (repeatable); default: default + the built-in candidates",
    )
    args = parser.parse_args(argv)
    if args.pages < 2 or args.rounds < 1:
        parser.error("--pages >= 2, --rounds >= 1")
    variants: dict[str, tuple[str, ...]] = {"default": ()}
    if args.variant:
        variants = {}
        for spec in args.variant:
            name, _, switches = spec.partition("=")
            if not name.strip():
                parser.error(f"--variant {spec!r}: name it, e.g. 'lite=--js-flags=--lite-mode'")
            variants[name.strip()] = tuple(shlex.split(switches))
    else:
        variants.update(CANDIDATES)
    if args.viewport:
        force_viewport(args.viewport)

    def run(cluster: Cluster) -> int:
        base = cluster.start_demosite("--users", str(args.pages + 1))
        out(f"demo platform {base}; {args.pages} pages per variant, {args.rounds} rounds")
        out(f"machine before: {machine()}")
        return asyncio.run(bench(base, cluster.home, variants, args))

    return run_cluster("flags", run, keep=False, report_killed=True)


if __name__ == "__main__":
    sys.exit(main())
