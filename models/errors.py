"""One base class for every error a user can fix: the CLI prints it in one line and exits 2,
the HTTP layer answers 4xx.  Each module raises its own subclass where it detects the problem,
with the value that was wrong in the message."""

from __future__ import annotations


class StanceError(Exception):
    """A problem with input, data, settings or a stored model that the user can act on."""
