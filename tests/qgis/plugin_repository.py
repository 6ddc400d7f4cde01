"""The gateway as a QGIS plugin repository, read the way QGIS's plugin manager reads one (Settings →
Manage and Install Plugins → Settings → Add…): `/qgis/plugins.xml` through QGIS's network stack,
its `pyqgis_plugin` entry (name, version, QGIS versions, download URL), the zip it names installed
into a fresh profile's plugin folder, and the installed plugin connected to this gateway with nothing
typed (the URL the gateway wrote in its gateway.json), which answers.

Usage: GEOPF_URL=http://gateway [OUT_DIR=dir] python3 plugin_repository.py
Prints PASS/FAIL lines and "qgis-plugin-repository: N passed, N failed"; exits 1 on failure.
"""
import io
import os
import sys
import tempfile
import zipfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from qgis.core import Qgis, QgsApplication, QgsBlockingNetworkRequest  # noqa: E402
from qgis.PyQt.QtCore import QUrl  # noqa: E402
from qgis.PyQt.QtNetwork import QNetworkRequest  # noqa: E402
from qgis.PyQt.QtXml import QDomDocument  # noqa: E402

results = []


def report(ok, name, reason):
    results.append(bool(ok))
    print("%s %s: %s" % ("PASS" if ok else "FAIL", name, reason), flush=True)


def get(url):
    request = QgsBlockingNetworkRequest()
    error = request.get(QNetworkRequest(QUrl(url)))
    reply = request.reply()
    return error, bytes(reply.content())


def main():
    base = os.environ["GEOPF_URL"].rstrip("/")
    app = QgsApplication([], False)
    app.initQgis()
    print("QGIS %s" % Qgis.QGIS_VERSION, flush=True)

    error, body = get(base + "/qgis/plugins.xml")
    doc = QDomDocument()
    parsed = doc.setContent(body)
    parsed = parsed[0] if isinstance(parsed, tuple) else parsed
    plugins = doc.elementsByTagName("pyqgis_plugin")
    report(error == QgsBlockingNetworkRequest.NoError and parsed and plugins.count() == 1, "repository",
           "plugins.xml lists %d plugin" % plugins.count())
    plugin = plugins.item(0).toElement()
    text = lambda tag: plugin.firstChildElement(tag).text().strip()  # noqa: E731
    version = plugin.attribute("version")
    minimum = text("qgis_minimum_version")
    qgis_version = tuple(int(p) for p in Qgis.QGIS_VERSION.split("-")[0].split(".")[:2])
    report(version and text("file_name") == "geopf_gateway.zip"
           and tuple(int(p) for p in minimum.split(".")) <= qgis_version,
           "entry", "%s %s for QGIS >= %s" % (plugin.attribute("name"), version, minimum))

    download = text("download_url")
    report(download.startswith(base + "/"), "download url", download)
    error, zipped = get(download)
    profile = tempfile.mkdtemp()
    plugins_dir = os.path.join(profile, "python", "plugins")
    with zipfile.ZipFile(io.BytesIO(zipped)) as z:
        names = z.namelist()
        z.extractall(plugins_dir)
    report("geopf_gateway/metadata.txt" in names and "geopf_gateway/gateway.json" in names, "zip",
           "%d files, gateway.json included" % len(names))

    # The installed copy, as QGIS imports a plugin from the profile's folder.
    os.environ.pop("GEOPF_GATEWAY_URL", None)
    sys.path.insert(0, plugins_dir)
    from geopf_gateway import gateway
    report(gateway.__file__.startswith(plugins_dir), "installed", gateway.__file__)
    url = gateway.configured_url()
    report(url == base, "connected", "the installed plugin's gateway is %s" % url)
    report(gateway.Gateway(url).alive(), "alive", "and it answers /health")

    failed = results.count(False)
    print("qgis-plugin-repository: %d passed, %d failed" % (results.count(True), failed), flush=True)
    app.exitQgis()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
