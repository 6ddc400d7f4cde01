"""The plugin against a real gateway: connections, locator, Processing, map tool, load/unload."""
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

from qgis.core import (QgsApplication, QgsFeedback, QgsLocatorContext, QgsOwsConnection, QgsProcessingContext,
                       QgsProcessingFeedback, QgsSettings, QgsVectorLayer)
from qgis.PyQt.QtCore import QCoreApplication

from geopf_gateway import connections
from geopf_gateway.discovery import discover
from geopf_gateway.gateway import Gateway, GatewayError, Launcher, configured_url
from geopf_gateway.locator import GeopfLocatorFilter, _get_data
from geopf_gateway.maptool import describe
from geopf_gateway.processing_provider import GatewayProvider

HERE = os.path.dirname(os.path.abspath(__file__))


def spin_until(condition, timeout_s=30):
    """Runs QGIS's event loop (tasks end there) until `condition()`; returns the longest time the
    loop was held (what a user would feel as a freeze)."""
    deadline = time.monotonic() + timeout_s
    longest, last = 0.0, time.monotonic()
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        QCoreApplication.processEvents()
        time.sleep(0.005)
        now = time.monotonic()
        longest, last = max(longest, now - last), now
    return longest


def messages(iface):
    return [c[0][1] for c in iface.messageBar().pushMessage.call_args_list]


def test_the_url_comes_from_the_environment(gateway_url):
    assert configured_url() == gateway_url


def test_connections_are_written_where_qgis_reads_them_and_removed_alone(gateway):
    QgsSettings().setValue("qgis/connections-wfs/Someone else's/url", "http://example.org/")
    written = connections.register(gateway)
    connections.register(gateway)  # idempotent
    assert ("wfs", connections.NAME, gateway.url + "/") in written
    xyz = [w for w in written if w[0] == "xyz"]
    assert len(xyz) == 3, written  # the featured basemaps of the gateway's catalogue
    assert any(w[2].endswith("/tiles/GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2/{z}/{x}/{y}.png") for w in xyz)
    wms = {w[1]: w[2] for w in written if w[0] == "wms"}
    assert wms == {connections.NAME: gateway.url + "/wmts?SERVICE=WMTS&REQUEST=GetCapabilities",
                   connections.NAME_WMS: gateway.url + "/wms"}, written
    assert set(QgsOwsConnection.connectionList("WMS")) >= set(wms), QgsOwsConnection.connectionList("WMS")
    names = QgsOwsConnection.connectionList("WFS")
    assert names.count(connections.NAME) == 1, names
    uri = QgsOwsConnection("WFS", connections.NAME).uri()
    assert uri.param("url") == gateway.url + "/"
    # The catalogue in MetaSearch, as an OGC API - Records catalogue.
    assert ("metasearch", connections.NAME, gateway.url + "/collections/catalog") in written
    assert QgsSettings().value("MetaSearch/%s/catalog-type" % connections.NAME) == "OGC API - Records"
    connections.unregister()
    names = QgsOwsConnection.connectionList("WFS")
    assert connections.NAME not in names
    assert QgsSettings().value("MetaSearch/%s/url" % connections.NAME) is None
    assert QgsSettings().value("qgis/connections-wfs/Someone else's/url") == "http://example.org/"


def test_a_layer_from_the_connection_asks_for_the_visible_extent_only(gateway):
    uri = connections.layer_uri(gateway, "addresses")
    assert "restrictToRequestBBOX='1'" in uri
    layer = QgsVectorLayer(uri, "addresses", "OAPIF")
    assert layer.isValid()


def test_the_locator_suggests_places_and_addresses(gateway_url):
    f = GeopfLocatorFilter(gateway_url)
    found = f.search("1 place georges freche")
    assert found, "no suggestion"
    label, kind, lon, lat = found[0]
    assert label and -180 <= lon <= 180 and -90 <= lat <= 90
    results = []
    # Read the result inside the slot: the emitted object does not outlive the signal.
    f.resultFetched.connect(lambda r: results.append((r.displayString, _get_data(r))))
    f.fetchResults("saint mande", QgsLocatorContext(), QgsFeedback())
    assert results and len(results[0][1]) == 2
    assert f.search("ab") == []


