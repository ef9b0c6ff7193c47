"""render_report(): one self-contained HTML page a privacy officer can read offline.

The page is built from a run manifest and the *outputs* it lists; it never
reads an original (inputs are named, never opened), so it may be shared with
whoever may see the outputs. It shows only pixels it has vouched for: an
output is thumbnailed only when its bytes hash to what the manifest recorded;
one changed since the run, missing or without a recorded hash is a named
placeholder and a "Must check" finding. Everything is inline: CSS, SVG charts,
thumbnails as ``data:`` URIs; there is no script, no external URL, no font or
image fetched from anywhere.

Sections: verdict, run summary (counts, time, parameters, versions), failures
with reasons, charts (faces per photo, face heights, detection scores), the
review queue, a contact sheet of output thumbnails with the detected regions
outlined, and the re-identification risk measured on a gallery when one is
given and the ``audit`` extra is installed.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import html
import io
import os
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from ._anonymize import make_redaction
from ._batch._manifest import Row, read_manifest
from ._errors import ImageError
from ._io import atomic_write_bytes, load_image, read_image
from ._review import (
    FELL_BACK,
    LOW_SCORE,
    MAX_QUEUE,
    NOT_AS_WRITTEN,
    SMALL,
    SMALL_FACE_PX,
    UNCERTAIN,
    VERIFY_FINDING,
    Item,
    Look,
    Review,
    build_review,
)

__all__ = ["render_report"]

THUMB_SIDE = 320
MAX_THUMBNAILS = 400

_CSS = """
:root{--ink:#1d2433;--muted:#5b6478;--line:#e3e6ee;--bg:#f6f7fb;--card:#fff;--ok:#1f8a4c;--warn:#b86e00;
--bad:#c0352b;--accent:#3552c0;--face:#ff2bd6}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif}
main{max-width:1180px;margin:0 auto;padding:28px 24px 60px}
h1{font-size:26px;margin:0 0 2px}h2{font-size:19px;margin:34px 0 12px;padding-bottom:6px;border-bottom:2px solid var(--line)}
h3{font-size:15px;margin:0 0 8px}
.sub{color:var(--muted);margin:0 0 18px}
nav{display:flex;flex-wrap:wrap;gap:6px 16px;font-size:13px;margin:0 0 18px}
nav a{color:var(--accent);text-decoration:none}
.verdict{border-radius:10px;padding:14px 18px;margin:0 0 18px;font-weight:600;font-size:16px;border-left:6px solid}
.verdict small{display:block;font-weight:400;font-size:14px;color:var(--ink)}
.v-ok{background:#e8f6ee;border-color:var(--ok)}.v-warn{background:#fff4e0;border-color:var(--warn)}
.v-bad{background:#fdecea;border-color:var(--bad)}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 14px}
.card b{display:block;font-size:26px;line-height:1.2}.card span{color:var(--muted);font-size:13px}
.card.bad b{color:var(--bad)}.card.warn b{color:var(--warn)}.card.ok b{color:var(--ok)}
table{border-collapse:collapse;width:100%;background:var(--card);border:1px solid var(--line);border-radius:10px;
overflow:hidden;font-size:13.5px}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#eef0f6;font-weight:600}tr:last-child td{border-bottom:0}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;word-break:break-all}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:14px}
.chart{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 14px}
.chart p{margin:4px 0 0;color:var(--muted);font-size:12.5px}
.sheet{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px;align-items:start}
figure{margin:0;background:var(--card);border:1px solid var(--line);border-radius:8px;overflow:hidden}
figure svg{display:block;width:100%;height:150px;background:#222}
figcaption{padding:5px 8px;font-size:12px;color:var(--muted);white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
figcaption b{color:var(--ink)}figure.noface{border-color:#e9c27a}figure.noface figcaption b{color:var(--warn)}
.tag{display:inline-block;border-radius:99px;padding:1px 8px;font-size:12px;font-weight:600;margin:1px 4px 1px 0}
.t-bad{background:#fdecea;color:var(--bad)}.t-warn{background:#fff4e0;color:var(--warn)}.t-info{background:#e9edfb;color:var(--accent)}
.queue td.thumb{width:132px}.queue svg{width:120px;height:90px;display:block;border-radius:4px;background:#222}
.note{color:var(--muted);font-size:13px}
.withheld{display:flex;align-items:center;justify-content:center;text-align:center;height:150px;padding:8px;background:#fdecea;
color:var(--bad);font-size:12.5px;font-weight:600}.queue .withheld{width:120px;height:90px;border-radius:4px}
.q-must{color:var(--bad);margin-top:14px}.q-worth{color:var(--warn);margin-top:22px}td.nowrap{white-space:nowrap}
.legend i{display:inline-block;width:12px;height:12px;border:2px solid var(--face);margin:0 4px -2px 0}
footer{margin-top:40px;color:var(--muted);font-size:12.5px}
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "—"
    return _dt.datetime.fromtimestamp(epoch, _dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 90:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


# --------------------------------------------------------------------------- charts


def _bar_chart(bins: Sequence[tuple[str, int, str]], *, title: str, xlabel: str, note: str = "") -> str:
    """An inline SVG bar chart of ``(label, count, colour)`` bins."""
    width, height, left, bottom, top = 400, 210, 40, 40, 16
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max([c for _, c, _ in bins] + [1])
    step = plot_w / max(len(bins), 1)
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{_esc(title)}" width="100%">']
    for frac in (0, 0.5, 1):
        y = top + plot_h * (1 - frac)
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e6ee"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="#5b6478">{round(peak * frac):,}</text>')
    for i, (label, count, colour) in enumerate(bins):
        h = plot_h * count / peak
        x = left + i * step + step * 0.12
        w = step * 0.76
        y = top + plot_h - h
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="2" fill="{colour}"><title>{_esc(label)}: {count:,}</title></rect>')
        if count:
            parts.append(f'<text x="{x + w / 2:.1f}" y="{y - 3:.1f}" font-size="11" text-anchor="middle" fill="#1d2433">{count:,}</text>')
        parts.append(f'<text x="{x + w / 2:.1f}" y="{top + plot_h + 15:.1f}" font-size="10.5" text-anchor="middle" fill="#5b6478">{_esc(label)}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" font-size="11.5" text-anchor="middle" fill="#1d2433">{_esc(xlabel)}</text>')
    parts.append("</svg>")
    caption = f"<p>{note}</p>" if note else ""
    return f'<div class="chart"><h3>{_esc(title)}</h3>{"".join(parts)}{caption}</div>'


_BLUE, _AMBER, _RED = "#3552c0", "#e0a030", "#c0352b"


def _faces_per_photo_bins(counts: Sequence[int]) -> list[tuple[str, int, str]]:
    edges = [(0, 0, "0"), (1, 1, "1"), (2, 2, "2"), (3, 3, "3"), (4, 5, "4–5"), (6, 9, "6–9"), (10, 19, "10–19"),
             (20, 49, "20–49"), (50, 10**9, "50+")]  # fmt: skip
    return [(label, sum(lo <= c <= hi for c in counts), _AMBER if hi == 0 else _BLUE) for lo, hi, label in edges]


def _height_bins(heights: Sequence[float]) -> list[tuple[str, int, str]]:
    edges = [(0, 10, "<10"), (10, 16, "10–16"), (16, 32, "16–32"), (32, 64, "32–64"), (64, 128, "64–128"),
             (128, 256, "128–256"), (256, 1e12, "256+")]  # fmt: skip
    return [(label, sum(lo <= h < hi for h in heights), _AMBER if hi <= SMALL_FACE_PX else _BLUE) for lo, hi, label in edges]


def _score_bins(scores: Sequence[float]) -> list[tuple[str, int, str]]:
    bins = []
    for i in range(10):
        lo, hi = i / 10, (i + 1) / 10
        n = sum(lo <= s < hi or (i == 9 and s >= 1.0) for s in scores)
        bins.append((f"{lo:.1f}", n, _AMBER if hi <= LOW_SCORE else _BLUE))
    return bins


# --------------------------------------------------------------------------- thumbnails


class _Withheld(Exception):
    """An output whose pixels the report may not show: ``label`` names why (placeholder), ``reason`` explains it (queue tag)."""

    def __init__(self, label: str, reason: str) -> None:
        super().__init__(reason)
        self.label, self.reason = label, reason


def _vouched_bytes(path: str, expected_hash: str | None) -> bytes:
    """The output's bytes, when their sha256 is the one the manifest recorded for it.

    Anything else (changed since the run, missing, no recorded hash,
    unreadable) raises :class:`_Withheld`: the report shows no pixel it has
    not checked against the manifest.
    """
    if not expected_hash:
        raise _Withheld("not vouched for by the manifest", "output has no hash in the manifest: its pixels are not shown")
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise _Withheld("missing", "output missing (deleted or moved since the run)") from None
    except (OSError, TypeError, ValueError) as exc:
        raise _Withheld("unreadable", f"output unreadable: {type(exc).__name__}: {exc}") from None
    if hashlib.sha256(data).hexdigest() != expected_hash:
        raise _Withheld("changed since the run", "output changed since the run (hash differs from the manifest)")
    return data


def _thumbnail(data: bytes) -> tuple[str, tuple[int, int]]:
    """(data URI of a small JPEG of the first frame of these vouched output bytes, output size)."""
    from PIL import Image

    picture = load_image(data)
    frame = Image.fromarray(picture.frames[0])
    frame.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    frame.save(buf, "JPEG", quality=72)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii"), picture.size


def _look(row: Row, draw: bool) -> Look:
    """Read one written output: check it against the manifest and, when ``draw``, thumbnail those very bytes."""
    try:
        data = _vouched_bytes(row.output, row.output_hash)  # type: ignore[arg-type]
        if not draw:
            return Look()
        thumb, size = _thumbnail(data)
        return Look(thumb=thumb, size=size)
    except _Withheld as exc:
        return Look(withheld=exc.label, problem=exc.reason)
    except Exception as exc:  # vouched bytes that do not decode: a finding, never a crash of the report
        return Look(withheld="unreadable", problem=f"output unreadable: {type(exc).__name__}: {getattr(exc, 'reason', None) or exc}")


def _placeholder(item: Item) -> str:
    """Where a thumbnail would be: the problem named, no pixel of the file."""
    return f'<div class="withheld">{_esc(item.look.withheld)}: not shown</div>'


def _figure_svg(item: Item, *, outline: bool) -> str:
    width, height = item.look.size or (4, 3)
    parts = [f'<svg viewBox="0 0 {width} {height}" preserveAspectRatio="xMidYMid meet">']
    if item.look.thumb:
        parts.append(f'<image href="{item.look.thumb}" x="0" y="0" width="{width}" height="{height}"/>')
    if outline:
        stroke = max(1.5, max(width, height) / 220)
        for face in item.detections:
            if face.frame != 0:
                continue
            colour = "#ffb000" if face.doubtful else "#ff2bd6"
            parts.append(
                f'<rect x="{face.x0:.1f}" y="{face.y0:.1f}" width="{face.x1 - face.x0:.1f}" height="{face.height:.1f}" fill="none" '
                f'stroke="{colour}" stroke-width="{stroke:.1f}"><title>score {face.score:.2f}, {face.height:.0f} px high</title></rect>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _picture(item: Item, *, outline: bool) -> str:
    """The item's thumbnail, or the placeholder that says why there is none."""
    if item.look.thumb:
        return _figure_svg(item, outline=outline)
    return _placeholder(item) if item.look.withheld else '<span class="note">no thumbnail</span>'


# --------------------------------------------------------------------------- gallery audit


def _load_gallery(gallery: Path) -> dict[str, list[Any]]:
    """``{person: [RGB arrays]}``: every folder under ``gallery`` that holds images is one person.

    Photos are taken in name order (the first is enrolled); files that are not
    images (READMEs, notes) are left out.
    """
    people: dict[str, list[Any]] = {}
    for folder in sorted([gallery, *(p for p in gallery.rglob("*") if p.is_dir())]):
        photos = []
        for path in sorted(p for p in folder.iterdir() if p.is_file()):
            try:
                photos.append(read_image(path))
            except ImageError:
                continue  # not an image: the audit counts people, not files
        if photos:
            people[folder.relative_to(gallery).as_posix()] = photos
    return people


def _reid_section(gallery: str | os.PathLike[str] | None, method: str | None) -> tuple[str, str | None]:
    """(the section's HTML, why the given gallery could not be measured, or None)."""
    head = '<h2 id="reid">Re-identification risk</h2>'
    if gallery is None:
        return head + '<p class="note">Not measured: pass a gallery (<code>--gallery DIR</code>, one folder of photos per person, at any depth) to measure whether a face recogniser still matches people after this run\'s redaction.</p>', None
    try:
        from . import audit  # here: the audit's models are an optional extra, and a test stands in for its absence

        reidentification = audit.reidentification
    except (ImportError, AttributeError) as exc:
        why = f"the audit extra is not installed ({exc})"
        return head + f'<p class="note">Unavailable: {_esc(why)}. Install it with <code>pip install \'facesafe[audit]\'</code>.</p>', f"{why}; install it with pip install 'facesafe[audit]'"
    if method is None:
        why = "the manifest records no method to rebuild for the audit"
        return head + f'<p class="note">Not measured: {why}.</p>', why
    try:
        people = _load_gallery(Path(gallery))
        if not people:
            raise ValueError(f"no photos in sub-folders of {gallery}")
        enrolment = audit.enrol(people)
        before = reidentification(enrolment, None)
        after = reidentification(enrolment, make_redaction(method), method=method)
    except ImportError as exc:
        return head + f'<p class="note">Unavailable: {_esc(exc)}</p>', str(exc)
    except (ValueError, OSError) as exc:
        return head + f'<p class="note">Not measured: {_esc(exc)}</p>', str(exc)
    rows = []
    for label, r in (("Originals (the recogniser's ceiling)", before), (f"After {method} (this run's method)", after)):
        rows.append(
            f"<tr><td>{_esc(label)}</td><td class=num>{r.rank1:.0%}</td><td class=num>{r.chance_rank1:.0%}</td>"
            f"<td class=num>{r.auc:.2f}</td><td class=num>{r.linkability:.0%}</td><td class=num>{r.probes}</td></tr>"
        )
    risk = "low" if after.rank1 <= 2 * after.chance_rank1 and after.linkability <= 0.05 else "elevated"
    cls = "v-ok" if risk == "low" else "v-warn"
    return head + (
        f'<div class="verdict {cls}">Re-identification risk: {risk}'
        f"<small>dlib's face recogniser matched {after.rank1:.0%} of redacted gallery photos to the right person "
        f"(chance {after.chance_rank1:.0%}; {before.rank1:.0%} before redaction), {after.people} people.</small></div>"
        "<table><tr><th>Photos</th><th>Rank-1 identified</th><th>Chance</th><th>Verification AUC</th>"
        "<th>Linked to own original</th><th>Probes</th></tr>" + "".join(rows) + "</table>"
        '<p class="note">Measured on the gallery\'s own photos (first photo of each person enrolled, the others '
        "redacted with this run's method and default options, the attacker aligned on the original landmarks). "
        "AUC 0.5 is chance. No gallery image is embedded in this report.</p>"
    ), None


# --------------------------------------------------------------------------- the page


def _load_verify(verify: Any) -> dict[str, dict[str, Any]] | None:
    """Verify findings by output path, from a VerifyReport, its dict or a JSON file."""
    import json

    if verify is None:
        return None
    if isinstance(verify, (str, os.PathLike)):
        verify = json.loads(Path(verify).read_text())
    if hasattr(verify, "to_dict"):
        verify = verify.to_dict()
    if not isinstance(verify, Mapping):
        raise TypeError(f"verify must be a VerifyReport, its dict or a JSON path, got {type(verify).__name__}")
    found = {}
    for item in verify.get("flagged", []):  # weak and redacted-looking detections are the normal residue of redaction
        found[str(Path(item["path"]).resolve())] = item
    return found


def render_report(
    manifest: str | os.PathLike[str],
    html_path: str | os.PathLike[str],
    *,
    gallery: str | os.PathLike[str] | None = None,
    verify: Any = None,
    max_thumbnails: int = MAX_THUMBNAILS,
) -> Path:
    """Write the HTML QA report of the run(s) recorded in ``manifest`` to ``html_path``.

    Args:
        manifest: a facesafe run manifest (SQLite).
        html_path: where the single self-contained HTML file goes.
        gallery: a folder of people (one sub-folder of photos each) to measure
            re-identification risk with the ``audit`` extra; its photos are
            never embedded.
        verify: findings of :func:`facesafe.verify` on the outputs (a
            VerifyReport, its ``to_dict()`` or a ``--json`` file): flagged
            outputs join the review queue.
        max_thumbnails: contact-sheet size limit (the review queue always
            gets its thumbnails first).

    Only outputs are read; originals are never opened. The page is written
    atomically (replacing an earlier report). Returns ``html_path``.

    Raises:
        ValueError: ``manifest`` is not a facesafe run manifest, or a bad argument.
        OutputError: the page cannot be written there (an unwritable folder,
            a folder in the way, a full disk); nothing is left at ``html_path``.

    A ``gallery`` that cannot be measured (the ``audit`` extra is missing, no
    photos in it) is said in the page and in a ``UserWarning``.
    """
    source = Path(manifest)
    if not isinstance(max_thumbnails, int) or max_thumbnails < 0:
        raise ValueError(f"max_thumbnails must be an int >= 0, got {max_thumbnails!r}")
    verified = _load_verify(verify)
    runs, rows = read_manifest(source)
    review = build_review(runs, rows, findings=_findings(rows, verified), look=_look, max_thumbnails=max_thumbnails)
    reid, unmeasured = _reid_section(gallery, review.params.get("method"))
    if unmeasured:
        warnings.warn(f"{os.fspath(gallery)}: re-identification risk not measured: {unmeasured}", UserWarning, stacklevel=2)  # type: ignore[arg-type]
    return atomic_write_bytes(html_path, _page(source, review, reid=reid).encode("utf-8"), overwrite=True)


def _findings(rows: Sequence[Row], verified: Mapping[str, dict[str, Any]] | None) -> dict[str, dict[str, Any]] | None:
    """Verify's flagged items by the manifest's ``output`` they concern (paths resolved here, not in the model)."""
    if verified is None:
        return None
    found = {}
    for row in rows:
        if row.status == "written" and row.output:
            item = verified.get(str(Path(row.output).resolve()))
            if item:
                found[row.output] = item
    return found


# --------------------------------------------------------------------------- the view


def _card(value: Any, label: str, cls: str = "") -> str:
    return f'<div class="card {cls}"><b>{value}</b><span>{_esc(label)}</span></div>'


def _cards(review: Review) -> str:
    face_counts = [len(item.detections) for item in review.items]
    failed, pending, queue = len(review.failures), review.pending, review.queue
    asked = {t for run in review.runs for t in run.get("params", {}).get("targets", ())}
    others = [_card(f"{sum(item.regions(kind) for item in review.items):,}", label)
              for target, kind, label in (("plates", "plate", "licence plates found and hidden"), ("text", "text", "text lines found and hidden"))
              if target in asked]
    return "".join([
        _card(f"{review.files:,}", "files in the manifest"),
        _card(f"{len(review.items):,}", "outputs written", "ok" if review.items else ""),
        _card(f"{sum(face_counts):,}", "faces found and redacted"),
        *_fallback_card(review),
        *others,
        _card(f"{sum(c == 0 for c in face_counts):,}", "outputs without a face found", "warn" if face_counts and 0 in face_counts else ""),
        _card(f"{failed:,}", "failed (nothing written)", "bad" if failed else "ok"),
        _card(f"{review.skipped:,}", "skipped (not images)"),
        _card(f"{pending:,}", "unfinished", "bad" if pending else ""),
        _card(f"{len(review.must):,}", "outputs that must be checked", "bad" if review.must else "ok"),
        _card(f"{len(review.worth):,}", "outputs worth a look", "warn" if queue else "ok"),
    ])  # fmt: skip


_WITH_FALLBACK = ("synthetic", "crop")  # methods that redact some faces with another method


def _fallback_card(review: Review) -> list[str]:
    """The faces that got the fallback redaction instead of the method's own (none when the method has none)."""
    method = review.params.get("method") or "the method"
    if not review.fell_back and method not in _WITH_FALLBACK:
        return []
    return [_card(f"{review.fell_back:,}", f"faces that got the fallback redaction instead of {method}", "warn" if review.fell_back else "ok")]


def _runs_table(runs: Sequence[Mapping[str, Any]]) -> str:
    run_rows = []
    for r in runs:
        p = r.get("params", {})
        settings = ", ".join(f"{k}={v}" for k, v in sorted(p.items()) if v is not None)
        models = "<br>".join(f"<code>{_esc(k)}</code>: <code>{_esc(v)}</code>" for k, v in sorted(r.get("models", {}).items()))
        took = (r["finished"] - r["started"]) if r.get("finished") else None
        run_rows.append(
            f"<tr><td class=num>{r['id']}</td><td class=nowrap>{_esc(_when(r['started']))}</td><td class=nowrap>{_esc(_duration(took)) if took is not None else '<b>not finished</b>'}</td>"
            f"<td>{_esc(r['facesafe_version'])}</td><td><code>{_esc(settings)}</code></td><td>{models or '—'}</td>"
            f"<td><code>{_esc(r.get('command') or '—')}</code></td></tr>"
        )
    return (
        "<table><tr><th>Run</th><th>Started</th><th>Took</th><th>facesafe</th><th>Parameters</th><th>Models</th><th>Command</th></tr>"
        + "".join(run_rows) + "</table>"
    ) if run_rows else '<p class="note">The manifest records no run.</p>'


def _failures_html(review: Review) -> str:
    failed = review.failures
    if failed:
        kinds = Counter(f.reason.split(":")[0] for f in failed)
        fail_rows = "".join(f"<tr><td><code>{_esc(f.name)}</code></td><td>{_esc(f.reason)}</td></tr>" for f in failed[:500])
        more = f'<p class="note">… and {len(failed) - 500:,} more (see the manifest).</p>' if len(failed) > 500 else ""
        summary = ", ".join(f"{_esc(k)} × {v}" for k, v in kinds.most_common())
        text = f'<p>By kind: {summary}. Nothing was written for these inputs.</p><table><tr><th>Input</th><th>Reason</th></tr>{fail_rows}</table>{more}'
    else:
        text = '<p class="note">No input failed.</p>'
    if review.pending:
        text += f'<p><b>{review.pending:,} inputs are still pending</b>: the run was interrupted before they finished. Re-run the same command to resume.</p>'
    return text


def _charts(review: Review) -> str:
    detections = [face for item in review.items for face in item.detections]
    return "".join([
        _bar_chart(_faces_per_photo_bins([len(item.detections) for item in review.items]), title="Faces per photo", xlabel="faces found in a photo",
                   note="Photos with no face found (amber) are worth a glance when every photo should show people."),
        _bar_chart(_height_bins([face.height for face in detections]), title="Face sizes", xlabel="face height (pixels)",
                   note=f"Faces under {SMALL_FACE_PX} px (amber) are near the detector's recall limit: similar faces nearby may have been missed."),
        _bar_chart(_score_bins([face.score for face in detections]), title="Detection scores", xlabel="detector score (bin start)",
                   note=f"Every detection was redacted; scores under {LOW_SCORE} (amber) are less certain: partial faces or false alarms."),
    ])  # fmt: skip


_TAG = {VERIFY_FINDING: "t-bad", NOT_AS_WRITTEN: "t-bad", UNCERTAIN: "t-warn", SMALL: "t-warn", FELL_BACK: "t-info"}


def _queue_table(entries: Sequence[Item], *, outline: bool) -> str:
    rows = []
    for item in entries[:MAX_QUEUE]:
        tags = "".join(f'<span class="tag {_TAG[reason.severity]}">{_esc(reason.text)}</span>' for reason in item.reasons)
        rows.append(
            f'<tr><td class="thumb">{_picture(item, outline=outline)}</td><td><code>{_esc(item.name)}</code><br>{tags}</td>'
            f"<td class=num>{len(item.detections)}</td></tr>"
        )
    more = f'<p class="note">… and {len(entries) - MAX_QUEUE:,} more.</p>' if len(entries) > MAX_QUEUE else ""
    return '<table class="queue"><tr><th>Output</th><th>Why</th><th>Faces</th></tr>' + "".join(rows) + "</table>" + more


def _queue_html(review: Review) -> str:
    if not review.queue:
        return '<p class="note">Nothing to review.</p>'
    text = ""
    if review.must:
        text += f'<h3 class="q-must">Must check ({len(review.must):,})</h3>{_queue_table(review.must, outline=not review.crop)}'
    if review.worth:
        text += (f'<h3 class="q-worth">Worth a look ({len(review.worth):,})</h3><p class="note">Crowded or uncertain photos, '
                 f"most uncertain and small detections first: where a missed face is likeliest.</p>{_queue_table(review.worth, outline=not review.crop)}")
    return text


def _sheet(review: Review) -> str:
    figures = []
    for item in (i for i in review.items if i.look.thumb or i.look.withheld):
        n = len(item.detections)
        caption = f"<b>{n}</b> face{'s' if n != 1 else ''} · {_esc(item.name)}"
        cls = ' class="noface"' if not n else ""
        figures.append(f'<figure{cls}>{_picture(item, outline=not review.crop)}<figcaption title="{_esc(item.name)}">{caption}</figcaption></figure>')
    note = (
        '<p class="legend note"><i></i>detected region (what was redacted), <i style="border-color:#ffb000"></i>low score or under '
        f"{SMALL_FACE_PX} px. Thumbnails are made from the outputs only; no original pixel is in this file.</p>"
    )
    if review.crop:
        note = ('<p class="note">Crop run: outputs are cut-outs whose coordinates differ from the originals\', so detected regions are '
                "not outlined. Thumbnails are made from the outputs only; no original pixel is in this file.</p>")
    shown, total = len(review.shown), len(review.items)
    if shown < total:
        note += f'<p class="note">{total - shown:,} of {total:,} outputs are not shown (limit {review.max_thumbnails:,}, or not vouched for by the manifest).</p>'
    return f'{note}<div class="sheet">{"".join(figures)}</div>' if figures else '<p class="note">No output to show.</p>'


def _subtitle(source: Path, review: Review) -> str:
    runs = review.runs
    started = min((r["started"] for r in runs), default=None)
    finished = max((r["finished"] or 0 for r in runs), default=None) or None
    busy = sum((r["finished"] or r["started"]) - r["started"] for r in runs)
    rate = f"{len(review.items) / busy:.2f} photos/s" if busy > 0 and review.items else "—"
    return (f"Manifest <code>{_esc(source.name)}</code> · {len(runs)} run{'s' if len(runs) != 1 else ''} · "
            f"{_esc(_when(started))} → {_esc(_when(finished))} · {_esc(rate)}")


_NAV = "".join(f'<a href="#{a}">{t}</a>' for a, t in (("summary", "Summary"), ("failures", "Failures"), ("charts", "Charts"),
                                                      ("review", "Review queue"), ("sheet", "Contact sheet"), ("reid", "Re-identification")))


def _page(source: Path, review: Review, *, reid: str) -> str:
    verdict = review.verdict
    title = f"facesafe QA report — {source.stem}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>{_esc(title)}</title><style>{_CSS}</style></head>
<body><main>
<h1>facesafe QA report</h1>
<p class="sub">{_subtitle(source, review)}</p>
<nav>{_NAV}</nav>
<div class="verdict v-{verdict.level}">{_esc(verdict.title)}<small>{_esc(verdict.detail)}</small></div>
<h2 id="summary">Summary</h2>
<div class="cards">{_cards(review)}</div>
<h3 style="margin-top:18px">Runs</h3>
{_runs_table(review.runs)}
<h2 id="failures">Failures</h2>
{_failures_html(review)}
<h2 id="charts">Detections</h2>
<div class="charts">{_charts(review)}</div>
<h2 id="review">Review queue</h2>
<p class="note">Photos a person should look at, most serious first: problems found after the run, then low-confidence detections and faces near the recall limit.</p>
{_queue_html(review)}
<h2 id="sheet">Contact sheet</h2>
{_sheet(review)}
{reid}
<footer>Generated by facesafe {_esc(__version__)} on {_esc(_when(_dt.datetime.now(_dt.UTC).timestamp()))}. Self-contained: no script, no external resource.
</footer>
</main></body></html>
"""
