"""Test hosts in network namespaces: each joined to this namespace by a veth
pair on a private /24 that exists only inside the test."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.certs import make_certs
from tests.harness import Cluster


def available() -> str:
    """Why namespaces cannot be used here, or '' when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2 (ip) is not installed"
    probe = f"hsp{uuid.uuid4().hex[:6]}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return ""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@dataclass
class Host:
    netns: str
    address: str  # this host's address
    gateway: str  # our side of its veth

    def prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.netns]


@contextmanager
def hosts(count: int, subnet_base: int = 77) -> Iterator[list[Host]]:
    tag = uuid.uuid4().hex[:5]
    made: list[Host] = []
    links: list[str] = []
    try:
        for i in range(1, count + 1):
            netns, here, there = f"hs{tag}{i}", f"hh{tag}{i}", f"hn{tag}{i}"
            net = f"10.{subnet_base}.{i}"
            _ip("netns", "add", netns)
            made.append(Host(netns, f"{net}.2", f"{net}.1"))
            _ip("link", "add", here, "type", "veth", "peer", "name", there)
            links.append(here)
            _ip("link", "set", there, "netns", netns)
            _ip("addr", "add", f"{net}.1/24", "dev", here)
            _ip("link", "set", here, "up")
            _ip("-n", netns, "addr", "add", f"{net}.2/24", "dev", there)
            _ip("-n", netns, "link", "set", there, "up")
            _ip("-n", netns, "link", "set", "lo", "up")
            _ip("-n", netns, "route", "add", "default", "via", f"{net}.1")
        yield made
    finally:
        for link in links:
            subprocess.run(["ip", "link", "del", link], capture_output=True)
        for host in made:
            subprocess.run(["ip", "netns", "del", host.netns], capture_output=True)


def kill_all(host: Host) -> int:
    """kill -9 every process in the host's namespace (a host dying whole);
    returns how many there were."""
    found = subprocess.run(
        ["ip", "netns", "pids", host.netns], capture_output=True, text=True
    ).stdout.split()
    for pid in found:
        subprocess.run(["kill", "-9", pid], capture_output=True)
    return len(found)


def mtls_cluster(directory: Path, master_ip: str) -> tuple[Cluster, dict[str, Path]]:
    """A master run directory served on master_ip with mutual TLS (not
    started: start_master(**master_tls(certs))), its clients with a client
    certificate."""
    certs = make_certs(directory / "certs", [master_ip])
    tls_client = {
        "HISCRM_TLS_CA": str(certs["ca"]),
        "HISCRM_TLS_CERT": str(certs["client_cert"]),
        "HISCRM_TLS_KEY": str(certs["client_key"]),
    }
    home = directory / "master"
    home.mkdir()
    return Cluster(home=home, extra_env=tls_client, host=master_ip), certs


def master_tls(certs: dict[str, Path]) -> dict[str, str]:
    return {
        "HISCRM_TLS_CERT": str(certs["server_cert"]),
        "HISCRM_TLS_KEY": str(certs["server_key"]),
        "HISCRM_TLS_CA": str(certs["ca"]),
    }


def set_link(host: Host, up: bool) -> None:
    """Cut (or restore) the host's only link, from inside it: no RST or FIN
    reaches anyone, the host just goes silent, as with a pulled cable."""
    links = subprocess.run(
        ["ip", "-n", host.netns, "-o", "link", "show"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    (name,) = [line.split(":")[1].strip().split("@")[0] for line in links if ": lo:" not in line]
    _ip("-n", host.netns, "link", "set", name, "up" if up else "down")
    if up:
        subprocess.run(
            ["ip", "-n", host.netns, "route", "replace", "default", "via", host.gateway],
            capture_output=True,
        )
