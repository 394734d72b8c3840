"""The quality report of one ingest."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, SupportsInt

TARGET_CRS = "EPSG:4490"


@dataclass
class Report:
    """What was read, what was written, what was repaired or rejected and why."""

    layer: str
    department: str
    source_file: str
    format: str = ""
    kind: str = "vector"
    read: int = 0
    written: int = 0
    repaired: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    source_crs: str = ""
    target_crs: str = TARGET_CRS
    extent: tuple[float, float, float, float] | None = None
    encoding: str | None = None
    version: int | None = None
    table_name: str | None = None
    file_path: str | None = None
    notes: list[str] = field(default_factory=list)

    def reject(self, index: SupportsInt, reason: str) -> None:
        """Record one rejected feature (0-based index in the source)."""
        self.rejected.append({"index": int(index), "reason": reason})

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, with the count of rejected features."""
        data = asdict(self)
        data["rejected_count"] = len(self.rejected)
        data["extent"] = list(self.extent) if self.extent else None
        return data

    def to_json(self) -> str:
        """The report as JSON text."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    def write(self, path: Path) -> None:
        """Write the report as JSON to ``path``."""
        path.write_text(self.to_json() + "\n", encoding="utf-8")

    def lines(self, max_rejected: int = 10) -> list[str]:
        """A few readable lines for the terminal; rejected features capped at max_rejected."""
        where = self.table_name or self.file_path or ""
        out = [
            f"layer {self.layer} v{self.version} ({self.kind}, {self.format}) -> {where}",
            f"source {self.source_file}  crs {self.source_crs} -> {self.target_crs}"
            + (f"  encoding {self.encoding}" if self.encoding else ""),
        ]
        if self.kind == "vector":
            out.append(
                f"read {self.read:,}  written {self.written:,}  repaired {self.repaired:,}  "
                f"rejected {len(self.rejected):,}"
            )
        if self.extent:
            out.append("extent " + ", ".join(f"{v:.6f}" for v in self.extent))
        for item in self.rejected[:max_rejected]:
            out.append(f"  rejected #{item['index']}: {item['reason']}")
        if len(self.rejected) > max_rejected:
            out.append(f"  ... and {len(self.rejected) - max_rejected:,} more (see --report)")
        out.extend(f"note: {n}" for n in self.notes)
        return out


def current_version(cur: Any, layer: str, kind: str) -> int:
    """Lock the layer for this transaction and return its current version (0 if new)."""
    from spatialsvc.errors import InvalidInput

    cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ("spatialsvc-ingest:" + layer,))
    cur.execute("SELECT version, kind FROM meta.dataset WHERE layer = %s FOR UPDATE", (layer,))
    row = cur.fetchone()
    if row is None:
        return 0
    if row[1] != kind:
        raise InvalidInput(f"layer {layer} exists as a {row[1]} layer; choose another name")
    return int(row[0])


def record_dataset(cur: Any, report: Report) -> None:
    """Insert or replace the layer's row in meta.dataset with this report's version."""
    extent = report.extent or (None, None, None, None)
    cur.execute(
        """
        INSERT INTO meta.dataset (layer, department, kind, version, table_name, file_path,
                                  source_file, source_crs, features, extent, report, loaded_at)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s,
                CASE WHEN %s::float8 IS NULL THEN NULL
                     ELSE ST_MakeEnvelope(%s, %s, %s, %s, 4490) END,
                %s::jsonb, now())
        ON CONFLICT (layer) DO UPDATE SET
            department = EXCLUDED.department, kind = EXCLUDED.kind,
            version = EXCLUDED.version, table_name = EXCLUDED.table_name,
            file_path = EXCLUDED.file_path, source_file = EXCLUDED.source_file,
            source_crs = EXCLUDED.source_crs, features = EXCLUDED.features,
            extent = EXCLUDED.extent, report = EXCLUDED.report, loaded_at = now()
        """,
        (
            report.layer,
            report.department,
            report.kind,
            report.version,
            report.table_name,
            report.file_path,
            report.source_file,
            report.source_crs or "unknown",
            report.written if report.kind == "vector" else None,
            extent[0],
            *extent,
            report.to_json(),
        ),
    )
