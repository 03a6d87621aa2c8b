"""The worker's settings: command line first, then HISCRM_* environment."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

from hiscrm_common import settings
from hiscrm_common.channel import master_address

DEFAULT_PLATFORMS = settings.config_model.DEFAULT_PLATFORMS


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
            default=settings.get().worker_id,
            help="worker id, unique in the fleet (default $HISCRM_WORKER_ID)",
        )
        parser.add_argument(
            "--master",
            default=master_address(),
            help="master address host:port (default $HISCRM_MASTER or 127.0.0.1:50051)",
        )
        parser.add_argument(
            "--platforms",
            default=settings.get().worker_platforms,
            help=f"comma-separated platforms this worker runs (default {DEFAULT_PLATFORMS})",
        )
        parser.add_argument(
            "--max-accounts",
            type=int,
            default=settings.get().worker_max_accounts,
            help="most accounts this worker runs at once (default 30)",
        )
        parser.add_argument(
            "--data-dir",
            default=str(settings.get().worker_data or ""),
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
            max_message_bytes=settings.get().max_message_bytes,
            outbox_max_items=settings.get().outbox_max_items,
            page_concurrency=settings.get().page_concurrency,
        )
