"""facesafe.render_report / `facesafe report`: one self-contained HTML page, outputs only."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from _fakes import RedDetector, draw_face, reddish
from _unprivileged import unprivileged
from PIL import Image

import facesafe
from facesafe import anonymize_dir, read_manifest, write_image
from facesafe.cli import main

DATA_URI = re.compile(r'data:image/(?:jpeg|png);base64,([A-Za-z0-9+/=]+)')
ATTR_URL = re.compile(r'''\b(?:src|href|xlink:href|action|poster|srcset)\s*=\s*["']?\s*([^"'\s>]+)''', re.I)
CSS_URL = re.compile(r"url\(|@import", re.I)


def _photo(seed: int, faces: list[tuple[int, int, int]]) -> np.ndarray:
    """A blue-ish picture with pure-red squares as the faces (RedDetector finds them)."""
    rng = np.random.default_rng(seed)
    image = np.zeros((120, 160, 3), np.uint8)
    image[..., 2] = 200
    image[..., 1] = rng.integers(0, 60, (120, 160))
    for x, y, size in faces:
        draw_face(image, x, y, size)
    return image


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A real batch run (fill, box masks) over photos whose faces are the only red pixels."""
    root = tmp_path_factory.mktemp("report")
    src = root / "in"
    write_image(src / "two.png", _photo(1, [(10, 10, 30), (90, 40, 40)]))
    write_image(src / "tiny.png", _photo(2, [(60, 60, 12)]))
    write_image(src / "none.png", _photo(3, []))
    write_image(src / "sub" / "one.jpg", _photo(4, [(40, 30, 50)]), quality=98)
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 50)
    (src / "notes.txt").write_text("not an image")
    report = anonymize_dir(src, root / "out", method="fill", shape="box", detector=RedDetector(), workers=1)
    assert report.written == 4 and report.failed == 1
    return root, report.manifest


def _set_output(manifest: Path, source: str, output: Path, *, keep_hash: bool = False) -> None:
    with closing(sqlite3.connect(manifest)) as db, db:
        sql = "UPDATE files SET output = ? WHERE source = ?" if keep_hash else "UPDATE files SET output = ?, output_hash = NULL WHERE source = ?"
        assert db.execute(sql, (str(output), source)).rowcount == 1


