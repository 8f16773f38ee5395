"""The errors Quarry raises on purpose.

Every one derives from ``QuarryError`` and carries two sentences: ``message``
says what went wrong, ``hint`` says what the user can do about it. Pages show
both with ``st.error``; the CLI prints them on one line and exits 2.

    QuarryError
    ├── BadInput               the caller gave something unusable
    │   ├── BadURL             a database URL that does not parse
    │   └── LogFormatError     a training log Quarry cannot read
    ├── ConnectionFailed       a target database did not answer or refused us
    ├── UnsafeSQL              the guard refused a statement
    │   └── UnknownObject      the statement names tables or columns that do not exist
    ├── QueryTimeout           the statement ran past the time limit
    ├── QueryFailed            the database rejected or failed the statement
    ├── ModelUnavailable       the model server could not be reached or failed
    ├── NoSQLInAnswer          the model answered, but with no SQL in it
    └── Declined               the offline engine cannot answer this question
"""

from __future__ import annotations


class QuarryError(Exception):
    """Base class; ``message`` is what failed, ``hint`` what to do next."""

    hint_default = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.hint_default

    def __str__(self) -> str:
        return self.message

    @property
    def explanation(self) -> str:
        """Message and hint as one sentence pair, for a page or a log line."""
        return f"{self.message} {self.hint}".strip()


class BadInput(QuarryError):
    pass


class BadURL(BadInput):
    hint_default = (
        "Write it as a SQLAlchemy URL, for example "
        "mysql+pymysql://user@host:3306/dbname or sqlite:///path/to/file.db."
    )


class LogFormatError(BadInput):
    def __init__(self, message: str, *, hint: str | None = None, path: str = "") -> None:
        super().__init__(message, hint=hint)
        self.path = path


class ConnectionFailed(QuarryError):
    hint_default = "Check the host, port, user and password, and that the server is running."

    def __init__(self, message: str, *, hint: str | None = None, url: str = "") -> None:
        super().__init__(message, hint=hint)
        self.url = url  # always a masked URL


class UnsafeSQL(QuarryError):
    hint_default = "Quarry runs one read-only SELECT at a time; rewrite the query as one."

    def __init__(
        self, message: str, *, hint: str | None = None, sql: str = "", rule: str = ""
    ) -> None:
        super().__init__(message, hint=hint)
        self.sql = sql
        self.rule = rule


class UnknownObject(UnsafeSQL):
    hint_default = (
        "Check the names against the schema in the sidebar; names are matched case-insensitively."
    )

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        sql: str = "",
        tables: tuple[str, ...] = (),
        columns: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message, hint=hint, sql=sql, rule="unknown object")
        self.tables = tables
        self.columns = columns


class QueryTimeout(QuarryError):
    def __init__(self, seconds: float, *, sql: str = "") -> None:
        super().__init__(
            f"The query ran past the {seconds:g} s time limit and was stopped.",
            hint="Add a filter or an aggregate, or raise the query_timeout_s setting "
            "(QUARRY_QUERY_TIMEOUT_S).",
        )
        self.seconds = seconds
        self.sql = sql


class QueryFailed(QuarryError):
    hint_default = "Read the database's message above; edit the SQL and run it again."

    def __init__(self, message: str, *, hint: str | None = None, sql: str = "") -> None:
        super().__init__(message, hint=hint)
        self.sql = sql


class ModelUnavailable(QuarryError):
    hint_default = (
        "Check OPENAI_BASE_URL, OPENAI_API_KEY and QUARRY_MODEL, or use the offline engine."
    )


class NoSQLInAnswer(QuarryError):
    hint_default = "Rephrase the question so it asks for data from the connected database."

    def __init__(self, answer: str) -> None:
        super().__init__("The model answered without a SQL query, so nothing was run.")
        self.answer = answer


class Declined(QuarryError):
    hint_default = (
        "The offline engine handles counts, lists, sums, averages, minimum and maximum, "
        "top-N, group-by, filters on values in the data and joins along foreign keys. "
        "Rephrase the question in those terms, or configure a model (OPENAI_API_KEY)."
    )
