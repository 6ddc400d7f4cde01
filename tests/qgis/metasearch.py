"""QGIS's MetaSearch (its own OGC API - Records backend, `OARecSearch`) against the gateway's
catalogue: the connection file imports, a search for "ortho" finds the orthophotos first with a link
MetaSearch can add as a WMS/WMTS connection, "plan ign" finds the raster and the vector Plan IGN,
"cadastre" the cadastral parcels, and the layer that connection gives renders.

    GEOPF_URL=http://127.0.0.1:8080 OUT_DIR=out run.sh tests/qgis/metasearch.py
"""
import os
import sys
import tempfile
import urllib.request
import xml.etree.ElementTree as ET

from qgis.core import (QgsApplication, QgsCoordinateReferenceSystem, QgsMapRendererParallelJob, QgsMapSettings,
                       QgsRasterLayer, QgsRectangle)
from qgis.PyQt.QtCore import QSize

GW = os.environ["GEOPF_URL"].rstrip("/")
OUT = os.environ.get("OUT_DIR", tempfile.mkdtemp())
os.makedirs(OUT, exist_ok=True)
QgsApplication.setPrefixPath("/usr", True)
app = QgsApplication([], False)
app.initQgis()
sys.path.insert(0, os.path.join(QgsApplication.pkgDataPath(), "python", "plugins"))
from MetaSearch import link_types  # noqa: E402
from MetaSearch.search_backend import OARecSearch  # noqa: E402
from MetaSearch.util import clean_ows_url  # noqa: E402

failures = []


def check(name, ok, detail=""):
    print("%s %s: %s" % ("PASS" if ok else "FAIL", name, detail))
    if not ok:
        failures.append(name)


# The connection file, read as MetaSearch's "Load" reads it.
xml = urllib.request.urlopen(GW + "/catalog/metasearch-connections.xml").read()
csw = ET.fromstring(xml).findall("csw")
check("connections-file", len(csw) == 1 and csw[0].get("catalog-type") == "OGC API - Records",
      "%s -> %s" % (csw[0].get("name"), csw[0].get("url")))
url = csw[0].get("url")

catalog = OARecSearch(url, 30, None)
check("catalog", "catalog" in catalog.base_url + "/collections/" + catalog.record_collection, catalog.conn.title)

WMS_TYPES = [t.upper() for t in link_types.WMSWMST_LINK_TYPES]


def search(words):
    catalog.query_records(keywords=words, limit=10, offset=1)
    return catalog.records()


records = search("ortho")
ids = [r["identifier"] for r in records]
check("search.ortho", "ORTHOIMAGERY.ORTHOPHOTOS" in ids[:3], "%d of %s: %s" % (len(records), catalog.matches, ids[:5]))
ortho = next(r for r in records if r["identifier"] == "ORTHOIMAGERY.ORTHOPHOTOS")
services = [catalog.parse_link(link) for link in ortho["links"]]
wms_links = [s for s in services if (s.get("protocol") or "").upper() in WMS_TYPES]
check("ortho.link", bool(wms_links), [s.get("protocol") for s in services])
check("ortho.bbox", ortho["bbox"] is not None, ortho["bbox"])

plan = [r["identifier"] for r in search("plan ign")]
check("search.plan-ign", {"GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2", "PLAN.IGN"} <= set(plan[:3]),
      "raster and vector: %s" % plan[:5])

cadastre = [r["identifier"] for r in search("cadastre")]
check("search.cadastre", "CADASTRALPARCELS.PARCELLAIRE_EXPRESS" in cadastre[:3], cadastre[:5])

# What MetaSearch's "Add WMS/WMTS" saves as the connection URL, then the layer from it, rendered.
wmts = next(s for s in wms_links if s["protocol"].upper() == "OGC:WMTS")
connection = clean_ows_url(wmts["url"])
uri = ("crs=EPSG:3857&dpiMode=7&format=image/jpeg&layers=ORTHOIMAGERY.ORTHOPHOTOS&styles=normal"
       "&tileMatrixSet=PM_0_19&url=%s" % connection)
layer = QgsRasterLayer(uri, "ortho", "wms")
check("layer.valid", layer.isValid(), layer.error().summary() if not layer.isValid() else connection)
if layer.isValid():
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
    settings.setExtent(QgsRectangle(430000, 5400000, 440000, 5410000))
    settings.setOutputSize(QSize(256, 256))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    path = os.path.join(OUT, "metasearch-ortho.png")
    image.save(path)
    drawn = sum(1 for x in range(0, 256, 8) for y in range(0, 256, 8) if image.pixelColor(x, y).alpha() > 0)
    check("layer.render", drawn > 0 and not job.errors(), "%d sampled pixels drawn -> %s" % (drawn, path))

print("metasearch: %d failed" % len(failures))
app.exitQgis()
sys.exit(1 if failures else 0)
