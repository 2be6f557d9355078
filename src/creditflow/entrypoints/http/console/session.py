"""The console's session cookie, its CSRF token, and the brake on guessing passwords.

The cookie is signed (itsdangerous, keyed by CREDITFLOW_CONSOLE_SECRET) and carries the time of
the login: SESSION_SECONDS after it the session is over, however busy it was. It is HttpOnly,
SameSite=Strict, scoped to /console, Secure over HTTPS. Every visitor gets one, even before
logging in, because it carries the CSRF token the login form must echo. Failed logins are
counted per name and per address in this process.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "creditflow_console"
SESSION_SECONDS = 8 * 3600  # a working day; then log in again
PATH = "/console"


@dataclass(frozen=True)
class Session:
    csrf: str
    operator: str | None = None
    started: float = 0  # time.time() of the login (or of the first visit)


class SessionCookie:
    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="creditflow-console-session")

    def read(self, request: Request) -> Session | None:
        value = request.cookies.get(COOKIE)
        if value is None:
            return None
        try:
            data = self._serializer.loads(value, max_age=SESSION_SECONDS)
        except BadSignature:  # tampered, signed with another secret, or expired
            return None
        if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
            return None
        started, operator = data.get("started"), data.get("operator")
        if not isinstance(started, int | float) or time.time() - started > SESSION_SECONDS:
            return None
        return Session(data["csrf"], operator if isinstance(operator, str) else None, started)

    def write(self, response: Response, session: Session, request: Request) -> None:
        """Sent again with every page, with the login's time: the expiry never moves."""
        data = {"csrf": session.csrf, "operator": session.operator, "started": session.started}
        response.set_cookie(
            COOKIE,
            self._serializer.dumps(data),
            max_age=max(1, int(session.started + SESSION_SECONDS - time.time())),
            path=PATH,
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )

    @staticmethod
    def clear(response: Response) -> None:
        response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict")


def new_session(operator: str | None = None) -> Session:
    """A fresh CSRF token too: logging in or out never keeps the token of before."""
    return Session(secrets.token_urlsafe(32), operator, time.time())


def csrf_matches(session: Session | None, sent: object) -> bool:
    return (
        session is not None
        and isinstance(sent, str)
        and hmac.compare_digest(session.csrf.encode(), sent.encode())
    )


class FailedLogins:
    """At most `limit` failures per name and per address within `window` seconds.

    Per process: with several server processes each counts its own, which multiplies the
    allowance by their number, still far from what guessing an argon2-hashed password needs.
    """

    def __init__(
        self, limit: int = 5, window: float = 900, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def blocked_for(self, name: str, address: str) -> float:
        """Seconds until `name` from `address` may try again; 0 when it may now."""
        now = self._clock()
        with self._lock:
            waits = [self._wait(key, now) for key in _keys(name, address)]
        return max(waits)

    def failed(self, name: str, address: str) -> None:
        now = self._clock()
        with self._lock:
            for key in _keys(name, address):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(_keys(name, "")[0], None)

    def _wait(self, key: str, now: float) -> float:
        times = self._failures.get(key)
        if times is None:
            return 0
        while times and times[0] <= now - self._window:
            times.popleft()
        if len(times) < self._limit:
            return 0
        return times[0] + self._window - now


def _keys(name: str, address: str) -> tuple[str, str]:
    return f"name:{name.lower()}", f"address:{address}"
