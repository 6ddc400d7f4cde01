#!/usr/bin/env python3
"""Cluster mode end to end (issue 15, docs/scale-out.md): a real redis-server (or valkey-server),
three gateway replicas on loopback ports and fake-geopf --enforce-quotas, all started here; every
request is spread over the replicas as a load balancer would. Checks, against the fake's request log:

  1. an answer fetched by replica A is a hit on replica B (no upstream call);
  2. 20 identical concurrent misses spread over the three replicas make one upstream call;
  3. 3 x 60 concurrent distinct searches: all 200, no second of the fake's log over the published
     geocoding limit (50/s), i.e. no upstream 429 — one shared quota for the three replicas;
  4. a job created on A is followed, fetched and dismissed through B and C; a running job on A is
     cancelled through C;
  5. Redis killed mid-load: no 5xx, /ready says "local only"; Redis back: shared again;
  6. a replica killed while running a job: the job is reported failed once its lease runs out.

Usage: check.py --binary target/release/geopf-gateway --fake ../shared/tools/fake-geopf [--out DIR]
Python's standard library only.
"""
import argparse, concurrent.futures as cf, json, os, shutil, signal, socket, subprocess, sys, tempfile, time
import urllib.error, urllib.parse, urllib.request

LEASE_S = 3


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, headers=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def get_json(url):
    status, _, body = http("GET", url)
    return status, json.loads(body or b"null")


def wait_until(what, predicate, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Cluster:
    def __init__(self, args):
        self.args, self.procs, self.out = args, {}, args.out
        os.makedirs(self.out, exist_ok=True)
        self.redis_port = free_port()
        self.start_redis()
        port_file = os.path.join(self.out, "fake.port")
        if os.path.exists(port_file):
            os.remove(port_file)
        self.spawn("fake", [sys.executable, args.fake, "--port-file", port_file, "--quiet", "--enforce-quotas"])
        wait_until("the fake upstream", lambda: os.path.exists(port_file) and open(port_file).read().strip())
        self.fake = f"http://127.0.0.1:{open(port_file).read().strip()}"
        self.gateways = [self.start_gateway(name) for name in "ABC"]

    def spawn(self, name, argv, env=None):
        log = open(os.path.join(self.out, f"{name}.log"), "ab")
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)

    def start_redis(self):
        self.spawn("redis", [self.args.redis_server, "--port", str(self.redis_port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no"])
        wait_until("redis", lambda: self.redis_up())

    def redis_up(self):
        try:
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self, name):
        p = self.procs.pop(name)
        p.send_signal(signal.SIGKILL)
        p.wait()

    def start_gateway(self, name):
        port = free_port()
        env = dict(os.environ,
                   GEOPF_CLUSTER__REDIS_URL=f"redis://127.0.0.1:{self.redis_port}/0",
                   GEOPF_CLUSTER__JOB_LEASE_S=str(LEASE_S),
                   GEOPF_LOG__REQUESTS="false")
        cache = os.path.join(self.out, f"cache-{name}")
        shutil.rmtree(cache, ignore_errors=True)
        self.spawn(f"gateway-{name}", [self.args.binary, "serve", "--listen", f"127.0.0.1:{port}",
                                       "--upstream", self.fake, "--cache-dir", cache], env)
        url = f"http://127.0.0.1:{port}"
        wait_until(f"gateway {name}", lambda: self.alive(url))
        return url

    @staticmethod
    def alive(url):
        try:
            return http("GET", url + "/health", timeout=1)[0] == 200
        except OSError:
            return False

    def log(self):
        return get_json(self.fake + "/__fake/log")[1]

    def clear_log(self):
        http("DELETE", self.fake + "/__fake/log")

    def upstream_calls(self, path, needle):
        return [e for e in self.log() if e["path"] == path and needle in urllib.parse.unquote_plus(e["query"])]

    def stop(self):
        for p in self.procs.values():
            p.kill()
            p.wait()


def search(gateway, q):
    return http("GET", f"{gateway}/collections/addresses/items?limit=3&q={urllib.request.quote(q)}")


def check_shared_hit(c):
    a, b, _ = c.gateways
    c.clear_log()
    status, headers, _ = search(a, "12 rue de la Paix Paris")
    assert status == 200, status
    status, headers, _ = search(b, "12 rue de la Paix Paris")
    cache_status = headers.get("cache-status") or headers.get("Cache-Status")
    assert status == 200 and "detail=shared" in cache_status, cache_status
    calls = c.upstream_calls("/geocodage/search", "rue de la Paix")
    assert len(calls) == 1, f"{len(calls)} upstream calls"
    print(f"ok 1 - answered by A, a hit on B ({cache_status}); 1 upstream call")


def check_collapsed(c):
    c.clear_log()
    q = "3 avenue des Champs-Elysees Paris"
    with cf.ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda i: search(c.gateways[i % 3], q), range(20)))
    assert all(s == 200 for s, _, _ in answers), [s for s, _, _ in answers]
    calls = c.upstream_calls("/geocodage/search", "Champs")
    assert len(calls) == 1, f"{len(calls)} upstream calls for 20 identical misses"
    print("ok 2 - 20 identical concurrent misses over 3 replicas: 1 upstream call")


def check_one_quota(c):
    c.clear_log()
    time.sleep(1.1)  # a fresh second in the fake's count
    started = time.time()
    with cf.ThreadPoolExecutor(180) as pool:
        answers = list(pool.map(lambda i: search(c.gateways[i % 3], f"{i} rue de Rivoli Paris"), range(180)))
    elapsed = time.time() - started
    statuses = sorted({s for s, _, _ in answers})
    assert statuses == [200], f"statuses {statuses}"
    per_second = {}
    for e in c.log():
        if e["path"].startswith("/geocodage"):
            second = int(e["t"])
            per_second[second] = per_second.get(second, 0) + 1
    worst = max(per_second.values())
    assert worst <= 50, f"{worst} upstream geocoding requests in one second (limit 50)"
    print(f"ok 3 - 3 x 60 concurrent distinct searches: all 200 in {elapsed:.1f} s, "
          f"at most {worst} upstream requests a second (limit 50), no upstream 429")


