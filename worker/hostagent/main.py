"""hiscrm-hostagent: the host agent of one worker host (worker/hostagent/).

Runs under the host's supervisord (`hiscrm join` writes the configuration):
HISCRM_MASTER, HISCRM_HOST_ID, HISCRM_HOME and the TLS settings come from
there. Its stream runs supervised: a failure is logged with its traceback,
counted and the stream opened again.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket

from hiscrm_common import settings
from hiscrm_common.logs import setup_logging
from hiscrm_common.supervise import FAILURES, supervise
from hiscrm_common.supervisor_client import SupervisorClient
from worker.hostagent.link import HostLink
from worker.hostagent.relay import Relay

log = logging.getLogger(__name__)


async def run(host_id: str) -> None:
    home = settings.home()
    current = settings.get()
    client = SupervisorClient(current.supervisor_socket or home / "supervisor.sock")
    link = HostLink(host_id, current.master, Relay(client, home), home)
    log.info("host agent %s starting: master %s, home %s", host_id, current.master, home)
    try:
        await supervise("host-link", link.run, failures=FAILURES, context=f"host {host_id}")
    finally:
        log.info(
            "host agent %s stopping: %d streams, %d commands (%d failed), %d task failures",
            host_id,
            link.connects,
            link.relay.commands,
            link.relay.failed,
            FAILURES.total(),
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="hiscrm-hostagent", description=__doc__)
    parser.add_argument("--host-id", help="this host's id (default $HISCRM_HOST_ID, else hostname)")
    args = parser.parse_args(argv)
    setup_logging("hostagent")
    host_id = args.host_id or settings.get().host_id or socket.gethostname()
    try:
        asyncio.run(run(host_id))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
