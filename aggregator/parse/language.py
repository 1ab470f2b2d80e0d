"""A feed's language as a BCP 47 tag fit for an HTML ``lang`` attribute, or None.

Feeds write ``ja``, ``ja-JP``, ``en_US`` or junk; only the well-formed ones are kept.
"""

from __future__ import annotations

import re

_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
MAX_TAG = 35


def clean_language(value: object) -> str | None:
    """``"ja-JP"`` -> ``"ja-JP"``, ``"en_US"`` -> ``"en-US"``; anything else -> None."""
    if not isinstance(value, str):
        return None
    tag = value.strip().replace("_", "-")
    if len(tag) > MAX_TAG or not _TAG.fullmatch(tag):
        return None
    return tag
