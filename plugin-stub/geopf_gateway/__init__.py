"""Géoplateforme gateway: the QGIS launcher of geopf-gateway."""


def classFactory(iface):  # noqa: N802 (QGIS's name)
    from .plugin import GeopfGatewayPlugin

    return GeopfGatewayPlugin(iface)
