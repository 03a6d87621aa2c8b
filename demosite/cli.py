"""`hiscrm-demosite` / `python -m demosite`: run the demo platform."""

from __future__ import annotations

import argparse
import ipaddress
import logging

from aiohttp import web

from demosite import token as admin_token
from demosite.app import create_app
from demosite.config import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_QR_TTL, DemoConfig
from hiscrm_common import settings
from hiscrm_common.logs import setup_logging

log = logging.getLogger("demosite")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="hiscrm-demosite", description="Run the local demo social platform."
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"bind address (default {DEFAULT_HOST})"
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--seed", type=int, default=1, help="seed of all generated data (default 1)"
    )
    parser.add_argument(
        "--qr-ttl",
        type=float,
        default=DEFAULT_QR_TTL,
        help=f"seconds a login QR stays valid (default {DEFAULT_QR_TTL:g})",
    )
    parser.add_argument(
        "--admin-token",
        default="",
        help="require this X-Admin-Token on /admin/* (default $HISCRM_DEMOSITE_ADMIN_TOKEN, "
        "else $HISCRM_HOME/demosite-admin-token, made on first start)",
    )
    parser.add_argument(
        "--open-admin",
        action="store_true",
        help="no admin token: anyone who reaches the port may read sessions and inject items",
    )
    parser.add_argument(
        "--public-url",
        default="",
        help="origin put into QR confirm URLs (default: the origin the browser used)",
    )
    parser.add_argument("--users", type=int, default=3, help="users demo1..demoN made at start")
    parser.add_argument(
        "--sms-users", default="", help="comma-separated usernames that need the SMS step"
    )
    parser.add_argument("--access-log", action="store_true", help="log every HTTP request")
    return parser.parse_args(argv)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    setup_logging("demosite")
    if not args.open_admin and not args.admin_token:
        args.admin_token = admin_token.load(create=True)
    elif args.admin_token:
        settings.check_token(args.admin_token, "--admin-token")
    config = DemoConfig(
        seed=args.seed,
        qr_ttl=args.qr_ttl,
        admin_token=args.admin_token,
        public_url=args.public_url,
        users=max(0, args.users),
        sms_users=tuple(u.strip() for u in args.sms_users.split(",") if u.strip()),
    )
    if not config.admin_token:
        log.warning(
            "the admin API on %s is open (--open-admin): anyone reaching it reads live sessions",
            args.host,
        )
    app = create_app(config)
    log.info(
        "demo platform on http://%s:%d (seed %d, QR ttl %gs, users %d)",
        args.host,
        args.port,
        config.seed,
        config.qr_ttl,
        config.users,
    )
    web.run_app(
        app,
        host=args.host,
        port=args.port,
        print=None,
        access_log=logging.getLogger("demosite.access") if args.access_log else None,
        shutdown_timeout=5.0,
    )


if __name__ == "__main__":
    main()