def test_every_process_becomes_an_algorithm_and_a_route_runs(gateway_url):
    provider = GatewayProvider(gateway_url)
    registry = QgsApplication.processingRegistry()
    assert registry.addProvider(provider)
    try:
        ids = [a.id() for a in provider.algorithms()]
        processes = Gateway(gateway_url).get_json("/processes")["processes"]
        assert sorted(ids) == sorted("geopf_gateway:%s" % p["id"] for p in processes)
        alg = registry.createAlgorithmById("geopf_gateway:route")
        profile = alg.parameterDefinition("profile")
        assert "car" in profile.options()
        assert alg.parameterDefinition("start").type() == "point"
        out = os.path.join(tempfile.mkdtemp(), "route.geojson")
        params = {"start": "3.708864,43.93584 [EPSG:4326]", "end": "4.077405,44.12519 [EPSG:4326]", "OUTPUT": out}
        context, feedback = QgsProcessingContext(), QgsProcessingFeedback()
        results, ok = alg.run(params, context, feedback)
        assert ok, feedback.textLog() if hasattr(feedback, "textLog") else "failed"
        layer = QgsVectorLayer(results["OUTPUT"], "route", "ogr")
        assert layer.isValid() and layer.featureCount() > 1
        assert context.layersToLoadOnCompletion(), "the result is loaded as a layer"
        iso = registry.createAlgorithmById("geopf_gateway:isochrone")
        assert iso.parameterDefinition("costValue").minimum() == 0
    finally:
        registry.removeProvider(provider)


def memory_layer(uri, rows):
    """A memory layer of `uri` ("Point?crs=EPSG:4326&field=address:string"…) with `rows` of
    (WKT or None, attributes)."""
    from qgis.core import QgsFeature, QgsGeometry

    layer = QgsVectorLayer(uri, "input", "memory")
    features = []
    for wkt, attributes in rows:
        f = QgsFeature(layer.fields())
        if wkt:
            f.setGeometry(QgsGeometry.fromWkt(wkt))
        f.setAttributes(attributes)
        features.append(f)
    assert layer.dataProvider().addFeatures(features)[0]
    return layer


def run_algorithm(alg_id, params):
    provider = GatewayProvider(os.environ["GEOPF_GATEWAY_URL"])
    registry = QgsApplication.processingRegistry()
    assert registry.addProvider(provider)
    try:
        alg = registry.createAlgorithmById("geopf_gateway:%s" % alg_id)
        params = dict(params, OUTPUT=os.path.join(tempfile.mkdtemp(), "%s.geojson" % alg_id))
        context, feedback = QgsProcessingContext(), QgsProcessingFeedback()
        results, ok = alg.run(params, context, feedback)
        assert ok, alg_id
        return alg, QgsVectorLayer(results["OUTPUT"], alg_id, "ogr")
    finally:
        registry.removeProvider(provider)


def test_inputs_take_the_widgets_their_schemas_call_for():
    """Several points from a point layer, a line from a line layer, a table for CSV, a map pick for
    one point: read from the descriptions' schemas, not from process names."""
    provider = GatewayProvider(os.environ["GEOPF_GATEWAY_URL"])
    registry = QgsApplication.processingRegistry()
    assert registry.addProvider(provider)
    try:
        def kind(alg_id, name):
            alg = registry.createAlgorithmById("geopf_gateway:%s" % alg_id)
            return alg.parameterDefinition(name).type()
        assert kind("elevation", "points") == "source"
        assert kind("elevation-profile", "line") == "source"
        assert kind("batch-geocode", "data") == "source"
        assert kind("reverse-geocode", "point") == "point"
        assert kind("route", "start") == "point"
    finally:
        registry.removeProvider(provider)


def test_elevations_of_a_point_layer():
    layer = memory_layer("Point?crs=EPSG:4326", [("POINT(1.48 43.54)", []), ("POINT(1.49 43.55)", [])])
    _, out = run_algorithm("elevation", {"points": layer})
    assert out.isValid() and out.featureCount() == 2
    for f in out.getFeatures():
        assert f["z"] is not None


def test_points_of_a_layer_in_another_crs_are_sent_in_wgs84():
    from geopf_gateway.processing_provider import points_of

    # The Capitole of Toulouse in Lambert-93 (EPSG:2154).
    layer = memory_layer("Point?crs=EPSG:2154", [("POINT(574380 6279830)", [])])
    [[lon, lat]] = points_of(layer, QgsProcessingContext())
    assert abs(lon - 1.4436) < 0.01 and abs(lat - 43.6045) < 0.01, (lon, lat)


