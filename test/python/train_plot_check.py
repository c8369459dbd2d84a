"""Parses an SVG from stdin with xml.etree (a real XML parser) and reports what it draws.

Writes JSON: the root's tag, width and height; for each <path class="series">, its series name
and number of points (M/L commands); for Vega's rendering, each line (a <path> in a
<g class="mark-line ...">: colour, points, moves) and each point (a <path> in a
<g class="mark-symbol role-mark ...">: colour); all <text> contents; whether any element references an
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
def classes(element):
    return element.get("class", "").split()


lines = []
points = []
for group in root.iter(SVG + "g"):
    for element in group.findall(SVG + "path"):
        d = element.get("d", "")
        if "mark-line" in classes(group):
            lines.append({"stroke": element.get("stroke"), "points": len(re.findall(r"[ML]", d)), "moves": len(re.findall(r"M", d))})
        elif "mark-symbol" in classes(group) and "role-mark" in classes(group):
            points.append({"fill": element.get("fill"), "label": element.get("aria-label")})
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
    "lines": lines,
    "points": points,
    "texts": [t.text for t in root.iter(SVG + "text")],
    "external": external,
}, sys.stdout)
