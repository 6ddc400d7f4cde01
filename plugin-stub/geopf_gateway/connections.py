"""QGIS's own connection settings for the gateway: one OGC API – Features connection, a WMTS
connection and XYZ basemaps when the gateway publishes them. Written under QGIS's standard keys
(both the 3.22 keys and the settings tree of QGIS >= 3.30), so the Browser panel and the Data
Source Manager show them; only the connections this plugin made are ever removed."""
from qgis.core import Qgis, QgsSettings

NAME = "Géoplateforme (geopf-gateway)"
MARK = "geopf_gateway/connections"
# The basemaps offered as XYZ connections when the gateway's catalogue lists them.
FEATURED = ["GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2", "ORTHOIMAGERY.ORTHOPHOTOS", "CADASTRALPARCELS.PARCELLAIRE_EXPRESS"]
NEW_SETTINGS = Qgis.QGIS_VERSION_INT >= 33000


def _ows_keys(service, name):
    """The settings prefixes of an OWS connection, old and (on recent QGIS) new."""
    keys = ["qgis/connections-%s/%s" % (service, name)]
    if NEW_SETTINGS:
        keys.append("connections/ows/items/%s/connections/items/%s" % (service, name))
    return keys


def _xyz_keys(name):
    keys = ["qgis/connections-xyz/%s" % name]
    if NEW_SETTINGS:
        keys.append("connections/xyz/items/%s" % name)
    return keys


def _write(prefixes, values):
    s = QgsSettings()
    for prefix in prefixes:
        for k, v in values.items():
            s.setValue("%s/%s" % (prefix, k), v)


def _remember(kind, name):
    s = QgsSettings()
    made = set(s.value(MARK, [], type=list) or [])
    made.add("%s|%s" % (kind, name))
    s.setValue(MARK, sorted(made))


def register(gateway, authcfg=""):
    """Writes the connections for `gateway` (idempotent); returns what was written."""
    written = []
    oapif = {"url": gateway.url + "/", "version": "OGC_API_FEATURES", "pagingEnabled": "true",
             "paging-enabled": "true", "authcfg": authcfg}
    _write(_ows_keys("wfs", NAME), oapif)
    _remember("wfs", NAME)
    written.append(("wfs", NAME, gateway.url + "/"))

    if gateway.has("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities"):
        url = gateway.url + "/wmts?SERVICE=WMTS&REQUEST=GetCapabilities"
        _write(_ows_keys("wms", NAME), {"url": url, "authcfg": authcfg})
        _remember("wms", NAME)
        written.append(("wms", NAME, url))

    try:
        layers = gateway.get_json("/catalog.json").get("layers", [])
    except Exception:  # noqa: BLE001 - no catalogue yet: no basemaps
        layers = []
    by_id = {layer.get("id"): layer for layer in layers}
    for layer_id in FEATURED:
        layer = by_id.get(layer_id)
        if not layer:
            continue
        name = "%s — %s" % (layer.get("title") or layer_id, "IGN")
        url = "%s/tiles/%s/{z}/{x}/{y}.%s" % (gateway.url, layer_id, "jpeg" if "jpeg" in str(layer.get("formats")) else "png")
        _write(_xyz_keys(name), {"url": url, "zmin": layer.get("min_zoom", 0), "zmax": layer.get("max_zoom", 19),
                                  "authcfg": authcfg})
        _remember("xyz", name)
        written.append(("xyz", name, url))
    return written


def unregister():
    """Removes the connections this plugin wrote, and nothing else."""
    s = QgsSettings()
    for entry in s.value(MARK, [], type=list) or []:
        kind, _, name = entry.partition("|")
        prefixes = _xyz_keys(name) if kind == "xyz" else _ows_keys(kind, name)
        for prefix in prefixes:
            s.remove(prefix)
    s.remove(MARK)


def layer_uri(gateway, collection, authcfg=""):
    """An OAPIF layer URI that asks only for the visible extent (else QGIS pages through it all)."""
    uri = "url='%s/' typename='%s' restrictToRequestBBOX='1'" % (gateway.url, collection)
    if authcfg:
        uri += " authcfg='%s'" % authcfg
    return uri