def _html(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _embedded_images(html: str) -> list[np.ndarray]:
    return [np.asarray(Image.open(io.BytesIO(base64.b64decode(m))).convert("RGB")) for m in DATA_URI.findall(html)]


def test_report_is_self_contained(run, tmp_path):
    _root, manifest = run
    page = _html(facesafe.render_report(manifest, tmp_path / "r.html"))
    urls = ATTR_URL.findall(page)
    assert urls, "the page has thumbnails and anchors"
    for url in urls:
        assert url.startswith(("data:", "#")), url
    assert "http://" not in page and "https://" not in page
    assert not re.search(r'''["'(]\s*//''', page)
    assert not CSS_URL.search(page) and "<script" not in page.lower() and "<link" not in page.lower()


def test_report_summarises_the_run(run, tmp_path):
    _root, manifest = run
    page = _html(facesafe.render_report(manifest, tmp_path / "r.html"))
    text = re.sub(r"<[^>]+>", " ", page)
    text = re.sub(r"\s+", " ", text)
    assert "Not ready to release" in text  # one input failed
    assert "4 outputs written" in text and "4 faces found and redacted" in text and "1 failed" in text
    assert "broken.jpg" in text and "CorruptImageError" in text
    assert "method=fill" in text and "RedDetector()" in text
    assert "1 face under 16 px high" in text  # tiny.png is in the review queue
    assert len(DATA_URI.findall(page)) == 4 + 1  # contact sheet + the queued photo
    assert page.count("<rect") >= 4  # the detected regions are outlined (plus chart bars)
    assert "Re-identification risk" in text and "Not measured" in text


def test_report_never_embeds_original_pixels(run, tmp_path):
    _root, manifest = run
    page = _html(facesafe.render_report(manifest, tmp_path / "r.html"))
    thumbs = _embedded_images(page)
    assert len(thumbs) == 5
    for thumb in thumbs:
        assert thumb[..., 2].mean() > 120  # it is one of our blue photos...
        assert not reddish(thumb).any()  # ...with no pixel of a face left


def test_the_pixel_check_would_catch_an_unredacted_output(run, tmp_path):
    root, manifest = run
    leaked = tmp_path / "leaked.sqlite"
    shutil.copy(manifest, leaked)
    original = root / "in" / "two.png"
    _set_output(leaked, str(original.resolve()), original)  # as if the run itself had shipped the input...
    with closing(sqlite3.connect(leaked)) as db, db:  # ...and vouched for it with its hash
        db.execute("UPDATE files SET output_hash = ? WHERE source = ?", (hashlib.sha256(original.read_bytes()).hexdigest(), str(original.resolve())))
    page = _html(facesafe.render_report(leaked, tmp_path / "r.html"))
    assert any(reddish(t).any() for t in _embedded_images(page))
    assert _shows(page, original)  # the comparison the tests below rely on does see it


def _shows(page: str, picture_path: Path) -> bool:
    """Whether any image embedded in ``page`` is a thumbnail of ``picture_path`` (pixels compared, not strings).

    Both are low-passed (4x4 means) before comparing, so JPEG's loss on the
    photos' noise does not hide a match: a thumbnail of the same photo differs
    by ~3 levels on average, another of these photos by ~20 or more.
    """
    picture = Image.open(picture_path).convert("RGB")
    for thumb in _embedded_images(page):
        size = (thumb.shape[1], thumb.shape[0])
        expected = np.asarray(picture.resize(size, Image.Resampling.LANCZOS).reduce(4)).astype(int)
        if np.abs(np.asarray(Image.fromarray(thumb).reduce(4)).astype(int) - expected).mean() < 10:
            return True
    return False


def _tampered(run, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the run's outputs and manifest (pointing at the copy) to tamper with."""
    root, manifest = run
    out, copy = root / "out", tmp_path / "out"
    shutil.copytree(out, copy)
    moved = tmp_path / "m.sqlite"
    shutil.copy(manifest, moved)
    rows = [row for row in read_manifest(moved)[1] if row.status == "written"]
    for row in rows:
        _set_output(moved, row.source, copy / Path(row.output).relative_to(out), keep_hash=True)
    return copy, moved


def test_an_original_planted_over_an_output_is_never_shown(run, tmp_path):
    root, _ = run
    out, manifest = _tampered(run, tmp_path)
    original = root / "in" / "two.png"
    shutil.copy(original, out / "two.png")  # the unredacted photo, where the release expects its redaction
    for limit in (400, 1):  # whether it is the one photo the thumbnail budget reaches or one of many
        page = _html(facesafe.render_report(manifest, tmp_path / "r.html", max_thumbnails=limit))
        assert not _shows(page, original)
        assert not any(reddish(t).any() for t in _embedded_images(page))
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
        assert "changed since the run: not shown" in text
        assert "Must check (1)" in text and "Not ready to release" in text
    page = _html(facesafe.render_report(manifest, tmp_path / "r.html"))
    assert len(_embedded_images(page)) == 3 + 1  # the three untouched outputs are still shown (tiny.png twice: queue and sheet)
    assert page.count("changed since the run: not shown") == 2  # in "Must check" and in the contact sheet


def test_missing_and_unvouched_outputs_are_placeholders(run, tmp_path):
    _root, _ = run
    out, manifest = _tampered(run, tmp_path)
    (out / "tiny.png").unlink()
    with closing(sqlite3.connect(manifest)) as db, db:  # a row the manifest holds no hash for cannot be vouched for
        assert db.execute("UPDATE files SET output_hash = NULL WHERE output = ?", (str(out / "two.png"),)).rowcount == 1
    page = _html(facesafe.render_report(manifest, tmp_path / "r.html"))
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert "missing: not shown" in text and "not vouched for by the manifest: not shown" in text
    assert not _shows(page, out / "two.png")  # its bytes are fine, but nothing vouches for them
    assert _shows(page, out / "none.png")  # the comparison does see an output that is shown
    assert len(_embedded_images(page)) == 2 and "Must check (2)" in text  # none.png and one.jpg, in the sheet only


def test_changed_outputs_and_verify_findings_join_the_review_queue(run, tmp_path):
    copy, leaked = _tampered(run, tmp_path)
    write_image(copy / "none.png", _photo(5, [(5, 5, 20)]), overwrite=True)  # changed after the run
    verified = facesafe.verify(copy, detector=RedDetector(), judge_redaction=False)  # drawn faces are flat
    assert [f.rel for f in verified.flagged] == ["none.png"]
    page = _html(facesafe.render_report(leaked, tmp_path / "r.html", verify=verified))
    assert "output changed since the run" in page and "changed since the run: not shown" in page
    assert "verify still finds 1 face(s) (score 0.90)" in page


def test_fallbacks_are_tagged_in_the_review_queue(run, tmp_path):
    _root, manifest = run
    copy = tmp_path / "m.sqlite"
    shutil.copy(manifest, copy)
    with closing(sqlite3.connect(copy)) as db, db:
        assert db.execute("UPDATE files SET fell_back = 1 WHERE rel = 'none.png'").rowcount == 1
    page = _html(facesafe.render_report(copy, tmp_path / "r.html"))
    assert '<span class="tag t-info">1 face got the fallback redaction instead of fill</span>' in page
    assert "Worth a look (2)" in page
    # and counted for the whole run among the summary cards
    assert '<div class="card warn"><b>1</b><span>faces that got the fallback redaction instead of fill</span></div>' in page
    plain = _html(facesafe.render_report(manifest, tmp_path / "plain.html"))
    assert "faces that got the fallback redaction" not in plain  # fill has no fallback: no card


def test_crop_runs_are_not_outlined(tmp_path):
    src = tmp_path / "in"
    write_image(src / "a.png", _photo(1, [(10, 10, 30)]))
    report = anonymize_dir(src, tmp_path / "out", method="crop", detector=RedDetector(), workers=1)
    page = _html(facesafe.render_report(report.manifest, tmp_path / "r.html"))
    assert "not outlined" in page
    assert 'stroke="#ff2bd6"' not in page and 'stroke="#ffb000"' not in page


def test_cli_report_and_usage_errors(run, tmp_path, capsys):
    _root, manifest = run
    target = tmp_path / "cli.html"
    assert main(["report", "--manifest", str(manifest), "--html", str(target)]) == 0
    assert target.stat().st_size > 1000
    assert main(["report", "--manifest", str(tmp_path / "nope.sqlite"), "--html", str(target)]) == 2
    assert main(["report", "--html", str(target)]) == 2


def test_reid_section_without_the_audit_extra_says_so(run, tmp_path, monkeypatch, capsys):

    _root, manifest = run
    gallery = tmp_path / "gallery"
    write_image(gallery / "alice" / "1.png", _photo(9, []))
    monkeypatch.setitem(sys.modules, "facesafe.audit", None)  # as if the extra were not installed
    monkeypatch.delattr(facesafe, "audit", raising=False)  # an earlier import left it on the package
    with pytest.warns(UserWarning, match="re-identification risk not measured: the audit extra is not installed"):
        page = _html(facesafe.render_report(manifest, tmp_path / "r.html", gallery=gallery))
    assert "Unavailable: the audit extra is not installed" in page
    assert main(["report", "--manifest", str(manifest), "--html", str(tmp_path / "cli.html"), "--gallery", str(gallery)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"facesafe: warning: {gallery}: re-identification risk not measured: the audit extra")
    assert err[0].endswith("install it with pip install 'facesafe[audit]'")
    assert "Unavailable: the audit extra is not installed" in _html(tmp_path / "cli.html")


def test_an_html_path_that_cannot_be_written_is_one_line_and_exit_1(run, tmp_path, capsys):
    _, manifest = run
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        for target in (locked / "qa.html", locked / "sub" / "qa.html"):
            done = unprivileged(["report", "--manifest", str(manifest), "--html", str(target)])
            err = done.stderr.strip().splitlines()
            assert done.returncode == 1 and len(err) == 1, done.stderr
            assert err[0].startswith(f"facesafe: {target}: ") and "Permission denied" in err[0]
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)
    (tmp_path / "dir.html").mkdir()  # a folder in the way, and a file where a folder should be: no permissions involved
    (tmp_path / "file").write_text("x")
    for target, problem in ((tmp_path / "dir.html", "cannot write: Is a directory"), (tmp_path / "file" / "qa.html", "cannot create folder")):
        with pytest.raises(facesafe.OutputError, match=problem):
            facesafe.render_report(manifest, target)
    target = tmp_path / "file" / "qa.html"  # (the CLI refuses a folder as --html itself: a usage error)
    assert main(["report", "--manifest", str(manifest), "--html", str(target)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"facesafe: {target}: cannot create folder {target.parent}: "), err
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith("facesafe-tmp")] == []  # no temporary left behind


# --------------------------------------------------------------------------- a real render


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("headless Chromium is not installed (apt-get install chromium); the HTML render is not checked")


def screenshot(html: Path, png: Path, *, width: int, height: int, profile: Path) -> None:
    """Render ``html`` in headless Chromium, offline, with a fresh profile, to ``png``."""
    subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic", "--hide-scrollbars", f"--user-data-dir={profile}",
         f"--screenshot={png}", f"--window-size={width},{height}", html.resolve().as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip


def test_report_renders_in_headless_chromium(run, tmp_path):
    _root, manifest = run
    html = facesafe.render_report(manifest, tmp_path / "r.html")
    png = tmp_path / "shot.png"
    screenshot(html, png, width=1100, height=1400, profile=tmp_path / "profile")
    shot = np.asarray(Image.open(png).convert("RGB"))
    assert shot.shape == (1400, 1100, 3)
    assert len(np.unique(shot.reshape(-1, 3), axis=0)) > 200  # text, charts and thumbnails, not a blank page
    # the red "not ready" verdict banner (#fdecea) and the blue bars (#3552c0) are drawn
    assert (np.abs(shot.astype(int) - (0xFD, 0xEC, 0xEA)).sum(axis=2) < 6).sum() > 5000
    assert (np.abs(shot.astype(int) - (0x35, 0x52, 0xC0)).sum(axis=2) < 6).sum() > 500


def test_reid_section_reports_the_audit_figures(run, tmp_path, monkeypatch):
    from facesafe import audit

    _root, manifest = run
    gallery = tmp_path / "gallery"
    for person in ("alice", "bob"):
        for n in (1, 2):
            write_image(gallery / person / f"{n}.png", _photo(n, [(10, 10, 30)]))
    (gallery / "README.txt").write_text("sources")
    calls = []

    def fake_enrol(people):
        calls.append(sorted((k, len(v)) for k, v in people.items()))
        return "enrolment"

    def fake_reid(enrolment, redaction, *, method=None):
        rank1 = 1.0 if redaction is None else 0.5
        return audit.ReidResult(method or "original", 2, 2, rank1, 0.9 if redaction is None else 0.5, 1.0 if redaction is None else 0.0)

    monkeypatch.setattr(audit, "enrol", fake_enrol)
    monkeypatch.setattr(audit, "reidentification", fake_reid)
    page = _html(facesafe.render_report(manifest, tmp_path / "r.html", gallery=gallery))
    assert calls == [[("alice", 2), ("bob", 2)]]
    assert "Re-identification risk: low" in page and "matched 50% of redacted gallery photos" in page
    assert "(chance 50%; 100% before redaction)" in page


def test_reid_section_measures_a_synthetic_run_too(tmp_path, monkeypatch):
    from facesafe import audit

    write_image(tmp_path / "in" / "one.png", _photo(4, [(40, 30, 50)]))
    report = anonymize_dir(tmp_path / "in", tmp_path / "out", method="synthetic", detector=RedDetector(), workers=0, quiet=True)
    gallery = tmp_path / "gallery"
    for person in ("alice", "bob"):
        for n in (1, 2):
            write_image(gallery / person / f"{n}.png", _photo(n, [(10, 10, 30)]))
    redactions = []

    def fake_reid(enrolment, redaction, *, method=None):
        redactions.append(redaction)
        return audit.ReidResult(method or "original", 2, 2, 0.5, 0.5, 0.0)

    monkeypatch.setattr(audit, "enrol", lambda people: "enrolment")
    monkeypatch.setattr(audit, "reidentification", fake_reid)
    page = _html(facesafe.render_report(report.manifest, tmp_path / "r.html", gallery=gallery))
    assert "Re-identification risk: low" in page and "After synthetic" in page
    assert redactions[0] is None and isinstance(redactions[1], facesafe.Synthesize)


def test_a_file_that_is_not_a_manifest_is_refused_and_left_as_it_was(tmp_path):
    other = tmp_path / "other.sqlite"
    with closing(sqlite3.connect(other)) as db, db:
        db.execute("CREATE TABLE notes (text TEXT)")
    before = other.read_bytes()
    for path in (other, tmp_path / "missing.sqlite", tmp_path):
        with pytest.raises(ValueError, match="manifest"):
            facesafe.render_report(path, tmp_path / "r.html")
    assert other.read_bytes() == before  # opened read-only: no tables added to someone else's database
    assert not (tmp_path / "r.html").exists()
    (tmp_path / "text.sqlite").write_text("not a database")
    assert main(["report", "--manifest", str(tmp_path / "text.sqlite"), "--html", str(tmp_path / "r.html")]) == 2
