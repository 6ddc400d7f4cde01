"""OWSLib on the gateway's republished WMS: reads the capabilities, finds the layers and their
styles, and gets a map through the gateway (every operation URL it follows is the gateway's).

Usage: python wms_owslib.py http://gateway
"""
import sys

from owslib.wms import WebMapService

ORTHO = "ORTHOIMAGERY.ORTHOPHOTOS"


def main():
    base = sys.argv[1].rstrip("/")
    wms = WebMapService(base + "/wms", version="1.3.0", timeout=30)
    layers = list(wms.contents)
    assert ORTHO in layers, layers[:10]
    urls = [m["url"] for op in wms.operations for m in op.methods]
    assert urls and all(u.startswith(base + "/wms") for u in urls), urls
    print("owslib.wms.capabilities: %d layers, operations at %s" % (len(layers), sorted(set(urls))))
    img = wms.getmap(layers=[ORTHO], styles=[""], srs="EPSG:3857", bbox=(430000, 5400000, 440000, 5410000),
                     size=(256, 256), format="image/png")
    data = img.read()
    assert data.startswith(b"\x89PNG"), data[:80]
    print("owslib.wms.getmap: %d bytes of PNG" % len(data))


if __name__ == "__main__":
    main()
