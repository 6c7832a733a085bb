"""Cutting rows of different lengths into groups that waste little on padding.

One rule serves two places: the predictor's batches (capped in rows and
padded tokens) and the packed encoder's attention buckets (uncapped).
"""

from __future__ import annotations

import math
from typing import Sequence


def length_buckets(
    lengths: Sequence[int],
    max_padding: float,
    min_rows: int,
    max_rows: int | float = math.inf,
    max_tokens: int | float = math.inf,
) -> list[list[int]]:
    """Row indices, sorted by length, cut into groups.

    A group closes when the next (longer) row would make it pass ``max_rows``
    or ``max_tokens`` padded slots, or, once it holds ``min_rows`` rows, would
    make more than ``max_padding`` of its slots padding.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    groups: list[list[int]] = []
    current: list[int] = []
    real = 0
    for i in order:
        n = len(current) + 1
        padded = lengths[i] * n  # sorted ascending: the new row is the longest
        if current and (
            n > max_rows
            or padded > max_tokens
            or (n > min_rows and padded - (real + lengths[i]) > max_padding * padded)
        ):
            groups.append(current)
            current, real = [], 0
        current.append(i)
        real += lengths[i]
    if current:
        groups.append(current)
    return groups
