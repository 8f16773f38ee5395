"""Prompt versions in the store: write, diff against the parent, promote.

A version is never edited: a change is saved as a new version whose parent
is the version it started from, with a note saying why, an author and a time.
The promoted version is the one the Ask page's model engine uses; with none
promoted (or an empty store) it is Quarry's built-in template. The first
version of an empty store is that built-in template, so every later version
has something to be diffed against.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import logging
import string

import sqlalchemy as sa

from core.errors import BadInput
from core.prompt import DEFAULT_TEMPLATE, PLACEHOLDERS
from db.database import session_scope
from db.models import PromptPromotion, PromptVersion

logger = logging.getLogger(__name__)

REQUIRED = ("schema", "question")
BUILT_IN_NOTE = "Quarry's built-in template."


@dataclasses.dataclass(frozen=True)
class Version:
    id: int
    created_at: dt.datetime
    parent_id: int | None
    text: str
    note: str
    author: str | None

    @property
    def label(self) -> str:
        return f"v{self.id}"


def _version(row: PromptVersion) -> Version:
    return Version(row.id, row.created_at, row.parent_id, row.text, row.note, row.author)


def validate_template(text: str) -> None:
    """Raise BadInput unless `text` renders: known placeholders, paired braces, required ones."""
    if not text.strip():
        raise BadInput("The template is empty.", hint="Write the prompt, with {question} in it.")
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:
        raise BadInput(
            f"The template's braces do not pair up ({exc}).",
            hint="Placeholders are written {name}; write a literal brace twice: {{ or }}.",
        ) from None
    unknown = sorted({f for f in fields if f not in PLACEHOLDERS})
    if unknown:
        raise BadInput(
            "Unknown placeholder(s): " + ", ".join("{" + f + "}" for f in unknown) + ".",
            hint="The placeholders are " + ", ".join("{" + p + "}" for p in PLACEHOLDERS) + "; "
            "write a literal brace twice: {{ or }}.",
        )
    missing = [p for p in REQUIRED if p not in fields]
    if missing:
        raise BadInput(
            "The template has no " + " and no ".join("{" + p + "}" for p in missing) + ".",
            hint="Without them the model sees neither the schema nor the question.",
        )


def ensure_built_in(*, store_url: str | None = None) -> Version:
    """The first version, Quarry's built-in template, created in an empty store."""
    with session_scope(store_url) as session:
        first = session.scalars(sa.select(PromptVersion).order_by(PromptVersion.id)).first()
        if first is None:
            first = PromptVersion(text=DEFAULT_TEMPLATE, note=BUILT_IN_NOTE, author="quarry")
            session.add(first)
            session.flush()
        return _version(first)


def create_version(
    text: str,
    *,
    parent_id: int | None,
    note: str,
    author: str | None = None,
    store_url: str | None = None,
) -> Version:
    """Save `text` as a new version of `parent_id`; raises BadInput when nothing would change."""
    validate_template(text)
    if not note.strip():
        raise BadInput("Say in the note why the prompt changed.", hint="One line is enough.")
    with session_scope(store_url) as session:
        if parent_id is not None:
            parent = session.get(PromptVersion, parent_id)
            if parent is None:
                raise BadInput(f"There is no prompt version {parent_id}.")
            if parent.text == text:
                raise BadInput(
                    f"The text is the same as v{parent_id}'s.", hint="Edit it before saving."
                )
        row = PromptVersion(
            text=text, parent_id=parent_id, note=note.strip(), author=author or None
        )
        session.add(row)
        session.flush()
        logger.info("Saved prompt v%d (parent %s)", row.id, parent_id)
        return _version(row)


def versions(*, store_url: str | None = None) -> list[Version]:
    """Every version, the newest first."""
    with session_scope(store_url) as session:
        rows = session.scalars(sa.select(PromptVersion).order_by(PromptVersion.id.desc()))
        return [_version(r) for r in rows]


def get_version(version_id: int, *, store_url: str | None = None) -> Version:
    with session_scope(store_url) as session:
        row = session.get(PromptVersion, version_id)
        if row is None:
            raise BadInput(f"There is no prompt version {version_id}.")
        return _version(row)


def diff(version: Version, *, store_url: str | None = None) -> str:
    """A unified diff of `version` against its parent (empty for a first version)."""
    if version.parent_id is None:
        return ""
    parent = get_version(version.parent_id, store_url=store_url)
    lines = difflib.unified_diff(
        parent.text.splitlines(keepends=True),
        version.text.splitlines(keepends=True),
        fromfile=parent.label,
        tofile=version.label,
    )
    # A last line without a line break is marked, as git does, so that a change of the
    # final line break alone does not look like a line replaced by itself.
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of text\n" for line in lines
    )


def promote(version_id: int, *, author: str | None = None, store_url: str | None = None) -> None:
    """Make `version_id` the version the Ask page uses."""
    with session_scope(store_url) as session:
        if session.get(PromptVersion, version_id) is None:
            raise BadInput(f"There is no prompt version {version_id}.")
        session.add(PromptPromotion(version_id=version_id, author=author or None))
    logger.info("Promoted prompt v%d", version_id)


def promoted(*, store_url: str | None = None) -> Version | None:
    """The promoted version, or None when none has been promoted."""
    with session_scope(store_url) as session:
        latest = session.scalars(
            sa.select(PromptPromotion).order_by(PromptPromotion.id.desc()).limit(1)
        ).first()
        if latest is None:
            return None
        return _version(session.get(PromptVersion, latest.version_id))


def promoted_template(*, store_url: str | None = None) -> str:
    """The template the Ask page's model engine uses."""
    version = promoted(store_url=store_url)
    return version.text if version is not None else DEFAULT_TEMPLATE
