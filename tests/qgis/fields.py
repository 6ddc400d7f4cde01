"""QGIS on a gateway that has never been asked anything: every collection opens with its attribute
columns (QGIS learns them from the first `items?limit=10` page), and a page of the visible area
carries their values.

    GEOPF_URL=http://gateway python3 tests/qgis/fields.py
"""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from qgis.core import Qgis, QgsApplication, QgsFeatureRequest, QgsRectangle, QgsVectorLayer  # noqa: E402

GW = os.environ["GEOPF_URL"].rstrip("/")
app = QgsApplication([], False)
app.initQgis()
failures = []
for collection, column in [("addresses", "label"), ("poi", "toponym"), ("parcels", "id"),
                           ("LIMITES_ADMINISTRATIVES_EXPRESS.LATEST:commune", "nom_officiel")]:
    layer = QgsVectorLayer("url='%s/' typename='%s' restrictToRequestBBOX='1'" % (GW, collection), collection, "OAPIF")
    names = [f.name() for f in layer.fields()]
    ok = layer.isValid() and column in names
    print("%s qgis-fields.%s: %d columns %s (QGIS %s)" % ("PASS" if ok else "FAIL", collection, len(names), names[:6],
                                                         Qgis.QGIS_VERSION))
    if not ok:
        failures.append(collection)
# The addresses of a box of Montpellier come with their values.
layer = QgsVectorLayer("url='%s/' typename='addresses' restrictToRequestBBOX='1'" % GW, "addresses", "OAPIF")
request = QgsFeatureRequest().setFilterRect(QgsRectangle(3.894, 43.596, 3.900, 43.601))
labels = [f["label"] for f in layer.getFeatures(request)]
ok = bool(labels) and all(isinstance(v, str) and v for v in labels)
print("%s qgis-fields.values: %d addresses in the box, labels %s" % ("PASS" if ok else "FAIL", len(labels), labels[:2]))
if not ok:
    failures.append("values")
print("qgis-fields: %d failed" % len(failures), flush=True)
# QGIS 3.22 may crash tearing down providers still alive at exit: leave without teardown.
os._exit(1 if failures else 0)
