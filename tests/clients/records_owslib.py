"""OWSLib's OGC API - Records client against the gateway's catalogue: the records collection is
found among the collections, a search for "cadastre" returns the cadastral parcels first, one record
reads back, and OWSLib's Features client still lists the feature collections.

    python tests/clients/records_owslib.py http://127.0.0.1:8080
"""
import sys

from owslib.ogcapi.features import Features
from owslib.ogcapi.records import Records

url = sys.argv[1].rstrip("/")
failures = []


def check(name, ok, detail=""):
    print("%s owslib.records.%s: %s" % ("PASS" if ok else "FAIL", name, detail))
    if not ok:
        failures.append(name)


records = Records(url)
check("collections", records.records() == ["catalog"], records.records())
found = records.collection_items("catalog", q="cadastre", limit=5)
ids = [f["id"] for f in found["features"]]
check("search", ids[:1] == ["CADASTRALPARCELS.PARCELLAIRE_EXPRESS"], "%s of %s: %s" % (found["numberReturned"], found["numberMatched"], ids))
one = records.collection_item("catalog", "ORTHOIMAGERY.ORTHOPHOTOS")
types = [link.get("type") for link in one["links"]]
check("record", "OGC:WMTS" in types and one["properties"]["title"], types)
features = Features(url)
listed = [c["id"] for c in features.collections()["collections"]]
check("features", "addresses" in listed and "catalog" in listed, "%d collections" % len(listed))
sys.exit(1 if failures else 0)
