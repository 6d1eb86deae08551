"""Dependency-free PNG bar charts (zlib + struct, a built-in 5x7 bitmap font).

matplotlib would add ~60 MB of wheels (and a font cache) to draw one chart, so the area
breakdown is rasterised here: horizontal bars with labels, enough for a report figure.
"""

import struct
import zlib

# 5x7 glyphs, one 5-bit row per entry, most significant bit = leftmost pixel. Lowercase
# letters are drawn as capitals.
_FONT = {
    "A": (0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11), "B": (0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E),
    "C": (0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E), "D": (0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C),
    "E": (0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F), "F": (0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10),
    "G": (0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F), "H": (0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11),
    "I": (0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E), "J": (0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C),
    "K": (0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11), "L": (0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F),
    "M": (0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11), "N": (0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11),
    "O": (0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E), "P": (0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10),
    "Q": (0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D), "R": (0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11),
    "S": (0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E), "T": (0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04),
    "U": (0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E), "V": (0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04),
    "W": (0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A), "X": (0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11),
    "Y": (0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04), "Z": (0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F),
    "0": (0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E), "1": (0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E),
    "2": (0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F), "3": (0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E),
    "4": (0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02), "5": (0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E),
    "6": (0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E), "7": (0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08),
    "8": (0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E), "9": (0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C),
    " ": (0, 0, 0, 0, 0, 0, 0), ".": (0, 0, 0, 0, 0, 0x0C, 0x0C),
    ",": (0, 0, 0, 0, 0x0C, 0x04, 0x08), "%": (0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03),
    "-": (0, 0, 0, 0x1F, 0, 0, 0), "_": (0, 0, 0, 0, 0, 0, 0x1F),
    "(": (0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02), ")": (0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08),
    "/": (0, 0x01, 0x02, 0x04, 0x08, 0x10, 0), ":": (0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0),
    "+": (0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0), "=": (0, 0, 0x1F, 0, 0x1F, 0, 0),
    "^": (0x04, 0x0A, 0x11, 0, 0, 0, 0), "'": (0x04, 0x04, 0x08, 0, 0, 0, 0),
    "*": (0, 0x04, 0x15, 0x0E, 0x15, 0x04, 0), "#": (0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A),
    "<": (0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02), ">": (0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08),
}
_UNKNOWN = (0x1F, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1F)

WHITE, BLACK, GREY = (255, 255, 255), (40, 40, 40), (200, 200, 200)
PALETTE = [(52, 101, 164), (204, 0, 0), (78, 154, 6), (245, 121, 0), (117, 80, 123),
           (193, 125, 17), (6, 152, 154)]


class Canvas:
    """An RGB raster with rectangle and text drawing."""

    def __init__(self, width, height, background=WHITE):
        self.width, self.height = width, height
        self.pixels = bytearray(bytes(background) * (width * height))

    def rect(self, x, y, w, h, color):
        """Fill the rectangle ``[x, x+w) x [y, y+h)`` (clipped)."""
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(self.width, x + w), min(self.height, y + h)
        if x1 <= x0:
            return
        row = bytes(color) * (x1 - x0)
        for yy in range(y0, y1):
            start = 3 * (yy * self.width + x0)
            self.pixels[start:start + len(row)] = row

    def text(self, x, y, string, color=BLACK, scale=2):
        """Draw ``string`` with its top-left corner at ``(x, y)``; returns the end x."""
        for char in string:
            glyph = _FONT.get(char.upper(), _UNKNOWN)
            for row, bits in enumerate(glyph):
                for col in range(5):
                    if bits & (0x10 >> col):
                        self.rect(x + col * scale, y + row * scale, scale, scale, color)
            x += 6 * scale
        return x

    def png(self):
        """The image as PNG bytes (8-bit RGB, no interlace)."""
        stride = 3 * self.width
        raw = b"".join(b"\0" + bytes(self.pixels[y * stride:(y + 1) * stride])
                       for y in range(self.height))
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
                + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b""))


