"""Finding, starting and talking to the geopf-gateway daemon. No service knowledge lives here."""
import json
import os
import platform
import shutil
import socket
import stat
import subprocess
import sys
import time
from urllib.parse import urlencode

from qgis.core import QgsBlockingNetworkRequest, QgsSettings
from qgis.PyQt.QtCore import QByteArray, QUrl
from qgis.PyQt.QtNetwork import QNetworkRequest

DEFAULT_URL = "http://127.0.0.1:8080"
SETTINGS = "geopf_gateway"
# The oldest gateway this plugin works with (its /health "version").
MIN_GATEWAY_VERSION = "0.1.0"


def version_tuple(text):
    """"0.1.0" → (0, 1, 0); anything unreadable → () (older than every version)."""
    try:
        return tuple(int(part) for part in str(text).split("-")[0].split("."))
    except ValueError:
        return ()


def too_old(version):
    """Whether a gateway of `version` is older than this plugin needs."""
    return version_tuple(version) < version_tuple(MIN_GATEWAY_VERSION)


class GatewayError(Exception):
    """The gateway did not answer, or answered an error (its problem+json detail is the message)."""


def setting(key, default=None):
    return QgsSettings().value("%s/%s" % (SETTINGS, key), default)


def set_setting(key, value):
    QgsSettings().setValue("%s/%s" % (SETTINGS, key), value)


def served_by():
    """The gateway that served this copy of the plugin (its plugin repository writes its own URL in
    gateway.json): a team's users are connected to their team's gateway once the plugin is
    installed from it."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gateway.json")
    try:
        with open(path, encoding="utf-8") as f:
            url = json.load(f).get("url")
    except (OSError, ValueError, AttributeError):
        return None
    return url if isinstance(url, str) and url.startswith(("http://", "https://")) else None


def configured_url():
    """The gateway's URL: GEOPF_GATEWAY_URL, else the plugin's settings, else the gateway the
    plugin was installed from, else the default (a local one)."""
    url = os.environ.get("GEOPF_GATEWAY_URL") or setting("url") or served_by() or DEFAULT_URL
    return url.rstrip("/")


class Gateway:
    """HTTP to one gateway through QGIS's own network stack (proxy settings, auth configs)."""

    def __init__(self, url, authcfg=""):
        self.url = url.rstrip("/")
        self.authcfg = authcfg or ""

    def _request(self, method, path, params=None, body=None, headers=None, timeout_ms=30000, raw=None):
        url = self.url + path
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        request = QNetworkRequest(QUrl(url))
        # A silent host gives up after timeout_ms, not after QGIS's network timeout (a minute).
        request.setTransferTimeout(int(timeout_ms))
        request.setRawHeader(b"Accept", b"application/json")
        for k, v in (headers or {}).items():
            request.setRawHeader(k.encode(), v.encode())
        blocking = QgsBlockingNetworkRequest()
        if self.authcfg:
            blocking.setAuthCfg(self.authcfg)
        if method == "GET":
            err = blocking.get(request, True)
        elif method == "DELETE":
            err = blocking.deleteResource(request)
        elif raw is not None:
            err = blocking.post(request, QByteArray(raw), True)
        else:
            request.setHeader(QNetworkRequest.ContentTypeHeader, "application/json")
            err = blocking.post(request, QByteArray(json.dumps(body or {}).encode()), True)
        reply = blocking.reply()
        status = reply.attribute(QNetworkRequest.HttpStatusCodeAttribute)
        content = bytes(reply.content())
        if status is None:
            raise GatewayError("the gateway at %s does not answer (%s)" % (self.url, blocking.errorMessage()))
        if status >= 400 or err not in (QgsBlockingNetworkRequest.NoError, QgsBlockingNetworkRequest.ServerExceptionError):
            try:
                detail = json.loads(content.decode("utf-8")).get("detail")
            except (ValueError, AttributeError):
                detail = None
            raise GatewayError(detail or "HTTP %s from %s" % (status, url))
        return status, reply, content

    def get_json(self, path, params=None, timeout_ms=30000):
        _, _, content = self._request("GET", path, params, timeout_ms=timeout_ms)
        return json.loads(content.decode("utf-8"))

    def post_json(self, path, body, headers=None):
        status, reply, content = self._request("POST", path, body=body, headers=headers)
        location = bytes(reply.rawHeader(b"Location")).decode() if reply.rawHeader(b"Location") else None
        return status, location, json.loads(content.decode("utf-8"))

    def post_raw(self, path, data, content_type, timeout_ms=120000):
        """POSTs bytes (an upload) and reads the JSON answer."""
        _, _, content = self._request("POST", path, headers={"Content-Type": content_type}, raw=data,
                                      timeout_ms=timeout_ms)
        return json.loads(content.decode("utf-8"))

    def delete(self, path, timeout_ms=10000):
        """DELETE `path`; False when the gateway refused or did not answer."""
        try:
            self._request("DELETE", path, timeout_ms=timeout_ms)
            return True
        except GatewayError:
            return False

    def health(self, timeout_ms=3000):
        """The gateway's /health document, or None when it does not answer."""
        try:
            doc = self.get_json("/health", timeout_ms=timeout_ms)
        except (GatewayError, ValueError):
            return None
        return doc if isinstance(doc, dict) and doc.get("status") == "ok" else None

    def alive(self, timeout_ms=3000):
        return self.health(timeout_ms) is not None

    def has(self, path):
        try:
            self._request("GET", path)
            return True
        except GatewayError:
            return False


