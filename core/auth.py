"""Users and passwords for a team deployment without an OIDC provider.

Passwords are kept only as Argon2id hashes (argon2-cffi, with its default
cost parameters); a hash made with older parameters is upgraded at the next
successful login. ``python -m core add-user NAME`` creates or resets a user.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from core.errors import BadInput
from db.database import session_scope
from db.models import User

logger = logging.getLogger(__name__)

MIN_PASSWORD = 10
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
_hasher = PasswordHasher()
# Verifying against this keeps a wrong user name as slow as a wrong password.
_DUMMY_HASH = _hasher.hash("quarry: no such user")


def add_user(
    name: str, password: str, *, reset: bool = False, store_url: str | None = None
) -> None:
    """Create user `name`, or with `reset` give an existing one a new password."""
    if not _NAME.match(name or ""):
        raise BadInput(
            f"'{name}' is not a usable user name.",
            hint="Use letters, digits and . _ @ - (up to 100 characters), starting with a "
            "letter or digit.",
        )
    if len(password or "") < MIN_PASSWORD:
        raise BadInput(f"The password must have at least {MIN_PASSWORD} characters.")
    with session_scope(store_url) as session:
        user = session.scalars(sa.select(User).where(User.name == name)).first()
        if user is not None and not reset:
            raise BadInput(
                f"User '{name}' exists already.", hint="Add --reset to set a new password."
            )
        if user is None:
            user = User(name=name, password_hash="")
            session.add(user)
        user.password_hash = _hasher.hash(password)
    logger.info("User %s %s", name, "reset" if reset else "added")


MAX_FAILURES = 5
LOCKOUT_S = 300.0
_failures: dict[str, list[float]] = {}
_failures_lock = threading.Lock()


def locked_out(name: str) -> float:
    """Seconds until `name` may try again after too many wrong passwords (0: now)."""
    now = time.monotonic()
    with _failures_lock:
        recent = [t for t in _failures.get(name.lower(), []) if now - t < LOCKOUT_S]
        _failures[name.lower()] = recent
        if len(recent) < MAX_FAILURES:
            return 0.0
        return LOCKOUT_S - (now - recent[0])


def _failed(name: str) -> None:
    with _failures_lock:
        _failures.setdefault(name.lower(), []).append(time.monotonic())


def verify(name: str, password: str, *, store_url: str | None = None) -> bool:
    """True when `password` is `name`'s; the stored hash is upgraded if its cost is old.

    After MAX_FAILURES wrong passwords within LOCKOUT_S a name is refused, right
    password or not, until the oldest failure ages out: guessing takes hours, not
    minutes.
    """
    if locked_out(name):
        logger.info("Login for %s refused: too many failures", name)
        return False
    with session_scope(store_url) as session:
        user = session.scalars(sa.select(User).where(User.name == name)).first()
        stored = user.password_hash if user is not None else _DUMMY_HASH
        try:
            _hasher.verify(stored, password or "")
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            logger.info("Failed login for %s", name if user is not None else "an unknown user")
            _failed(name)
            return False
        if user is None:
            return False
        if _hasher.check_needs_rehash(stored):
            user.password_hash = _hasher.hash(password)
        user.last_login_at = dt.datetime.now(dt.UTC)
    logger.info("User %s logged in", name)
    return True


def user_names(*, store_url: str | None = None) -> list[str]:
    with session_scope(store_url) as session:
        return list(session.scalars(sa.select(User.name).order_by(User.name)))
