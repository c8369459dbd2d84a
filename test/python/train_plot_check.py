"""Parses an SVG from stdin with xml.etree (a real XML parser) and reports what it draws.

Writes JSON: the root's tag, width and height; for each <path class="series">, its series name
and number of points (M/L commands); all <text> contents; whether any element references an
external resource (href/src/url(...) or <script>), which a self-contained figure must not.
"""
import json
import re
import sys
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"
root = ET.fromstring(sys.stdin.read())
paths = []
for element in root.iter(SVG + "path"):
    d = element.get("d", "")
    paths.append({
        "series": element.get("data-series"),
        "points": len(re.findall(r"[ML]", d)),
        "moves": len(re.findall(r"M", d)),
    })
external = any(
    element.tag in (SVG + "script", SVG + "image", SVG + "foreignObject")
    or any("href" in key or key == "src" for key in element.attrib)
    or any("url(" in value for value in element.attrib.values())
    for element in root.iter()
)
json.dump({
    "tag": root.tag,
    "width": root.get("width"),
    "height": root.get("height"),
    "paths": paths,
    "texts": [t.text for t in root.iter(SVG + "text")],
    "external": external,
}, sys.stdout)
