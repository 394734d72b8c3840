"""Copy the scripts and styles the HTML pages need from node_modules into the static folder.

``npm ci --ignore-scripts`` installs the versions pinned in package.json / package-lock.json;
this script then copies only the files the pages load (no source maps, no sources) into
``spatialsvc/web/static/vendor/<package>/``, with each package's licence.  The folder is build
output (ignored by git); ``make vendor`` runs both steps.

It is a no-op when every file is already there and the stamp file records the same locked
versions.  Run: ``python scripts/vendor_assets.py [--check]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
VENDOR = ROOT / "spatialsvc" / "web" / "static" / "vendor"
STAMP = VENDOR / "versions.json"

# package -> files to copy, relative to the package folder; each lands in vendor/<package>/
# under its name after the first "dist/" (or its plain name).
FILES: dict[str, list[str]] = {
    "bootstrap": [
        "dist/css/bootstrap.min.css",
        "dist/js/bootstrap.bundle.min.js",
        "LICENSE",
    ],
    "leaflet": [
        "dist/leaflet.js",
        "dist/leaflet.css",
        "dist/images/layers.png",
        "dist/images/layers-2x.png",
        "dist/images/marker-icon.png",
        "dist/images/marker-icon-2x.png",
        "dist/images/marker-shadow.png",
        "LICENSE",
    ],
    "swagger-ui-dist": [
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "swagger-ui.css",
        "favicon-16x16.png",
        "favicon-32x32.png",
        "LICENSE",
    ],
    "maplibre-gl": [
        "dist/maplibre-gl.js",
        "dist/maplibre-gl.css",
        "LICENSE.txt",
    ],
}


def target(package: str, relative: str) -> Path:
    """Where one file of a package lands under the vendor folder."""
    name = relative.split("dist/", 1)[1] if relative.startswith("dist/") else relative
    return VENDOR / package / name


def locked_versions() -> dict[str, str]:
    """The versions of the vendored packages recorded in package-lock.json."""
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    packages = lock["packages"]
    return {name: packages[f"node_modules/{name}"]["version"] for name in FILES}


def up_to_date() -> bool:
    """Whether every file is vendored and the stamp matches the lock file."""
    if not STAMP.is_file():
        return False
    if json.loads(STAMP.read_text(encoding="utf-8")) != locked_versions():
        return False
    return all(target(p, f).is_file() for p, files in FILES.items() for f in files)


def copy_all() -> int:
    """Copy every listed file from node_modules; return how many were copied."""
    versions = locked_versions()
    count = 0
    for package, files in FILES.items():
        installed = json.loads((NODE_MODULES / package / "package.json").read_text())["version"]
        if installed != versions[package]:
            raise SystemExit(
                f"node_modules/{package} is {installed}, the lock says {versions[package]}: "
                "run `npm ci --ignore-scripts` first"
            )
        shutil.rmtree(VENDOR / package, ignore_errors=True)
        for relative in files:
            dest = target(package, relative)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(NODE_MODULES / package / relative, dest)
            count += 1
        print(f"    vendor/{package} {versions[package]}: {len(files)} files")
    STAMP.write_text(json.dumps(versions, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return count


def main(argv: list[str] | None = None) -> int:
    """Vendor the assets, or with ``--check`` only say whether they are up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if vendoring is needed")
    args = parser.parse_args(argv)
    if args.check:
        return 0 if up_to_date() else 1
    if up_to_date():
        print(f"==> {VENDOR.relative_to(ROOT)} is up to date")
        return 0
    if not NODE_MODULES.is_dir():
        print("node_modules is missing: run `npm ci --ignore-scripts` first", file=sys.stderr)
        return 1
    print(f"==> copying scripts and styles into {VENDOR.relative_to(ROOT)}")
    copy_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
