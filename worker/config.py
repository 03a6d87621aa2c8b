"""The worker's settings: command line first, then HISCRM_* environment."""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass
from pathlib import Path

from hiscrm_common import settings
from hiscrm_common.channel import master_address

DEFAULT_PLATFORMS = "demo,douyin,xiaohongshu,synthetic"


@dataclass(frozen=True)
class WorkerConfig:
    worker_id: str
    master: str
    platforms: list[str]
    max_accounts: int
    data_dir: Path
    max_message_bytes: int
    outbox_max_items: int
    page_concurrency: int

    @classmethod
    def parse(cls, argv: list[str] | None = None) -> WorkerConfig:
        parser = argparse.ArgumentParser(
            prog="hiscrm-worker", description="Run one hiscrm browser worker."
        )
        parser.add_argument(
            "--id",
            default=os.environ.get("HISCRM_WORKER_ID", ""),
            help="worker id, unique in the fleet (default $HISCRM_WORKER_ID)",
        )
        parser.add_argument(
            "--master",
            default=master_address(),
            help="master address host:port (default $HISCRM_MASTER or 127.0.0.1:50051)",
        )
        parser.add_argument(
            "--platforms",
            default=os.environ.get("HISCRM_WORKER_PLATFORMS", DEFAULT_PLATFORMS),
            help=f"comma-separated platforms this worker runs (default {DEFAULT_PLATFORMS})",
        )
        parser.add_argument(
            "--max-accounts",
            type=int,
            default=settings.env_int("HISCRM_WORKER_MAX_ACCOUNTS", 30),
            help="most accounts this worker runs at once (default 30)",
        )
        parser.add_argument(
            "--data-dir",
            default=os.environ.get("HISCRM_WORKER_DATA", ""),
            help="outbox, sessions and screenshots (default $HISCRM_HOME/workers/<id>)",
        )
        args = parser.parse_args(argv)
        if not args.id:
            parser.error("--id is required (or set HISCRM_WORKER_ID), e.g. --id worker-1")
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$", args.id):
            parser.error(f"--id {args.id!r}: use letters, digits and '_.:-' (at most 64)")
        if args.max_accounts < 1:
            parser.error("--max-accounts must be at least 1")
        data_dir = Path(args.data_dir) if args.data_dir else settings.home() / "workers" / args.id
        return cls(
            worker_id=args.id,
            master=args.master,
            platforms=[p for p in args.platforms.split(",") if p.strip()],
            max_accounts=args.max_accounts,
            data_dir=data_dir.resolve(),
            max_message_bytes=settings.env_int(
                "HISCRM_MAX_MESSAGE_BYTES", settings.DEFAULT_MAX_MESSAGE_BYTES
            ),
            outbox_max_items=settings.env_int("HISCRM_OUTBOX_MAX_ITEMS", 200_000),
            page_concurrency=settings.env_int("HISCRM_PAGE_CONCURRENCY", 4),
        )
