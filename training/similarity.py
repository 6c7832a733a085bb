"""Near-duplicate quotes: the one similarity the corpus builder and the corpus checks share.

Character 3–5-gram TF-IDF cosine over quote texts.  Quotes of four words or
fewer are formulas ("extremely concerned", "unacceptable") that real
speakers repeat; they never count as duplicates.
"""

from __future__ import annotations

from typing import Sequence

NEAR_DUPLICATE_THRESHOLD = 0.8
MIN_WORDS = 5


def _vectorizer():
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), lowercase=True, sublinear_tf=True)


def counted(text: str) -> bool:
    return len(text.split()) >= MIN_WORDS


def cross_pairs(
    held_out: Sequence[str], reference: Sequence[str], threshold: float = NEAR_DUPLICATE_THRESHOLD
) -> list[tuple[int, int, float]]:
    """(index in held_out, index in reference, similarity) for each held-out text above ``threshold``."""
    keep_a = [i for i, t in enumerate(reference) if counted(t)]
    keep_b = [i for i, t in enumerate(held_out) if counted(t)]
    if not keep_a or not keep_b:
        return []
    vec = _vectorizer().fit([reference[i] for i in keep_a] + [held_out[i] for i in keep_b])  # as in groups()
    a = vec.transform([reference[i] for i in keep_a])
    b = vec.transform([held_out[i] for i in keep_b])
    sims = (b @ a.T).tocsr()
    out = []
    for row in range(sims.shape[0]):
        r = sims.getrow(row)
        if r.nnz and r.data.max() > threshold:
            j = r.indices[r.data.argmax()]
            out.append((keep_b[row], keep_a[j], float(r.data.max())))
    return out


def groups(texts: Sequence[str], threshold: float = NEAR_DUPLICATE_THRESHOLD - 0.15) -> list[int]:
    """Union-find over near-duplicate pairs (with a margin below the check's threshold): a group id per text."""
    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    keep = [i for i, t in enumerate(texts) if counted(t)]
    if keep:
        m = _vectorizer().fit_transform([texts[i] for i in keep])
        sims = (m @ m.T).tocoo()
        for i, j, s in zip(sims.row, sims.col, sims.data):
            if i < j and s > threshold:
                parent[find(keep[i])] = find(keep[j])
    return [find(i) for i in range(len(texts))]