def job_status(gateway, job):
    return get_json(f"{gateway}/jobs/{job}")


def start_hanging_job(c, gateway, watcher, point):
    """An isochrone job on `gateway` whose upstream call never answers (the caller clears the
    fault); returns its id once `watcher` sees it running."""
    http("POST", c.fake + "/__fake/faults", {"path_prefix": "/navigation/isochrone", "mode": "hang"})
    status, _, body = http("POST", f"{gateway}/processes/isochrone/execution",
                           {"inputs": {"point": point, "costValue": 600}},
                           {"Prefer": "respond-async"})
    assert status == 201, (status, body)
    job = json.loads(body)["jobID"]
    wait_until("the job running", lambda: job_status(watcher, job)[1].get("status") == "running")
    return job


def check_jobs(c):
    a, b, cc = c.gateways
    status, headers, body = http("POST", f"{a}/processes/geocode/execution",
                                 {"inputs": {"q": "1 place Georges Freche Montpellier", "limit": 2}},
                                 {"Prefer": "respond-async"})
    assert status == 201, (status, body)
    job = json.loads(body)["jobID"]
    wait_until("the job, seen through B", lambda: job_status(b, job)[1].get("status") == "successful")
    status, results = get_json(f"{cc}/jobs/{job}/results")
    assert status == 200 and json.dumps(results).count("Feature") >= 1, (status, results)
    listed = get_json(f"{cc}/jobs")[1]
    assert any(j["jobID"] == job for j in listed["jobs"]), "C does not list the job"
    status, _, _ = http("DELETE", f"{b}/jobs/{job}")
    assert status == 200, status
    for g in (a, b, cc):
        assert job_status(g, job)[0] == 404, f"the dismissed job is still on {g}"
    print("ok 4a - a job created on A: followed through B, results through C, dismissed through B (404 everywhere)")

    try:
        job = start_hanging_job(c, a, cc, "2.35,48.85")
        status, _, body = http("DELETE", f"{cc}/jobs/{job}")
        assert status == 200 and json.loads(body)["status"] == "dismissed", (status, body)
        wait_until("A to drop the job cancelled through C", lambda: job_status(a, job)[0] == 404, timeout=5)
        print("ok 4b - a job running on A cancelled through C")
    finally:
        http("DELETE", c.fake + "/__fake/faults")


def ready_mode(gateway):
    status, body = get_json(gateway + "/ready")
    return (body or {}).get("cluster", {}).get("mode", "")


def check_redis_outage(c):
    a, b, _ = c.gateways
    errors, stop = [], [False]

    def load(i):
        n = 0
        while not stop[0]:
            status, _, _ = search(c.gateways[(i + n) % 3], f"{(i * 1000 + n) % 40} boulevard Haussmann Paris")
            if status >= 500 or status == 429:
                errors.append(status)
            n += 1
        return n

    with cf.ThreadPoolExecutor(6) as pool:
        runs = [pool.submit(load, i) for i in range(6)]
        time.sleep(1)
        c.kill("redis")
        time.sleep(2)
        stop[0] = True
        total = sum(r.result() for r in runs)
    assert not errors, f"{len(errors)} 5xx or 429 answers while Redis died: {sorted(set(errors))}"
    modes = [ready_mode(g) for g in c.gateways]
    assert all(m.startswith("local only") for m in modes), modes
    print(f"ok 5a - Redis killed under load: {total} requests, no 5xx nor 429 (each replica took its "
          f"share of the quota); /ready: {modes[0]!r}")
    c.start_redis()
    wait_until("the replicas to reattach", lambda: all(ready_mode(g) == "shared" for g in c.gateways))
    c.clear_log()
    search(a, "7 quai d'Orsay Paris")
    _, headers, _ = search(b, "7 quai d'Orsay Paris")
    assert "detail=shared" in (headers.get("cache-status") or ""), headers
    print("ok 5b - Redis restarted: the replicas share again (a hit on B of A's answer)")


def check_lease(c):
    a, _, cc = c.gateways
    try:
        job = start_hanging_job(c, cc, a, "2.36,48.86")
        c.kill("gateway-C")
        wait_until("the orphaned job reported failed",
                   lambda: job_status(a, job)[1].get("status") == "failed", timeout=LEASE_S + 5)
        message = job_status(a, job)[1].get("message", "")
        assert "stopped" in message, message
        status, problem = get_json(f"{a}/jobs/{job}/results")
        assert status == 503 and problem.get("detail"), (status, problem)
        print(f"ok 6 - a replica killed mid-job: the job is failed on A after its lease ({message[:60]}…)")
    finally:
        http("DELETE", c.fake + "/__fake/faults")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--fake", required=True)
    ap.add_argument("--redis-server", default=shutil.which("valkey-server") or shutil.which("redis-server") or "redis-server")
    ap.add_argument("--out", default=tempfile.mkdtemp(prefix="geopf-cluster-"))
    args = ap.parse_args()
    c = Cluster(args)
    try:
        for check in (check_shared_hit, check_collapsed, check_one_quota, check_jobs, check_redis_outage, check_lease):
            check(c)
    except Exception:
        print(f"logs in {args.out}", file=sys.stderr)
        raise
    finally:
        c.stop()
    print("cluster: all checks passed")


if __name__ == "__main__":
    main()
