"""The host's own figures for the master: CPU, memory, disk (psutil).

psutil reads /proc: a blocking call, run on a thread by the caller."""

from __future__ import annotations

import os
from pathlib import Path

import psutil

from hiscrm.v1 import hosts_pb2


def sample(disk_path: Path) -> hosts_pb2.HostResources:
    memory = psutil.virtual_memory()
    disk = psutil.disk_usage(str(disk_path))
    return hosts_pb2.HostResources(
        # since the previous call: the agent samples once per report
        cpu_percent=psutil.cpu_percent(interval=None),
        cpu_count=psutil.cpu_count() or 0,
        memory_total_bytes=memory.total,
        memory_available_bytes=memory.available,
        disk_total_bytes=disk.total,
        disk_free_bytes=disk.free,
        load_average=os.getloadavg()[0],
    )
