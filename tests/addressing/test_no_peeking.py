"""The geocoder never reads the registers' evaluation column (eval_address_id)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GEOCODER_CODE = [
    ROOT / "addressing",
    ROOT / "spatialsvc" / "geocoding",
    ROOT / "spatialsvc" / "processes",
    ROOT / "spatialsvc" / "web",
    ROOT / "spatialsvc" / "geocoder_service.py",
]


def test_geocoder_code_never_names_the_evaluation_column() -> None:
    files = [p for root in GEOCODER_CODE for p in ([root] if root.is_file() else root.rglob("*"))]
    sources = [p for p in files if p.suffix in {".py", ".sql", ".yml", ".json", ".csv"}]
    assert len(sources) > 20  # the folders are where this test thinks they are
    peeking = [str(p) for p in sources if "eval_address_id" in p.read_text("utf-8", "replace")]
    assert peeking == []
