"""Browser sessions and the QR login state machine.

A login token walks waiting -> (scanned ->) [verify ->] confirmed, or ends in
expired (the QR was not scanned in time) or failed (too many wrong SMS codes).
Confirmation creates the session that the status poll hands to the browser.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

from demosite.models import LoginToken, Session, User

log = logging.getLogger(__name__)

FINISHED_KEEP_SECONDS = 600.0
MAX_TOKENS = 2000


class LoginError(Exception):
    """A login step refused; `code` is the JSON error slug, `http` the status."""

    def __init__(self, code: str, http: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.http = http
        self.message = message


class SessionStore:
    """Sessions by cookie value.

    Rotation (off unless set with /admin/session_rotation, see rotation.py)
    behaves like platforms that rotate their session cookie: a session older
    than `rotate_every` seconds gets a new value on its next request, and the
    old value keeps working for `grace` seconds only, so a client that keeps
    the old cookie (a stale copy of the storage state) is logged out.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self.rotate_every = 0.0
        self.grace = 30.0
        self.rotations = 0
        # retired cookie value -> (the session's current value, retired until)
        self._retired: dict[str, tuple[str, float]] = {}

    def create(self, username: str) -> Session:
        session = Session(secrets.token_urlsafe(24), username, self._clock())
        self._sessions[session.session_id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is not None:
            return session
        current = self._current_of_retired(session_id)
        return self._sessions.get(current) if current else None

    def cookie_for(self, session_id: str | None) -> str | None:
        """The value the client should now hold, when it is not the one it sent:
        rotates a session that is due, and tells a client still in the grace
        period of a retired value the current one."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return self._current_of_retired(session_id)
        if self.rotate_every <= 0 or self._clock() - session.created_at < self.rotate_every:
            return None
        return self._rotate(session).session_id

    def _current_of_retired(self, session_id: str) -> str | None:
        retired = self._retired.get(session_id)
        if retired is None:
            return None
        current, until = retired
        if self._clock() >= until or current not in self._sessions:
            del self._retired[session_id]
            return None
        return current

    def _rotate(self, session: Session) -> Session:
        now = self._clock()
        fresh = Session(secrets.token_urlsafe(24), session.username, now)
        del self._sessions[session.session_id]
        self._sessions[fresh.session_id] = fresh
        for old, (current, until) in list(self._retired.items()):
            if until <= now:
                del self._retired[old]
            elif current == session.session_id:
                self._retired[old] = (fresh.session_id, until)
        self._retired[session.session_id] = (fresh.session_id, now + self.grace)
        self.rotations += 1
        log.info(
            "session of %s rotated (the old value works for %.0fs)", session.username, self.grace
        )
        return fresh

    def describe(self, username: str) -> dict[str, list[dict[str, object]]]:
        """For the admin API: the user's live and retired cookie values."""
        now = self._clock()
        live = [
            {"session_id": s.session_id, "created_at": s.created_at}
            for s in self._sessions.values()
            if s.username == username
        ]
        ids = {str(s["session_id"]) for s in live}
        retired = [
            {"session_id": old, "current": current, "expires_at": until}
            for old, (current, until) in self._retired.items()
            if current in ids and until > now
        ]
        return {"sessions": live, "retired": retired}

    def drop(self, session_id: str | None) -> None:
        session = self.get(session_id)
        if session is not None:
            self._sessions.pop(session.session_id, None)

    def expire_user(self, username: str) -> int:
        doomed = [sid for sid, s in self._sessions.items() if s.username == username]
        for sid in doomed:
            del self._sessions[sid]
        return len(doomed)

    def __len__(self) -> int:
        return len(self._sessions)


class LoginTokenStore:
    def __init__(
        self,
        clock: Callable[[], float],
        sessions: SessionStore,
        ttl: float,
        max_attempts: int,
    ) -> None:
        self._clock = clock
        self._sessions = sessions
        self.ttl = ttl
        self.max_attempts = max_attempts
        self._tokens: dict[str, LoginToken] = {}

    def new(self, confirm_url_for: Callable[[str], str]) -> LoginToken:
        self._purge()
        now = self._clock()
        value = secrets.token_urlsafe(16)
        token = LoginToken(value, confirm_url_for(value), now, now + self.ttl)
        self._tokens[value] = token
        return token

    def get(self, value: str | None) -> LoginToken | None:
        token = self._tokens.get(value or "")
        if token is not None:
            self._apply_expiry(token)
        return token

    def require(self, value: str | None) -> LoginToken:
        token = self.get(value)
        if token is None:
            raise LoginError("unknown_token", 404, "unknown login token")
        return token

    def scan(self, value: str | None, user: User, confirm: bool = True) -> LoginToken:
        token = self.require(value)
        if token.status == "expired":
            raise LoginError("token_expired", 410, "the QR code has expired")
        if token.status != "waiting":
            raise LoginError("already_scanned", 409, f"token is {token.status}")
        token.username = user.username
        token.status = "scanned"
        log.info("login token %s… scanned by %s", token.token[:6], user.username)
        if confirm:
            self._after_confirm(token, user)
        return token

    def confirm(self, value: str | None, user: User) -> LoginToken:
        token = self.require(value)
        if token.status == "expired":
            raise LoginError("token_expired", 410, "the QR code has expired")
        if token.status != "scanned":
            raise LoginError("not_scanned", 409, f"token is {token.status}")
        self._after_confirm(token, user)
        return token

    def verify(self, value: str | None, user: User, code: str) -> LoginToken:
        token = self.require(value)
        if token.status != "verify":
            raise LoginError("not_verifying", 409, f"token is {token.status}")
        if code.strip() != user.sms_code:
            token.attempts += 1
            if token.attempts >= self.max_attempts:
                self._finish(token, "failed")
                raise LoginError("too_many_attempts", 400, "too many wrong codes")
            raise LoginError("invalid_code", 400, "验证码错误 (wrong code)")
        self._confirmed(token, user)
        return token

    def forget_user(self, username: str) -> None:
        """The user's sessions were expired: their confirmed tokens hand out nothing."""
        for token in self._tokens.values():
            if token.username == username and token.status == "confirmed":
                token.session_id = None
                self._finish(token, "expired")

    def latest(self, status: str = "waiting") -> LoginToken | None:
        for token in reversed(list(self._tokens.values())):
            self._apply_expiry(token)
            if token.status == status:
                return token
        return None

    def listing(self, include_finished: bool = False) -> list[LoginToken]:
        out = []
        for token in reversed(list(self._tokens.values())):
            self._apply_expiry(token)
            if include_finished or token.status in ("waiting", "scanned", "verify"):
                out.append(token)
        return out

    def _after_confirm(self, token: LoginToken, user: User) -> None:
        if user.needs_sms:
            token.status = "verify"
            log.info("login token %s… needs the SMS code of %s", token.token[:6], user.username)
        else:
            self._confirmed(token, user)

    def _confirmed(self, token: LoginToken, user: User) -> None:
        session = self._sessions.create(user.username)
        token.session_id = session.session_id
        self._finish(token, "confirmed")
        log.info("login confirmed for %s", user.username)

    def _finish(self, token: LoginToken, status: str) -> None:
        # status is one of LoginToken.status's literals; callers pass them verbatim.
        token.status = status  # type: ignore[assignment]
        token.finished_at = self._clock()

    def _apply_expiry(self, token: LoginToken) -> None:
        if token.status in ("waiting", "scanned") and self._clock() >= token.expires_at:
            self._finish(token, "expired")

    def _purge(self) -> None:
        now = self._clock()
        for value, token in list(self._tokens.items()):
            self._apply_expiry(token)
            if token.finished_at is not None and now - token.finished_at > FINISHED_KEEP_SECONDS:
                del self._tokens[value]
        while len(self._tokens) >= MAX_TOKENS:
            del self._tokens[next(iter(self._tokens))]
