"""QGIS renders the Géoplateforme's vector Plan IGN through the gateway, as a user adds it: a vector
tile layer on the gateway's `/tiles/PLAN.IGN/{z}/{x}/{y}.pbf` with its MapLibre style from
`/styles/PLAN.IGN/standard.json` (whose sprite and glyph URLs point at the gateway too).

Usage: GEOPF_URL=http://gateway [OUT_DIR=dir] python3 vector_tiles.py
Prints PASS/FAIL lines and a closing "qgis-vector-tiles: N passed, N failed" line; exits 1 on failure.
"""
import json
import os
import sys
import urllib.request

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from qgis.core import (QgsApplication, QgsCoordinateReferenceSystem, QgsDataSourceUri,  # noqa: E402
                       QgsMapRendererParallelJob, QgsMapSettings, QgsRectangle, QgsVectorTileLayer)
from qgis.PyQt.QtCore import QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402

results = []
# Montpellier, in WebMercator (zoom ≈ 12 at 512 px).
MONTPELLIER = QgsRectangle(425000, 5400000, 445000, 5420000)


def report(ok, name, reason):
    results.append(ok)
    print("%s %s: %s" % ("PASS" if ok else "FAIL", name, reason), flush=True)


def main():
    base = os.environ["GEOPF_URL"].rstrip("/")
    out_dir = os.environ.get("OUT_DIR", ".")
    os.makedirs(out_dir, exist_ok=True)
    app = QgsApplication([], False)
    app.initQgis()

    style_url = base + "/styles/PLAN.IGN/standard.json"
    with urllib.request.urlopen(style_url, timeout=30) as r:
        style = json.load(r)
    urls = [style.get("sprite"), style.get("glyphs")] + [
        t for s in style.get("sources", {}).values() for t in s.get("tiles", [])]
    report(all(u and u.startswith(base) for u in urls), "style urls",
           "tiles, sprite and glyphs at the gateway: %s" % urls)
    with urllib.request.urlopen(style["sprite"] + ".json", timeout=30) as r:
        report(r.status == 200 and json.load(r), "sprite", "the sprite index answers through the gateway")

    uri = QgsDataSourceUri()
    uri.setParam("type", "xyz")
    uri.setParam("url", base + "/tiles/PLAN.IGN/{z}/{x}/{y}.pbf")
    uri.setParam("zmin", "0")
    uri.setParam("zmax", "18")
    uri.setParam("styleUrl", style_url)
    layer = QgsVectorTileLayer(bytes(uri.encodedUri()).decode(), "Plan IGN (vector)")
    report(layer.isValid(), "layer", "the vector tile layer opens")
    message, ok = layer.loadDefaultStyle()
    report(ok, "style", "the IGN style applies (%s)" % (message or "no message"))

    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
    settings.setExtent(MONTPELLIER)
    settings.setOutputSize(QSize(512, 512))
    settings.setBackgroundColor(QColor(255, 255, 255, 0))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    path = os.path.join(out_dir, "qgis-vector-tiles.png")
    image.save(path)
    # On a transparent background: any pixel with some opacity is the style drawing tile features.
    painted = sum(1 for x in range(512) for y in range(512) if QColor.fromRgba(image.pixel(x, y)).alpha() > 0)
    report(0 < painted < 512 * 512, "render", "%d of %d pixels drawn -> %s" % (painted, 512 * 512, path))

    passed = sum(1 for r in results if r)
    print("qgis-vector-tiles: %d passed, %d failed" % (passed, len(results) - passed), flush=True)
    del job, layer
    app.exitQgis()
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
