"""The plugin: finds or starts the gateway, then registers it with QGIS (connections, locator,
Processing provider, reverse-geocoding tool, kiosk). Unloading removes all of it."""
import os

from qgis.core import Qgis, QgsApplication
from qgis.PyQt.QtCore import QUrl
from qgis.PyQt.QtGui import QDesktopServices, QIcon
from qgis.PyQt.QtWidgets import QAction, QCheckBox, QDialog, QDialogButtonBox, QFormLayout, QLineEdit

from . import connections
from .gateway import Gateway, GatewayError, Launcher, configured_url, find_binary, set_setting, setting
from .locator import GeopfLocatorFilter
from .maptool import ReverseGeocodeTool
from .processing_provider import GatewayProvider

MENU = "&Géoplateforme"


class SettingsDialog(QDialog):
    """URL, access (an authentication configuration of QGIS's auth database), auto-start, binary."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Géoplateforme gateway")
        form = QFormLayout(self)
        self.url = QLineEdit(setting("url", "") or "")
        self.url.setPlaceholderText("http://127.0.0.1:8080")
        self.binary = QLineEdit(setting("binary", "") or "")
        self.binary.setPlaceholderText("geopf-gateway on PATH")
        self.autostart = QCheckBox("Start a local gateway when none answers")
        self.autostart.setChecked(str(setting("autostart", "true")).lower() == "true")
        try:
            from qgis.gui import QgsAuthConfigSelect
            self.auth = QgsAuthConfigSelect(self)
            self.auth.setConfigId(setting("authcfg", "") or "")
        except ImportError:  # pragma: no cover - every QGIS build has it
            self.auth = None
        form.addRow("Gateway URL", self.url)
        if self.auth is not None:
            form.addRow("Access token (auth config)", self.auth)
        form.addRow("", self.autostart)
        form.addRow("Gateway binary", self.binary)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def save(self):
        set_setting("url", self.url.text().strip())
        set_setting("binary", self.binary.text().strip())
        set_setting("autostart", "true" if self.autostart.isChecked() else "false")
        if self.auth is not None:
            set_setting("authcfg", self.auth.configId())
        self.accept()


class GeopfGatewayPlugin:
    def __init__(self, iface):
        self.iface = iface
        self.launcher = Launcher()
        self.gateway = None
        self.provider = None
        self.locator = None
        self.tool = None
        self.actions = []

    # -- finding the gateway ------------------------------------------------------------------
    def connect_gateway(self):
        """A gateway that answers: the configured one, else one this plugin starts; None with a
        message bar saying what to do."""
        authcfg = setting("authcfg", "") or ""
        gateway = Gateway(configured_url(), authcfg)
        if gateway.alive():
            return gateway
        binary = find_binary(setting("binary", "") or None)
        autostart = str(setting("autostart", "true")).lower() == "true"
        if binary and autostart:
            cache = os.path.join(QgsApplication.qgisSettingsDirPath(), "geopf-gateway-cache")
            try:
                return Gateway(self.launcher.start(binary, cache), authcfg)
            except GatewayError as e:
                self.tell("geopf-gateway could not start: %s" % e, Qgis.Critical)
                return None
        self.tell(
            "No geopf-gateway answers at %s. Start one (geopf-gateway serve), or set its URL or "
            "binary in Web → Géoplateforme → Settings." % gateway.url,
            Qgis.Warning,
        )
        return None

    def tell(self, text, level=Qgis.Info):
        try:
            self.iface.messageBar().pushMessage("Géoplateforme", text, level, 10)
        except Exception:  # noqa: BLE001 - no message bar (tests)
            pass

    # -- QGIS hooks ----------------------------------------------------------------------------
    def initGui(self):  # noqa: N802
        icon = QIcon(os.path.join(os.path.dirname(__file__), "icon.png"))
        for text, slot in (
            ("Open the basemap kiosk", self.open_kiosk),
            ("What is here? (click the map)", self.start_reverse_tool),
            ("Reconnect to the gateway", self.register),
            ("Settings…", self.show_settings),
        ):
            action = QAction(icon, text, self.iface.mainWindow())
            action.triggered.connect(slot)
            self.iface.addPluginToWebMenu(MENU, action)
            self.actions.append(action)
        self.register()

    def register(self):
        """(Re)registers everything with the gateway that answers; idempotent."""
        self.unregister()
        self.gateway = self.connect_gateway()
        if self.gateway is None:
            return False
        connections.register(self.gateway, self.gateway.authcfg)
        self.locator = GeopfLocatorFilter(self.gateway.url, self.gateway.authcfg, self.iface)
        self.iface.registerLocatorFilter(self.locator)
        self.provider = GatewayProvider(self.gateway.url, self.gateway.authcfg)
        QgsApplication.processingRegistry().addProvider(self.provider)
        self.tool = ReverseGeocodeTool(self.iface, self.gateway.url, self.gateway.authcfg)
        return True

    def unregister(self):
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
        if self.locator is not None:
            self.iface.deregisterLocatorFilter(self.locator)
            self.locator = None
        connections.unregister()
        self.tool = None

    def unload(self):
        self.unregister()
        for action in self.actions:
            self.iface.removePluginWebMenu(MENU, action)
        self.actions = []
        self.launcher.stop()

    # -- actions -------------------------------------------------------------------------------
    def open_kiosk(self):
        if self.gateway is not None:
            QDesktopServices.openUrl(QUrl(self.gateway.url + "/catalog"))

    def start_reverse_tool(self):
        if self.tool is not None:
            self.iface.mapCanvas().setMapTool(self.tool)

    def show_settings(self):
        if SettingsDialog(self.iface.mainWindow()).exec_():
            self.register()
