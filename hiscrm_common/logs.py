"""One log format for every process."""

from __future__ import annotations

import logging
import sys

from hiscrm_common import config_model


def setup_logging(process: str) -> None:
    level = config_model.get().log_level  # HISCRM_LOG_LEVEL
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(f"%(asctime)s %(levelname)s {process} %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # grpc and sqlalchemy are chatty at INFO and say nothing we act on.
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
