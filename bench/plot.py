"""bench/plot: PNGs for docs/performance.md from the capacity and soak CSVs.

.venv/bin/pip install -e '.[bench]'      # matplotlib, not a runtime dependency
.venv/bin/python bench/plot.py capacity bench/results/capacity.csv docs/img/capacity.png
.venv/bin/python bench/plot.py soak bench/results/soak docs/img/soak
    (reads soak-processes.csv and soak-system.csv; writes soak-rss.png,
     soak-pss.png when the run sampled PSS, soak-fds.png and soak-lag.png)
"""

from __future__ import annotations

import argparse
import collections
import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return float("nan")


def capacity(csv_path: Path, png: Path) -> None:
    data = rows(csv_path)
    fig, (mem, cpu) = plt.subplots(1, 2, figsize=(11, 4))
    for design, style in (("shared-browser", "o-"), ("browser-per-account", "s--")):
        points = [r for r in data if r["design"] == design]
        if not points:
            continue
        n = [int(r["accounts"]) for r in points]
        mem.plot(n, [number(r["pss_mib"]) for r in points], style, label=design)
        cpu.plot(n, [number(r["cpu_core_pct_per_account"]) for r in points], style, label=design)
    mem.set(xlabel="accounts", ylabel="PSS of the workers' trees (MiB)", title="memory")
    cpu.set(xlabel="accounts", ylabel="% of one core per account", title="CPU")
    for ax in (mem, cpu):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=110)


def soak(prefix: Path, out_prefix: Path) -> None:
    procs = rows(prefix.with_name(f"{prefix.name}-processes.csv"))
    system = rows(prefix.with_name(f"{prefix.name}-system.csv"))
    by_role: dict[str, list[tuple[float, ...]]] = collections.defaultdict(list)
    for r in procs:
        # one line per role: a killed worker's successor continues its line
        by_role[r["role"]].append(
            (
                number(r["t_s"]) / 60,
                number(r["rss_mib"]),
                number(r["fds"]),
                number(r.get("pss_mib", "")),  # runs before PSS was sampled have none
            )
        )
    figures = [("rss", 1, "RSS (MiB)", False), ("fds", 2, "open file descriptors", False)]
    if procs and "pss_mib" in procs[0]:
        figures.append(("pss", 3, "PSS (MiB)", False))
    if any(role.startswith("chromium.") for role in by_role):
        figures.append(("chromium-parts", 3, "PSS of Chromium's processes by job (MiB)", True))
    for what, index, label, parts in figures:
        fig, ax = plt.subplots(figsize=(10, 4.5))
        for role, points in sorted(by_role.items()):
            # the parts of a Chromium tree get their own figure, the tree is in the others
            if role.startswith("chromium.") != parts:
                continue
            ax.plot([p[0] for p in points], [p[index] for p in points], ".-", ms=3, label=role)
        ax.set(xlabel="minutes", ylabel=label, title=f"soak: {label} per process")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
        fig.tight_layout()
        fig.savefig(out_prefix.with_name(f"{out_prefix.name}-{what}.png"), dpi=110)
        plt.close(fig)
    t = [number(r["t_s"]) / 60 for r in system]
    fig, (lag, depth) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    for key in ("lag_p50_ms", "lag_p99_ms", "lag_max_ms"):
        lag.plot(t, [number(r[key]) for r in system], ".-", ms=3, label=key)
    lag.set(ylabel="inject -> event (ms)", yscale="log", title="soak: event stream lag")
    depth.plot(t, [number(r["outbox_pending"]) for r in system], ".-", label="outbox pending")
    depth.plot(t, [number(r["pending_config_acks"]) for r in system], ".-", label="config acks")
    depth.set(xlabel="minutes", ylabel="depth")
    for ax in (lag, depth):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_prefix.with_name(f"{out_prefix.name}-lag.png"), dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    cap = sub.add_parser("capacity", help="capacity.csv -> one PNG")
    cap.add_argument("csv", type=Path)
    cap.add_argument("png", type=Path)
    sk = sub.add_parser("soak", help="soak CSV prefix -> three PNGs")
    sk.add_argument("prefix", type=Path)
    sk.add_argument("out_prefix", type=Path)
    args = parser.parse_args(argv)
    if args.what == "capacity":
        args.png.parent.mkdir(parents=True, exist_ok=True)
        capacity(args.csv, args.png)
    else:
        args.out_prefix.parent.mkdir(parents=True, exist_ok=True)
        soak(args.prefix, args.out_prefix)
    return 0


if __name__ == "__main__":
    sys.exit(main())
