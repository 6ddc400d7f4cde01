"""QGIS adds the gateway's basemaps the ways a user does: imports the three "Load connections" files
of /catalog/qgis-connections.xml with QGIS's own import dialog (XYZ, WMS/WMTS, WFS/OGC API), opens a
layer from each imported connection, drops a kiosk .qlr into the project, and renders the WMS.

Usage: GEOPF_URL=http://gateway python3 basemaps.py
Prints PASS/FAIL lines and a closing "qgis-basemaps: N passed, N failed" line; exits 1 on failure.
"""
import os
import sys
import tempfile
import urllib.parse
import urllib.request

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from qgis.core import (Qgis, QgsApplication, QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsDataSourceUri, QgsLayerDefinition, QgsMapRendererParallelJob,  # noqa: E402
                       QgsMapSettings, QgsOwsConnection, QgsProject, QgsRasterLayer, QgsRectangle,
                       QgsSettings, QgsVectorLayer)
from qgis.PyQt.QtCore import QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402

results = []
DIALOGS = []
PLAN = "GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2"
ORTHO = "ORTHOIMAGERY.ORTHOPHOTOS"
# A WMS-R layer that has no WMTS twin, over Montpellier at 1:150 000.
WMS_ONLY = "ORTHOIMAGERY.ORTHOPHOTOS.IRC-EXPRESS"
COMMUNE = "LIMITES_ADMINISTRATIVES_EXPRESS.LATEST:commune"
# A WMTS layer published on a WGS84 matrix set only (WGS84G_PO_0_12): no XYZ, no WMS.
WGS84_ONLY = "ORTHOIMAGERY.ORTHOPHOTOS.LOW_RES.CRS84"
# Montpellier, in WebMercator.
MONTPELLIER = QgsRectangle(430000, 5400000, 440000, 5410000)


def report(ok, name, reason):
    results.append(ok)
    print("%s %s: %s" % ("PASS" if ok else "FAIL", name, reason), flush=True)


def download(url, suffix):
    fd, path = tempfile.mkstemp(suffix=suffix)
    with urllib.request.urlopen(url, timeout=30) as r, os.fdopen(fd, "wb") as f:
        f.write(r.read())
    return path


def import_connections(base, kind, dialog_type):
    """QGIS's own import (Data Source Manager → Load), every connection of the file selected."""
    from qgis.gui import QgsManageConnectionsDialog
    path = download("%s/catalog/qgis-connections.xml?type=%s" % (base, kind), ".xml")
    dialog = QgsManageConnectionsDialog(None, QgsManageConnectionsDialog.Import, dialog_type, path)
    dialog.selectAll()
    dialog.doExportImport()
    DIALOGS.append(dialog)  # kept alive: Qt owns what it made for it


def xyz_connections():
    settings = QgsSettings()
    found = {}
    for prefix in ("qgis/connections-xyz", "connections/xyz/items"):
        settings.beginGroup(prefix)
        for name in settings.childGroups():
            found[name] = settings.value(name + "/url")
        settings.endGroup()
    return found


def raster_uri(url, layer, style, **extra):
    """A `wms` provider URI, as QGIS writes it (the URL's own query string kept whole)."""
    uri = QgsDataSourceUri()
    for key, value in [("crs", "EPSG:3857"), ("format", "image/png"), ("layers", layer), ("styles", style),
                       ("url", url)] + sorted(extra.items()):
        uri.setParam(key, value)
    return bytes(uri.encodedUri()).decode()


def render(layer, name, out, crs=None):
    """Draws Montpellier in `crs` (default: the layer's own): how many sampled pixels are not blank."""
    settings = QgsMapSettings()
    settings.setLayers([layer])
    crs = crs or layer.crs()
    settings.setDestinationCrs(crs)
    web_mercator = QgsCoordinateReferenceSystem("EPSG:3857")
    settings.setExtent(QgsCoordinateTransform(web_mercator, crs, QgsProject.instance()).transformBoundingBox(MONTPELLIER))
    settings.setOutputSize(QSize(256, 256))
    settings.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    image.save(os.path.join(out, name + ".png"))
    drawn = sum(1 for x in range(0, 256, 8) for y in range(0, 256, 8)
                if image.pixelColor(x, y) != QColor(255, 255, 255))
    return drawn, job.errors()