def test_a_profile_along_a_line_layer():
    layer = memory_layer("LineString?crs=EPSG:4326", [("LINESTRING(1.48 43.54, 1.49 43.55)", [])])
    _, out = run_algorithm("elevation-profile", {"line": layer})
    assert out.isValid() and out.featureCount() >= 1


def test_batch_geocoding_uploads_a_table():
    layer = memory_layer("None?field=address:string&field=ref:integer",
                         [(None, ["1 Place Georges Freche 34000 Montpellier", 1])])
    _, out = run_algorithm("batch-geocode", {"data": layer})
    assert out.isValid() and out.featureCount() == 1
    feature = next(out.getFeatures())
    assert not feature.geometry().isEmpty()


def test_the_map_tool_describes_what_is_clicked(gateway):
    text = describe(gateway, 3.896549, 43.59884)
    assert text and text != "nothing found here"


def test_the_plugin_loads_registers_and_unloads_cleanly(iface, gateway_url):
    import geopf_gateway

    plugin = geopf_gateway.classFactory(iface)
    plugin.initGui()
    registry = QgsApplication.processingRegistry()
    spin_until(lambda: registry.providerById("geopf_gateway") is not None)
    assert registry.algorithmById("geopf_gateway:route") is not None, "descriptions fetched beforehand"
    assert connections.NAME in QgsOwsConnection.connectionList("WFS")
    assert iface.registerLocatorFilter.called
    plugin.unload()
    assert registry.providerById("geopf_gateway") is None
    assert connections.NAME not in QgsOwsConnection.connectionList("WFS")
    assert iface.deregisterLocatorFilter.called


def test_without_a_gateway_a_message_says_what_to_do():
    gateway, message = discover("http://127.0.0.1:9", "", None, False, tempfile.mkdtemp(), Launcher())
    assert gateway is None
    assert "geopf-gateway serve" in message
    assert "Web → Géoplateforme" in message, message  # the menu the plugin is in


def test_a_gateway_that_never_answers_does_not_freeze_qgis(iface, monkeypatch):
    """A black hole: the connection is accepted, no answer ever comes."""
    import geopf_gateway

    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)
    monkeypatch.setenv("GEOPF_GATEWAY_URL", "http://127.0.0.1:%d" % hole.getsockname()[1])
    QgsSettings().setValue("geopf_gateway/autostart", "false")
    iface.messageBar().pushMessage.reset_mock()
    plugin = geopf_gateway.classFactory(iface)
    try:
        started = time.monotonic()
        plugin.initGui()
        took = time.monotonic() - started
        assert took < 0.1, "initGui took %.3f s" % took
        held = spin_until(lambda: any("No geopf-gateway answers" in m for m in messages(iface)), timeout_s=20)
        assert held < 0.5, "QGIS's event loop was held %.2f s" % held
        assert QgsApplication.processingRegistry().providerById("geopf_gateway") is None
    finally:
        plugin.unload()
        QgsSettings().remove("geopf_gateway/autostart")
        hole.close()


class SlowCatalogue(http.server.BaseHTTPRequestHandler):
    """A gateway whose catalogue is empty for its first second and a half (no snapshot, a slow
    upstream), then lists the Plan IGN."""
    ready_at = 0.0
    version = "0.1.0"

    def do_GET(self):  # noqa: N802
        path = self.path.split("?")[0]
        ready = time.monotonic() >= SlowCatalogue.ready_at
        if path == "/health":
            body = {"status": "ok", "version": SlowCatalogue.version}
        elif path == "/catalog.json":
            body = {"numberMatched": 1 if ready else 0, "layers": []}
        elif path == "/catalog/GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2" and ready:
            body = {"title": "Plan IGN v2", "formats": ["image/png"], "min_zoom": 0, "max_zoom": 19,
                    "links": {"tiles": "x"}}
        elif path == "/processes":
            body = {"processes": []}
        else:
            self.send_response(404)
            self.end_headers()
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args):
        pass


def test_a_slow_catalogue_still_gets_its_basemap_connections(iface, monkeypatch):
    import geopf_gateway

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowCatalogue)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    SlowCatalogue.ready_at = time.monotonic() + 1.5
    monkeypatch.setenv("GEOPF_GATEWAY_URL", "http://127.0.0.1:%d" % server.server_address[1])
    iface.messageBar().pushMessage.reset_mock()
    plugin = geopf_gateway.classFactory(iface)
    xyz = "Plan IGN v2 — IGN"
    try:
        plugin.initGui()
        spin_until(lambda: any("not ready yet" in m for m in messages(iface)))
        assert connections.NAME in QgsOwsConnection.connectionList("WFS"), "the OGC API connection at once"
        spin_until(lambda: QgsSettings().value("qgis/connections-xyz/%s/url" % xyz) is not None)
        assert any("Browser panel now" in m for m in messages(iface)), messages(iface)
    finally:
        plugin.unload()
        server.shutdown()
    assert QgsSettings().value("qgis/connections-xyz/%s/url" % xyz) is None, "removed at unload"


