"""Layer files and the rendered pygeoapi configuration."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from pygeoapi.config import validate_config

from spatialsvc import pygeoapi_config
from spatialsvc.errors import ConfigError
from spatialsvc.layers import load_layer, load_layers
from spatialsvc.settings import Settings
from tests.conftest import ROOT

LAYERS = ROOT / "layers"
BASE_TABLES = {
    "base.admin_division",
    "base.grid",
    "base.road",
    "base.compound",
    "base.building",
    "base.standard_address",
    "base.poi",
}


def _default_settings() -> Settings:
    return Settings(_env_file=None, database_url=None)  # type: ignore[call-arg]


def test_every_base_table_is_published() -> None:
    layers = load_layers(LAYERS)
    assert BASE_TABLES <= {layer.table for layer in layers.values()}
    for layer in layers.values():
        assert layer.category in ("人口", "法人", "空间地理", "宏观经济", "其他")
        assert any("\u4e00" <= ch <= "\u9fff" for ch in layer.title), layer.title


def test_layer_fields_exist_in_the_database(conn) -> None:  # type: ignore[no-untyped-def]
    with conn.cursor() as cur:
        for layer in load_layers(LAYERS).values():
            cur.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s",
                (layer.schema_name, layer.table_name),
            )
            columns = {r[0] for r in cur.fetchall()}
            assert set(layer.fields) | {layer.geometry_column} <= columns, layer.id


def test_checked_in_config_is_up_to_date_and_valid() -> None:
    layers = load_layers(LAYERS)
    rendered = pygeoapi_config.render(_default_settings(), layers, portable=True)
    checked_in = (ROOT / "pygeoapi-config.yml").read_text(encoding="utf-8")
    assert checked_in == pygeoapi_config.to_yaml(rendered), "run `spatialsvc config render`"
    assert validate_config(yaml.safe_load(checked_in))
    expected = set(layers) | {"catalogue", "terrain_dem"} | set(pygeoapi_config.PROCESSES)
    assert expected == set(rendered["resources"])
    assert "database" not in checked_in.lower() and "postgresql://" not in checked_in


def test_config_render_check_flags_a_stale_file(tmp_path: Path) -> None:
    exe = str(ROOT / ".venv/bin/spatialsvc")
    out = tmp_path / "config.yml"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([exe, "config", "render", "--output", str(out)], env=env, cwd=ROOT)
    assert done.returncode == 0
    check = [exe, "config", "render", "--check", "--output", str(out)]
    ok = subprocess.run(check, env=env, cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0 and "up to date" in ok.stdout
    out.write_text(out.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    stale = subprocess.run(check, env=env, cwd=ROOT, capture_output=True, text=True)
    assert stale.returncode == 1 and "not up to date" in stale.stderr


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"sharing": "public"}, "sharing"),
        ({"category": "交通"}, "category"),
        ({"table": "base.poi; drop table x"}, "table"),
        ({"fields": ["poi_id", "Name"]}, "fields"),
        ({"id": "other"}, "must match the file name"),
        ({"id_column": "nope"}, "id_column"),
    ],
)
def test_bad_layer_files_name_the_problem(tmp_path: Path, edit: dict, message: str) -> None:
    data = yaml.safe_load((LAYERS / "poi.yml").read_text(encoding="utf-8"))
    data.update(edit)
    path = tmp_path / "poi.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_layer(path)


def test_missing_layers_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_layers(tmp_path / "nope")
    shutil.copy(LAYERS / "poi.yml", tmp_path / "poi.yml")
    assert list(load_layers(tmp_path)) == ["poi"]
