"""Finding the gateway and what to register for it, off QGIS's main thread (QgsTask): a silent host,
a gateway still starting or a catalogue still empty never freeze QGIS. Each task ends by calling
`done(task)` on the main thread, where the settings are written and QGIS's registries touched."""
import time

from qgis.core import QgsTask

from . import connections
from .gateway import MIN_GATEWAY_VERSION, Gateway, GatewayError, too_old
from .processing_provider import fetch_descriptions

# How long a configured gateway has to answer /health before the plugin starts its own.
ALIVE_TIMEOUT_MS = 2000


def discover(url, authcfg, binary, autostart, cache_dir, launcher):
    """(gateway, None) for a gateway that answers — the configured one, else one started here — or
    (None, message) saying what to do. Blocking: call it from a worker thread."""
    gateway = Gateway(url, authcfg)
    if gateway.alive(timeout_ms=ALIVE_TIMEOUT_MS):
        return gateway, None
    if binary and autostart:
        try:
            return Gateway(launcher.start(binary, cache_dir), authcfg), None
        except GatewayError as e:
            return None, "geopf-gateway could not start: %s" % e
    return None, ("No geopf-gateway answers at %s. Start one (geopf-gateway serve), or set its URL or "
                  "binary in Web → Géoplateforme → Settings." % gateway.url)


class Connect(QgsTask):
    """Finds or starts the gateway, then asks it for the connections to write and the process
    descriptions."""

    def __init__(self, url, authcfg, binary, autostart, cache_dir, launcher, done):
        super().__init__("Géoplateforme: connecting to the gateway", QgsTask.CanCancel)
        self.args = (url, authcfg, binary, autostart, cache_dir, launcher)
        self.authcfg = authcfg
        self.done = done
        self.gateway = None
        self.message = None
        self.planned = []
        self.descriptions = None
        self.catalogue_ready = False
        # Set when the gateway is older than this plugin needs: what to tell the user.
        self.version_warning = None

    def run(self):
        self.gateway, self.message = discover(*self.args)
        if self.gateway is None or self.isCanceled():
            return True
        version = (self.gateway.health() or {}).get("version")
        if too_old(version):
            self.version_warning = (
                "The gateway at %s is version %s; this plugin needs %s or later: some tools may "
                "fail. Update geopf-gateway." % (self.gateway.url, version or "unknown", MIN_GATEWAY_VERSION))
        self.catalogue_ready = connections.catalogue_ready(self.gateway)
        self.planned = connections.plan(self.gateway, self.authcfg)
        self.descriptions = fetch_descriptions(self.gateway)
        return True

    def finished(self, _result):
        self.done(self)


class WaitForCatalogue(QgsTask):
    """Asks the gateway's catalogue again, waiting 0.5 s then twice as long each time (15 s at
    most) for up to `wait_s`; then plans the basemap connections it allows."""

    def __init__(self, gateway, authcfg, wait_s, done):
        super().__init__("Géoplateforme: waiting for the gateway's catalogue", QgsTask.CanCancel)
        self.gateway = gateway
        self.authcfg = authcfg
        self.wait_s = wait_s
        self.done = done
        self.planned = []

    def run(self):
        delay = 0.5
        deadline = time.monotonic() + self.wait_s
        while not self.isCanceled():
            if connections.catalogue_ready(self.gateway):
                self.planned = connections.basemaps(self.gateway, self.authcfg)
                return True
            if time.monotonic() + delay > deadline:
                return True
            time.sleep(delay)
            delay = min(delay * 2, 15)
        return True

    def finished(self, _result):
        self.done(self)
