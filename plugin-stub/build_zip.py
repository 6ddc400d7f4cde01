#!/usr/bin/env python3
"""Builds the installable plugin zip: build_zip.py [OUT_DIR] -> OUT_DIR/geopf_gateway.zip
(QGIS → Plugins → Manage and Install Plugins → Install from ZIP)."""
import os
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))


def build(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "geopf_gateway.zip")
    src = os.path.join(HERE, "geopf_gateway")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for root, dirs, files in os.walk(src):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in sorted(files):
                if name.endswith((".py", ".txt", ".png")):
                    full = os.path.join(root, name)
                    z.write(full, os.path.join("geopf_gateway", os.path.relpath(full, src)))
    return path


if __name__ == "__main__":
    print(build(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "dist")))
