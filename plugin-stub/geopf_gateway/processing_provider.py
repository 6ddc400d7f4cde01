"""A Processing provider generated from the gateway's OGC API Processes: one algorithm per process,
its parameters built from the process description (points, enums, bounded numbers, text), run as a
gateway job with progress, its GeoJSON result loaded as a layer. A process the gateway adds appears
after a refresh, with no plugin change."""
import json
import time

from qgis.core import (QgsCoordinateReferenceSystem, QgsProcessing, QgsProcessingAlgorithm,
                       QgsProcessingContext, QgsProcessingException, QgsProcessingParameterBoolean,
                       QgsProcessingParameterDefinition, QgsProcessingParameterEnum,
                       QgsProcessingParameterFileDestination, QgsProcessingParameterNumber,
                       QgsProcessingParameterPoint, QgsProcessingParameterString, QgsProcessingProvider)
from qgis.PyQt.QtGui import QIcon

from .gateway import Gateway, GatewayError

WGS84 = QgsCoordinateReferenceSystem("EPSG:4326")


def is_point(schema):
    """A "lon,lat" string or a GeoJSON Point."""
    alternatives = schema.get("oneOf") or [schema]
    return any("lon,lat" in (a.get("description") or "") for a in alternatives)


def parameter_for(name, spec):
    """The Processing parameter of one process input: (parameter, kind)."""
    schema = spec.get("schema") or {}
    title = spec.get("title") or name
    optional = int(spec.get("minOccurs", 1)) == 0
    if is_point(schema):
        p, kind = QgsProcessingParameterPoint(name, title, optional=optional), "point"
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
