"""Decodes PNG files with Pillow, for test/png.test.ts (an independent decoder).

Usage: data_png_decode.py FILE...
Prints JSON: [{"mode": "RGB" | "RGBA", "width", "height", "pixels": base64 of the raw bytes}].
Pillow verifies each chunk's CRC and the zlib stream while decoding.
"""
import base64
import json
import sys

from PIL import Image

out = []
for path in sys.argv[1:]:
    with Image.open(path) as image:
        image.load()
        out.append({
            'mode': image.mode,
            'width': image.width,
            'height': image.height,
            'pixels': base64.b64encode(image.tobytes()).decode('ascii'),
        })
print(json.dumps(out))
