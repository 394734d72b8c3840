"""Audit log (issue 6, item 5): append-only, hash-chained record of every access and act.

``event`` (the Event and its canonical hash), ``log`` (record, flush, append), ``verify``
(walk the chain), ``query`` (filters, export).  Knows nothing about the web.  See docs/audit.md.
"""

from spatialsvc.audit.event import GENESIS_HASH, Entry, Event
from spatialsvc.audit.log import append, flush, record
from spatialsvc.audit.query import Filters, export, query
from spatialsvc.audit.verify import Problem, VerifyReport, verify

__all__ = [
    "GENESIS_HASH",
    "Entry",
    "Event",
    "Filters",
    "Problem",
    "VerifyReport",
    "append",
    "export",
    "flush",
    "query",
    "record",
    "verify",
]
