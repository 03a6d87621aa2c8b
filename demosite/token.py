"""The demo platform's admin token: required on /admin/* by default.

The site takes $HISCRM_DEMOSITE_ADMIN_TOKEN or the file
$HISCRM_HOME/demosite-admin-token (written owner-only on its first start);
hiscrm's own clients (`hiscrm up`/`demo`, the console's demo scan, the
tests) read the same, so nobody has to pass it by hand.
"""

from __future__ import annotations

from hiscrm_common import settings

HEADER = "X-Admin-Token"
ENV = "HISCRM_DEMOSITE_ADMIN_TOKEN"
FILE_ENV = "HISCRM_DEMOSITE_ADMIN_TOKEN_FILE"


def load(*, create: bool = False) -> str:
    return settings.load_secret(
        ENV, FILE_ENV, settings.home() / "demosite-admin-token", create=create
    )


def headers() -> dict[str, str]:
    """The header for hiscrm's own admin calls; none when there is no token
    here (a site started with --open-admin, or on another host)."""
    try:
        return {HEADER: load()}
    except SystemExit:
        return {}
