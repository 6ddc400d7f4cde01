"""A Processing provider generated from the gateway's OGC API Processes: one algorithm per process,
its parameters built from the process description's schemas (a point picked on the map, a point or
line layer for GeoJSON MultiPoint / LineString inputs, a table or CSV file for a `text/csv` input —
uploaded to the gateway —, enums, bounded numbers, booleans, text), run as a gateway job with
progress, its GeoJSON result loaded as a layer. A process the gateway adds appears after a refresh,
with no plugin change."""
import csv
import io
import json
import time

from qgis.core import (QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsProcessing,
                       QgsProcessingAlgorithm, QgsProcessingContext, QgsProcessingException,
                       QgsProcessingParameterBoolean, QgsProcessingParameterDefinition,
                       QgsProcessingParameterEnum, QgsProcessingParameterFeatureSource,
                       QgsProcessingParameterFileDestination, QgsProcessingParameterNumber,
                       QgsProcessingParameterPoint, QgsProcessingParameterString, QgsProcessingProvider)
from qgis.PyQt.QtGui import QIcon

from .gateway import Gateway, GatewayError

WGS84 = QgsCoordinateReferenceSystem("EPSG:4326")


LON_LAT = "^-?[0-9.]+,-?[0-9.]+$"


def geometry_kind(schema):
    """What geometry an input takes, from its schema's alternatives: "points" (a GeoJSON
    MultiPoint), "line" (a LineString), "point" (a GeoJSON Point or "lon,lat"), else None."""
    alternatives = schema.get("oneOf") or [schema]
    hints = " ".join((a.get("description") or "") for a in alternatives)
    if "MultiPoint" in hints:
        return "points"
    if "LineString" in hints:
        return "line"
    if ("GeoJSON Point" in hints or "lon,lat" in hints
            or any(a.get("pattern") == LON_LAT or a.get("format") == "lonlat" for a in alternatives)):
        return "point"
    return None


def parameter_for(name, spec):
    """The Processing parameter of one process input: (parameter, kind)."""
    schema = spec.get("schema") or {}
    title = spec.get("title") or name
    optional = int(spec.get("minOccurs", 1)) == 0
    geometry = geometry_kind(schema)
    if geometry == "point":
        p, kind = QgsProcessingParameterPoint(name, title, optional=optional), "point"
    elif geometry == "points":
        p = QgsProcessingParameterFeatureSource(name, title, [QgsProcessing.TypeVectorPoint], optional=optional)
        kind = "points"
    elif geometry == "line":
        p = QgsProcessingParameterFeatureSource(name, title, [QgsProcessing.TypeVectorLine], optional=optional)
        kind = "line"
    elif schema.get("contentMediaType") == "text/csv":
        # Any layer or table: a CSV file opens as one in the widget's file browser.
        p = QgsProcessingParameterFeatureSource(name, title, [QgsProcessing.TypeVector], optional=optional)
        kind = "table"
    elif "enum" in schema:
        options = [str(o) for o in schema["enum"]]
        default = options.index(str(schema["default"])) if str(schema.get("default")) in options else None
        p, kind = QgsProcessingParameterEnum(name, title, options, defaultValue=default, optional=optional), "enum"
    elif schema.get("type") in ("number", "integer"):
        integer = schema.get("type") == "integer"
        p = QgsProcessingParameterNumber(
            name, title, QgsProcessingParameterNumber.Integer if integer else QgsProcessingParameterNumber.Double,
            defaultValue=schema.get("default"), optional=optional)
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        if low is not None:
            p.setMinimum(low)
        if schema.get("maximum") is not None:
            p.setMaximum(schema["maximum"])
        kind = "integer" if integer else "number"
    elif schema.get("type") == "boolean":
        p, kind = QgsProcessingParameterBoolean(name, title, defaultValue=schema.get("default", False), optional=optional), "boolean"
    else:
        multiline = name in ("data",)
        p, kind = QgsProcessingParameterString(name, title, multiLine=multiline, optional=optional), "text"
    p.setHelp(spec.get("description") or "")
    return p, kind