def test_an_older_gateway_is_named_and_still_used(iface, monkeypatch):
    import geopf_gateway

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowCatalogue)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    SlowCatalogue.ready_at = 0.0
    SlowCatalogue.version = "0.0.9"
    monkeypatch.setenv("GEOPF_GATEWAY_URL", "http://127.0.0.1:%d" % server.server_address[1])
    iface.messageBar().pushMessage.reset_mock()
    plugin = geopf_gateway.classFactory(iface)
    try:
        plugin.initGui()
        spin_until(lambda: any("version 0.0.9" in m for m in messages(iface)))
        assert any("0.1.0 or later" in m for m in messages(iface)), messages(iface)
        assert connections.NAME in QgsOwsConnection.connectionList("WFS"), "still connected"
    finally:
        plugin.unload()
        server.shutdown()
        SlowCatalogue.version = "0.1.0"


def test_the_running_gateway_is_recent_enough(gateway):
    from geopf_gateway.gateway import too_old

    assert not too_old(gateway.health()["version"])
    assert too_old("0.0.9") and too_old(None) and not too_old("0.1.0") and not too_old("1.0.0")


def test_cancelling_sends_a_real_delete(gateway):
    status, _, job = gateway.post_json(
        "/processes/route/execution",
        {"inputs": {"start": "3.708864,43.93584", "end": "4.077405,44.12519"}},
        {"Prefer": "respond-async"})
    assert status == 201
    path = "/jobs/%s" % job["jobID"]
    assert gateway.delete(path)
    try:
        gateway.get_json(path)
    except GatewayError:
        pass
    else:
        raise AssertionError("the job is still there after DELETE")


def test_the_plugin_starts_a_gateway_when_none_answers():
    binary = os.environ.get("GEOPF_GATEWAY_BIN")
    upstream = os.environ.get("GEOPF_TEST_UPSTREAM")
    assert binary and upstream, "set GEOPF_GATEWAY_BIN and GEOPF_TEST_UPSTREAM"
    launcher = Launcher()
    url = launcher.start(binary, tempfile.mkdtemp(), upstream=upstream)
    try:
        assert Gateway(url).alive()
        fc = Gateway(url).get_json("/collections/addresses/items", {"bbox": "3.894,43.596,3.900,43.601"})
        assert fc["features"]
    finally:
        launcher.stop()
    assert not Gateway(url).alive()


ADAPTER = """
id = "height-here"
kind = "process"
title = "Height here"
description = "The ground height at a point (an adapter added at run time)."
api = "altimetry"
[request]
path = "/altimetrie/1.0/calcul/alti/rest/elevation.json"
query = { lon = "{{ point.lon }}", lat = "{{ point.lat }}", resource = "{{ resource }}", delimiter = "|", indent = "false", measures = "false", zonly = "false" }
[inputs.point]
schema = { type = "string", format = "lonlat" }
required = true
[inputs.resource]
schema = { type = "string", enum = ["ign_rge_alti_wld"], default = "ign_rge_alti_wld" }
[response]
features = "$.elevations[*]"
geometry = { lon = "$.lon", lat = "$.lat", z = "$.z" }
properties = { z = "$.z", acc = "$.acc" }
"""


