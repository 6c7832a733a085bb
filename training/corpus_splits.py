"""Which split an article belongs to: by its id alone, so an article never straddles train and test.

A hash of the id, not a random draw: adding articles never moves an existing
one to another split.  The seed article is its own split ("seed").
"""

from __future__ import annotations

import hashlib
from typing import Any

SPLIT_SHARES = (("train", 0.70), ("dev", 0.15), ("test", 0.15))


def split_of_id(key: str) -> str:
    x = int(hashlib.sha256(f"article-split:{key}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    cumulative = 0.0
    for name, share in SPLIT_SHARES:
        cumulative += share
        if x < cumulative:
            return name
    return SPLIT_SHARES[-1][0]


def article_split(article: Any) -> str:
    """An article's own ``split`` field if it has one (the seed, re-cut loose quotes), else by its
    ``pair`` key (both halves of a minimal pair together), else by its id."""
    pair = getattr(article, "extra", {}).get("pair")
    return getattr(article, "split", "") or split_of_id(pair or article.id)
