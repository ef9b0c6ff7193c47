"""Datasets against folders: records/s of each kind, and peak memory of a table and one ten times larger.

Prints, in one run on the photos of ../shared/data/wider-dev:
- photos/s of `facesafe anonymize` over a folder of the photos, and of
  `facesafe dataset` over the same photos as a Parquet table (Hugging Face
  `{bytes, path}` column, row groups of 16), a WebDataset shard (.jpg + .json
  per sample) and a COCO file, each with its ratio to the folder run (the
  goal: >= 0.9x); the same workers and preset everywhere;
- the peak memory (RSS of the command and its workers, sampled every 50 ms)
  of a Parquet run over the table and over a table of the same rows repeated
  ten times: streamed by row group, the two should be alike.

    .venv/bin/python benchmarks/datasets.py [--limit N] [--workers N] [--preset P] [--repeat N] [--data DIR]
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

from _common import WIDER_PHOTOS as DATA
from _common import absent
from _common import photos as list_photos
from batch import run  # the same timing and memory sampling as the folder benchmark


def _table(photos: list[Path], path: Path, repeat: int = 1) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])), ("label", pa.int64())])
    with pq.ParquetWriter(path, schema) as writer:  # written in pieces, so that building it needs no memory either
        for r in range(repeat):
            rows = [{"bytes": p.read_bytes(), "path": str(p)} for p in photos]
            writer.write_table(pa.table({"image": pa.array(rows, schema.field("image").type), "label": [r] * len(rows)}, schema),
                               row_group_size=16)


def _shard(photos: list[Path], path: Path) -> None:
    with tarfile.open(path, "w") as tar:
        for i, photo in enumerate(photos):
            for name, payload in ((f"{i:06d}.jpg", photo.read_bytes()), (f"{i:06d}.json", b'{"i": %d}' % i)):
                info = tarfile.TarInfo(name)
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))


def _coco(photos: list[Path], folder: Path) -> Path:
    from PIL import Image, ImageOps

    (folder / "images").mkdir(parents=True)
    entries = []
    for i, photo in enumerate(photos):
        shutil.copyfile(photo, folder / "images" / f"{i:04d}.jpg")
        with Image.open(photo) as im:
            width, height = ImageOps.exif_transpose(im).size
        entries.append({"id": i, "file_name": f"{i:04d}.jpg", "width": width, "height": height})
    annotations = [{"id": i, "image_id": i, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0} for i in range(len(photos))]
    path = folder / "instances.json"
    path.write_text(json.dumps({"images": entries, "annotations": annotations, "categories": [{"id": 1, "name": "x"}]}))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=48, help="first N wider-dev photos (default: 48)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--repeat", type=int, default=10, help="the larger table repeats the rows this many times")
    parser.add_argument("--data", type=Path, default=DATA, help=f"folder of photos (default: {DATA})")
    args = parser.parse_args(argv)
    if absent(args.data, "datasets"):
        return 0
    photos = list_photos(args.data, args.limit)
    n = len(photos)
    common = ["--preset", args.preset, "--workers", str(args.workers), "--threads", "1"]
    with tempfile.TemporaryDirectory(prefix="facesafe-datasets-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "folder").mkdir()
        for i, photo in enumerate(photos):
            shutil.copyfile(photo, tmp / "folder" / f"{i:04d}.jpg")
        _table(photos, tmp / "train.parquet")
        _shard(photos, tmp / "shard.tar")
        coco = _coco(photos, tmp / "coco")
        print(f"{n} wider-dev photos, preset {args.preset}, {args.workers} workers x 1 thread")
        folder, _ = run(["anonymize", str(tmp / "folder"), "--out", str(tmp / "o-folder"), *common, "-q"])
        print(f"folder     : {folder:7.1f} s  {n / folder:6.2f} records/s")
        for kind, source, extra in (("parquet", tmp / "train.parquet", []), ("webdataset", tmp / "shard.tar", []),
                                    ("coco", coco, ["--images", str(tmp / "coco" / "images")])):
            seconds, _ = run(["dataset", str(source), "--out", str(tmp / f"o-{kind}"), *extra, *common])
            print(f"{kind:<11}: {seconds:7.1f} s  {n / seconds:6.2f} records/s  {folder / seconds:.2f}x the folder run (goal >= 0.9x)")

        _table(photos, tmp / "big.parquet", repeat=args.repeat)
        for name, rows in (("train.parquet", n), ("big.parquet", n * args.repeat)):
            seconds, peak = run(["dataset", str(tmp / name), "--out", str(tmp / f"m-{name}"), *common])
            print(f"memory, table of {rows:5d} rows: peak {peak:.2f} GB ({seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
