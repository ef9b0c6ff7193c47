"""Datasets on a local Dask cluster (processes, loopback only): the same outputs as a local run."""

import io
import json
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from facesafe._datasets import anonymize_dataset

from _fakes import RedDetector
from _records import dirty, photo

distributed = pytest.importorskip("distributed")



@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=50) as cluster:
        with distributed.Client(cluster) as client:
            yield client


def _files(root: Path) -> dict[str, bytes]:
    """Every output file (the manifests beside the outputs name their own paths, so they differ)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file() and ".facesafe.sqlite" not in p.name}


def test_cluster_runs_match_local_runs_byte_for_byte(client, tmp_path: Path):
    src = tmp_path / "src"
    src.mkdir()
    images = [dirty(photo(i)) for i in range(6)] + [b"\xff\xd8\xff broken"]
    pq.write_table(pa.table({"image": images, "n": list(range(7))}), src / "t.parquet", row_group_size=3)
    with tarfile.open(src / "s.tar", "w") as tar:
        for i, data in enumerate(images):
            info = tarfile.TarInfo(f"{i:04d}.jpg")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (src / "coco" / "images").mkdir(parents=True)
    for i, data in enumerate(images[:4]):
        (src / "coco" / "images" / f"{i}.jpg").write_bytes(data)
    (src / "coco" / "a.json").write_text(json.dumps({"images": [{"id": i, "file_name": f"{i}.jpg"} for i in range(4)],
                                                     "annotations": [], "categories": []}))
    for name, kwargs in (("t.parquet", {}), ("s.tar", {}), ("coco/a.json", {"images": src / "coco" / "images"})):
        local = anonymize_dataset(src / name, tmp_path / "local" / name, workers=2, method="crop", detector=RedDetector(), **kwargs)
        remote = anonymize_dataset(src / name, tmp_path / "remote" / name, client=client, method="crop", detector=RedDetector(), **kwargs)
        assert (remote.written, remote.failed) == (local.written, local.failed) and remote.written >= 4, name
    outputs = _files(tmp_path / "local")
    assert len(outputs) == 7 and _files(tmp_path / "remote") == outputs  # table, shard, annotations.json, 4 images
