"""The plugin: finds or starts the gateway, then registers it with QGIS (connections, locator,
Processing provider, reverse-geocoding tool, kiosk). Unloading removes all of it. Every network
exchange runs in QGIS's task manager (`discovery.py`): `initGui` returns at once, and QGIS stays
responsive whatever the gateway does."""
import os

from qgis.core import Qgis, QgsApplication
from qgis.PyQt.QtCore import QUrl
from qgis.PyQt.QtGui import QDesktopServices, QIcon
from qgis.PyQt.QtWidgets import QAction, QCheckBox, QDialog, QDialogButtonBox, QFormLayout, QLineEdit

from . import connections
from .discovery import Connect, WaitForCatalogue
from .gateway import Launcher, configured_url, find_binary, set_setting, setting
from .locator import GeopfLocatorFilter
from .maptool import ReverseGeocodeTool
from .processing_provider import GatewayProvider

MENU = "&Géoplateforme"
# How long the plugin waits for an empty catalogue before saying so (a first start without snapshot
# and a slow upstream).
CATALOGUE_WAIT_S = 300


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
        # Tasks under way, referenced until they end (the task manager does not keep Python's).
        self.tasks = []

    # -- finding the gateway ------------------------------------------------------------------
    def _run(self, task):
        self.tasks.append(task)
        QgsApplication.taskManager().addTask(task)

    def _ended(self, task):
        if task in self.tasks:
            self.tasks.remove(task)
        return not task.isCanceled()

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
        """(Re)registers everything with the gateway that answers, in the background; idempotent."""
        self.unregister()
        cache = os.path.join(QgsApplication.qgisSettingsDirPath(), "geopf-gateway-cache")
        self._run(Connect(
            configured_url(),
            setting("authcfg", "") or "",
            find_binary(setting("binary", "") or None),
            str(setting("autostart", "true")).lower() == "true",
            cache,
            self.launcher,
            self._connected,
        ))

    def _connected(self, task):
        """On the main thread: registers what the task found, or says what to do."""
        if not self._ended(task):
            return
        if task.gateway is None:
            level = Qgis.Critical if "could not start" in (task.message or "") else Qgis.Warning
            self.tell(task.message, level)
            return
        self.gateway = task.gateway
        if task.version_warning:
            self.tell(task.version_warning, Qgis.Warning)
        connections.write(task.planned)
        self.reload_browser()
        self.locator = GeopfLocatorFilter(self.gateway.url, self.gateway.authcfg, self.iface)
        self.iface.registerLocatorFilter(self.locator)
        self.provider = GatewayProvider(self.gateway.url, self.gateway.authcfg, task.descriptions)
        QgsApplication.processingRegistry().addProvider(self.provider)
        self.tool = ReverseGeocodeTool(self.iface, self.gateway.url, self.gateway.authcfg)
        if not task.catalogue_ready:
            self.tell("The gateway's catalogue is not ready yet: the basemap connections will be added "
                      "as soon as it is.", Qgis.Info)
            self._run(WaitForCatalogue(self.gateway, self.gateway.authcfg, CATALOGUE_WAIT_S, self._catalogue))

    def _catalogue(self, task):
        if not self._ended(task) or task.gateway is not self.gateway:
            return  # unloaded or reconnected meanwhile
        if task.planned:
            connections.write(task.planned)
            self.reload_browser()
            self.tell("The basemap connections of the gateway are in the Browser panel now.", Qgis.Success)
        else:
            self.tell("The gateway's catalogue is still empty (does the Géoplateforme answer?); try "
                      "Web → Géoplateforme → Reconnect to the gateway later.", Qgis.Warning)

    def reload_browser(self):
        try:
            self.iface.reloadConnections()
        except Exception:  # noqa: BLE001 - an interface without it (tests)
            pass

    def unregister(self):
        for task in list(self.tasks):
            task.cancel()
        self.tasks = []
        self.gateway = None
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
