"""Draw the stand-in universal-symbol bitmaps in config/labels/symbols/ (plain PBM, P1).

These are NOT the regulators' artwork: each is a drawn stand-in (a warning triangle with the
letters THC and the state code) so that the label path, the ESC/POS raster and the preview can be
tested end to end. Replace each file with a 1-bit conversion of the state's official symbol file
before go-live, and set `symbol_verified = true` in the profile (config/labels/README.md).

Run: .venv/bin/python scripts/make_label_symbols.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

OUT = Path(__file__).resolve().parents[1] / "config" / "labels" / "symbols"
SIZE = 144  # dots: 18 mm at 203 dpi


def draw(code: str, inverted: bool) -> Image.Image:
    img = Image.new("1", (SIZE, SIZE), 1)
    d = ImageDraw.Draw(img)
    if inverted:  # point down (Michigan's symbol is an inverted triangle)
        outer = [(2, 4), (SIZE - 3, 4), (SIZE // 2, SIZE - 3)]
        inner = [(16, 12), (SIZE - 17, 12), (SIZE // 2, SIZE - 24)]
        text_y = (30, 56)
    else:
        outer = [(SIZE // 2, 2), (SIZE - 3, SIZE - 4), (2, SIZE - 4)]
        inner = [(SIZE // 2, 24), (SIZE - 17, SIZE - 12), (16, SIZE - 12)]
        text_y = (70, 100)
    d.polygon(outer, fill=0)
    d.polygon(inner, fill=1)
    font = ImageFont.load_default()
    for text, y in zip(("THC", code), text_y, strict=True):
        w = d.textlength(text, font=font)
        small = Image.new("1", (int(w) + 2, 12), 1)
        ImageDraw.Draw(small).text((1, 0), text, font=font, fill=0)
        big = small.resize((small.width * 3, small.height * 3))
        img.paste(big, ((SIZE - big.width) // 2, y - 8), None)
    return img


def to_pbm(img: Image.Image, comment: str) -> str:
    lines = ["P1", f"# {comment}", f"{img.width} {img.height}"]
    for y in range(img.height):
        lines.append("".join("0" if img.getpixel((x, y)) else "1" for x in range(img.width)))
    return "\n".join(lines) + "\n"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for code in ("CO", "MA", "MI", "NJ", "NY"):
        img = draw(code, inverted=code == "MI")
        note = f"{code} STAND-IN, not the official symbol: scripts/make_label_symbols.py"
        (OUT / f"{code}.pbm").write_text(to_pbm(img, note), encoding="ascii")


if __name__ == "__main__":
    main()
