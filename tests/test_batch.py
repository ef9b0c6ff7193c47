"""anonymize_dir and `facesafe anonymize`: every input ends exactly once, fail closed."""

import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
import warnings
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from _fakes import CrashingDetector, Invert, NoMesher, RedDetector, draw_face, reddish
from _unprivileged import unprivileged
from PIL import Image

import facesafe
from facesafe import anonymize_dir, read_manifest
from facesafe._batch._manifest import Manifest
from facesafe.cli import main


def _photo(seed: int, h: int = 96, w: int = 128, face: bool = True) -> np.ndarray:
    image = np.random.default_rng(seed).integers(0, 200, (h, w, 3), dtype=np.uint8)
    if face:
        draw_face(image, 10 + seed % 40, 20, 30)
    return image


def _save(path: Path, image: np.ndarray, fmt: str, **options) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, fmt, **options)
    return path


def _png_bomb() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")


@pytest.fixture()
def mixed(tmp_path: Path) -> Path:
    """A folder mixing good photos with every kind of broken or unusual file."""
    src = tmp_path / "src"
    _save(src / "good.jpg", _photo(1), "JPEG", quality=95)
    _save(src / "nested" / "deeper" / "good2.PNG", _photo(2), "PNG")
    _save(src / "noext", _photo(3), "PNG")
    _save(src / "ünïcode name.webp", _photo(4), "WEBP", lossless=True)
    _save(src / "no_face.png", _photo(5, face=False), "PNG")
    Image.fromarray(_photo(6)).convert("CMYK").save(src / "cmyk.jpg", "JPEG")
    Image.fromarray(_photo(7)[..., 0].astype(np.uint16) * 257).save(src / "gray16.png")
    rgba = np.dstack([_photo(8), np.full((96, 128), 128, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(src / "alpha.png")
    frames = [Image.fromarray(_photo(9 + i)) for i in range(3)]
    frames[0].save(src / "anim.gif", save_all=True, append_images=frames[1:], duration=80, loop=0)
    frames[0].save(src / "pages.tif", save_all=True, append_images=frames[1:])
    (src / "empty.jpg").write_bytes(b"")
    (src / "random.png").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    good = (src / "good.jpg").read_bytes()
    (src / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (src / "text.jpg").write_text("this is not an image\n")
    (src / "bomb.png").write_bytes(_png_bomb())
    (src / "notes.txt").write_text("not an image either")
    return src


GOOD = {"good.jpg", "nested/deeper/good2.PNG", "noext", "ünïcode name.webp", "no_face.png", "cmyk.jpg",
        "gray16.png", "alpha.png", "anim.gif", "pages.tif"}
BROKEN = {"empty.jpg", "random.png", "truncated.jpg", "text.jpg", "bomb.png"}


def _rows(manifest: Path) -> dict[str, facesafe._batch._manifest.Row]:
    _, rows = read_manifest(manifest)
    return {row.rel: row for row in rows}


def test_mixed_folder_good_written_broken_failed_each_recorded_once(mixed: Path, tmp_path: Path):
    out = tmp_path / "out"
    report = anonymize_dir(mixed, out, method="fill", shape="box", detector=RedDetector(), workers=2)
    assert not report.ok
    rows = _rows(report.manifest)
    assert set(rows) == GOOD | BROKEN | {"notes.txt"}, "every input exactly once"
    assert {r for r, row in rows.items() if row.status == "written"} == GOOD
    assert {r for r, row in rows.items() if row.status == "failed"} == BROKEN
    assert all(rows[r].reason for r in BROKEN)
    assert rows["notes.txt"].status == "skipped"
    assert (report.written, report.failed, report.skipped) == (len(GOOD), len(BROKEN), 1)
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert len(written) == len(GOOD), written
    for rel in GOOD:
        row = rows[rel]
        data = Path(row.output).read_bytes()
        picture = facesafe._io.load_image(data)
        for frame in picture.frames:  # the red "face" never survives
            assert not np.all(frame == (255, 0, 0), axis=-1).any(), rel
        assert row.output_hash and row.input_hash and row.params_key
    assert rows["no_face.png"].faces == 0 and rows["good.jpg"].faces == 1
    assert rows["anim.gif"].faces == 3 and len(facesafe._io.load_image(Path(rows["anim.gif"].output)).frames) == 3
    assert report.manifest.parent == out.parent, "manifest beside the output, never inside"


def test_cli_exit_codes_and_messages(mixed: Path, tmp_path: Path, capsys):
    out = tmp_path / "out"
    good = tmp_path / "good"
    _save(good / "a.png", _photo(1), "PNG")
    assert main(["anonymize", str(good), "--out", str(out), "--method", "fill", "--preset", "fast", "-q"]) == 0
    assert main(["anonymize", str(mixed), "--out", str(tmp_path / "out2"), "--method", "fill", "--preset", "fast", "-q", "--workers", "1"]) == 1
    err = capsys.readouterr().err
    assert "truncated.jpg" in err and "Traceback" not in err
    assert main(["anonymize", str(good), "--out", str(good / "inside")]) == 2
    assert main(["anonymize", str(good), "--out", str(tmp_path / "o3"), "--color", "00ff00"]) == 2  # --color needs fill
    assert main(["anonymize", str(good), "--out", str(tmp_path / "o3"), "--method", "smudge"]) == 2


def test_cli_synthetic_without_the_extra_is_one_line_exit_2_and_writes_nothing(tmp_path: Path, capsys, without_facemesh):
    good = tmp_path / "good"
    _save(good / "a.png", _photo(1), "PNG")
    out = tmp_path / "out"
    assert main(["anonymize", str(good), "--out", str(out), "--method", "synthetic", "-q"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "facesafe: method='synthetic' needs MediaPipe FaceMesh (mediapipe 0.10.21, Python 3.11 or 3.12), "
        "which is not installed: pip install 'facesafe[synthetic]'"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good"], "no output folder, no manifest"


def test_resume_skips_done_and_outputs_are_identical(tmp_path: Path):
    src = tmp_path / "src"
    for i in range(4):
        _save(src / f"p{i}.png", _photo(i), "PNG")
    out = tmp_path / "out"
    first = anonymize_dir(src, out, detector=RedDetector(), workers=1)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    second = anonymize_dir(src, out, detector=RedDetector(), workers=1)
    assert (first.written, second.written, second.unchanged) == (4, 0, 4)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    # a changed input is redone; a changed parameter redoes everything
    _save(src / "p0.png", _photo(9), "PNG")
    third = anonymize_dir(src, out, detector=RedDetector(), workers=1)
    assert (third.written, third.unchanged) == (1, 3)
    fourth = anonymize_dir(src, out, method="pixelate", detector=RedDetector(), workers=1)
    assert fourth.written == 4


def test_an_anonymizer_gives_the_run_its_settings(tmp_path: Path):
    src = tmp_path / "src"
    for i in range(3):
        _save(src / f"p{i}.png", _photo(i), "PNG")
    by_keywords = anonymize_dir(src, tmp_path / "kw", method="fill", detector=RedDetector(), workers=0)
    anonymizer = facesafe.Anonymizer(method="fill", detector=RedDetector())
    given = anonymize_dir(src, tmp_path / "given", anonymizer=anonymizer, workers=2)
    assert (by_keywords.written, given.written, given.faces) == (3, 3, 3)
    assert {p.name: p.read_bytes() for p in (tmp_path / "given").iterdir()} == \
        {p.name: p.read_bytes() for p in (tmp_path / "kw").iterdir()}
    # the same settings: the keyword run's manifest takes the Anonymizer's run as a resume
    again = anonymize_dir(src, tmp_path / "kw", anonymizer=anonymizer, workers=0)
    assert again.unchanged == 3
    with pytest.raises(ValueError, match="anonymizer: pass method, quality"):
        anonymize_dir(src, tmp_path / "both", anonymizer=anonymizer, method="pixelate", quality=80)
    with pytest.raises(TypeError, match="anonymizer"):
        anonymize_dir(src, tmp_path / "both", anonymizer="blur")
    assert not (tmp_path / "both").exists()


def test_existing_outputs_are_not_overwritten_without_overwrite(tmp_path: Path):
    src = tmp_path / "src"
    _save(src / "a.png", _photo(1), "PNG")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"precious")
    report = anonymize_dir(src, out, detector=RedDetector(), workers=1)
    assert report.failed == 1 and "exists" in report.failures[0][1]
    assert (out / "a.png").read_bytes() == b"precious"
    report = anonymize_dir(src, out, detector=RedDetector(), workers=1, overwrite=True)
    assert report.written == 1 and (out / "a.png").read_bytes() != b"precious"


def test_colliding_outputs_get_distinct_names(tmp_path: Path):
    src = tmp_path / "src"
    _save(src / "a.bmp", _photo(1), "BMP")
    _save(src / "a.png", _photo(2), "PNG")
    out = tmp_path / "out"
    report = anonymize_dir(src, out, detector=RedDetector(), workers=1)
    assert report.written == 2
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "a~2.png"]


def test_hmac_rename_hides_names_and_keeps_key_beside_manifest(tmp_path: Path):
    src = tmp_path / "src"
    _save(src / "Jane Doe at home.png", _photo(1), "PNG")
    out = tmp_path / "out"
    report = anonymize_dir(src, out, detector=RedDetector(), workers=1, rename="hmac")
    names = [p.name for p in out.iterdir()]
    assert len(names) == 1 and "Jane" not in names[0] and names[0].endswith(".png")
    key = report.manifest.with_name(report.manifest.name + ".key")
    assert key.exists() and oct(key.stat().st_mode & 0o777) == "0o600"
    again = anonymize_dir(src, out, detector=RedDetector(), workers=1, rename="hmac")
    assert again.unchanged == 1 and [p.name for p in out.iterdir()] == names


def test_a_file_that_kills_its_worker_fails_alone(tmp_path: Path):
    src = tmp_path / "src"
    for i in range(5):
        _save(src / f"p{i}.png", _photo(i), "PNG")
    killer = _photo(7)
    killer[0, 0] = (0, 0, 255)
    _save(src / "killer.png", killer, "PNG")
    report = anonymize_dir(src, tmp_path / "out", detector=CrashingDetector(), workers=2)
    assert report.written == 5 and report.failed == 1
    assert report.failures[0][0].endswith("killer.png") and "died" in report.failures[0][1]
    assert not (tmp_path / "out" / "killer.png").exists()


def test_manifest_inside_output_is_refused(tmp_path: Path):
    src = tmp_path / "src"
    _save(src / "a.png", _photo(1), "PNG")
    with pytest.raises(ValueError, match="manifest"):
        anonymize_dir(src, tmp_path / "out", detector=RedDetector(), manifest=tmp_path / "out" / "m.sqlite")


def _run_cli(args: list[str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "facesafe.cli", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True, **kwargs)


def test_sigkill_twice_then_resume_gives_identical_outputs(tmp_path: Path):
    src = tmp_path / "src"
    for i in range(16):
        _save(src / f"d{i % 3}" / f"p{i}.jpg", _photo(i, 200, 260), "JPEG", quality=90)
    args = ["--method", "pixelate", "--preset", "fast", "--workers", "2", "-q"]
    reference = tmp_path / "reference"
    assert _run_cli(["anonymize", str(src), "--out", str(reference), *args]).wait(300) == 0

    out = tmp_path / "out"

    def outputs() -> int:
        return sum(1 for p in out.rglob("*.jpg")) if out.exists() else 0

    # Kill the whole process group (coordinator and workers) once the first
    # output appears, then again a few outputs later: two moments mid-run.
    for wanted in (1, 4):
        proc = _run_cli(["anonymize", str(src), "--out", str(out), *args])
        deadline = time.monotonic() + 120
        while outputs() < wanted and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        assert outputs() < 16
    assert _run_cli(["anonymize", str(src), "--out", str(out), *args]).wait(300) == 0

    def files(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    assert files(out) == files(reference), "outputs differ after kills and resume (or temporaries remain)"
    with closing(sqlite3.connect(out.with_name("out.facesafe.sqlite"))) as db, db:
        assert db.execute("SELECT status, COUNT(*) FROM files GROUP BY status").fetchall() == [("written", 16)]


def test_fsspec_urls_in_and_out(tmp_path: Path):
    fsspec = pytest.importorskip("fsspec")
    memory = fsspec.filesystem("memory")
    buffer = io.BytesIO()
    Image.fromarray(_photo(1)).save(buffer, "PNG")
    memory.pipe("/facesafe-test/src/a/one.png", buffer.getvalue())
    memory.pipe("/facesafe-test/src/garbled.jpg", b"not a jpeg")
    memory.pipe("/facesafe-test/src/readme.txt", b"hello")
    try:
        with pytest.raises(ValueError, match="manifest"):
            anonymize_dir("memory://facesafe-test/src", "memory://facesafe-test/out", detector=RedDetector(), workers=0)
        with pytest.raises(ValueError, match="inside"):
            anonymize_dir("memory://facesafe-test/src", "memory://facesafe-test/src/out", detector=RedDetector(),
                          workers=0, manifest=tmp_path / "m.sqlite")
        report = anonymize_dir("memory://facesafe-test/src", "memory://facesafe-test/out", detector=RedDetector(),
                               workers=0, manifest=tmp_path / "m.sqlite", method="fill", shape="box")
        assert (report.written, report.failed, report.skipped) == (1, 1, 1)
        out = memory.cat_file("/facesafe-test/out/a/one.png")
        assert not reddish(facesafe._io.read_image(out)).any()
        again = anonymize_dir("memory://facesafe-test/src", "memory://facesafe-test/out", detector=RedDetector(),
                              workers=0, manifest=tmp_path / "m.sqlite", method="fill", shape="box")
        assert again.unchanged == 1
        # a local output folder from URL sources, and file:// URLs, work too
        local = anonymize_dir("memory://facesafe-test/src/a", f"file://{tmp_path}/local", detector=RedDetector(),
                              workers=0, manifest=tmp_path / "m2.sqlite")
        assert local.written == 1 and (tmp_path / "local" / "one.png").exists()
    finally:
        memory.rm("/facesafe-test", recursive=True)


def test_manifest_records_crop_region(tmp_path: Path):
    src = tmp_path / "src"
    image = _photo(1, 100, 300, face=False)
    draw_face(image, 250, 30, 30)
    _save(src / "wide.png", image, "PNG")
    report = anonymize_dir(src, tmp_path / "out", method="crop", detector=RedDetector(), workers=0)
    row = _rows(report.manifest)["wide.png"]
    x0, y0, x1, y1 = row.region
    with Image.open(row.output) as written:
        assert row.fell_back == 0 and x1 <= 250 and written.size == (round(x1 - x0), round(y1 - y0))


def test_cli_grow_and_seed_reach_the_redaction_and_the_manifest(tmp_path: Path):
    good = tmp_path / "good"
    _save(good / "a.png", _photo(1), "PNG")
    out = tmp_path / "out"
    argv = ["anonymize", str(good), "--out", str(out), "--method", "pixelate", "--preset", "fast", "-q"]
    assert main([*argv, "--grow", "1.6", "--seed", "3"]) == 0
    (run,), (row,) = read_manifest(Path(f"{out}.facesafe.sqlite"))
    key = row.params_key
    assert "grow=1.6" in run["params"]["redaction"] and "seed=3" in run["params"]["redaction"], run["params"]
    other = tmp_path / "other"
    assert main(["anonymize", str(good), "--out", str(other), "--method", "pixelate", "--preset", "fast", "-q"]) == 0
    _, (row,) = read_manifest(Path(f"{other}.facesafe.sqlite"))
    assert row.params_key != key  # a different setting is a different run, not a resume
    assert main([*argv, "--seed", "-1"]) == 2
    assert main([*argv, "--grow", "0.9"]) == 2
    assert main(["anonymize", str(good), "--out", str(tmp_path / "o4"), "--method", "fill", "--seed", "1"]) == 2


def test_cli_orient_overrides_the_preset_and_is_recorded(tmp_path: Path):
    good = tmp_path / "good"
    _save(good / "a.png", _photo(1), "PNG")
    seen = {}
    for flags in ((), ("--orient",), ("--no-orient",)):
        out = tmp_path / f"out{len(seen)}"
        assert main(["anonymize", str(good), "--out", str(out), "--method", "fill", "-q", "--workers", "1", *flags]) == 0
        (run,), (row,) = read_manifest(Path(f"{out}.facesafe.sqlite"))
        seen[flags] = (run["params"]["preset"], row.params_key, row.preset)
    assert seen[()][0] == "balanced" and seen[("--orient",)] == seen[()]  # balanced orients: --orient changes nothing
    preset, key, name = seen[("--no-orient",)]
    assert preset["orient"] is False and preset["name"] == "balanced" and name == "balanced"
    assert key != seen[()][1]  # another setting: another run, not a resume


def test_a_closed_manifest_is_one_file_that_readers_leave_alone(tmp_path: Path):
    path = tmp_path / "run.facesafe.sqlite"
    with Manifest(path) as db:
        db.start_run(version="0", models={}, params={}, command=None)
        assert (tmp_path / "run.facesafe.sqlite-wal").exists()  # WAL while it is written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.facesafe.sqlite"]
    with Manifest(path, read_only=True) as db:
        assert db._db.execute("SELECT count(*) FROM runs").fetchone() == (1,)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.facesafe.sqlite"]  # no -wal, no -shm left by a reader


def test_a_protocol_only_redaction_runs_through_anonymize_dir_and_resumes(tmp_path: Path):
    src = tmp_path / "src"
    image = _photo(1, face=False)
    draw_face(image, 10, 20, 30)
    draw_face(image, 90, 60, 6)  # small: falls back
    _save(src / "a.png", image, "PNG")
    out = tmp_path / "out"
    report = anonymize_dir(src, out, method=Invert(min_size=10), detector=RedDetector(), workers=1)
    row = _rows(report.manifest)["a.png"]
    assert (row.status, row.faces, row.fell_back, row.method) == ("written", 2, 1, "Invert")
    written = np.asarray(Image.open(row.output))
    np.testing.assert_array_equal(written[20:50, 10:40], 255 - image[20:50, 10:40])
    assert (written[60:66, 90:96] == 0).all()
    again = anonymize_dir(src, out, method=Invert(min_size=10), detector=RedDetector(), workers=1)
    assert (again.written, again.unchanged) == (0, 1)


def test_synthesize_with_a_mesher_resumes(tmp_path: Path):
    # the mesher is a runtime helper: a new one (with a new repr) each run must not redo the run
    src = tmp_path / "src"
    _save(src / "a.png", _photo(1), "PNG")
    out = tmp_path / "out"
    methods = [facesafe.Synthesize(mesher=NoMesher()) for _ in range(2)]  # both alive: two reprs
    assert repr(methods[0]) != repr(methods[1]) and methods[0].fingerprint() == methods[1].fingerprint()
    first = anonymize_dir(src, out, method=methods[0], detector=RedDetector(), workers=0)
    second = anonymize_dir(src, out, method=methods[1], detector=RedDetector(), workers=0)
    assert (first.written, second.written, second.unchanged) == (1, 0, 1)
    assert _rows(first.manifest)["a.png"].fell_back == 0  # no mesh: the face is placed by its box


def test_resume_from_another_working_directory_with_another_spelling(tmp_path: Path, monkeypatch):
    home = tmp_path / "newcomer"
    for i in range(3):
        _save(home / "gps" / f"p{i}.png", _photo(i), "PNG")
    monkeypatch.chdir(home)
    first = anonymize_dir("gps", "r1", detector=RedDetector(), workers=0)
    before = {p.name: p.read_bytes() for p in (home / "r1").iterdir()}
    rows = _rows(first.manifest)
    assert all(os.path.isabs(row.source) for row in rows.values()), "the manifest keys sources by absolute path"
    monkeypatch.chdir(tmp_path)
    second = anonymize_dir("newcomer/./gps/", "newcomer/r1", detector=RedDetector(), workers=0)
    assert (second.written, second.unchanged, second.failed) == (0, 3, 0)
    assert {p.name: p.read_bytes() for p in (home / "r1").iterdir()} == before
    assert set(_rows(second.manifest)) == {"p0.png", "p1.png", "p2.png"}
    assert len(read_manifest(second.manifest)[1]) == 3, "no row left over from another spelling"


def test_an_old_manifest_with_relative_sources_resumes_from_its_folder(tmp_path: Path, monkeypatch):
    home = tmp_path / "newcomer"
    for i in range(2):
        _save(home / "gps" / f"p{i}.png", _photo(i), "PNG")
    monkeypatch.chdir(home)
    first = anonymize_dir("gps", "r1", detector=RedDetector(), workers=0)
    with closing(sqlite3.connect(first.manifest)) as db, db:  # as facesafe wrote it before: sources as typed
        for (source,) in db.execute("SELECT source FROM files").fetchall():
            db.execute("UPDATE files SET source = ? WHERE source = ?", (os.path.relpath(source, home), source))
    second = anonymize_dir("gps", "r1", detector=RedDetector(), workers=0)
    assert (second.written, second.unchanged, second.failed) == (0, 2, 0)
    sources = [row.source for row in read_manifest(second.manifest)[1]]
    assert sources == [str(home / "gps" / "p0.png"), str(home / "gps" / "p1.png")]


def test_an_input_named_twice_is_one_input(tmp_path: Path, capsys):
    coll = tmp_path / "coll"
    _save(coll / "a.png", _photo(1), "PNG")
    _save(coll / "sub" / "b.png", _photo(2), "PNG")
    out = tmp_path / "ov"
    report = anonymize_dir([coll, coll / "a.png", tmp_path / "coll" / "sub" / ".." / "sub"], out, detector=RedDetector(), workers=0)
    assert (report.written, report.failed) == (2, 0)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == ["a.png", "sub/b.png"]
    args = ["anonymize", str(coll), str(coll / "a.png"), "--out", str(out), "--method", "fill", "--preset", "fast", "-q", "--workers", "1"]
    assert main(args) == 0
    assert main(args) == 0, "a re-run resumes"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == ["a.png", "sub/b.png"]


def test_cli_names_its_options_not_the_librarys_parameters(tmp_path: Path, capsys):
    src = tmp_path / "src"
    _save(src / "a.png", _photo(1), "PNG")
    assert main(["anonymize", str(src), "--out", str(tmp_path / "o"), "--max-pixels", "10", "-q", "--workers", "1"]) == 1
    err = capsys.readouterr().err
    assert "(--max-pixels)" in err and "max_pixels" not in err
    assert main(["anonymize", str(src), "--out", str(tmp_path / "o2"), "--manifest", str(tmp_path / "o2" / "m.sqlite")]) == 2
    err = capsys.readouterr().err
    assert "--manifest must not be inside" in err


def test_summary_says_fallbacks_plurals_and_nothing_to_do():
    from facesafe._batch._run import Report

    one = Report(written=1, faces=1, seconds=0.25).summary()
    assert "1 face found" in one and "faces found" not in one
    crop = Report(written=30, faces=40, fell_back=9, fell_back_files=8, method="crop", fallback="blur").summary()
    assert crop.endswith("crop cropped 22 of 30 photos with faces, 9 faces in the other 8 got the blur fallback instead")
    synthetic = Report(written=30, faces=1942, fell_back=1887, fell_back_files=30, method="synthetic", fallback="pixelate").summary()
    assert synthetic.endswith("synthetic: 1,887 of 1,942 faces got the pixelate fallback")
    assert "fallback" not in Report(written=3, faces=5, method="blur").summary()
    assert Report(unchanged=30, seconds=0.2).summary() == "nothing to do: 30 unchanged (already done) in 0.2 s"
    assert Report(skipped=1).summary() == "no image found (1 file skipped, not images) in 0.0 s"


def test_a_crop_run_reports_the_photos_it_could_not_crop(tmp_path: Path):
    src = tmp_path / "src"
    _save(src / "edge.png", draw_face(_photo(1, face=False), 0, 0, 20), "PNG")  # a corner face: the rest is kept
    _save(src / "middle.png", draw_face(_photo(2, face=False), 34, 18, 60), "PNG")  # no half of the frame is free
    report = anonymize_dir(src, tmp_path / "out", method="crop", detector=RedDetector(), workers=0)
    assert (report.written, report.faces, report.fell_back, report.fell_back_files) == (2, 2, 1, 1)
    assert "crop cropped 1 of 2 photos with faces, 1 face in the other 1 got the blur fallback instead" in report.summary()
    rows = _rows(report.manifest)
    assert (rows["edge.png"].fell_back, rows["middle.png"].fell_back) == (0, 1)


def test_cli_warns_on_an_empty_source_and_says_nothing_to_do_on_resume(tmp_path: Path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["anonymize", str(empty), "--out", str(tmp_path / "o"), "-q"]) == 0
    captured = capsys.readouterr()
    assert f"facesafe: warning: no image found in {empty}" in captured.err
    src = tmp_path / "src"
    _save(src / "a.png", _photo(1), "PNG")
    args = ["anonymize", str(src), "--out", str(tmp_path / "o2"), "--method", "fill", "--preset", "fast", "-q", "--workers", "1"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "facesafe: nothing to do: 1 unchanged (already done)" in out and "0 faces found" not in out


def test_an_unwritable_output_folder_or_manifest_is_one_line_and_exit_1(tmp_path: Path):
    src = tmp_path / "src"
    _save(src / "a.png", _photo(1), "PNG")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    base = ["anonymize", str(src), "--method", "fill", "--preset", "fast", "-q", "--workers", "1"]
    try:
        done = unprivileged([*base, "--out", str(locked / "out"), "--manifest", str(tmp_path / "m.sqlite")])
        assert (done.returncode, done.stderr.splitlines()) == (1, [f"facesafe: {locked / 'out'}: cannot create the output folder: Permission denied"])
        for manifest in (locked / "m.sqlite", locked / "sub" / "m.sqlite"):
            done = unprivileged([*base, "--out", str(tmp_path / "out"), "--manifest", str(manifest)])
            err = done.stderr.splitlines()
            assert done.returncode == 1 and len(err) == 1, done.stderr
            assert err[0].startswith(f"facesafe: {manifest}: cannot open the manifest: ")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_a_full_disk_under_the_manifest_is_one_line_and_exit_1(tmp_path: Path, monkeypatch, capsys):
    src = tmp_path / "src"
    _save(src / "p.png", _photo(1), "PNG")
    for i in range(200):  # rows enough to need more pages than the file has
        (src / f"notes-{i:03}-{'x' * 60}.txt").write_text("not an image")
    opened = Manifest.__init__

    def small(self, path, **kwargs):  # SQLite's own SQLITE_FULL: the file may not grow past its size now
        opened(self, path, **kwargs)
        self._db.execute(f"PRAGMA max_page_count = {self._db.execute('PRAGMA page_count').fetchone()[0]}")

    monkeypatch.setattr(Manifest, "__init__", small)
    args = ["anonymize", str(src), "--out", str(tmp_path / "out"), "--method", "fill", "--preset", "fast", "-q", "--workers", "1"]
    assert main(args) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [f"facesafe: {tmp_path / 'out.facesafe.sqlite'}: cannot write the manifest: database or disk is full"]


def test_a_default_manifest_that_lands_in_a_release_is_warned_about(tmp_path: Path, capsys):
    src = tmp_path / "src"
    _save(src / "a.png", _photo(1), "PNG")
    base = ["anonymize", str(src), "--method", "fill", "--preset", "fast", "-q", "--workers", "1"]
    assert main([*base, "--out", str(tmp_path / "r1")]) == 0
    assert main([*base, "--out", str(tmp_path / "r2")]) == 0  # side by side in a working folder: no warning
    assert "warning" not in capsys.readouterr().err
    # rel/ is the output of a run: a run into rel/19--Couple puts its manifest inside it
    assert main([*base, "--out", str(tmp_path / "r1" / "19--Couple")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"facesafe: warning: {tmp_path / 'r1' / '19--Couple.facesafe.sqlite'}: the manifest")
    assert f"inside {tmp_path / 'r1'}, the output of another facesafe run" in err[0] and "--manifest" in err[0]
    # rel/ holds only facesafe outputs and their manifests: a release made by hand
    rel = tmp_path / "rel"
    assert main([*base, "--out", str(rel / "18--Meeting")]) == 0
    assert "warning" not in capsys.readouterr().err
    assert main([*base, "--out", str(rel / "19--Couple")]) == 0
    assert "which holds only facesafe outputs (18--Meeting)" in capsys.readouterr().err
    with pytest.warns(UserWarning, match="pass --manifest outside it"):
        anonymize_dir(src, rel / "20--Party", detector=RedDetector(), workers=0)
    with warnings.catch_warnings():  # an explicit --manifest is the user's choice: no warning
        warnings.simplefilter("error")
        anonymize_dir(src, rel / "21--Dinner", detector=RedDetector(), workers=0, manifest=tmp_path / "m.sqlite")


def test_the_manifest_says_each_faces_donor_and_an_older_manifest_gains_the_column(tmp_path: Path):
    src = tmp_path / "src"
    src.mkdir()
    facesafe.write_image(src / "a.png", draw_face(np.zeros((64, 64, 3), np.uint8), 10, 10, 20))
    report = anonymize_dir(src, tmp_path / "out", method="fill", detector=RedDetector(), workers=0)
    (row,) = read_manifest(report.manifest)[1]
    assert row.faces == 1 and row.donors is None  # a method that gives no donor records none
    with closing(sqlite3.connect(report.manifest)) as db, db:  # a manifest written before the column existed
        db.execute("ALTER TABLE files DROP COLUMN donors")
    (row,) = read_manifest(report.manifest)[1]  # read-only: the column reads as null
    assert row.donors is None and row.faces == 1
    with Manifest(report.manifest) as db:  # opened to write: the column is added, the rows kept
        db.record(source=row.source, rel=row.rel, status="written", donors=[["pool"]])
        assert db.get(row.source).donors == [["pool"]] and db.get(row.source).faces == 1


def test_a_manifest_path_holding_something_else_is_a_clear_error_with_nothing_written(tmp_path: Path):
    import gc

    src = tmp_path / "src"
    _save(src / "a.png", _photo(1), "PNG")
    notes = tmp_path / "notes.sqlite"
    notes.write_text("my notes, not a database")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(facesafe.OutputError, match="cannot open the manifest") as info:
            anonymize_dir(src, tmp_path / "out", method="fill", detector=RedDetector(), workers=0, manifest=notes)
        message = str(info.value)
        del info  # its traceback holds the manifest object, and with it any connection left open
        gc.collect()  # Python 3.13 warns of a sqlite3 connection collected unclosed
    assert str(notes) in message
    assert notes.read_text() == "my notes, not a database"  # the user's file is left as it was
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)], [str(w.message) for w in caught]
