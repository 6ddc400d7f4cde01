"""Fixtures: a QGIS application, and the gateway under test (GEOPF_GATEWAY_URL: a running gateway
in front of ../shared/tools/fake-geopf, started by .ci/run or plugin-stub/run-tests.sh)."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # the plugin package

from qgis.testing import start_app  # noqa: E402

APP = start_app()


@pytest.fixture
def gateway_url():
    url = os.environ.get("GEOPF_GATEWAY_URL")
    if not url:
        pytest.fail("GEOPF_GATEWAY_URL must name a running geopf-gateway (see plugin-stub/run-tests.sh)")
    return url.rstrip("/")


@pytest.fixture
def gateway(gateway_url):
    from geopf_gateway.gateway import Gateway

    return Gateway(gateway_url)


@pytest.fixture
def iface():
    from qgis.testing.mocked import get_iface

    return get_iface()
