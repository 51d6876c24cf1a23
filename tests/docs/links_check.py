#!/usr/bin/env python3
"""links_check.py - every relative link of README.md, CHANGELOG.md, docs/*.md and
bench/*/README.md names a file of the repository, and every #anchor a heading of the page
it points to (GitHub's anchor rule: lower case, punctuation dropped, spaces to hyphens).
Links inside code blocks are not links. Fails naming each broken link.

Usage: links_check.py SOURCE_DIR"""
import glob
import os
import re
import sys


def anchors(path):
    out, code = set(), False
    for ln in open(path, encoding="utf-8"):
        if ln.startswith("```"):
            code = not code
        m = None if code else re.match(r"#{1,6} (.*)", ln)
        if m:
            a = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            out.add(a)
    return out


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "."
    pages = ["README.md", "CHANGELOG.md"] + sorted(glob.glob("docs/*.md", root_dir=src)) + \
        sorted(glob.glob("bench/*/README.md", root_dir=src))
    broken, n = [], 0
    for page in pages:
        text = open(os.path.join(src, page), encoding="utf-8").read()
        text = re.sub(r"^\s*```.*?^\s*```", "", text, flags=re.S | re.M)
        for m in re.finditer(r"\]\(([^)\s]+)\)", text):
            link = m.group(1)
            if re.match(r"[a-z]+:", link):
                continue
            n += 1
            path, _, anchor = link.partition("#")
            target = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
            full = os.path.join(src, target)
            if not os.path.exists(full):
                broken.append(f"{page}: {link}: no file {target}")
                continue
            if anchor and target.endswith(".md") and anchor not in anchors(full):
                broken.append(f"{page}: {link}: no heading #{anchor} in {target}")
    for b in broken:
        print("FAIL:", b)
    if broken:
        return 1
    print(f"links_check: {n} links in {len(pages)} pages resolve")
    return 0


if __name__ == "__main__":
    sys.exit(main())