class GatewayAlgorithm(QgsProcessingAlgorithm):
    def __init__(self, gateway_url, authcfg, description):
        super().__init__()
        self.gateway_url = gateway_url
        self.authcfg = authcfg
        self.description = description
        self.kinds = {}

    def createInstance(self):  # noqa: N802
        return GatewayAlgorithm(self.gateway_url, self.authcfg, self.description)

    def name(self):
        return self.description["id"]

    def displayName(self):  # noqa: N802
        return self.description.get("title") or self.name()

    def shortHelpString(self):  # noqa: N802
        return self.description.get("description") or ""

    def initAlgorithm(self, config=None):  # noqa: N802
        for name, spec in (self.description.get("inputs") or {}).items():
            p, kind = parameter_for(name, spec)
            self.kinds[name] = (kind, p)
            self.addParameter(p)
        self.addParameter(QgsProcessingParameterFileDestination("OUTPUT", "Result", "GeoJSON (*.geojson)"))

    def inputs(self, parameters, context):
        """The execute request's inputs from the dialog's values; empty optional ones are left out."""
        out = {}
        for name, (kind, p) in self.kinds.items():
            if parameters.get(name) in (None, "") and p.flags() & QgsProcessingParameterDefinition.FlagOptional:
                continue
            if kind == "point":
                pt = self.parameterAsPoint(parameters, name, context, WGS84)
                out[name] = "%.7f,%.7f" % (pt.x(), pt.y())
            elif kind in ("points", "line", "table"):
                source = self.parameterAsSource(parameters, name, context)
                if source is None:
                    raise QgsProcessingException("%s: no layer" % name)
                if kind == "points":
                    out[name] = points_of(source, context)
                elif kind == "line":
                    out[name] = line_of(source, context)
                else:
                    out[name] = {"href": self.upload(csv_of(source))}
            elif kind == "enum":
                out[name] = p.options()[self.parameterAsEnum(parameters, name, context)]
            elif kind == "integer":
                out[name] = self.parameterAsInt(parameters, name, context)
            elif kind == "number":
                out[name] = self.parameterAsDouble(parameters, name, context)
            elif kind == "boolean":
                out[name] = self.parameterAsBoolean(parameters, name, context)
            else:
                text = self.parameterAsString(parameters, name, context)
                try:  # JSON inputs (lists, objects) may be typed as JSON
                    out[name] = json.loads(text) if text.strip()[:1] in "[{" else text
                except ValueError:
                    out[name] = text
        return out

    def upload(self, text):
        """Keeps a large input at the gateway (`POST /uploads`); its href is the input."""
        try:
            return Gateway(self.gateway_url, self.authcfg).post_raw("/uploads", text.encode("utf-8"), "text/csv")["href"]
        except (GatewayError, KeyError) as e:
            raise QgsProcessingException("the table could not be uploaded: %s" % e)

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        gateway = Gateway(self.gateway_url, self.authcfg)
        body = {"inputs": self.inputs(parameters, context)}
        try:
            _, location, job = gateway.post_json("/processes/%s/execution" % self.name(), body, {"Prefer": "respond-async"})
            job_path = "/jobs/%s" % job["jobID"]
            while job.get("status") in ("accepted", "running"):
                if feedback.isCanceled():
                    gateway.delete(job_path)
                    raise QgsProcessingException("cancelled; the gateway job was dismissed")
                feedback.setProgress(job.get("progress") or 0)
                time.sleep(0.2)
                job = gateway.get_json(job_path)
            if job.get("status") != "successful":
                raise QgsProcessingException(job.get("message") or "the job failed")
            results = gateway.get_json(job_path + "/results")
        except GatewayError as e:
            raise QgsProcessingException(str(e))
        value = (results.get("result") or {}).get("value")
        path = self.parameterAsFileOutput(parameters, "OUTPUT", context)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(value, f)
        context.addLayerToLoadOnCompletion(path, QgsProcessingContext.LayerDetails(self.displayName(), context.project(), "OUTPUT"))
        feedback.setProgress(100)
        return {"OUTPUT": path}


def _to_wgs84(source, context):
    return QgsCoordinateTransform(source.sourceCrs(), WGS84, context.transformContext())


def points_of(source, context):
    """[[lon, lat], …] of every point of a point layer (multipoints give all theirs)."""
    transform, out = _to_wgs84(source, context), []
    for feature in source.getFeatures():
        geometry = feature.geometry()
        if geometry.isEmpty():
            continue
        geometry.transform(transform)
        points = geometry.asMultiPoint() if geometry.isMultipart() else [geometry.asPoint()]
        out.extend([p.x(), p.y()] for p in points)
    if not out:
        raise QgsProcessingException("the point layer has no point")
    return out


def line_of(source, context):
    """The coordinates of the first line of a line layer (of a multi-line, its first part)."""
    transform = _to_wgs84(source, context)
    for feature in source.getFeatures():
        geometry = feature.geometry()
        if geometry.isEmpty():
            continue
        geometry.transform(transform)
        line = geometry.asMultiPolyline()[0] if geometry.isMultipart() else geometry.asPolyline()
        return [[p.x(), p.y()] for p in line]
    raise QgsProcessingException("the line layer has no line")


def csv_of(source):
    """A table (its attributes, geometry left out) as CSV text with a header line."""
    names = source.fields().names()
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(names)
    for feature in source.getFeatures():
        writer.writerow(["" if v is None or str(v) == "NULL" else v for v in feature.attributes()])
    return text.getvalue()


def fetch_descriptions(gateway):
    """Every process description of the gateway (none if it does not answer). Blocking: the
    plugin calls it from a worker thread, and a user's "Reload algorithms" from Processing's."""
    try:
        listing = gateway.get_json("/processes", timeout_ms=10000).get("processes", [])
        return [gateway.get_json("/processes/%s" % s["id"], timeout_ms=10000) for s in listing]
    except GatewayError:
        return []


class GatewayProvider(QgsProcessingProvider):
    def __init__(self, gateway_url, authcfg="", descriptions=None):
        super().__init__()
        self.gateway_url = gateway_url
        self.authcfg = authcfg
        # Fetched beforehand off the main thread: the first load asks the gateway nothing.
        self.preloaded = descriptions

    def id(self):
        return "geopf_gateway"

    def name(self):
        return "Géoplateforme (geopf-gateway)"

    def longName(self):  # noqa: N802
        return "Géoplateforme processes through geopf-gateway at %s" % self.gateway_url

    def icon(self):
        import os
        return QIcon(os.path.join(os.path.dirname(__file__), "icon.png"))

    def loadAlgorithms(self):  # noqa: N802
        descriptions = self.preloaded
        self.preloaded = None  # a later refresh asks the gateway again: new adapters appear
        if descriptions is None:
            descriptions = fetch_descriptions(Gateway(self.gateway_url, self.authcfg))
        for description in descriptions:
            self.addAlgorithm(GatewayAlgorithm(self.gateway_url, self.authcfg, description))


__all__ = ["GatewayProvider", "GatewayAlgorithm", "QgsProcessing"]