def _chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def text_width(string, scale=2):
    return 6 * scale * len(string)


def bar_chart(title, rows, *, width=1000, label_chars=34, row_height=26):
    """Horizontal bar chart as PNG bytes.

    Parameters
    ----------
    title : str
    rows : list of (label, value, value_text, color_index, indent)
        One bar per row; ``indent`` (0 or 1) shifts the label right for sub-rows.
    """
    scale, margin = 2, 12
    label_width = text_width("x" * label_chars, scale) + margin
    value_width = text_width("x" * 22, scale)
    bar_space = max(100, width - label_width - value_width - 2 * margin)
    height = 3 * margin + 7 * scale + len(rows) * row_height + margin
    canvas = Canvas(width, height)
    canvas.text(margin, margin, title[:(width - 2 * margin) // (6 * scale)], scale=scale)
    top = 2 * margin + 7 * scale + margin
    peak = max((value for _, value, _, _, _ in rows), default=0) or 1
    for index, (label, value, value_text, color, indent) in enumerate(rows):
        y = top + index * row_height
        label = (" " * 2 * indent + label)[:label_chars]
        canvas.text(margin, y + (row_height - 7 * scale) // 2, label, scale=scale)
        x = margin + label_width
        canvas.rect(x, y + 3, 1, row_height - 6, GREY)
        length = max(1, round(bar_space * value / peak)) if value > 0 else 0
        canvas.rect(x, y + 4, length, row_height - 8, PALETTE[color % len(PALETTE)])
        canvas.text(x + length + margin // 2, y + (row_height - 7 * scale) // 2, value_text,
                    scale=scale)
    return canvas.png()


def stacked_bar_chart(title, rows, segments, *, width=1000, label_chars=24, row_height=30):
    """Horizontal stacked bars with a legend, as PNG bytes.

    Parameters
    ----------
    title : str
    rows : list of (label, [value per segment], total_text)
    segments : list of str
        Segment names, in stacking order (colours from :data:`PALETTE`).
    """
    scale, margin = 2, 12
    label_width = text_width("x" * label_chars, scale) + margin
    value_width = text_width("x" * 16, scale)
    bar_space = max(100, width - label_width - value_width - 2 * margin)
    legend_rows = -(-len(segments) // 4)
    height = 3 * margin + 7 * scale + len(rows) * row_height + margin \
        + legend_rows * (7 * scale + margin) + margin
    canvas = Canvas(width, height)
    canvas.text(margin, margin, title[:(width - 2 * margin) // (6 * scale)], scale=scale)
    top = 2 * margin + 7 * scale + margin
    peak = max((sum(values) for _, values, _ in rows), default=0) or 1
    for index, (label, values, total_text) in enumerate(rows):
        y = top + index * row_height
        canvas.text(margin, y + (row_height - 7 * scale) // 2, label[:label_chars], scale=scale)
        x = margin + label_width
        canvas.rect(x, y + 3, 1, row_height - 6, GREY)
        for segment, value in enumerate(values):
            length = round(bar_space * max(value, 0) / peak)
            canvas.rect(x, y + 4, length, row_height - 8, PALETTE[segment % len(PALETTE)])
            x += length
        canvas.text(x + margin // 2, y + (row_height - 7 * scale) // 2, total_text, scale=scale)
    y = top + len(rows) * row_height + margin
    column = (width - 2 * margin) // 4
    for segment, name in enumerate(segments):
        x = margin + (segment % 4) * column
        yy = y + (segment // 4) * (7 * scale + margin)
        canvas.rect(x, yy, 7 * scale, 7 * scale, PALETTE[segment % len(PALETTE)])
        canvas.text(x + 7 * scale + margin // 2, yy, name[:(column // (6 * scale)) - 3],
                    scale=scale)
    return canvas.png()
