"""QGIS renders the Géoplateforme's vector Plan IGN through the gateway, as a user adds it: a vector
tile layer on the gateway's `/tiles/PLAN.IGN/{z}/{x}/{y}.pbf` with its MapLibre style from
`/styles/PLAN.IGN/standard.json` (whose sprite and glyph URLs point at the gateway too); the
kiosk's `/catalog/PLAN.IGN.qlr` dropped into a Lambert-93 project (valid CRS, tiles drawn in
Lambert-93 with the IGN style's fills, lines and circles, which the gateway writes in the layer
definition as QGIS symbols — QGIS applies no style URL from a .qlr); and the
`qgis-connections.xml?type=vectortile` file imported as the Data Source Manager does, its Plan IGN
connection giving the IGN style (QGIS applies a connection's style URL when the layer is added).

Usage: GEOPF_URL=http://gateway [OUT_DIR=dir] python3 vector_tiles.py
Prints PASS/FAIL lines and a closing "qgis-vector-tiles: N passed, N failed" line; exits 1 on failure.
"""
import json
import os
import sys
import tempfile
import urllib.request

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from qgis.core import (QgsApplication, QgsCoordinateReferenceSystem, QgsDataSourceUri,  # noqa: E402
                       QgsLayerDefinition, QgsMapRendererParallelJob, QgsMapSettings, QgsProject,
                       QgsRectangle, QgsSettings, QgsVectorTileLayer)
from qgis.PyQt.QtCore import QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402

results = []
# Montpellier, in WebMercator (zoom ≈ 12 at 512 px).
MONTPELLIER = QgsRectangle(425000, 5400000, 445000, 5420000)


def report(ok, name, reason):
    results.append(ok)
    print("%s %s: %s" % ("PASS" if ok else "FAIL", name, reason), flush=True)


# The same in Lambert-93 (EPSG:2154).
MONTPELLIER_L93 = QgsRectangle(760000, 6270000, 780000, 6290000)


def render(layer, name, out_dir, crs="EPSG:3857", extent=MONTPELLIER):
    """Draws `layer` over Montpellier on a transparent background: how many pixels it painted."""
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(QgsCoordinateReferenceSystem(crs))
    settings.setExtent(extent)
    settings.setOutputSize(QSize(512, 512))
    settings.setBackgroundColor(QColor(255, 255, 255, 0))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    image.save(os.path.join(out_dir, name + ".png"))
    colours = [image.pixel(x, y) for x in range(512) for y in range(512)]
    painted = [c for c in colours if QColor.fromRgba(c).alpha() > 0]
    COLOURS[name] = set(painted)
    return len(painted)


# The colours each render painted, by name.
COLOURS = {}


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

    # On a transparent background: any pixel with some opacity is the style drawing tile features.
    painted = render(layer, "qgis-vector-tiles", out_dir)
    report(0 < painted < 512 * 512, "render", "%d of %d pixels drawn" % (painted, 512 * 512))
    ign_styles = len(layer.renderer().styles())

    # The kiosk's .qlr, dropped into a Lambert-93 project.
    project = QgsProject.instance()
    project.setCrs(QgsCoordinateReferenceSystem("EPSG:2154"))
    path = os.path.join(tempfile.mkdtemp(), "PLAN.IGN.qlr")
    with urllib.request.urlopen(base + "/catalog/PLAN.IGN.qlr", timeout=30) as r, open(path, "wb") as f:
        f.write(r.read())
    ok, message = QgsLayerDefinition.loadLayerDefinition(path, project, project.layerTreeRoot())
    loaded = [lyr for lyr in project.mapLayers().values() if isinstance(lyr, QgsVectorTileLayer)]
    report(ok and len(loaded) == 1, "qlr", "the kiosk's .qlr loads a vector tile layer (%s)" % (message or "ok"))
    if loaded:
        qlr_layer = loaded[0]
        report(qlr_layer.crs().isValid() and qlr_layer.crs().authid() == "EPSG:3857", "qlr crs",
               "valid CRS %s in an EPSG:2154 project" % qlr_layer.crs().authid())
        styles = qlr_layer.renderer().styles()
        report(len(styles) > 200 and len(styles) < ign_styles, "qlr style",
               "the .qlr carries the IGN style's fills, lines and circles: %d of the %d styles QGIS's own "
               "converter makes (labels and icons are not in a .qlr)" % (len(styles), ign_styles))
        painted = render(qlr_layer, "qgis-vector-tiles-qlr", out_dir, "EPSG:2154", MONTPELLIER_L93)
        report(0 < painted < 512 * 512, "qlr render",
               "%d of %d pixels drawn in Lambert-93" % (painted, 512 * 512))
        # QGIS's default vector tile style draws in random colours; the IGN style's are the ones
        # QGIS's own converter draws the style URL with.
        ign, qlr_colours = COLOURS["qgis-vector-tiles"], COLOURS["qgis-vector-tiles-qlr"]
        report(bool(qlr_colours & ign), "qlr colours",
               "%d of the .qlr render's %d colours are the IGN style's" % (len(qlr_colours & ign), len(qlr_colours)))

    # The connections file, imported with QGIS's own dialog (Data Source Manager → Vector Tiles → Load).
    from qgis.gui import QgsManageConnectionsDialog
    groups = ("qgis/connections-vector-tile", "connections/vector-tile/items")
    settings = QgsSettings()
    for group in groups:  # a connection of the same name would make the import ask
        settings.beginGroup(group)
        for name in settings.childGroups():
            if name.endswith("(vector) — IGN"):
                settings.remove(name)
        settings.endGroup()
    path = os.path.join(tempfile.mkdtemp(), "vectortile.xml")
    with urllib.request.urlopen(base + "/catalog/qgis-connections.xml?type=vectortile", timeout=30) as r, \
            open(path, "wb") as f:
        f.write(r.read())
    dialog = QgsManageConnectionsDialog(None, QgsManageConnectionsDialog.Import, QgsManageConnectionsDialog.VectorTile, path)
    dialog.selectAll()
    dialog.doExportImport()
    found = {}
    for group in groups:
        settings.beginGroup(group)
        for name in settings.childGroups():
            found[name] = (settings.value(name + "/url"), settings.value(name + "/styleUrl"))
        settings.endGroup()
    plan = [n for n in found if n.startswith("Plan IGN")]
    report(len(plan) == 1 and all(found[plan[0]]), "connections", "%d vector tile connections imported: %s"
           % (len(found), sorted(found)))
    if plan:
        uri = QgsDataSourceUri()
        uri.setParam("type", "xyz")
        uri.setParam("url", found[plan[0]][0])
        uri.setParam("styleUrl", found[plan[0]][1])
        connected = QgsVectorTileLayer(bytes(uri.encodedUri()).decode(), plan[0])
        # What QGIS does with a vector tile layer dropped from the Browser.
        connected.loadDefaultStyle()
        rules = len(connected.renderer().styles())
        report(rules > 10 and rules == ign_styles, "connection style",
               "the IGN style from the connection (%d rendering rules)" % rules)
        del connected

    passed = sum(1 for r in results if r)
    print("qgis-vector-tiles: %d passed, %d failed" % (passed, len(results) - passed), flush=True)
    project.clear()
    del layer, loaded
    app.exitQgis()
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
