"""Runs every Python code block of the tutorials (`docs/*.md`, README.md) against a running gateway:
an indented block whose first line is an `import` or a `from … import`, with the tutorials' address
(http://127.0.0.1:8080) replaced by the gateway's. A snippet a reader copies must run.

    python tests/docs/python_blocks.py http://gateway
"""
import glob
import os
import re
import sys
import textwrap

gateway = sys.argv[1].rstrip("/")
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
failures = 0
count = 0
for path in sorted(glob.glob(os.path.join(root, "docs", "*.md"))) + [os.path.join(root, "README.md")]:
    text = open(path, encoding="utf-8").read()
    # Blocks of lines indented by four spaces, after a blank line.
    for block in re.findall(r"(?:^|\n\n)((?:    .*\n?)+)", text):
        code = textwrap.dedent(block)
        if not re.match(r"(import |from \S+ import )", code):
            continue
        count += 1
        name = "%s:%s" % (os.path.relpath(path, root), code.splitlines()[0])
        try:
            exec(compile(code.replace("http://127.0.0.1:8080", gateway), name, "exec"), {})
            print("PASS docs.python %s" % name)
        except Exception as e:  # noqa: BLE001 - every failure is reported
            failures += 1
            print("FAIL docs.python %s: %s: %s" % (name, type(e).__name__, e))
print("docs python blocks: %d run, %d failed" % (count, failures))
sys.exit(1 if failures or not count else 0)
