#!/usr/bin/env python3
"""Hostile-input suite: a running gateway under what an attacker or a careless client sends.

Thousands of generated malformed requests on every route, a filter nested 2 000 deep, thousands of
idle connections, half-sent headers, a trickled oversized body — while /health is timed throughout.
Fails (exit 1) on any 500, any error that is not a complete problem+json, any 400 that does not name
its parameter, any answer slower than its timeout, or a /health slower than HEALTH_MS.

Loopback only, bounded in count and time.
    tests/hostile/hostile.py http://127.0.0.1:PORT [--idle N] [--requests N]
"""
import argparse
import http.client
import json
import random
import resource
import socket
import sys
import threading
import time
import urllib.parse

HEALTH_MS = 100
TIMEOUT_S = 30  # every answer within this (the gateway's upstream and request timeouts are below)

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg, file=sys.stderr)


class Client:
    """One keep-alive HTTP/1.1 connection, reopened when the gateway closes it."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.conn = None

    def get(self, path, method="GET", body=None, headers=None):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT_S)
            try:
                started = time.monotonic()
                self.conn.request(method, path, body=body, headers=headers or {})
                r = self.conn.getresponse()
                data = r.read()
                elapsed = time.monotonic() - started
                if r.getheader("connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r.status, r.getheader("content-type", ""), data, elapsed
            except (ConnectionError, http.client.RemoteDisconnected, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise RuntimeError("unreachable")


def health_ms(host, port):
    """Milliseconds for a GET /health on a new connection."""
    started = time.monotonic()
    c = http.client.HTTPConnection(host, port, timeout=10)
    c.request("GET", "/health")
    r = c.getresponse()
    r.read()
    c.close()
    if r.status != 200:
        fail("/health answered %d" % r.status)
    return (time.monotonic() - started) * 1000


class HealthWatch(threading.Thread):
    """Times /health every 50 ms while the attacks run."""

    def __init__(self, host, port):
        super().__init__(daemon=True)
        self.host, self.port = host, port
        self.stop = threading.Event()
        self.times = []

    def run(self):
        while not self.stop.is_set():
            try:
                self.times.append(health_ms(self.host, self.port))
            except OSError as e:
                fail("/health did not answer: %s" % e)
                self.times.append(10_000)
            time.sleep(0.05)


# --- generated malformed requests -------------------------------------------------------------

NASTY = [
    "", " ", "-1", "0", "1e309", "NaN", "inf", "-inf", "9" * 400, "0x10", "1,2", "1,2,3",
    "1,2,3,4,5", "a,b,c,d", "999,999,999,999", "-181,-91,181,91", "%", "%zz", "%00", "\u00e9" * 50,
    "'", "\"", "(", ")", "((((", "'; DROP TABLE x;--", "<script>alert(1)</script>",
    "../../etc/passwd", "a" * 5000, "\u202e\u0000", "true", "null", "[]", "{}", "..", "/",
    "1.5", "-0", "3.8,43.6", "3.8,43.6|3.9", "||||", "EPSG:0", "EPSG:99999999",
    "http://www.opengis.net/def/crs/EPSG/0/4326", "2024-13-45T99:99:99Z", "../..",
]

FILTERS = [
    "(" * 2000 + "a = 1" + ")" * 2000,
    "NOT " * 3000 + "a = 1",
    "S_INTERSECTS(geometrie, POLYGON" + "(" * 1500 + "1 2" + ")" * 1500 + ")",
    "nom_officiel IN (" + ",".join("'x%d'" % i for i in range(900)) + ")",
    "nom_officiel LIKE '" + "%" * 2000 + "'",
    "population > 1e999999", "population BETWEEN 1 AND", "a =", "= =", "'unterminated",
]

COMMUNE = "LIMITES_ADMINISTRATIVES_EXPRESS.LATEST:commune"

ROUTES = [
    ("/collections/addresses/items", ["q", "bbox", "limit", "offset", "bbox-crs", "crs", "f", "type", "postcode", "citycode", "lon", "lat", "datetime", "zzz"]),
    ("/collections/addresses/items/{id}", ["f", "crs"]),
    ("/collections/parcels/items", ["bbox", "limit", "offset", "f"]),
    ("/collections/%s/items" % COMMUNE, ["filter", "filter-lang", "filter-crs", "bbox", "bbox-crs", "limit", "offset", "crs", "nom_officiel", "properties", "sortby"]),
    ("/collections/%s/queryables" % COMMUNE, ["f"]),
    ("/collections/{id}", ["f"]),
    ("/processes/{id}", ["f"]),
    ("/processes/geocode/execution", ["q", "limit", "index", "lat", "lon"]),
    ("/processes/reverse-geocode/execution", ["lon", "lat", "point", "limit"]),
    ("/processes/route/execution", ["start", "end", "profile", "intermediates", "optimization"]),
    ("/processes/isochrone/execution", ["point", "costValue", "costType", "timeUnit", "profile", "direction"]),
    ("/processes/elevation/execution", ["points", "lon", "lat"]),
    ("/processes/elevation-profile/execution", ["line", "sampling"]),
    ("/jobs", ["limit", "offset", "f"]),
    ("/jobs/{id}", ["f"]),
    ("/jobs/{id}/results", ["output"]),
    ("/catalog.json", ["q", "theme", "service", "limit", "offset"]),
    ("/catalog/{id}", ["f"]),
    ("/tiles/{id}/{n}/{n}/{n}.png", []),
    ("/wmts", ["SERVICE", "REQUEST", "LAYER", "STYLE", "TILEMATRIXSET", "TILEMATRIX", "TILEROW", "TILECOL", "FORMAT"]),
    ("/wmts/1.0.0/{id}/normal/PM/{n}/{n}/{n}.png", []),
    ("/wms", ["SERVICE", "VERSION", "REQUEST", "LAYERS", "STYLES", "CRS", "BBOX", "WIDTH", "HEIGHT", "FORMAT", "I", "J", "QUERY_LAYERS", "INFO_FORMAT"]),
    ("/geopf/{id}", ["q", "limit", "REQUEST", "SERVICE"]),
    ("/geopf/geocodage/{id}", ["q", "limit", "lon", "lat"]),
    ("/", ["f"]), ("/conformance", ["f"]), ("/api", ["f"]), ("/collections", ["f", "limit"]),
]


def generated_requests(rng, n):
    for _ in range(n):
        path, params = rng.choice(ROUTES)
        path = path.replace("{id}", urllib.parse.quote(rng.choice(NASTY + ["x", "geocode", "ORTHOIMAGERY.ORTHOPHOTOS"]), safe=""))
        while "{n}" in path:
            path = path.replace("{n}", urllib.parse.quote(rng.choice(NASTY + ["1", "7", "64"]), safe=""), 1)
        query = []
        for p in rng.sample(params, k=min(len(params), rng.randint(0, 4))):
            value = rng.choice(FILTERS) if p == "filter" and rng.random() < 0.5 else rng.choice(NASTY)
            query.append((p, value))
        qs = urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        yield path + ("?" + qs if qs else "")


def check_answer(label, status, ctype, data, elapsed):
    if status >= 500 and status not in (502, 503, 504):
        fail("%s -> %d %s" % (label, status, data[:200]))
    if elapsed > TIMEOUT_S:
        fail("%s took %.1f s" % (label, elapsed))
    if status >= 400:
        if not ctype.startswith("application/problem+json"):
            fail("%s -> %d without problem+json (%s)" % (label, status, ctype))
            return
        try:
            problem = json.loads(data)
        except ValueError:
            fail("%s -> %d: unreadable problem %r" % (label, status, data[:200]))
            return
        missing = [k for k in ("type", "title", "status", "detail") if k not in problem]
        if missing or problem.get("status") != status:
            fail("%s -> %d: incomplete problem %s" % (label, status, problem))
        if status == 400 and not problem.get("parameter") and "body" not in problem.get("type", ""):
            fail("%s -> 400 naming no parameter: %s" % (label, problem.get("detail")))


def malformed_sweep(host, port, n, seed):
    rng = random.Random(seed)
    client = Client(host, port)
    statuses = {}
    for path in generated_requests(rng, n):
        status, ctype, data, elapsed = client.get(path)
        statuses[status] = statuses.get(status, 0) + 1
        check_answer(path[:160], status, ctype, data, elapsed)
    for body in [b"", b"{", b"[]", b'{"inputs": ' * 200, b'{"inputs": {"q": ' + b"[" * 5000 + b"]}}", b"\xff\xfe" * 100]:
        for process in ["geocode", "route", "batch-geocode", "nope"]:
            status, ctype, data, elapsed = client.get(
                "/processes/%s/execution" % process, "POST", body, {"Content-Type": "application/json"})
            statuses[status] = statuses.get(status, 0) + 1
            if status >= 500 and status not in (502, 503, 504):
                fail("POST %s %r -> %d" % (process, body[:40], status))
    print("hostile.sweep: %d generated requests, statuses %s" % (n + 24, dict(sorted(statuses.items()))))


# --- connections ----------------------------------------------------------------------------------

def idle_connections(host, port, n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    n = min(n, hard - 200)
    socks = []
    started = time.monotonic()
    for _ in range(n):
        try:
            s = socket.create_connection((host, port), timeout=5)
            socks.append(s)
        except OSError:
            break
    opened = time.monotonic() - started
    worst = max(health_ms(host, port) for _ in range(20))
    closed = 0
    for s in socks:
        s.setblocking(False)
        try:
            if s.recv(1) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
        s.close()
    print("hostile.idle: %d idle connections opened in %.1f s (%d already closed by the gateway); /health worst %.1f ms"
          % (len(socks), opened, closed, worst))
    if worst > HEALTH_MS:
        fail("/health took %.1f ms with %d idle connections" % (worst, len(socks)))


def half_sent_headers(host, port, n):
    socks = []
    for _ in range(n):
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        socks.append(s)
    worst = max(health_ms(host, port) for _ in range(10))
    for s in socks:
        s.close()
    print("hostile.slowloris: %d half-sent headers; /health worst %.1f ms" % (n, worst))
    if worst > HEALTH_MS:
        fail("/health took %.1f ms beside half-sent headers" % worst)


def trickled_body(host, port):
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(b"POST /processes/geocode/execution HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              b"Content-Type: application/json\r\nContent-Length: 20000000\r\n\r\n")
    started = time.monotonic()
    answer = b""
    s.settimeout(0.2)
    while time.monotonic() - started < 10 and b"\r\n\r\n" not in answer:
        try:
            s.sendall(b"{")
        except OSError:
            pass
        try:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
        except socket.timeout:
            pass
    waited = time.monotonic() - started
    s.close()
    worst = health_ms(host, port)
    print("hostile.trickle: a 20 MB Content-Length answered %r after %.2f s; /health %.1f ms"
          % (answer.split(b"\r\n")[0].decode(errors="replace"), waited, worst))
    if not answer.startswith(b"HTTP/1.1 413"):
        fail("a 20 MB declared body got %r" % answer[:80])
    if worst > HEALTH_MS:
        fail("/health took %.1f ms after a trickled body" % worst)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--requests", type=int, default=4000)
    ap.add_argument("--idle", type=int, default=19000)
    ap.add_argument("--slow", type=int, default=500)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    u = urllib.parse.urlsplit(args.url)
    host, port = u.hostname, u.port
    watch = HealthWatch(host, port)
    watch.start()
    malformed_sweep(host, port, args.requests, args.seed)
    trickled_body(host, port)
    half_sent_headers(host, port, args.slow)
    watch.stop.set()
    watch.join()
    idle_connections(host, port, args.idle)
    times = sorted(watch.times)
    p99 = times[int(len(times) * 0.99) - 1] if times else 0
    print("hostile.health: %d probes during the sweep, median %.1f ms, p99 %.1f ms, max %.1f ms"
          % (len(times), times[len(times) // 2], p99, times[-1]))
    if times and times[-1] > 1000:
        fail("/health once took %.0f ms during the sweep" % times[-1])
    if failures:
        print("hostile: %d failures" % len(failures))
        sys.exit(1)
    print("hostile: 0 failures")


if __name__ == "__main__":
    main()
