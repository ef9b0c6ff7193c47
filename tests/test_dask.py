"""anonymize_dir and anonymize_dataset on a local Dask cluster (processes, loopback only)."""

import io
import json
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest
from _fakes import RedDetector, SlowRedDetector, draw_face
from _records import dirty, photo
from PIL import Image

from facesafe import anonymize_dir, read_manifest
from facesafe._datasets import anonymize_dataset

distributed = pytest.importorskip("distributed")


def _folder(root: Path, n: int) -> Path:
    for i in range(n):
        image = np.random.default_rng(i).integers(0, 200, (80, 100, 3), dtype=np.uint8)
        draw_face(image, 5 + i, 10, 25)
        path = root / f"d{i % 2}" / f"p{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path)
    return root


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=50) as cluster, distributed.Client(cluster) as client:
        yield client


def test_cluster_run_matches_local_run_byte_for_byte(client, tmp_path: Path):
    src = _folder(tmp_path / "src", 8)
    local = anonymize_dir(src, tmp_path / "local", method="pixelate", detector=RedDetector(), workers=2)
    remote = anonymize_dir(src, tmp_path / "remote", method="pixelate", detector=RedDetector(), client=client)
    assert local.written == remote.written == 8 and remote.ok
    assert _files(tmp_path / "remote") == _files(tmp_path / "local")
    _, rows = read_manifest(remote.manifest)
    assert len(rows) == 8 and {r.status for r in rows} == {"written"}


def test_a_worker_killed_mid_run_loses_nothing(client, tmp_path: Path):
    src = _folder(tmp_path / "src", 12)
    out = tmp_path / "out"
    import threading

    def kill_one_worker_soon():
        import time

        time.sleep(1.0)
        worker = sorted(client.scheduler_info()["workers"])[0]
        client.run(os._exit, 1, workers=[worker], on_error="ignore")

    before = set(client.scheduler_info()["workers"])
    killer = threading.Thread(target=kill_one_worker_soon)
    killer.start()
    report = anonymize_dir(src, out, method="fill", detector=SlowRedDetector(0.3), client=client)
    killer.join()
    client.wait_for_workers(2, timeout=30)
    assert set(client.scheduler_info()["workers"]) != before, "no worker was killed: the test proved nothing"
    assert report.ok and report.written == 12, report.failures
    _, rows = read_manifest(report.manifest)
    assert len(rows) == 12 and {r.status for r in rows} == {"written"}
    assert len(_files(out)) == 12


def _outputs(root: Path) -> dict[str, bytes]:
    """Every output file (the manifests beside the outputs name their own paths, so they differ)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file() and ".facesafe.sqlite" not in p.name}


def test_datasets_on_the_cluster_match_local_runs_byte_for_byte(client, tmp_path: Path):
    pa, pq = pytest.importorskip("pyarrow"), pytest.importorskip("pyarrow.parquet")
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
    outputs = _outputs(tmp_path / "local")
    assert len(outputs) == 7 and _outputs(tmp_path / "remote") == outputs  # table, shard, annotations.json, 4 images
