"""The bodies of ``facesafe strip`` and ``facesafe inspect`` (cli.py only parses arguments).

Every line about one file reads ``path: what happened``; failures go to
stderr and never carry a traceback. Return values are exit codes.
"""

from __future__ import annotations

import json
import os
import pathlib
import warnings
from typing import Any

import click

from ._discover import claim_outputs, discover, output_rel, refuse_out_inside, unique_rel
from ._errors import FacesafeError
from ._io import DEFAULT_MAX_PIXELS, output_format
from ._metadata import read_metadata, strip_metadata

EXIT_OK, EXIT_FAILED = 0, 1


def run_strip(
    sources: list[str], out_dir: str, *, overwrite: bool = False, max_pixels: int | None = None, quiet: bool = False
) -> int:
    """Strip every image under ``sources`` into ``out_dir``; 0 if all succeeded, 1 if any failed.

    Raises ``ValueError`` (a usage error) when ``out_dir`` is, or is inside, a source.
    """
    refuse_out_inside(sources, out_dir)
    out = pathlib.Path(out_dir)
    claim = claim_outputs()
    done = skipped = failed = 0
    for item in discover(sources):
        if item.status == "skipped":
            skipped += 1
            if not quiet:
                click.echo(f"{item.path}: skipped: {item.reason}", err=True)
            continue
        if item.format is None:
            failed += 1
            click.echo(f"{item.path}: {item.reason}", err=True)
            continue
        # Two inputs mapping to one name (a.png and a.bmp; A.jpg and a.jpg) get a.png and a~2.png.
        rel = unique_rel(claim, output_rel(item.rel, output_format(item.format)), item.path)
        dst = out.joinpath(*rel.parts)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                strip_metadata(item.path, dst, overwrite=overwrite, max_pixels=max_pixels or DEFAULT_MAX_PIXELS)
        except (FacesafeError, OSError, ValueError) as exc:
            failed += 1
            reason = exc.reason if isinstance(exc, FacesafeError) and hasattr(exc, "reason") else str(exc)
            click.echo(f"{item.path}: {reason}", err=True)
            continue
        done += 1
        if not quiet:
            for warning in caught:  # one line each; MetadataWarnings already start with the path
                text = str(warning.message)
                click.echo(text if text.startswith(str(item.path)) else f"{item.path}: warning: {text}", err=True)
        if not quiet:
            click.echo(f"{item.path} -> {dst}")
    if not quiet:
        click.echo(f"facesafe strip: {done} cleaned, {skipped} skipped (not images), {failed} failed", err=True)
    return EXIT_FAILED if failed else EXIT_OK


def _describe(report: dict[str, Any]) -> list[str]:
    lines = [f"  format: {report['format']}  size: {report['size'][0]}x{report['size'][1]}  mode: {report['mode']}"
             f"  frames: {report['n_frames']}  orientation: {report['orientation']}"]  # fmt: skip
    for key in ("exif", "gps", "iptc", "text"):
        for name, value in report[key].items():
            lines.append(f"  {key}.{name}: {value}")
    if report["xmp"]:
        lines.append(f"  xmp: {len(report['xmp'])} characters")
    if report["icc"]:
        lines.append(f"  icc: {report['icc']['description']!r} ({report['icc']['bytes']} bytes)")
    for comment in report["comments"]:
        lines.append(f"  comment: {comment}")
    for thumb in report["thumbnails"]:
        lines.append(f"  thumbnail: {thumb}")
    for segment in report.get("segments", []):
        label = f" {segment['label']}" if segment.get("label") else ""
        lines.append(f"  segment {segment['marker']}{label} @{segment['offset']} ({segment['length']} bytes)")
    for error in report["errors"]:
        lines.append(f"  problem: {error}")
    return lines


def run_inspect(paths: list[str], *, as_json: bool = False) -> int:
    """Print what every image under ``paths`` carries; 0 if all were read, 1 otherwise."""
    reports: dict[str, Any] = {}
    failed = 0
    for item in discover(paths):
        if item.format is None:
            if item.status == "failed":
                failed += 1
            click.echo(f"{item.path}: {item.status}: {item.reason}", err=True)
            continue
        try:
            report = read_metadata(item.path)
        except (FacesafeError, OSError) as exc:
            failed += 1
            click.echo(f"{item.path}: {getattr(exc, 'reason', exc)}", err=True)
            continue
        key = os.fspath(item.path)
        if as_json:
            reports[key] = report
        else:
            click.echo(key)
            for line in _describe(report):
                click.echo(line)
    if as_json:
        click.echo(json.dumps(reports, indent=2, default=str))
    return EXIT_FAILED if failed else EXIT_OK
