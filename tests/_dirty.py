"""Build image files loaded with identifying metadata, and judge cleaned files.

Every planted value contains ``LEAK`` (ASCII and UTF-16 are searched), so a
raw byte search proves it gone; exiftool, run independently, must then list
nothing but structural tags (see ``STRUCTURAL``).
"""

from __future__ import annotations

import io
import json
import pathlib
import subprocess

import numpy as np
from PIL import Image, ImageCms

TOKEN = b"FSLEAK"
TOKENS = (TOKEN, TOKEN.decode().encode("utf-16-le"), TOKEN.decode().encode("utf-16-be"))

# (exiftool argument, planted string) — each a different carrier of identity.
PLANTED_TAGS = [
    "-EXIF:Artist=FSLEAK-Artist",
    "-EXIF:Copyright=FSLEAK-Copyright",
    "-EXIF:ImageDescription=FSLEAK-Description",
    "-EXIF:Make=FSLEAKMake",
    "-EXIF:Model=FSLEAKModel",
    "-EXIF:DateTimeOriginal=2024:01:02 03:04:05",
    "-EXIF:UserComment=FSLEAK-UserComment",
    "-EXIF:BodySerialNumber=FSLEAK-Serial",
    "-GPS:GPSLatitude=48.8583",
    "-GPS:GPSLatitudeRef=N",
    "-GPS:GPSLongitude=2.2945",
    "-GPS:GPSLongitudeRef=E",
    "-GPS:GPSProcessingMethod=FSLEAK-GPS",
    "-XMP-dc:Creator=FSLEAK-XmpCreator",
    "-XMP-mwg-rs:RegionInfo={AppliedToDimensions={W=64,H=48,Unit=pixel},"
    "RegionList=[{Area={X=0.5,Y=0.5,W=0.3,H=0.4,Unit=normalized},Name=FSLEAK-FaceName,Type=Face}]}",
    "-XMP-iptcCore:Location=FSLEAK-XmpLocation",
]
IPTC_TAGS = ["-IPTC:By-line=FSLEAK-Byline", "-IPTC:Keywords=FSLEAK-Keyword", "-IPTC:City=FSLEAK-City"]

# Tags exiftool may list on a clean file: file system facts, exiftool's own and
# the structure each format needs to be decoded. Nothing here identifies a person.
STRUCTURAL = {
    "System", "File", "ExifTool", "Composite",
    "JFIF",  # version, density
    "Adobe",  # colour transform
    "PNG-IHDR", "PNG",  # size, depth, colour type, compression, filter, interlace
    "RIFF", "VP8", "VP8L",  # WebP size, scale, alpha
    "GIF",  # version, size, colours, background, animation
    "QuickTime", "Meta", "ItemList", "HEVC", "AV1",  # HEIF/AVIF boxes: brands, items, codec configuration
    "BMP",  # header fields
}  # fmt: skip
# In TIFF the structure lives in IFD0 tags; only these may remain.
TIFF_STRUCTURAL = {
    "SubfileType", "ImageWidth", "ImageHeight", "BitsPerSample", "Compression", "PhotometricInterpretation",
    "StripOffsets", "SamplesPerPixel", "RowsPerStrip", "StripByteCounts", "PlanarConfiguration", "ExtraSamples",
    "SampleFormat", "Predictor", "XResolution", "YResolution", "ResolutionUnit", "FillOrder", "TileWidth",
    "TileLength", "TileOffsets", "TileByteCounts",
}  # fmt: skip
# Tag names that must never appear in any group.
FORBIDDEN_NAMES = {
    "Artist", "Copyright", "ImageDescription", "Make", "Model", "Software", "DateTimeOriginal", "Orientation",
    "Comment", "UserComment", "ThumbnailImage", "PreviewImage", "GPSLatitude", "GPSPosition", "Creator",
    "RegionName", "ProfileDescription", "By-line", "Keywords", "XMPToolkit", "MPImage2",
}  # fmt: skip


