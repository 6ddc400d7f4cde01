"""Loads the GeoJSON of process executions (GET .../execution?...) as QGIS vector layers, the way a
user does with "Add Vector Layer -> Protocol: HTTP(S)", and renders them.

Usage: python3 process_layers.py NAME=URL [NAME=URL ...]     (OUT_DIR: where PNGs go, default .)
Runs with Debian's /usr/bin/python3 (PyQGIS 3.22) or ../shared/tools/modern-qgis/run.sh (3.40).
Prints PASS/FAIL lines and a closing "qgis-processes: N passed, N failed" line; exits 1 on failure.
"""
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from qgis.core import (QgsApplication, QgsMapRendererParallelJob, QgsMapSettings,  # noqa: E402
                       QgsRectangle, QgsVectorLayer, QgsWkbTypes)
from qgis.PyQt.QtCore import QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402

results = []


def report(ok, name, reason):
    results.append(ok)
    print("%s %s: %s" % ("PASS" if ok else "FAIL", name, reason), flush=True)


def render(name, layer, out):
    ms = QgsMapSettings()
    ms.setLayers([layer])
    ms.setDestinationCrs(layer.crs())
    ms.setOutputSize(QSize(400, 400))
    ext = QgsRectangle(layer.extent())
    ext.scale(1.1)
    ms.setExtent(ext)
    ms.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererParallelJob(ms)
    job.start()
    job.waitForFinished()
    img = job.renderedImage()
    path = os.path.join(out, "qgis-process-%s.png" % name)
    img.save(path, "PNG")
    drawn = sum(1 for y in range(0, img.height(), 2) for x in range(0, img.width(), 2)
                if img.pixel(x, y) & 0xFFFFFF != 0xFFFFFF)
    return drawn / ((img.height() // 2) * (img.width() // 2)), path


def main():
    out = os.environ.get("OUT_DIR", ".")
    os.makedirs(out, exist_ok=True)
    app = QgsApplication([], False)
    app.initQgis()
    for arg in sys.argv[1:]:
        name, url = arg.split("=", 1)
        layer = QgsVectorLayer(url, name, "ogr")
        if not layer.isValid():
            report(False, name + ".valid", "QGIS could not open %s" % url)
            continue
        kind = QgsWkbTypes.geometryDisplayString(QgsWkbTypes.geometryType(layer.wkbType()))
        report(True, name + ".valid", "%d feature(s), %s, fields %s" % (
            layer.featureCount(), kind, [f.name() for f in layer.fields()][:8]))
        feats = list(layer.getFeatures())
        with_geom = [f for f in feats if f.hasGeometry() and not f.geometry().isEmpty()]
        report(bool(with_geom), name + ".features", "%d feature(s) with geometry" % len(with_geom))
        frac, path = render(name, layer, out)
        report(frac >= 0.001, name + ".render", "%.2f%% of pixels drawn -> %s" % (100 * frac, path))
        del layer
    passed, failed = results.count(True), results.count(False)
    print("qgis-processes: %d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
