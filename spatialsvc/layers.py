"""Published layers, declared one per file in ``layers/*.yml``.

A layer file says what is published (source table, id and geometry columns, the fields it
exposes) and under which terms (owning department, category, sharing level, update cycle), and
how it looks by default. Everything that publishes (the pygeoapi configuration, the catalogue,
tiles) reads these files through :func:`load_layers`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from spatialsvc.errors import ConfigError

IDENT = r"^[a-z_][a-z0-9_]{0,62}$"
Category = Literal["人口", "法人", "空间地理", "宏观经济", "其他"]
Sharing = Literal["open", "unconditional", "conditional", "none"]

SHARING_LABELS = {
    "open": ("无条件共享", "开放"),
    "unconditional": ("无条件共享", "不开放"),
    "conditional": ("有条件共享", "不开放"),
    "none": ("不予共享", "不开放"),
}


class Department(BaseModel):
    """The department that owns a layer."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    name: str


class Style(BaseModel):
    """Default style of a layer (used by the vector basemap and the portal)."""

    model_config = ConfigDict(extra="forbid")
    fill: str = Field(default="#3388ff", pattern=r"^#[0-9a-fA-F]{6}$")
    stroke: str = Field(default="#1f4e99", pattern=r"^#[0-9a-fA-F]{6}$")
    width: float = Field(default=1.0, ge=0, le=20)
    radius: float = Field(default=3.0, ge=0, le=30)
    opacity: float = Field(default=0.6, ge=0, le=1)


Scheme = Literal[
    "quantiles",
    "natural_breaks",
    "equal_interval",
    "fisher_jenks",
    "maximum_breaks",
    "jenks_caspall",
]
HEX = r"^#[0-9a-fA-F]{6}$"


class Thematic(BaseModel):
    """A thematic (choropleth) style of a layer: classes of one field, breaks by mapclassify.

    The number of classes is the number of colours.  Breaks are computed from the published
    values (small counts already suppressed) by ``spatialsvc.thematic.legend``.
    """

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    title: str = Field(min_length=1)
    field: str = Field(pattern=IDENT)
    unit: str = ""
    scheme: Scheme = "quantiles"
    colors: list[str] = Field(min_length=2, max_length=9)
    no_data_color: str = Field(default="#d9d9d9", pattern=HEX)
    no_data_label: str = "少于 5 或不公开"
    digits: int = Field(default=0, ge=0, le=4, description="Decimals in the legend's labels")
    latest: str | None = Field(
        default=None,
        pattern=IDENT,
        description="Draw and classify only the features with this field's largest value "
        "(e.g. year: the latest year of a layer holding one feature per unit and year)",
    )

    @field_validator("colors")
    @classmethod
    def _hex_colors(cls, value: list[str]) -> list[str]:
        for colour in value:
            if not re.fullmatch(HEX, colour):
                raise ValueError(f"colour {colour!r} is not #rrggbb")
        return value


class Layer(BaseModel):
    """One published vector layer."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    keywords: list[str] = Field(min_length=1)
    department: Department
    category: Category
    resource_code: str = Field(min_length=1, description="Code in the resource catalogue")
    table: str = Field(description="schema.table or schema.view")
    id_column: str = Field(pattern=IDENT)
    geometry_column: str = Field(default="geom", pattern=IDENT)
    geometry_type: Literal["Point", "LineString", "Polygon", "MultiPolygon", "MultiLineString"]
    fields: list[str] = Field(min_length=1)
    sharing: Sharing
    update_cycle: Literal["实时", "每日", "每周", "每月", "每季度", "每年", "不定期"]
    style: Style = Field(default_factory=Style)
    minzoom: int = Field(default=0, ge=0, le=22)
    maxzoom: int = Field(default=18, ge=0, le=22)
    thematic: list[Thematic] = Field(
        default_factory=list, description="Thematic styles, the first the default"
    )

    @field_validator("table")
    @classmethod
    def _schema_table(cls, value: str) -> str:
        parts = value.split(".")
        if len(parts) != 2 or not all(re.fullmatch(IDENT, p) for p in parts):
            raise ValueError("table must be schema.table with lower-case identifiers")
        return value

    @field_validator("fields")
    @classmethod
    def _field_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not re.fullmatch(IDENT, name):
                raise ValueError(f"field {name!r} is not a lower-case identifier")
        if len(set(value)) != len(value):
            raise ValueError("fields repeat")
        return value

    @property
    def schema_name(self) -> str:
        """Schema of the source table."""
        return self.table.split(".")[0]

    @property
    def table_name(self) -> str:
        """Name of the source table, without its schema."""
        return self.table.split(".")[1]

    @property
    def sharing_attribute(self) -> str:
        """The catalogue's sharing attribute: 无条件共享 / 有条件共享 / 不予共享."""
        return SHARING_LABELS[self.sharing][0]

    @property
    def open_attribute(self) -> str:
        """The catalogue's open attribute: 开放 / 不开放."""
        return SHARING_LABELS[self.sharing][1]


def load_layer(path: Path) -> Layer:
    """Read and check one layer file; errors name the file and the field."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path.name}: cannot read layer file ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path.name}: a layer file holds one mapping")
    try:
        layer = Layer.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise ConfigError(f"{path.name}: {where}: {first['msg']}") from exc
    if layer.id != path.stem:
        raise ConfigError(f"{path.name}: id {layer.id!r} must match the file name")
    if layer.id_column not in layer.fields:
        raise ConfigError(f"{path.name}: id_column {layer.id_column!r} is not in fields")
    for style in layer.thematic:
        for name in (style.field, style.latest):
            if name is not None and name not in layer.fields:
                raise ConfigError(f"{path.name}: thematic {style.id!r}: {name!r} is not in fields")
    if len({style.id for style in layer.thematic}) != len(layer.thematic):
        raise ConfigError(f"{path.name}: thematic style ids repeat")
    return layer


def load_layers(directory: Path) -> dict[str, Layer]:
    """Every ``*.yml`` layer in a folder, by id, in file-name order."""
    if not directory.is_dir():
        raise ConfigError(f"layers folder {directory} does not exist")
    return {layer.id: layer for layer in map(load_layer, sorted(directory.glob("*.yml")))}