def test_an_adapter_added_at_run_time_becomes_an_algorithm_with_no_plugin_change(monkeypatch):
    binary = os.environ.get("GEOPF_GATEWAY_BIN")
    upstream = os.environ.get("GEOPF_TEST_UPSTREAM")
    assert binary and upstream, "set GEOPF_GATEWAY_BIN and GEOPF_TEST_UPSTREAM"
    adapters = tempfile.mkdtemp()
    monkeypatch.setenv("GEOPF_ADAPTERS__DIR", adapters)
    launcher = Launcher()
    url = launcher.start(binary, tempfile.mkdtemp(), upstream=upstream)
    provider = GatewayProvider(url)
    registry = QgsApplication.processingRegistry()
    assert registry.addProvider(provider)
    try:
        assert registry.algorithmById("geopf_gateway:height-here") is None
        with open(os.path.join(adapters, "height-here.toml"), "w", encoding="utf-8") as f:
            f.write(ADAPTER)
        os.kill(launcher.process.pid, signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline:
            ids = [p["id"] for p in Gateway(url).get_json("/processes")["processes"]]
            if "height-here" in ids:
                break
            time.sleep(0.1)
        provider.refreshAlgorithms()
        alg = registry.createAlgorithmById("geopf_gateway:height-here")
        assert alg is not None, "the new process is an algorithm after a refresh"
        assert alg.parameterDefinition("point").type() == "point"
        assert "ign_rge_alti_wld" in alg.parameterDefinition("resource").options()
        out = os.path.join(tempfile.mkdtemp(), "height.geojson")
        params = {"point": "3.5960877,44.3269017 [EPSG:4326]", "OUTPUT": out}
        context, feedback = QgsProcessingContext(), QgsProcessingFeedback()
        results, ok = alg.run(params, context, feedback)
        assert ok
        layer = QgsVectorLayer(results["OUTPUT"], "height", "ogr")
        assert layer.isValid() and layer.featureCount() == 1
        feature = next(layer.getFeatures())
        assert feature["z"] is not None and abs(feature.geometry().asPoint().x() - 3.5960877) < 1e-6
    finally:
        registry.removeProvider(provider)
        launcher.stop()


def test_an_error_of_the_gateway_is_its_problem_detail(gateway):
    try:
        gateway.get_json("/collections/addresses/items", {"bbox": "1,2,3"})
    except GatewayError as e:
        assert "bbox" in str(e)
    else:
        raise AssertionError("no error")


def test_the_zip_installs_into_a_profile():
    sys.path.insert(0, os.path.dirname(HERE))
    from build_zip import build

    out = tempfile.mkdtemp()
    path = build(out)
    plugins = os.path.join(out, "profile", "python", "plugins")
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        assert "geopf_gateway/metadata.txt" in names and "geopf_gateway/icon.png" in names
        z.extractall(plugins)
    code = ("import sys, json; sys.path.insert(0, %r); import geopf_gateway, qgis.utils;"
            "from qgis.testing import start_app; start_app();"
            "print(json.dumps([geopf_gateway.__file__, hasattr(geopf_gateway, 'classFactory')]))" % plugins)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    where, has_factory = json.loads(done.stdout.strip().splitlines()[-1])
    assert where.startswith(plugins) and has_factory


def test_the_gateway_bundled_in_the_zip_is_the_one_started():
    """A user with no Rust: the zip for their platform carries the gateway, which the plugin finds
    (made executable: a zip keeps no modes) before any on PATH, and starts."""
    binary = os.environ.get("GEOPF_GATEWAY_BIN")
    upstream = os.environ.get("GEOPF_TEST_UPSTREAM")
    assert binary and upstream, "set GEOPF_GATEWAY_BIN and GEOPF_TEST_UPSTREAM"
    sys.path.insert(0, os.path.dirname(HERE))
    from build_zip import build

    from geopf_gateway.gateway import platform_tag

    out = tempfile.mkdtemp()
    path = build(out, platform_tag(), binary)
    assert path.endswith("geopf_gateway-%s.zip" % platform_tag())
    plugins = os.path.join(out, "profile", "python", "plugins")
    with zipfile.ZipFile(path) as z:
        z.extractall(plugins)  # as QGIS's installer does: no permission bits
    bundled = os.path.join(plugins, "geopf_gateway", "bin", platform_tag(), os.path.basename(binary))
    os.chmod(bundled, 0o644)
    code = ("import sys, json, tempfile; sys.path.insert(0, %r);"
            "from qgis.testing import start_app; start_app();"
            "from geopf_gateway.gateway import Gateway, Launcher, find_binary;"
            "found = find_binary(); launcher = Launcher(); url = launcher.start(found, tempfile.mkdtemp(), upstream=%r);"
            "version = Gateway(url).health()['version']; launcher.stop();"
            "print(json.dumps([found, version]))" % (plugins, upstream))
    env = {k: v for k, v in os.environ.items() if k != "GEOPF_GATEWAY_BIN"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=dict(env, QT_QPA_PLATFORM="offscreen"))
    assert done.returncode == 0, done.stderr[-2000:]
    found, version = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == bundled and version
