"""Users and passwords for a team deployment without an OIDC provider.

Passwords are kept only as Argon2id hashes (argon2-cffi, with its default
cost parameters); a hash made with older parameters is upgraded at the next
successful login. ``python -m core add-user NAME`` creates or resets a user.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

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


def verify(name: str, password: str, *, store_url: str | None = None) -> bool:
    """True when `password` is `name`'s; the stored hash is upgraded if its cost is old."""
    with session_scope(store_url) as session:
        user = session.scalars(sa.select(User).where(User.name == name)).first()
        stored = user.password_hash if user is not None else _DUMMY_HASH
        try:
            _hasher.verify(stored, password or "")
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            logger.info("Failed login for %s", name if user is not None else "an unknown user")
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
