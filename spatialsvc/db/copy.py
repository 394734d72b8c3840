"""Bulk loading of data frames with COPY, geometries as hex EWKB, every value as data."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import shapely
from psycopg2 import sql

SRID = 4490


def ewkb_hex(geoms: Any, srid: int = SRID) -> Any:
    """Hex EWKB strings (with SRID) for an array of shapely geometries; None stays None."""
    arr = shapely.set_srid(pd.Series(geoms).to_numpy(), srid)
    return shapely.to_wkb(arr, hex=True, include_srid=True)


def copy_frame(cur: Any, schema: str, table: str, frame: pd.DataFrame) -> int:
    """COPY a frame into ``schema.table``; geometry-typed columns are sent as hex EWKB.

    The frame's column names are the table's; they are quoted as identifiers, never pasted.
    """
    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        values = frame[col]
        if len(values) and isinstance(values.iloc[0], shapely.Geometry):
            out[col] = ewkb_hex(values.to_numpy())
        elif hasattr(values, "geom_type"):
            out[col] = ewkb_hex(values.to_numpy())
        else:
            out[col] = values
    buf = io.StringIO()
    out.to_csv(buf, index=False, header=False)
    buf.seek(0)
    statement = sql.SQL("COPY {}.{} ({}) FROM STDIN WITH (FORMAT csv)").format(
        sql.Identifier(schema),
        sql.Identifier(table),
        sql.SQL(", ").join(sql.Identifier(c) for c in frame.columns),
    )
    cur.copy_expert(statement.as_string(cur), buf)
    return len(frame)
