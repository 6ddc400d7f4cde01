#!/usr/bin/env bash
# The kiosk in a real browser (headless Chromium) with every host but loopback unresolvable, so the
# page must work from the gateway alone: the search given in the address filters the cards, previews
# load from the gateway's tiles, and a screenshot is taken and checked for drawn tiles.
#
# Usage: tests/browser/kiosk.sh http://gateway OUT_DIR
set -euo pipefail
GW=${1:?gateway URL}
OUT=${2:-.}
mkdir -p "$OUT"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chrome=(chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --user-data-dir="$profile" --host-resolver-rules="MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"
  --virtual-time-budget=8000)

"${chrome[@]}" --dump-dom "$GW/catalog?q=plan%20ign&service=wmts" >"$OUT/kiosk-dom.html" 2>/dev/null
"${chrome[@]}" --window-size=1280,900 --screenshot="$OUT/kiosk.png" "$GW/catalog?q=plan%20ign&service=wmts" 2>/dev/null
# The best matches first, as /catalog.json ranks them.
for q in ortho cadastre photographies%20aeriennes; do
  "${chrome[@]}" --dump-dom "$GW/catalog?q=$q" >"$OUT/kiosk-rank-${q%%\%*}.html" 2>/dev/null
done

/usr/bin/python3 - "$OUT" <<'PY'
import re, sys
from PIL import Image

out = sys.argv[1]
dom = open(out + "/kiosk-dom.html", encoding="utf-8").read()
cards = re.findall(r'<section class="card"([^>]*)>', dom)
shown = [c for c in cards if " hidden" not in c]
count = re.search(r'<span id="count">([^<]*)</span>', dom).group(1)
assert cards, "no card on the page"
assert 0 < len(shown) < len(cards), "the search did not filter: %d of %d shown" % (len(shown), len(cards))
assert all("wmts" in c for c in shown), "a card of another service is shown"
assert count == "%d layers" % len(shown), (count, len(shown))
print("browser.kiosk.search: 'plan ign' in tiles shows %d of %d cards (%s)" % (len(shown), len(cards), count))
# The in-page search ranks: the first cards shown, in the page's order.
for q, wanted, within in (("ortho", "ORTHOIMAGERY.ORTHOPHOTOS", 1),
                          ("cadastre", "CADASTRALPARCELS.PARCELLAIRE_EXPRESS", 3),
                          ("photographies", "ORTHOIMAGERY.ORTHOPHOTOS", 3)):
    ranked = open(out + "/kiosk-rank-%s.html" % q, encoding="utf-8").read()
    first = [re.search(r"<code>([^<]*)</code>", section).group(1)
             for head, section in re.findall(r'<section class="card"([^>]*)>(.*?)</section>', ranked, re.S)
             if " hidden" not in head][:3]
    assert wanted in first[:within], "%r: %s not in the first %d (%s)" % (q, wanted, within, first)
    print("browser.kiosk.rank: %r shows %s first" % (q, ", ".join(first)))
image = Image.open(out + "/kiosk.png").convert("RGB")
colours = image.getcolors(maxcolors=1 << 20) or []
assert image.size == (1280, 900) and len(colours) > 20, (image.size, len(colours))
# Two cards fit on the first row: below it the page must be empty (filtered cards really hidden).
below = image.crop((0, 600, 1260, 900)).getcolors(maxcolors=1 << 20)
assert below is not None and len(below) == 1, "cards drawn below the first row: %d colours" % len(below or [])
# Each of the two cards' previews is drawn: its picture area is neither the page's background nor
# the card's white (a page of text with blank previews fails here).
page = image.getpixel((5, 890))
def blank(p):
    return all(abs(a - b) < 12 for a, b in zip(p, page)) or all(c > 243 for c in p)
for name, (x0, x1) in (("first", (25, 310)), ("second", (340, 625))):
    box = image.crop((x0, 80, x1, 205))
    pixels = list(box.getdata())
    drawn = sum(1 for p in pixels if not blank(p)) / len(pixels)
    assert drawn > 0.9, "the %s card's preview is blank (%.0f %% drawn)" % (name, drawn * 100)
print("browser.kiosk.screenshot: %s, %d colours, both previews drawn, nothing below the two cards" % (out + "/kiosk.png", len(colours)))
PY
