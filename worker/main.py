"""hiscrm-worker: one worker process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from hiscrm_common import taskdump
from hiscrm_common.logs import setup_logging
from worker.config import WorkerConfig
from worker.credential import WorkerCredential
from worker.link import Link, WorkerIdentity, platform_values
from worker.runner import Runner

log = logging.getLogger(__name__)


async def run(config: WorkerConfig) -> None:
    config.data_dir.mkdir(parents=True, exist_ok=True)
    credential = WorkerCredential(config.data_dir, config.worker_id)
    token = await credential.token()
    runner = Runner(config)
    identity = WorkerIdentity(
        worker_id=config.worker_id,
        platforms=platform_values(config.platforms),
        max_accounts=config.max_accounts,
    )
    link = Link(
        identity,
        config.master,
        token,
        runner,
        max_message_bytes=config.max_message_bytes,
        on_credential=credential.save,
    )
    runner.attach(link)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_quiet_driver_exit)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    taskdump.install(f"worker {config.worker_id}")
    link_task = asyncio.create_task(link.run())
    log.info("worker %s starting (master %s)", config.worker_id, config.master)
    await stop.wait()
    log.info("worker %s stopping", config.worker_id)
    # Goodbye first: the master then marks this worker offline and places
    # its accounts elsewhere at once, and sends it nothing new while its
    # browser closes (an Assign already on the way is refused by the runner).
    runner.stopping = True
    await link.stop("worker stopping")
    await runner.shutdown()
    link_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await link_task
    runner.close()


def _quiet_driver_exit(loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
    """A stop signal sent to the process group (supervisord's stopasgroup)
    reaches Playwright's driver too, so its pending futures fail at shutdown;
    that is expected and says nothing about the worker."""
    exc = context.get("exception")
    if isinstance(exc, Exception) and "Connection closed while reading from the driver" in str(exc):
        log.info("browser driver ended with the worker")
        return
    loop.default_exception_handler(context)


def main(argv: list[str] | None = None) -> None:
    config = WorkerConfig.parse(argv)
    setup_logging(f"worker[{config.worker_id}]")
    asyncio.run(run(config))


if __name__ == "__main__":
    main()
