"""Finding quotations in article text and attributing them: the public entry point.

The work is done in :mod:`models.quotes` (marks, the spaCy parse, speakers,
contexts); this module keeps the import path the service, the batch CLI and
the corpus builder use.
"""

from __future__ import annotations

from models.quotes.context import quote_context
from models.quotes.extractor import ExtractedQuote, Extraction, article_sentences, extract_quotes

__all__ = ["ExtractedQuote", "Extraction", "article_sentences", "extract_quotes", "quote_context"]
