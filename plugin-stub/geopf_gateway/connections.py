"""QGIS's own connection settings for the gateway: one OGC API – Features connection, a WMTS
connection and XYZ basemaps when the gateway publishes them, and its catalogue in MetaSearch (an
OGC API – Records catalogue). Written under QGIS's standard keys
(both the 3.22 keys and the settings tree of QGIS >= 3.30), so the Browser panel and the Data
Source Manager show them; only the connections this plugin made are ever removed."""
from qgis.core import Qgis, QgsSettings

NAME = "Géoplateforme (geopf-gateway)"
NAME_WMS = "Géoplateforme WMS-Raster (geopf-gateway)"
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


def _metasearch_keys(name):
    return ["MetaSearch/%s" % name]


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


def _catalogued(gateway, params):
    """Whether the gateway's catalogue has a layer matching `params` (a small request)."""
    try:
        return gateway.get_json("/catalog.json", params).get("numberMatched", 0) > 0
    except Exception:  # noqa: BLE001 - an older gateway, or none: no such connection
        return False


def catalogue_ready(gateway, timeout_ms=5000):
    """Whether the gateway's catalogue lists layers yet (a new gateway with a slow upstream and no
    snapshot may have none for a while)."""
    try:
        return gateway.get_json("/catalog.json", {"limit": "1"}, timeout_ms=timeout_ms).get("numberMatched", 0) > 0
    except Exception:  # noqa: BLE001 - not ready, or no catalogue at all
        return False


def register(gateway, authcfg=""):
    """Writes the connections for `gateway` (idempotent); returns what was written."""
    return write(plan(gateway, authcfg))


def write(planned):
    """Writes planned connections into QGIS's settings (the main thread's part: no network)."""
    for kind, name, prefixes, values in planned:
        _write(prefixes, values)
        _remember(kind, name)
    return [(kind, name, values["url"]) for kind, name, _, values in planned]


def plan(gateway, authcfg=""):
    """The connections to write for `gateway`, asked of it (network only: run it off the main
    thread): [(kind, name, settings prefixes, values)]."""
    planned = []
    oapif = {"url": gateway.url + "/", "version": "OGC_API_FEATURES", "pagingEnabled": "true",
             "paging-enabled": "true", "authcfg": authcfg}
    planned.append(("wfs", NAME, _ows_keys("wfs", NAME), oapif))
    planned.extend(basemaps(gateway, authcfg))
    # The catalogue as an OGC API – Records collection, for QGIS's MetaSearch (Web menu).
    try:
        records = gateway.get_json("/collections/catalog").get("itemType") == "record"
    except Exception:  # noqa: BLE001 - an older gateway: no catalogue connection
        records = False
    if records:
        url = gateway.url + "/collections/catalog"
        planned.append(("metasearch", NAME, _metasearch_keys(NAME), {"url": url, "catalog-type": "OGC API - Records"}))
    return planned


def basemaps(gateway, authcfg=""):
    """The basemap connections (WMTS, WMS-R, featured XYZ) the gateway's catalogue allows now."""
    planned = []
    # The WMTS (every basemap) and the WMS-R, when the gateway's catalogue lists layers for them.
    for service, name, path in [("wmts", NAME, "/wmts?SERVICE=WMTS&REQUEST=GetCapabilities"),
                                ("wms", NAME_WMS, "/wms")]:
        if _catalogued(gateway, {"service": service, "limit": "1"}):
            url = gateway.url + path
            planned.append(("wms", name, _ows_keys("wms", name), {"url": url, "authcfg": authcfg}))

    for layer_id in FEATURED:
        try:
            layer = gateway.get_json("/catalog/" + layer_id)
        except Exception:  # noqa: BLE001 - not in the catalogue (yet): no connection for it
            continue
        if not (layer.get("links") or {}).get("tiles"):
            continue
        name = "%s — %s" % (layer.get("title") or layer_id, "IGN")
        url = "%s/tiles/%s/{z}/{x}/{y}.%s" % (gateway.url, layer_id, "jpeg" if "jpeg" in str(layer.get("formats")) else "png")
        planned.append(("xyz", name, _xyz_keys(name), {"url": url, "zmin": layer.get("min_zoom") or 0,
                                                       "zmax": layer.get("max_zoom") or 19, "authcfg": authcfg}))
    return planned


def unregister():
    """Removes the connections this plugin wrote, and nothing else."""
    s = QgsSettings()
    for entry in s.value(MARK, [], type=list) or []:
        kind, _, name = entry.partition("|")
        if kind == "xyz":
            prefixes = _xyz_keys(name)
        elif kind == "metasearch":
            prefixes = _metasearch_keys(name)
        else:
            prefixes = _ows_keys(kind, name)
        for prefix in prefixes:
            s.remove(prefix)
    s.remove(MARK)


def layer_uri(gateway, collection, authcfg=""):
    """An OAPIF layer URI that asks only for the visible extent (else QGIS pages through it all)."""
    uri = "url='%s/' typename='%s' restrictToRequestBBOX='1'" % (gateway.url, collection)
    if authcfg:
        uri += " authcfg='%s'" % authcfg
    return uri