def main():
    base = os.environ["GEOPF_URL"].rstrip("/")
    out = os.environ.get("OUT_DIR", ".")
    os.makedirs(out, exist_ok=True)
    app = QgsApplication([], True)
    app.initQgis()
    from qgis.gui import QgsManageConnectionsDialog
    print("QGIS %s" % Qgis.QGIS_VERSION, flush=True)

    import_connections(base, "xyz", QgsManageConnectionsDialog.XyzTiles)
    xyz = xyz_connections()
    plan = [url for url in xyz.values() if url and PLAN in url]
    report(bool(plan) and plan[0].startswith(base), "qgis.import.xyz",
           "%d XYZ connection(s), Plan IGN at %s" % (len(xyz), plan[0] if plan else None))

    import_connections(base, "wms", QgsManageConnectionsDialog.WMS)
    wms = {n: QgsOwsConnection("wms", n).uri().param("url") for n in QgsOwsConnection.connectionList("wms")}
    report(any(u.startswith(base + "/wmts") for u in wms.values()) and base + "/wms" in wms.values(),
           "qgis.import.wms", "WMS/WMTS connections: %s" % wms)

    # The files name the connections as the plugin does: loading both makes no duplicates.
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "plugin-stub"))
    from geopf_gateway import connections as plugin_connections
    report({plugin_connections.NAME, plugin_connections.NAME_WMS} <= set(wms), "qgis.import.names",
           "the plugin's names %s among %s" % ([plugin_connections.NAME, plugin_connections.NAME_WMS], sorted(wms)))

    import_connections(base, "wfs", QgsManageConnectionsDialog.WFS)
    wfs = {n: QgsOwsConnection("wfs", n).uri().param("url") for n in QgsOwsConnection.connectionList("wfs")}
    report(any(u.rstrip("/") == base for u in wfs.values()), "qgis.import.wfs", "WFS/OAPIF connections: %s" % wfs)

    # A layer from each imported connection.
    wmts_url = next((u for u in wms.values() if "/wmts" in u), "")
    wmts = QgsRasterLayer(raster_uri(wmts_url, PLAN, "normal", tileMatrixSet="PM_0_19"), "wmts", "wms")
    report(wmts.isValid(), "qgis.connection.wmts", "valid" if wmts.isValid() else wmts.error().summary())
    wms_layer = QgsRasterLayer(raster_uri(base + "/wms", ORTHO, ""), "wms", "wms")
    report(wms_layer.isValid(), "qgis.connection.wms",
           "valid" if wms_layer.isValid() else wms_layer.error().summary())
    if wms_layer.isValid():
        drawn, errors = render(wms_layer, "wms", out)
        report(drawn > 0 and not errors, "qgis.render.wms", "%d sampled pixels drawn, errors %s" % (
            drawn, [e.message for e in errors]))
    # A project saved against data.geopf.fr with the generic matrix set (tileMatrixSet=PM), pointed
    # at the gateway: the layer opens and draws (QGIS 3.22 crashed on a set the layer lacked).
    pm_uri = ("contextualWMSLegend=0&crs=EPSG:3857&dpiMode=7&featureCount=10&format=image/png&layers=%s"
              "&styles=normal&tileMatrixSet=PM&url=%s/wmts?SERVICE%%3DWMTS%%26REQUEST%%3DGetCapabilities" % (PLAN, base))
    pm_layer = QgsRasterLayer(pm_uri, "pm", "wms")
    report(pm_layer.isValid(), "qgis.wmts.pm", "tileMatrixSet=PM opens")
    if pm_layer.isValid():
        drawn, errors = render(pm_layer, "wmts-pm", out)
        report(drawn > 0 and not errors, "qgis.render.wmts.pm", "%d sampled pixels drawn, errors %s" % (
            drawn, [e.message for e in errors]))
    oapif_url = next(iter(wfs.values()), base)
    oapif = QgsVectorLayer("url='%s' typename='addresses'" % oapif_url, "addresses", "OAPIF")
    report(oapif.isValid(), "qgis.connection.oapif", "addresses from %s" % oapif_url)

    # A .qlr from the kiosk for each kind of layer, dropped into a Lambert-93 project: XYZ tiles, a
    # WMS-only layer, a WMTS layer on a WGS84 matrix set, a WFS feature type (as an OGC API
    # collection), each with a valid CRS, drawn in Lambert-93.
    project = QgsProject.instance()
    for layer_id, kind in [(PLAN, "xyz"), (WMS_ONLY, "wms"), (WGS84_ONLY, "wmts"), (COMMUNE, "oapif")]:
        project.clear()
        project.setCrs(QgsCoordinateReferenceSystem("EPSG:2154"))
        qlr = download("%s/catalog/%s.qlr" % (base, urllib.parse.quote(layer_id)), ".qlr")
        ok, message = QgsLayerDefinition.loadLayerDefinition(qlr, project, project.layerTreeRoot())
        layers = list(project.mapLayers().values())
        valid = [layer for layer in layers if layer.isValid() and base in urllib.parse.unquote(layer.source())]
        report(ok and len(valid) == 1, "qgis.qlr.%s" % kind, "%s: %s; layers %s" % (
            layer_id, message or "loaded", [(layer.name(), layer.providerType(), layer.isValid()) for layer in layers]))
        if not valid:
            continue
        crs = valid[0].crs()
        report(crs.isValid(), "qgis.qlr.%s.crs" % kind, "%s valid in an EPSG:2154 project" % crs.authid())
        if kind == "oapif":
            report("restrictToRequestBBOX='1'" in valid[0].source(), "qgis.qlr.oapif.bbox",
                   "asks for the visible extent only")
            count = sum(1 for _ in valid[0].getFeatures())
            report(count > 0, "qgis.qlr.oapif.features", "%d feature(s)" % count)
        elif kind == "wmts":
            # Not drawn here: fake-geopf takes every matrix for a square 2^z one (PM) and answers the
            # WGS84G tiles east of the meridian "tile out of range" (the real service serves them).
            report("tileMatrixSet=WGS84G" in valid[0].source(), "qgis.qlr.wmts.matrix",
                   "on its own matrix set through the gateway's WMTS")
        else:
            drawn, errors = render(valid[0], "qlr-" + kind, out, QgsCoordinateReferenceSystem("EPSG:2154"))
            report(drawn > 0 and not errors, "qgis.render.qlr.%s" % kind,
                   "%d sampled pixels drawn in Lambert-93, errors %s" % (drawn, [e.message for e in errors]))

    failed = results.count(False)
    print("qgis-basemaps: %d passed, %d failed" % (results.count(True), failed), flush=True)
    app.exitQgis()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
