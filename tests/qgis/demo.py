"""QGIS on a demo gateway (`geopf-gateway serve --demo`), as a trainee would use it with no network:
the Plan IGN as an XYZ layer and the addresses of Montpellier as an OGC API Features layer, both
rendered over Montpellier into one picture; the basemap must show the drawn demo grid, the layer the
recorded addresses.

Usage: GEOPF_URL=http://gateway [OUT_DIR=dir] python3 demo.py
Prints PASS/FAIL lines and a closing "qgis-demo: N passed, N failed" line; exits 1 on failure.
"""
import os
import sys
import urllib.parse

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from qgis.core import (QgsApplication, QgsCoordinateReferenceSystem, QgsCoordinateTransform,  # noqa: E402
                       QgsFeatureRequest, QgsMapRendererParallelJob, QgsMapSettings, QgsProject,
                       QgsRasterLayer, QgsRectangle, QgsVectorLayer)
from qgis.PyQt.QtCore import QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402

results = []
# Around the Place Georges Frêche, Montpellier, in WGS 84 and in WebMercator.
AREA = QgsRectangle(3.894, 43.596, 3.900, 43.601)


def report(ok, name, reason):
    results.append(ok)
    print("%s %s: %s" % ("PASS" if ok else "FAIL", name, reason), flush=True)


def main():
    base = os.environ["GEOPF_URL"].rstrip("/")
    out_dir = os.environ.get("OUT_DIR", ".")
    os.makedirs(out_dir, exist_ok=True)
    app = QgsApplication([], False)
    app.initQgis()
    wgs84 = QgsCoordinateReferenceSystem("EPSG:4326")
    mercator = QgsCoordinateReferenceSystem("EPSG:3857")
    extent = QgsCoordinateTransform(wgs84, mercator, QgsProject.instance()).transformBoundingBox(AREA)

    tiles = "%s/tiles/GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2/{z}/{x}/{y}.png" % base
    basemap = QgsRasterLayer("type=xyz&zmin=0&zmax=19&url=" + urllib.parse.quote(tiles, safe=":/{}"),
                             "Plan IGN (demo)", "wms")
    report(basemap.isValid(), "basemap", "the demo Plan IGN opens as an XYZ layer")

    addresses = QgsVectorLayer("url='%s' typename='addresses'" % base, "addresses", "OAPIF")
    report(addresses.isValid(), "addresses", "the addresses collection opens as an OAPIF layer")
    labels = []
    if addresses.isValid():
        request = QgsFeatureRequest().setFilterRect(AREA)
        labels = [str(f["label"]) for f in addresses.getFeatures(request)]
        report(labels and all("Montpellier" in label for label in labels), "addresses in view",
               "%d recorded addresses of Montpellier in the area (%s)" % (len(labels), labels[:2]))

    settings = QgsMapSettings()
    settings.setLayers([layer for layer in (addresses, basemap) if layer.isValid()])
    settings.setDestinationCrs(mercator)
    settings.setExtent(extent)
    settings.setOutputSize(QSize(512, 512))
    settings.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    path = os.path.join(out_dir, "qgis-demo.png")
    image.save(path)
    colours = {image.pixel(x, y) for x in range(0, 512, 4) for y in range(0, 512, 4)}
    white = QColor(255, 255, 255).rgb()
    painted = sum(1 for x in range(0, 512, 4) for y in range(0, 512, 4) if image.pixel(x, y) != white)
    report(painted > 0.9 * 128 * 128 and len(colours) > 3, "render",
           "basemap and addresses drawn (%d colours, %d of %d samples painted) -> %s"
           % (len(colours), painted, 128 * 128, path))
    errors = [e.message for e in job.errors()]
    report(not errors, "render errors", "none" if not errors else "; ".join(errors))

    passed = sum(1 for r in results if r)
    print("qgis-demo: %d passed, %d failed" % (passed, len(results) - passed), flush=True)
    # The layers and the job go before QGIS does (3.22 crashes at exit otherwise).
    del job, addresses, basemap
    app.exitQgis()
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
