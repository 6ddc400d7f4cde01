"""A layer's page in the kiosk, in headless Chromium driven over the DevTools protocol: its map is
drawn from the gateway's tiles, and a drag with the mouse pans it — the map's centre moves and new
tiles are asked of the gateway — with every host but loopback unresolvable (nothing from a CDN).
Twice: the raster Plan IGN (Leaflet, XYZ tiles) and the vector Plan IGN (MapLibre GL JS, WebGL in
SwiftShader: the IGN style, its features rendered, another style picked from the page's list).

Usage: /usr/bin/python3 tests/browser/detail_map.py http://gateway [OUT_DIR]
Needs chromium and python3-websocket. Prints PASS lines; exits 1 on the first failure.
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket

GW = sys.argv[1].rstrip("/")
OUT = sys.argv[2] if len(sys.argv) > 2 else "."
# (layer, what says its map has drawn, what counts the tiles it loads from now on — None: the page's
# requests, seen by the DevTools protocol; MapLibre fetches its tiles in a worker, which that
# session does not see, so its own tile events count them —, its screenshot)
MAPS = [
    ("GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2",
     "window.geopfMap && document.querySelectorAll('#map img.leaflet-tile-loaded').length > 0",
     None, "detail-map.png"),
    ("PLAN.IGN",
     "window.geopfMap && window.geopfMap.loaded() && window.geopfMap.queryRenderedFeatures().length > 0",
     "window.geopfTiles = new Set(); window.geopfMap.on('data', function (e) {"
     " if (e.dataType === 'source' && e.tile) window.geopfTiles.add(e.tile.tileID.key); }); 0",
     "detail-map-vector.png"),
]


class Page:
    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=30)
        self.next_id = 0
        self.events = []

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError("%s: %s" % (method, message["error"]))
                return message.get("result", {})
            self.events.append(message)

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def asked(self, fragment):
        """The URLs containing `fragment` the page has requested so far."""
        self.call("Runtime.evaluate", expression="1")  # flushes pending events
        return {e["params"]["request"]["url"] for e in self.events
                if e.get("method") == "Network.requestWillBeSent"
                and fragment in e["params"]["request"]["url"]}


def wait_for(page, expression, timeout_s=20):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if page.evaluate(expression):
            return True
        time.sleep(0.2)
    return False


def check_map(page, layer, drawn, count_tiles, shot_name):
    tiles = "/tiles/%s/" % layer
    page.call("Page.navigate", url="%s/catalog/%s?f=html" % (GW, layer))
    assert wait_for(page, drawn), "%s: the map never drew a tile" % layer
    before = page.evaluate("JSON.stringify(window.geopfMap.getCenter())")
    asked = page.asked(tiles)
    if count_tiles:
        page.evaluate(count_tiles)
        features = page.evaluate("window.geopfMap.queryRenderedFeatures().length")
        print("PASS browser.map.load %s: %d features of the gateway's tiles drawn" % (layer, features), flush=True)
    else:
        print("PASS browser.map.load %s: %d tiles drawn from the gateway" % (layer, len(asked)), flush=True)
    box = page.evaluate("JSON.stringify(document.getElementById('map').getBoundingClientRect())")
    box = json.loads(box)
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.call("Input.dispatchMouseEvent", type="mousePressed", x=x, y=y, button="left", clickCount=1)
    for step in range(1, 21):
        page.call("Input.dispatchMouseEvent", type="mouseMoved", x=x - 15 * step, y=y - 8 * step, button="left")
        time.sleep(0.02)
    page.call("Input.dispatchMouseEvent", type="mouseReleased", x=x - 300, y=y - 160, button="left", clickCount=1)
    time.sleep(1.5)
    after = page.evaluate("JSON.stringify(window.geopfMap.getCenter())")
    assert after != before, "%s: the drag did not move the map (%s)" % (layer, before)
    new = len(page.asked(tiles) - asked) if not count_tiles else page.evaluate("window.geopfTiles.size")
    assert new, "%s: no new tile was asked after the drag" % layer
    print("PASS browser.map.drag %s: centre %s -> %s, %d new tiles" % (layer, before, after, new), flush=True)
    if page.evaluate("!!document.getElementById('style')"):
        # Another style from the page's list: asked of the gateway and drawn.
        styles = page.evaluate("Array.from(document.querySelectorAll('#style option')).map(o => o.textContent)")
        other = styles[-1]
        page.evaluate("var s = document.getElementById('style'); s.value = s.options[s.options.length - 1].value;"
                      " s.dispatchEvent(new Event('change'))")
        assert wait_for(page, "window.geopfMap.isStyleLoaded() && window.geopfMap.getStyle().sources"), \
            "%s: style %s never loaded" % (layer, other)
        style_asked = page.asked("/styles/%s/%s.json" % (layer, other))
        assert style_asked, "%s: the style %s was not asked of the gateway" % (layer, other)
        print("PASS browser.map.style %s: %d styles listed, %s drawn" % (layer, len(styles), other), flush=True)
    shot = page.call("Page.captureScreenshot", format="png")
    with open(os.path.join(OUT, shot_name), "wb") as f:
        f.write(base64.b64decode(shot["data"]))


def main():
    os.makedirs(OUT, exist_ok=True)
    profile = tempfile.mkdtemp()
    chrome = subprocess.Popen(
        # WebGL (MapLibre) in software: SwiftShader, as a machine without a GPU draws it.
        ["chromium", "--headless", "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
         "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--user-data-dir=" + profile, "--window-size=1000,800", "--remote-debugging-port=0",
         "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = os.path.join(profile, "DevToolsActivePort")
        deadline = time.time() + 30
        while not os.path.exists(port_file) and time.time() < deadline:
            time.sleep(0.1)
        port = open(port_file).read().split()[0]
        targets = json.load(urllib.request.urlopen("http://127.0.0.1:%s/json" % port, timeout=10))
        page = Page(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])
        page.call("Network.enable")
        page.call("Page.enable")
        for layer, drawn, count_tiles, shot_name in MAPS:
            check_map(page, layer, drawn, count_tiles, shot_name)
    finally:
        chrome.kill()
        chrome.wait()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
