"""What an answer to hostile input must never show: a stack trace or a database's own text."""

from __future__ import annotations

# "SQL" as a word: a body naming the database's SQL (our messages never do)
LEAKS = ("Traceback", "psycopg2", "SQL", "syntax error at", 'File "/', "pg_catalog")


def leaked(text: str) -> str | None:
    """The first forbidden fragment in a response body, or None."""
    for fragment in LEAKS:
        if fragment in text:
            return fragment
    return None
