#!/usr/bin/env python3
"""Checks the compose files without a Docker engine (none runs on the project's machines): each
parses, each file it mounts or builds from exists, every service it depends on is defined, and in
the cluster file the replicas point at the Valkey service and nginx balances over exactly the
replicas. Usage: check_compose.py (from the repository's root)."""
import os, re, sys
import yaml

DOCKER = "docker"


def check(name):
    path = os.path.join(DOCKER, name)
    with open(path) as f:
        doc = yaml.safe_load(f)
    services = doc["services"]
    for sname, service in services.items():
        build = service.get("build")
        if build:
            context = os.path.normpath(os.path.join(DOCKER, build["context"]))
            assert os.path.isfile(os.path.join(context, build["dockerfile"])), (name, sname, build)
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert os.path.exists(os.path.join(DOCKER, source)), (name, sname, source)
            else:
                assert source in (doc.get("volumes") or {}), (name, sname, f"undeclared volume {source}")
        for dep in service.get("depends_on", []):
            assert dep in services, (name, sname, f"depends on unknown {dep}")
    return services


check("compose.yaml")
services = check("compose.cluster.yaml")
replicas = sorted(s for s in services if s.startswith("gateway-"))
assert len(replicas) >= 2, replicas
with open(os.path.join(DOCKER, "cluster.toml")) as f:
    redis = re.search(r'redis_url\s*=\s*"redis://([^:/"]+)', f.read())
assert redis and redis.group(1) in services, "cluster.toml's redis_url names no compose service"
with open(os.path.join(DOCKER, "nginx-cluster.conf")) as f:
    balanced = sorted(re.findall(r"server\s+(gateway-\d+):8080", f.read()))
assert balanced == replicas, f"nginx balances {balanced}, compose defines {replicas}"
print(f"compose files: consistent ({len(replicas)} replicas behind nginx, Valkey at {redis.group(1)})")
