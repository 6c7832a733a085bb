"""Quote extraction: marks, the spaCy parse, speakers, contexts (see ``extractor``)."""
