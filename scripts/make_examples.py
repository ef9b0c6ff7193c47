"""Compose the example images in ``examples/`` (run: ``python scripts/make_examples.py``).

Every face is the astronaut of ``skimage.data.astronaut()`` (Eileen Collins,
NASA, public domain) and every background is drawn here or is public domain
(NASA's ``skimage.data.rocket()``), so the images may be redistributed.

* ``group.jpg``    several faces of different sizes in one scene
* ``portrait.jpg`` one large face
* ``sideways.jpg`` stored sideways with EXIF orientation 6, plus GPS, Artist and
  a camera model: what `facesafe strip` / `anonymize` must turn upright and clean
* ``sticker.png``  a face cut out on a transparent background (RGBA)

Deterministic: the same images every run.
"""

from __future__ import annotations

import pathlib

import numpy as np
import skimage.data
from PIL import Image, ImageDraw, ImageFilter

OUT = pathlib.Path(__file__).resolve().parent.parent / "examples"
HEAD = (128, 0, 296, 214)  # the astronaut's head and shoulders in the 512 x 512 photo


def _head() -> Image.Image:
    return Image.fromarray(skimage.data.astronaut()).crop(HEAD)


def _soft_oval(size: tuple[int, int], feather: int) -> Image.Image:
    mask = Image.new("L", size, 0)
    inset = max(2, feather)
    ImageDraw.Draw(mask).ellipse((inset, inset, size[0] - inset, size[1] - inset), fill=255)
    return mask.filter(ImageFilter.GaussianBlur(feather / 2))


def _paste_head(canvas: Image.Image, centre: tuple[int, int], height: int) -> None:
    head = _head()
    width = round(head.width * height / head.height)
    head = head.resize((width, height), Image.Resampling.LANCZOS)
    box = (centre[0] - width // 2, centre[1] - height // 2)
    canvas.paste(head, box, _soft_oval(head.size, max(2, height // 12)))


def _room(size: tuple[int, int]) -> Image.Image:
    """A drawn room: wall gradient, floor, window and a picture frame."""
    width, height = size
    y = np.linspace(0, 1, height)[:, None, None]
    wall = (np.array([205, 196, 180]) * (1 - 0.25 * y) + np.zeros((1, width, 1))).astype(np.uint8)
    image = Image.fromarray(wall)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, int(height * 0.72), width, height), fill=(120, 86, 60))
    draw.rectangle((int(width * 0.68), 40, int(width * 0.93), 190), fill=(150, 190, 230), outline=(90, 70, 50), width=6)
    draw.line((int(width * 0.805), 40, int(width * 0.805), 190), fill=(90, 70, 50), width=4)
    draw.rectangle((40, 50, 150, 130), fill=(60, 120, 80), outline=(40, 30, 20), width=5)
    return image


def group() -> Image.Image:
    canvas = _room((720, 480))
    for centre, height in (((150, 300), 200), ((330, 250), 130), ((480, 290), 96), ((600, 230), 64), ((680, 340), 44)):
        _paste_head(canvas, centre, height)
    return canvas


def portrait() -> Image.Image:
    background = Image.fromarray(skimage.data.rocket()).resize((360, 480)).filter(ImageFilter.GaussianBlur(6))
    _paste_head(background, (180, 250), 330)
    return background


def sideways() -> tuple[Image.Image, bytes]:
    """An upright scene stored rotated 90 degrees counter-clockwise, with EXIF saying 'turn it' (orientation 6)."""
    upright = _room((360, 480))
    _paste_head(upright, (180, 260), 220)
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display
    exif[0x013B] = "Example Photographer"  # Artist
    exif[0x010F] = "ExampleCam"  # Make
    exif[0x0110] = "Model 1"  # Model
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (48.0, 51.0, 29.88), 3: "E", 4: (2.0, 17.0, 40.2)})  # the Eiffel Tower
    return stored, exif.tobytes()


def sticker() -> Image.Image:
    head = _head().resize((168, 214))
    rgba = head.convert("RGBA")
    rgba.putalpha(_soft_oval(head.size, 6))
    return rgba


def main() -> None:
    OUT.mkdir(exist_ok=True)
    group().save(OUT / "group.jpg", quality=85)
    portrait().save(OUT / "portrait.jpg", quality=85)
    stored, exif = sideways()
    stored.save(OUT / "sideways.jpg", quality=85, exif=exif)
    sticker().save(OUT / "sticker.png", optimize=True)
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {len(list(OUT.iterdir()))} images to {OUT} ({total / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
