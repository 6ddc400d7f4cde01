"""A map tool that shows the address or parcel under a click (the gateway's reverse-geocode)."""
from qgis.core import QgsApplication, QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsProject, QgsTask
from qgis.gui import QgsMapToolEmitPoint

from .gateway import Gateway

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
        self.task = None
        self.canvasClicked.connect(self.clicked)

    def clicked(self, point, _button):
        """Asks the gateway in a background task: QGIS stays responsive while it answers."""
        crs = self.canvas().mapSettings().destinationCrs()
        p = QgsCoordinateTransform(crs, WGS84, QgsProject.instance()).transform(point)
        self.task = QgsTask.fromFunction("Géoplateforme: what is here?",
                                         lambda _task: describe(self.gateway, p.x(), p.y()),
                                         on_finished=self.show)
        QgsApplication.taskManager().addTask(self.task)

    def show(self, exception, text=None):
        if exception is not None:
            self.iface.messageBar().pushWarning("Géoplateforme", str(exception))
        else:
            self.iface.messageBar().pushInfo("Géoplateforme", text)