def base_pixels(height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    """A small, textured uint8 RGB image (gradients plus noise)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x + y) * 2 % 256], -1)
    return np.clip(image + rng.integers(-20, 20, image.shape), 0, 255).astype(np.uint8)


def icc_profile_bytes() -> bytes:
    """An sRGB ICC profile whose description reads ``FSLEAK-ICC-Prof``."""
    raw = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for old, new in (("sRGB built-in", "FSLEAK-ICCPro"),):
        for enc in ("ascii", "utf-16-be"):
            raw = raw.replace(old.encode(enc), new.encode(enc))
    assert TOKEN in raw or TOKEN.decode().encode("utf-16-be") in raw
    return raw


def thumbnail_jpeg() -> bytes:
    """A tiny JPEG carrying ``FSLEAK-Thumb`` in a comment, to plant as an EXIF thumbnail."""
    buf = io.BytesIO()
    Image.fromarray(base_pixels(12, 16, seed=3)).save(buf, "JPEG", comment=b"FSLEAK-Thumb")
    return buf.getvalue()


def pillow_exif() -> bytes:
    """An EXIF block (Artist, Copyright, GPS) written by Pillow, for when exiftool is absent."""
    exif = Image.Exif()
    exif[0x013B] = "FSLEAK-PillowArtist"
    exif[0x8298] = "FSLEAK-PillowCopyright"
    exif.get_ifd(0x8825).update({1: "N", 2: (48.0, 51.0, 29.88), 27: b"ASCII\x00\x00\x00FSLEAK-PillowGPS"})
    return exif.tobytes()


def _pillow_file(path: pathlib.Path, fmt: str, pixels: np.ndarray) -> None:
    image = Image.fromarray(pixels)
    icc = icc_profile_bytes()
    if fmt == "JPEG":
        image.save(path, "JPEG", quality=90, icc_profile=icc, comment=b"FSLEAK-PillowComment", exif=pillow_exif())
    elif fmt == "PNG":
        from PIL.PngImagePlugin import PngInfo

        text = PngInfo()
        text.add_text("Author", "FSLEAK-PngText")
        text.add_text("Description", "FSLEAK-PngZText", zip=True)
        text.add_itxt("Title", "FSLEAK-PngIText", lang="en")
        image.save(path, "PNG", icc_profile=icc, pnginfo=text, exif=pillow_exif())
    elif fmt == "WEBP":
        image.save(path, "WEBP", quality=90, icc_profile=icc, exif=pillow_exif())
    elif fmt == "TIFF":
        image.save(path, "TIFF", icc_profile=icc, compression="tiff_adobe_deflate",
                   tiffinfo={0x013B: "FSLEAK-PillowArtist", 0x010E: "FSLEAK-PillowDescription"})
    elif fmt == "GIF":
        image.save(path, "GIF", comment=b"FSLEAK-GifComment")
    elif fmt == "BMP":
        image.save(path, "BMP")
    elif fmt == "HEIF":
        import pillow_heif

        heif = pillow_heif.from_pillow(image)
        heif.info["icc_profile"] = icc
        heif.info["exif"] = pillow_exif()
        heif.save(path, quality=90)
    elif fmt == "AVIF":
        image.save(path, "AVIF", quality=90, icc_profile=icc, exif=pillow_exif())
    else:
        raise ValueError(fmt)


SUFFIX = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "TIFF": ".tif", "GIF": ".gif", "BMP": ".bmp",
          "HEIF": ".heic", "AVIF": ".avif"}  # fmt: skip


def make_dirty(folder: pathlib.Path, exiftool: str | None) -> dict[str, pathlib.Path]:
    """Write one dirty file per format into ``folder`` (plus an MPO and an orientation-6 JPEG)."""
    folder.mkdir(parents=True, exist_ok=True)
    pixels = base_pixels()
    files: dict[str, pathlib.Path] = {}
    for fmt, suffix in SUFFIX.items():
        path = folder / f"dirty{suffix}"
        _pillow_file(path, fmt, pixels)
        files[fmt] = path
    thumb = folder / "thumb.jpg"
    thumb.write_bytes(thumbnail_jpeg())
    if exiftool:
        writable = [files[f] for f in ("JPEG", "PNG", "WEBP", "TIFF", "GIF", "HEIF", "AVIF")]
        args = [exiftool, "-q", "-q", "-m", "-overwrite_original", *PLANTED_TAGS, "-Comment=FSLEAK-Comment"]
        subprocess.run([*args, *map(str, writable)], check=True, capture_output=True)
        subprocess.run(
            [exiftool, "-q", "-q", "-m", "-overwrite_original", *IPTC_TAGS, f"-ThumbnailImage<={thumb}",
             str(files["JPEG"]), str(files["TIFF"])],
            check=True, capture_output=True,
        )  # fmt: skip
    # MPO: a primary JPEG followed by a second image (a "preview") after its EOI.
    mpo = folder / "dirty.mpo"
    first = Image.fromarray(pixels)
    second = Image.fromarray(base_pixels(seed=1))
    first.save(mpo, "MPO", save_all=True, append_images=[second], comment=b"FSLEAK-MpoComment")
    files["MPO"] = mpo
    # Trailing bytes after EOI (vendor trailers) and an orientation-6 JPEG.
    trailer = folder / "trailer.jpg"
    trailer.write_bytes(files["JPEG"].read_bytes() + b"FSLEAK-Trailer" * 4)
    files["TRAILER"] = trailer
    rotated = folder / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x013B] = "FSLEAK-RotatedArtist"
    Image.fromarray(pixels).save(rotated, "JPEG", quality=90, exif=exif.tobytes(), icc_profile=icc_profile_bytes())
    files["ROTATED"] = rotated
    return files


def leaked_tokens(data: bytes) -> list[bytes]:
    """Every planted-token encoding found in ``data``."""
    return [token for token in TOKENS if token in data]


def exiftool_tags(exiftool: str, paths: list[pathlib.Path]) -> dict[str, dict[str, object]]:
    """``{path: {"Group:Tag": value}}`` as exiftool sees the files (all groups, duplicates kept)."""
    result = subprocess.run(
        [exiftool, "-j", "-a", "-G1", "-s", "-b", "-m", *map(str, paths)], check=True, capture_output=True, text=True
    )
    return {pathlib.Path(entry.pop("SourceFile")).name: entry for entry in json.loads(result.stdout)}


def non_structural(tags: dict[str, object]) -> dict[str, object]:
    """The tags of one exiftool report that are not structural (should be empty for a clean file)."""
    bad = {}
    for key, value in tags.items():
        group, _, name = key.partition(":")
        if name in FORBIDDEN_NAMES:
            bad[key] = value
        elif group == "IFD0" and name in TIFF_STRUCTURAL:
            continue
        elif group not in STRUCTURAL:
            bad[key] = value
    return bad
