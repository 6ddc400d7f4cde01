"""The locator filter (QGIS's search bar): suggestions from the gateway's autocomplete process;
choosing one zooms there and flashes it. fetchResults runs in QGIS's locator thread, never the UI's."""
from qgis.core import (QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsGeometry, QgsLocatorFilter,
                       QgsLocatorResult, QgsPointXY, QgsProject)

from .gateway import Gateway, GatewayError

WGS84 = QgsCoordinateReferenceSystem("EPSG:4326")


def _get_data(result):
    """The [lon, lat] of a result (a "lon,lat" string: plain text is safe in a QVariant across
    QGIS versions; `userData` is an attribute in 3.22 and a method in 3.40)."""
    data = result.userData
    text = data() if callable(data) else data
    lon, lat = (float(v) for v in str(text).split(","))
    return [lon, lat]


class GeopfLocatorFilter(QgsLocatorFilter):
    def __init__(self, gateway_url, authcfg="", iface=None):
        super().__init__()
        self.gateway_url = gateway_url
        self.authcfg = authcfg
        self.iface = iface

    def clone(self):
        return GeopfLocatorFilter(self.gateway_url, self.authcfg, self.iface)

    def name(self):
        return "geopf_gateway"

    def displayName(self):  # noqa: N802
        return "Géoplateforme addresses and places"

    def prefix(self):
        return "ign"

    def priority(self):
        return QgsLocatorFilter.Medium

    def search(self, text, limit=8):
        """Suggestions for `text`: [(label, kind, lon, lat)]."""
        if len(text.strip()) < 3:
            return []
        fc = Gateway(self.gateway_url, self.authcfg).get_json(
            "/processes/autocomplete/execution", {"text": text.strip(), "maximumResponses": limit},
            timeout_ms=5000)
        out = []
        for f in fc.get("features", []):
            props = f.get("properties") or {}
            coords = (f.get("geometry") or {}).get("coordinates") or []
            if len(coords) >= 2:
                label = props.get("fulltext") or props.get("label") or text
                kind = "place" if props.get("country") == "PositionOfInterest" else "address"
                out.append((label, kind, coords[0], coords[1]))
        return out

    def fetchResults(self, string, context, feedback):  # noqa: N802
        try:
            found = self.search(string)
        except GatewayError:
            return
        for label, kind, lon, lat in found:
            if feedback.isCanceled():
                return
            result = QgsLocatorResult(self, label, "%r,%r" % (lon, lat))
            result.group = kind
            self.resultFetched.emit(result)

    def triggerResult(self, result):  # noqa: N802
        lon, lat = _get_data(result)
        if self.iface is None:
            return
        canvas = self.iface.mapCanvas()
        crs = canvas.mapSettings().destinationCrs()
        point = QgsCoordinateTransform(WGS84, crs, QgsProject.instance()).transform(QgsPointXY(lon, lat))
        canvas.setCenter(point)
        canvas.zoomScale(5000)
        canvas.flashGeometries([QgsGeometry.fromPointXY(point)], crs)
        canvas.refresh()
