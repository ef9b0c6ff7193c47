"""Rebuild docs/img/report-wider-dev.png: the QA report of a small wider-dev run.

Anonymises N wider-dev photos (spread over the events) with the batch runner
into a temporary folder (never into the repository), re-checks the outputs
with ``facesafe.verify``, renders the report (with the re-identification
section measured on identity-dev), screenshots it in headless Chromium and
saves a downscaled PNG of the top of the page. Only redacted outputs appear
in the report; the originals are never embedded.

    .venv/bin/python scripts/make_report_docs.py [--n 40] [--method fill] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

import facesafe

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
TARGET = ROOT / "docs" / "img" / "report-wider-dev.png"


def screenshot(html: Path, png: Path, *, width: int, height: int, profile: Path) -> None:
    """Render ``html`` offline in headless Chromium with a fresh profile."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic", "--hide-scrollbars", f"--user-data-dir={profile}",
         f"--screenshot={png}", f"--window-size={width},{height}", html.resolve().as_uri()],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--method", default="fill")
    parser.add_argument("--preset", default="balanced")
    parser.add_argument("--keep", type=Path, default=None, help="keep the run, report and full screenshot here (outside the repo)")
    # 1450 CSS px stops above the review queue's thumbnails: wider-dev's terms keep
    # its photos, even redacted ones, out of the repository and its docs.
    parser.add_argument("--height", type=int, default=1450, help="screenshot height (CSS px) kept in the docs image")
    parser.add_argument("--reuse", action="store_true", help="re-render from the run and verify.json already in --keep")
    args = parser.parse_args()
    wider = DATA / "wider-dev"
    if not (wider / "annotations.json").exists():
        print(f"no data at {wider}; nothing done")
        return 0
    images = json.loads((wider / "annotations.json").read_text())["images"]
    step = max(1, len(images) // args.n)
    sources = [wider / item["file"] for item in images[::step][: args.n]]
    work = Path(tempfile.mkdtemp(prefix="facesafe-report-")) if args.keep is None else args.keep
    if ROOT in work.resolve().parents:
        raise SystemExit("--keep must be outside the repository")
    out, manifest = work / "out", work / "run.facesafe.sqlite"
    t0 = time.perf_counter()
    if args.reuse:
        verified = json.loads((work / "verify.json").read_text())
        return _render(work, manifest, verified, args.height)
    report = facesafe.anonymize_dir(sources, out, method=args.method, preset=args.preset, workers=1, manifest=manifest,
                                    command=f"facesafe anonymize <{len(sources)} wider-dev photos> --out out --method {args.method}")
    print(f"anonymize: {report.summary()} ({time.perf_counter() - t0:.1f} s)")
    t0 = time.perf_counter()
    verified = facesafe.verify(out)
    print(f"verify: {len(verified.flagged)} of {len(verified.files)} files flagged ({time.perf_counter() - t0:.1f} s)")
    (work / "verify.json").write_text(json.dumps(verified.to_dict(), indent=2))
    return _render(work, manifest, verified, args.height)


def _render(work: Path, manifest: Path, verified: object, height: int) -> int:
    t0 = time.perf_counter()
    gallery = DATA / "identity-dev"
    html = facesafe.render_report(manifest, work / "report.html", gallery=gallery if gallery.exists() else None, verify=verified)
    print(f"report: {html} ({html.stat().st_size / 1e6:.1f} MB, {time.perf_counter() - t0:.1f} s)")
    full = work / "report-full.png"
    screenshot(html, full, width=1200, height=height, profile=work / "chromium-profile")
    shot = Image.open(full).convert("RGB")
    shot = shot.resize((shot.width * 3 // 4, shot.height * 3 // 4), Image.Resampling.LANCZOS)
    shot = shot.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    shot.save(TARGET, optimize=True)
    print(f"wrote {TARGET.relative_to(ROOT)} ({TARGET.stat().st_size / 1e3:.0f} kB); work files in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