def platform_tag():
    """The folder of the binary bundled for this machine: linux-x86_64, windows-x86_64…"""
    system = "windows" if os.name == "nt" else sys.platform.rstrip("0123456789")
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    return "%s-%s" % (system, machine)


def bundled_binary():
    """The gateway shipped in this plugin's zip for this machine (bin/<platform>/), if any. A zip
    keeps no permission bits: the file is made executable here."""
    name = "geopf-gateway.exe" if os.name == "nt" else "geopf-gateway"
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bin", platform_tag(), name)
    if os.path.isfile(path) and os.name != "nt" and not os.access(path, os.X_OK):
        try:
            os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        except OSError:
            return None
    return path if os.path.isfile(path) else None


def find_binary(configured=None):
    """The geopf-gateway executable: the configured path, else the one bundled in the plugin's zip,
    else the one on PATH."""
    for candidate in (configured, os.environ.get("GEOPF_GATEWAY_BIN"), bundled_binary(),
                      shutil.which("geopf-gateway")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Launcher:
    """Starts a local gateway on a free port (cache in the QGIS profile) and stops it."""

    def __init__(self):
        self.process = None
        self.url = None

    def start(self, binary, cache_dir, upstream=None, wait_s=15):
        port = free_port()
        args = [binary, "serve", "--listen", "127.0.0.1:%d" % port, "--cache-dir", cache_dir]
        if upstream:
            args += ["--upstream", upstream]
        os.makedirs(cache_dir, exist_ok=True)
        log = open(os.path.join(cache_dir, "gateway.log"), "ab")
        # No console window on Windows: the gateway runs in the background of QGIS.
        flags = getattr(subprocess, "CREATE_NO_WINDOW", 0) if os.name == "nt" else 0
        self.process = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                        creationflags=flags)
        self.url = "http://127.0.0.1:%d" % port
        gateway = Gateway(self.url)
        deadline = time.time() + wait_s
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise GatewayError("geopf-gateway exited at start (code %s); see %s" % (
                    self.process.returncode, os.path.join(cache_dir, "gateway.log")))
            if gateway.alive(timeout_ms=1000):
                return self.url
            time.sleep(0.1)
        self.stop()
        raise GatewayError("geopf-gateway did not answer within %d s" % wait_s)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None
