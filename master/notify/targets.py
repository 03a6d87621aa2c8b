"""Notification targets: apprise URLs, which carry webhook keys and
passwords. Stored encrypted with the master's key (as proxy passwords are,
master/proxysecret.py), shown masked, never logged or returned in clear.
Targets from HISCRM_NOTIFY_URLS are listed too but not changeable over Control.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from hiscrm.v1 import control_pb2
from hiscrm_common import settings
from hiscrm_common.timeutil import utcnow
from master import proxysecret
from master.accounts import AlreadyExists, NotFound
from master.limits import MAX_ID, MAX_IDS_PER_REQUEST
from master.store.database import Database
from master.store.models import NotifierRow
from master.validation import InvalidInput, enum_names

log = logging.getLogger(__name__)

MAX_NAME = 64
MAX_URL = 2048
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# schemes whose host is a real host (a webhook on some server); for the
# others (wecom://KEY, dingtalk://TOKEN, ...) the "host" is itself the secret
WEB_SCHEMES = {"json", "jsons", "xml", "xmls", "form", "forms"}


def mask(url: str) -> str:
    """What an operator may see: the scheme, and the host of a plain webhook."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme in WEB_SCHEMES and parts.hostname:
            port = f":{parts.port}" if parts.port else ""
            rest = "/***" if (parts.path.strip("/") or parts.query or parts.username) else ""
            return f"{scheme}://{parts.hostname}{port}{rest}"
        return f"{scheme}://***" if scheme else "***"
    except ValueError:
        return "***"


def _aad(name: str) -> str:
    return f"notifier:{name}"


@dataclass
class Target:
    name: str
    url: str = field(repr=False)  # the secret: never in a log line or a message
    url_masked: str
    kinds: frozenset[int] = frozenset()
    account_ids: frozenset[str] = frozenset()
    max_per_minute: int = 0
    enabled: bool = True
    from_settings: bool = False

    def wants(self, kind: int, account_id: str) -> bool:
        if not self.enabled:
            return False
        if self.kinds:
            if kind not in self.kinds:
                return False
        elif kind == control_pb2.NOTIFICATION_KIND_TEST:
            return False  # a test goes to the one target it names (TestNotifier)
        return not (self.account_ids and account_id and account_id not in self.account_ids)


def settings_targets() -> list[Target]:
    secret = settings.get().notify_urls
    urls = re.split(r"[\s,]+", secret.get_secret_value()) if secret else []
    return [
        Target(name=f"settings-{i}", url=u, url_masked=mask(u), from_settings=True)
        for i, u in enumerate((u for u in urls if u), start=1)
    ]


def _check_url(url: str) -> None:
    if not 1 <= len(url.encode()) <= MAX_URL:
        raise InvalidInput(f"url must be 1-{MAX_URL} bytes")
    import apprise

    if not apprise.Apprise().add(url):
        # the URL itself stays out of the message: it holds the secret
        raise InvalidInput(
            f"url ({mask(url)}) is not one apprise can send to: see apprise's list of services"
        )


def _check(req: control_pb2.CreateNotifierRequest | control_pb2.UpdateNotifierRequest) -> None:
    if not NAME_RE.match(req.name):
        raise InvalidInput(
            f"name must be 1-{MAX_NAME} letters, digits, '.', '_' or '-' (starting with one "
            "of the first two)"
        )
    if req.name.startswith("settings-"):
        raise InvalidInput("names settings-N are HISCRM_NOTIFY_URLS's")
    if len(req.account_ids) > MAX_IDS_PER_REQUEST or any(
        not 1 <= len(a) <= MAX_ID or "," in a for a in req.account_ids
    ):
        raise InvalidInput(f"account_ids: at most {MAX_IDS_PER_REQUEST} ids of {MAX_ID} characters")
    enum_names(control_pb2.NotificationKind, req.kinds, "kinds")
    if req.max_per_minute > 6000:
        raise InvalidInput("max_per_minute is at most 6000")


def target_of(row: NotifierRow) -> Target:
    return Target(
        name=row.name,
        url=proxysecret.unseal(_aad(row.name), row.url_secret) or "",
        url_masked=row.url_masked,
        kinds=frozenset(control_pb2.NotificationKind.Value(k) for k in row.kinds.split(",") if k),
        account_ids=frozenset(a for a in row.account_ids.split(",") if a),
        max_per_minute=row.max_per_minute,
        enabled=row.enabled,
    )


class TargetStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def load(self) -> list[Target]:
        rows = await self.db.run(
            lambda s: list(s.exec(select(NotifierRow).order_by(col(NotifierRow.name))))
        )
        targets = settings_targets()
        for row in rows:
            try:
                targets.append(target_of(row))
            except Exception as exc:
                # one unreadable target (another master key) must not stop the others
                log.error(
                    "notifier %s: its URL cannot be decrypted with this master's key (%s); "
                    "give it again with UpdateNotifier",
                    row.name,
                    type(exc).__name__,
                )
        return targets

    async def save(
        self,
        req: control_pb2.CreateNotifierRequest | control_pb2.UpdateNotifierRequest,
        operator: str,
        create: bool,
    ) -> None:
        _check(req)
        if create or req.url:
            _check_url(req.url)
        kinds = ",".join(enum_names(control_pb2.NotificationKind, req.kinds, "kinds"))

        def write(session: Session) -> None:
            row = session.get(NotifierRow, req.name)
            if create and row is not None:
                raise AlreadyExists(f"a notifier is already named {req.name!r}")
            if not create and row is None:
                raise NotFound(f"no notifier {req.name!r}")
            if row is None:
                row = NotifierRow(name=req.name, url_secret=b"", created_by=operator)
            if req.url:
                row.url_secret = proxysecret.seal(_aad(req.name), req.url)
                row.url_masked = mask(req.url)
            row.kinds = kinds
            row.account_ids = ",".join(req.account_ids)
            row.max_per_minute = req.max_per_minute
            row.enabled = not req.disabled
            row.updated_at = utcnow()
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                raise AlreadyExists(f"a notifier is already named {req.name!r}") from None

        await self.db.run(write)

    async def delete(self, name: str) -> None:
        if name.startswith("settings-"):
            raise InvalidInput(f"{name} comes from HISCRM_NOTIFY_URLS: change the setting")

        def write(session: Session) -> None:
            row = session.get(NotifierRow, name)
            if row is None:
                raise NotFound(f"no notifier {name!r}")
            session.delete(row)
            session.commit()

        await self.db.run(write)
