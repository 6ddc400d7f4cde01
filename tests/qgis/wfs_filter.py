"""QGIS on a WFS-backed collection: the layer opens, a subset string (a layer filter) is sent to the
gateway as CQL2 and reaches the WFS as ECQL (checked in the fake upstream's request log), and the
filtered features render.

Usage: GEOPF_URL=http://gateway GEOPF_FAKE=http://fake-geopf python3 wfs_filter.py COLLECTION
Prints PASS/FAIL lines and a closing "qgis-wfs: N passed, N failed" line; exits 1 on failure.
"""
import json
import os
import sys
import urllib.request

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from qgis.core import (Qgis, QgsApplication, QgsFeatureRequest, QgsMapRendererParallelJob,  # noqa: E402
                       QgsMapSettings, QgsNetworkAccessManager, QgsNetworkRequestParameters, QgsRectangle,
                       QgsVectorLayer)
from qgis.PyQt.QtCore import QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402

results = []


def report(ok, name, reason):
    results.append(ok)
    print("%s %s: %s" % ("PASS" if ok else "FAIL", name, reason), flush=True)


def fake_log(fake):
    with urllib.request.urlopen(fake + "/__fake/log", timeout=10) as r:
        return json.load(r)


def main():
    base, fake, coll = os.environ["GEOPF_URL"], os.environ["GEOPF_FAKE"], sys.argv[1]
    out = os.environ.get("OUT_DIR", ".")
    app = QgsApplication([], False)
    app.initQgis()
    sent = []
    QgsNetworkAccessManager.instance().requestAboutToBeCreated[QgsNetworkRequestParameters].connect(
        lambda p: sent.append(p.request().url().toString()))
    urllib.request.urlopen(urllib.request.Request(fake + "/__fake/log", method="DELETE"), timeout=10)
    uri = "url='%s' typename='%s' restrictToRequestBBOX='1'" % (base, coll)
    layer = QgsVectorLayer(uri, "wfs", "OAPIF")
    report(layer.isValid(), "qgis-wfs.valid", "%s (QGIS %s)" % (uri, Qgis.QGIS_VERSION))
    if not layer.isValid():
        return 1
    # Penmarch (29158, 5 320 inhabitants): the one commune of the fake's recording.
    subset = "\"code_insee\" = '29158' AND \"population\" > 1000"
    layer.setSubsetString(subset)
    feats = list(layer.getFeatures(QgsFeatureRequest().setLimit(100)))
    QgsApplication.processEvents()
    report(len(feats) == 1 and all(f["code_insee"] == "29158" for f in feats), "qgis-wfs.subset",
           "%d feature(s) for %s" % (len(feats), subset))
    filters = [u for u in sent if "filter=" in u]
    log = fake_log(fake)
    ecql = [r["query"] for r in log if "cql_filter" in r["query"].lower()]
    pushed = any("code_insee = '29158'" in urllib.parse.unquote_plus(q) for q in ecql)
    if Qgis.QGIS_VERSION_INT >= 33000:
        report(pushed, "qgis-wfs.filter-pushed",
               "QGIS sent %s; the WFS received CQL_FILTER=%s" % (
                   [urllib.parse.unquote(u.split("filter=", 1)[1].split("&")[0]) for u in filters][:1],
                   [urllib.parse.unquote_plus(q.split("CQL_FILTER=", 1)[-1]) for q in ecql][:1]))
    else:
        print("INFO qgis-wfs.filter: QGIS %s sent %d filter request(s): %s" % (
            Qgis.QGIS_VERSION, len(filters), filters[:1]), flush=True)
    # The advanced comparison operators and IS NULL, each pushed whole to the WFS (QGIS >= 3.30 does
    # when the gateway declares them), and alone or beside another condition.
    if Qgis.QGIS_VERSION_INT >= 33000:
        for name, expr, needle in [
            ("like", "\"nom_officiel\" LIKE 'Penm%'", "LIKE 'Penm%'"),
            ("like-and", "\"nom_officiel\" LIKE 'Penm%' AND \"population\" > 1000", "LIKE 'Penm%'"),
            ("in", "\"code_insee\" IN ('29158', '29001')", "IN ('29158', '29001')"),
            ("between", "\"population\" BETWEEN 1000 AND 10000", "BETWEEN 1000 AND 10000"),
            ("is-null", "\"code_postal\" IS NOT NULL", "IS NOT NULL"),
        ]:
            urllib.request.urlopen(urllib.request.Request(fake + "/__fake/log", method="DELETE"), timeout=10)
            layer.setSubsetString(expr)
            got = list(layer.getFeatures(QgsFeatureRequest().setLimit(100)))
            received = [urllib.parse.unquote_plus(r["query"]) for r in fake_log(fake) if "cql_filter" in r["query"].lower()]
            pushed = [q.split("CQL_FILTER=", 1)[-1].split("&")[0] for q in received]
            report(any(needle in q for q in pushed) and len(got) == 1, "qgis-wfs.push.%s" % name,
                   "%s -> CQL_FILTER %s, %d feature(s)" % (expr, pushed[:1], len(got)))
        layer.setSubsetString(subset)
    ext = QgsRectangle()
    for f in feats:
        ext.combineExtentWith(f.geometry().boundingBox())
    if not ext.isEmpty():
        ext.scale(1.2)
        ms = QgsMapSettings()
        ms.setLayers([layer])
        ms.setDestinationCrs(layer.crs())
        ms.setOutputSize(QSize(400, 400))
        ms.setExtent(ext)
        ms.setBackgroundColor(QColor(255, 255, 255))
        job = QgsMapRendererParallelJob(ms)
        job.start()
        job.waitForFinished()
        img = job.renderedImage()
        img.save(os.path.join(out, "qgis-wfs.png"), "PNG")
        drawn = sum(1 for y in range(0, 400, 2) for x in range(0, 400, 2) if img.pixel(x, y) & 0xFFFFFF != 0xFFFFFF)
        report(drawn / 40000 > 0.01, "qgis-wfs.render", "%.1f%% of pixels drawn" % (100 * drawn / 40000))
    else:
        report(False, "qgis-wfs.render", "no feature to render")
    del layer
    passed, failed = results.count(True), results.count(False)
    print("qgis-wfs: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    import urllib.parse  # noqa: F401
    sys.exit(main())
