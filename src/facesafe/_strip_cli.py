"""The bodies of ``facesafe strip`` and ``facesafe inspect`` (cli.py only parses arguments).

``strip`` prints what :func:`~facesafe.strip_dir` reports, file by file.

Every line about one file reads ``path: what happened``; failures go to
stderr and never carry a traceback. Return values are exit codes.
"""

from __future__ import annotations

import json
import os
from typing import Any

import click

from ._batch._strip import Stripped, strip_dir
from ._cli_words import cli_words
from ._discover import discover
from ._errors import FacesafeError
from ._metadata import read_metadata

EXIT_OK, EXIT_FAILED = 0, 1


def run_strip(
    sources: list[str], out_dir: str, *, overwrite: bool = False, max_pixels: int | None = None, quiet: bool = False
) -> int:
    """Strip every image under ``sources`` into ``out_dir``; 0 if all succeeded, 1 if any failed.

    Raises ``ValueError`` (a usage error) when ``out_dir`` is, or is inside, a source.
    """
    report = strip_dir(sources, out_dir, overwrite=overwrite, max_pixels=max_pixels,
                       on_file=lambda stripped: _echo_stripped(stripped, quiet=quiet))
    if not quiet:
        click.echo(f"facesafe strip: {report.written} cleaned, {report.skipped} skipped (not images), {report.failed} failed", err=True)
    return EXIT_OK if report.ok else EXIT_FAILED


def _echo_stripped(stripped: Stripped, *, quiet: bool) -> None:
    """The lines about one file: failures always, the rest unless ``quiet``."""
    if stripped.status == "failed":
        click.echo(f"{stripped.source}: {cli_words(stripped.reason or 'unknown')}", err=True)
    elif quiet:
        return
    elif stripped.status == "skipped":
        click.echo(f"{stripped.source}: skipped: {stripped.reason}", err=True)
    else:
        for text in stripped.warnings:  # one line each; MetadataWarnings already start with the path
            click.echo(text if text.startswith(str(stripped.source)) else f"{stripped.source}: warning: {text}", err=True)
        click.echo(f"{stripped.source} -> {stripped.output}")


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
            click.echo(f"{item.path}: {cli_words(str(getattr(exc, 'reason', exc)))}", err=True)
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
