"""A map tool that shows the address or parcel under a click (the gateway's reverse-geocode)."""
from qgis.core import QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsProject
from qgis.gui import QgsMapToolEmitPoint

from .gateway import Gateway, GatewayError

WGS84 = QgsCoordinateReferenceSystem("EPSG:4326")


def describe(gateway, lon, lat):
    """What lies at lon, lat: the nearest address and parcel, as one line."""
    fc = gateway.get_json("/processes/reverse-geocode/execution",
                          {"lon": "%.7f" % lon, "lat": "%.7f" % lat, "index": "address,parcel", "limit": 2})
    parts = []
    for f in fc.get("features", []):
        p = f.get("properties") or {}
        if p.get("_type") == "parcel":
            parts.append("parcel %s" % (p.get("id") or ""))
        else:
            parts.append(p.get("label") or p.get("name") or "")
    return " · ".join(x for x in parts if x) or "nothing found here"


class ReverseGeocodeTool(QgsMapToolEmitPoint):
    def __init__(self, iface, gateway_url, authcfg=""):
        super().__init__(iface.mapCanvas())
        self.iface = iface
        self.gateway = Gateway(gateway_url, authcfg)
        self.canvasClicked.connect(self.clicked)

    def clicked(self, point, _button):
        crs = self.canvas().mapSettings().destinationCrs()
        p = QgsCoordinateTransform(crs, WGS84, QgsProject.instance()).transform(point)
        try:
            text = describe(self.gateway, p.x(), p.y())
        except GatewayError as e:
            self.iface.messageBar().pushWarning("Géoplateforme", str(e))
            return
        self.iface.messageBar().pushInfo("Géoplateforme", text)
