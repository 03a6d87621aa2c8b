"""Exit 0 when the master answers its gRPC health check with SERVING.

`python -m ops.health [ADDRESS]` is the container image's HEALTHCHECK; it
reaches the master as every client does (HISCRM_MASTER, TLS settings), and
the standard health service needs no token.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hiscrm_common.channel import master_address, open_channel

# The health service is open (master/auth.py): no authorization header.
NO_TOKEN = None


async def check(address: str, timeout_s: float) -> str:
    """The serving status name, or the gRPC error that stood in the way."""
    async with open_channel(address, NO_TOKEN) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            # types-grpcio-health-checking declares HealthStub without its methods.
            reply = await stub.Check(  # type: ignore[attr-defined]
                health_pb2.HealthCheckRequest(), timeout=timeout_s
            )
        except grpc.aio.AioRpcError as exc:
            return f"{exc.code().name}: {exc.details()}"
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ops.health", description=__doc__)
    parser.add_argument("address", nargs="?", help="host:port (default $HISCRM_MASTER)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds")
    args = parser.parse_args(argv)
    address = args.address or master_address()
    status = asyncio.run(check(address, args.timeout))
    sys.stderr.write(f"master {address}: {status}\n")
    raise SystemExit(0 if status == "SERVING" else 1)


if __name__ == "__main__":
    main()
