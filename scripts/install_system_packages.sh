#!/usr/bin/env bash
# System packages the tests and the demo use, from Debian/Ubuntu's own repositories:
#   gdal-bin   GDAL's ogrinfo/ogr2ogr, the real OGC API - Features client in the tests
#   fonts-noto-cjk  Noto Sans CJK, the font the vector basemap's glyphs are made from
#   python3-qgis qgis-providers  QGIS 3.22, scripted headless by Debian's /usr/bin/python3 in
#                   tests/clients: the GIS desktop client reading our OGC API - Features (~1 GB)
#   chromium chromium-driver  headless Chromium (and its WebDriver) for tests/client's screenshot
#                   of a thematic map from spatialsvc.client, driven by Playwright (~440 MB)
# PostgreSQL + PostGIS are installed by `spatialsvc db up` itself when missing.
# Installs only what is missing; needs root or passwordless sudo when something is.
set -euo pipefail
need=()
command -v ogrinfo >/dev/null 2>&1 || need+=(gdal-bin)
[ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || need+=(fonts-noto-cjk)
for pkg in python3-qgis qgis-providers chromium chromium-driver; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo -n"
echo "installing system packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
