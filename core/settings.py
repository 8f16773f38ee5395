"""Every setting Quarry reads, declared once.

A setting is looked up in this order: the process environment, then the
secrets file (`.streamlit/secrets.toml` in the working directory, then in the
home directory; a top-level key named like the environment variable, or the
setting's own name under a ``[quarry]`` table), then its default. Everything
else in Quarry receives a ``Settings`` object instead of reading the
environment itself.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclasses.dataclass(frozen=True)
class Setting:
    name: str
    env: str
    default: Any
    help: str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "data_dir",
        "QUARRY_DATA_DIR",
        str(PROJECT_ROOT / ".quarry"),
        "Folder for Quarry's own files: the default store and the demo database.",
    ),
    Setting(
        "store_url",
        "QUARRY_STORE_URL",
        "",
        "SQLAlchemy URL of Quarry's own store; empty means a SQLite file in data_dir.",
        secret=True,
    ),
    Setting(
        "row_limit",
        "QUARRY_ROW_LIMIT",
        1000,
        "Most rows a query returns; a larger LIMIT is lowered to this.",
    ),
    Setting(
        "query_timeout_s",
        "QUARRY_QUERY_TIMEOUT_S",
        30.0,
        "Seconds a query may run on the target database before it is stopped.",
    ),
    Setting(
        "connect_timeout_s",
        "QUARRY_CONNECT_TIMEOUT_S",
        10,
        "Seconds to wait for a target database to accept a connection.",
    ),
    Setting(
        "openai_api_key",
        "OPENAI_API_KEY",
        "",
        "API key of the model provider; without one Quarry uses its offline engine.",
        secret=True,
    ),
    Setting(
        "openai_base_url",
        "OPENAI_BASE_URL",
        "",
        "Base URL of an OpenAI-compatible server (Ollama, vLLM, LM Studio); empty means OpenAI.",
    ),
    Setting("model", "QUARRY_MODEL", "gpt-4o-mini", "Model name sent to the provider."),
    Setting(
        "model_timeout_s",
        "QUARRY_MODEL_TIMEOUT_S",
        60.0,
        "Seconds to wait for one model answer.",
    ),
    Setting(
        "max_repairs",
        "QUARRY_MAX_REPAIRS",
        2,
        "How many times a rejected query goes back to the model for a repair.",
    ),
    Setting(
        "default_connection",
        "QUARRY_DEFAULT_CONNECTION",
        "",
        "Name of the connection the sidebar picks first; empty means the demo.",
    ),
    Setting(
        "team_mode",
        "QUARRY_TEAM_MODE",
        False,
        "Require a login before any page shows (OIDC via [auth] in secrets, or store users).",
    ),
    Setting(
        "profile_timeout_s",
        "QUARRY_PROFILE_TIMEOUT_S",
        300.0,
        "Seconds one profiling query may run; profiling scans whole tables, so it gets longer "
        "than query_timeout_s.",
    ),
    Setting(
        "profile_workers",
        "QUARRY_PROFILE_WORKERS",
        2,
        "Connections profiling uses at once; each computes the statistics of other columns.",
    ),
    Setting(
        "profile_sample_rows",
        "QUARRY_PROFILE_SAMPLE_ROWS",
        50_000,
        "Rows drawn (in SQL, at random) for the ydata-profiling report of a table.",
    ),
    Setting(
        "profile_minimal_columns",
        "QUARRY_PROFILE_MINIMAL_COLUMNS",
        50,
        "Tables with more columns than this get ydata-profiling's minimal report.",
    ),
    Setting(
        "profile_html_budget_mb",
        "QUARRY_PROFILE_HTML_BUDGET_MB",
        8.0,
        "Largest profiling report (MB of HTML) shown inside the page; larger ones are a download.",
    ),
    Setting(
        "validation_share",
        "QUARRY_VALIDATION_SHARE",
        0.2,
        "Share of fine-tuning examples the training-data builder puts in the validation file.",
    ),
    Setting(
        "context_budget_tokens",
        "QUARRY_CONTEXT_BUDGET_TOKENS",
        4000,
        "Most tokens the schema part of a prompt may take; tables past it are left out whole.",
    ),
    Setting(
        "model_prices",
        "QUARRY_MODEL_PRICES",
        "gpt-4o-mini=0.15/0.60, gpt-4o=2.50/10.00, gpt-4.1-mini=0.40/1.60, gpt-4.1=2.00/8.00",
        "US dollars per million prompt/completion tokens, per model, for the cost of eval "
        "runs (name=prompt/completion, comma-separated); a model not listed shows tokens only.",
    ),
    Setting(
        "log_level",
        "QUARRY_LOG_LEVEL",
        "INFO",
        "Level of Quarry's log lines: DEBUG, INFO, WARNING or ERROR.",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def _secrets_paths() -> list[Path]:
    explicit = os.environ.get("QUARRY_SECRETS_FILE")
    if explicit:
        return [Path(explicit)]
    return [Path.cwd() / ".streamlit" / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml"]


def read_secrets(paths: list[Path] | None = None) -> dict[str, Any]:
    """Merge the secrets files that exist; the first path wins on a clash.

    A malformed file is logged and skipped rather than stopping the app.
    """
    merged: dict[str, Any] = {}
    for path in reversed(paths if paths is not None else _secrets_paths()):
        if not path.is_file():
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            logger.warning("Ignoring secrets file %s: %s", path, exc)
            continue
        for key, value in data.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
    return merged


def _coerce(setting: Setting, raw: Any) -> Any:
    kind = type(setting.default)
    if kind is bool:
        return str(raw).strip().lower() in {"1", "true", "yes", "on"}
    try:
        return kind(raw)
    except (TypeError, ValueError):
        logger.warning(
            "Setting %s=%r is not a %s; using the default %r",
            setting.env,
            "***" if setting.secret else raw,
            kind.__name__,
            setting.default,
        )
        return setting.default


@dataclasses.dataclass(frozen=True)
class Settings:
    data_dir: str
    store_url: str = dataclasses.field(repr=False)
    row_limit: int
    query_timeout_s: float
    connect_timeout_s: int
    openai_api_key: str = dataclasses.field(repr=False)
    openai_base_url: str
    model: str
    model_timeout_s: float
    max_repairs: int
    default_connection: str
    team_mode: bool
    profile_timeout_s: float
    profile_workers: int
    profile_sample_rows: int
    profile_minimal_columns: int
    profile_html_budget_mb: float
    validation_share: float
    context_budget_tokens: int
    model_prices: str
    log_level: str
    secrets: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False)

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str] | None = None,
        secrets: Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> Settings:
        env = os.environ if environ is None else environ
        sec = read_secrets() if secrets is None else dict(secrets)
        quarry_table = sec.get("quarry", {}) if isinstance(sec.get("quarry"), dict) else {}
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            if setting.name in overrides:
                raw = overrides.pop(setting.name)
            elif env.get(setting.env, "") != "":
                raw = env[setting.env]
            elif setting.env in sec and not isinstance(sec[setting.env], dict):
                raw = sec[setting.env]
            elif setting.name in quarry_table:
                raw = quarry_table[setting.name]
            else:
                raw = setting.default
            values[setting.name] = _coerce(setting, raw)
        if not values["store_url"]:
            values["store_url"] = "sqlite:///" + str(Path(values["data_dir"]) / "quarry.db")
        if overrides:
            raise TypeError(f"unknown settings: {', '.join(sorted(overrides))}")
        return cls(**values, secrets=sec)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @property
    def has_model(self) -> bool:
        """True when a model is configured: a key, or a local server that needs none."""
        return bool(self.openai_api_key or self.openai_base_url)

    @property
    def demo_path(self) -> Path:
        return Path(self.data_dir) / "demo.sqlite"


def describe(name: str) -> Setting:
    """The declaration of one setting, for help texts that name it."""
    return _BY_NAME[name]
