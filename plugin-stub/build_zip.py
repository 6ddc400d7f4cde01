#!/usr/bin/env python3
"""Builds the installable plugin zips (QGIS → Plugins → Manage and Install Plugins → Install from ZIP,
or a plugin repository: the gateway serves its own at /qgis/plugins.xml).

    build_zip.py [OUT_DIR]                         -> OUT_DIR/geopf_gateway.zip (no binary: the plugin
                                                      finds a gateway, or starts the one on PATH)
    build_zip.py OUT_DIR --bin linux-x86_64=PATH …  -> also OUT_DIR/geopf_gateway-<platform>.zip with
                                                      the gateway at geopf_gateway/bin/<platform>/,
                                                      which the plugin starts first
"""
import argparse
import os
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))


def build(out_dir, platform=None, binary=None):
    """The plugin's zip; with `binary`, the gateway for `platform` bundled in it."""
    os.makedirs(out_dir, exist_ok=True)
    name = "geopf_gateway.zip" if platform is None else "geopf_gateway-%s.zip" % platform
    path = os.path.join(out_dir, name)
    src = os.path.join(HERE, "geopf_gateway")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for root, dirs, files in os.walk(src):
            dirs[:] = [d for d in dirs if d not in ("__pycache__", "bin")]
            for name in sorted(files):
                if name.endswith((".py", ".txt", ".png")):
                    full = os.path.join(root, name)
                    z.write(full, os.path.join("geopf_gateway", os.path.relpath(full, src)))
        if binary:
            entry = os.path.join("geopf_gateway", "bin", platform, os.path.basename(binary))
            info = zipfile.ZipInfo.from_file(binary, entry)
            info.external_attr = 0o755 << 16  # executable where the extractor keeps modes
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(binary, "rb") as f:
                z.writestr(info, f.read())
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", default=os.path.join(HERE, "dist"))
    parser.add_argument("--bin", action="append", default=[], metavar="PLATFORM=PATH",
                        help="a gateway binary to bundle (linux-x86_64, windows-x86_64…); repeatable")
    args = parser.parse_args()
    print(build(args.out_dir))
    for spec in args.bin:
        platform, _, binary = spec.partition("=")
        print(build(args.out_dir, platform, binary))
