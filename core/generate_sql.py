"""Ask a model for SQL through the OpenAI client.

OpenAI itself and any OpenAI-compatible server (Ollama, vLLM, LM Studio)
work: the client is configured by ``OPENAI_API_KEY``, ``OPENAI_BASE_URL``
and ``QUARRY_MODEL``. Every request carries a timeout; a server that fails,
hangs or answers something that is not a chat completion becomes a
``ModelUnavailable`` that says which setting to check.
"""

from __future__ import annotations

import dataclasses
import logging
import time

import openai

from core.connections import mask_text
from core.errors import ModelUnavailable
from core.settings import Settings
from core.tokens import count_tokens

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class ModelReply:
    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    duration_ms: float


def make_client(settings: Settings) -> openai.OpenAI:
    """An OpenAI client for the configured provider; retries are ours to decide."""
    # A local server needs no key, but the client insists on one.
    key = settings.openai_api_key or "not-needed"
    return openai.OpenAI(
        api_key=key,
        base_url=settings.openai_base_url or None,
        timeout=settings.model_timeout_s,
        max_retries=0,
    )


def _where(settings: Settings) -> str:
    return settings.openai_base_url or "api.openai.com"


def complete(
    client: openai.OpenAI,
    settings: Settings,
    messages: list[dict[str, str]],
    *,
    model: str | None = None,
) -> ModelReply:
    """One chat completion; raises ModelUnavailable for every way it can fail."""
    name = model or settings.model
    started = time.perf_counter()
    try:
        response = client.chat.completions.create(
            model=name,
            messages=messages,
            temperature=0,
            timeout=settings.model_timeout_s,
        )
    except openai.APITimeoutError:
        raise ModelUnavailable(
            f"The model at {_where(settings)} did not answer within "
            f"{settings.model_timeout_s:g} s.",
            hint="Try again, use the offline engine, or raise QUARRY_MODEL_TIMEOUT_S.",
        ) from None
    except openai.AuthenticationError:
        raise ModelUnavailable(
            f"The model server at {_where(settings)} refused the API key.",
            hint="Check OPENAI_API_KEY (environment or .streamlit/secrets.toml).",
        ) from None
    except openai.NotFoundError:
        raise ModelUnavailable(
            f"The model '{name}' was not found at {_where(settings)}.",
            hint="Check QUARRY_MODEL and OPENAI_BASE_URL.",
        ) from None
    except openai.RateLimitError:
        raise ModelUnavailable(
            f"The model server at {_where(settings)} is rate-limiting requests.",
            hint="Wait a moment and try again, or use the offline engine.",
        ) from None
    except openai.APIStatusError as exc:
        raise ModelUnavailable(
            f"The model server at {_where(settings)} failed (HTTP {exc.status_code}).",
            hint="Try again later, or use the offline engine.",
        ) from None
    except openai.APIConnectionError:
        raise ModelUnavailable(
            f"Could not reach the model server at {_where(settings)}.",
            hint="Check OPENAI_BASE_URL and that the server is running, or use the offline engine.",
        ) from None
    except (openai.APIResponseValidationError, ValueError, TypeError) as exc:
        raise ModelUnavailable(
            f"The model server at {_where(settings)} answered something that is not a chat "
            f"completion ({mask_text(type(exc).__name__)}).",
            hint="Check that OPENAI_BASE_URL points at an OpenAI-compatible /v1 endpoint.",
        ) from None
    duration = (time.perf_counter() - started) * 1000
    try:
        text = response.choices[0].message.content or ""
    except (AttributeError, IndexError, TypeError):
        raise ModelUnavailable(
            f"The model server at {_where(settings)} answered without a message.",
            hint="Check that OPENAI_BASE_URL points at an OpenAI-compatible /v1 endpoint.",
        ) from None
    usage = getattr(response, "usage", None)
    prompt_tokens = getattr(usage, "prompt_tokens", 0) or 0
    completion_tokens = getattr(usage, "completion_tokens", 0) or 0
    if not prompt_tokens:
        # Some local servers report no usage; count as OpenAI would, so costs stay comparable.
        prompt_tokens = sum(count_tokens(str(m.get("content", ""))) for m in messages)
        completion_tokens = completion_tokens or count_tokens(text)
    reply = ModelReply(
        text=text,
        model=getattr(response, "model", None) or name,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        duration_ms=duration,
    )
    logger.info(
        "Model %s answered in %.0f ms (%d prompt + %d completion tokens)",
        reply.model,
        duration,
        reply.prompt_tokens,
        reply.completion_tokens,
    )
    return reply
