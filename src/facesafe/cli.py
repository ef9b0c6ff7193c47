"""The ``facesafe`` command line: argument parsing only, over the public API.

Exit codes, for every command: 0 when every input succeeded, 1 when any input
failed (or, for ``verify``, anything was found), 2 for usage errors.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import ModuleType
from typing import Any

import click

import facesafe

from . import __version__
from ._caches import private_caches
from ._cli_words import cli_words
from ._errors import DetectionError, FacesafeError, MissingExtraError, OutputError
from ._targets import parse_targets, text_kinds, text_model_path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="facesafe")
def cli() -> None:
    """De-identify images: strip metadata, find faces, redact them."""


FORMATS = ("same", "jpeg", "png", "webp", "tiff", "heic")


class _CatalogueChoice(click.Choice):
    """A choice of the names in one of facesafe's catalogues, read when first needed.

    Importing the catalogues (the redactions, the detection presets) costs
    about 0.3 s that ``facesafe --help``, ``strip`` and ``inspect`` need not pay.
    The commands reach the library through ``facesafe.X``, whose loader
    (PEP 562, in ``facesafe/__init__.py``) imports each module on first use.
    """

    def __init__(self, load: Callable[[], Iterable[str]]) -> None:
        self._load = load
        self.case_sensitive = True

    @functools.cached_property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(self._load())


def _redactions() -> Mapping[str, type]:
    return facesafe.REDACTIONS


def _presets() -> Iterable[str]:
    return facesafe.PRESETS


def _strip_commands() -> ModuleType:
    """The bodies of ``strip`` and ``inspect`` (private, so not behind ``facesafe.X``)."""
    from . import _strip_cli  # here: `facesafe --help` and anonymize need not load strip's I/O

    return _strip_cli


def _seeded_methods() -> tuple[str, ...]:
    """The methods with a ``seed`` option."""
    return tuple(name for name, cls in _redactions().items() if "seed" in {f.name for f in dataclasses.fields(cls)})


def _echo_warning(message: Warning | str, *args: object, **kwargs: object) -> None:
    """A warning as one line on stderr (``warnings.showwarning``'s signature)."""
    click.echo(f"facesafe: warning: {cli_words(str(message))}", err=True)


def _connect(scheduler: str | None) -> Any:  # a distributed.Client (untyped), None or False
    """A Dask client for ``--scheduler`` (``None`` without one; ``False``, said on stderr, when it cannot be reached)."""
    if scheduler is None:
        return None
    try:
        from distributed import Client
    except ImportError:
        raise click.UsageError("--scheduler needs dask.distributed: pip install 'facesafe[dask]'") from None
    try:
        return Client(scheduler, timeout=30)
    except OSError as exc:
        click.echo(f"facesafe: cannot reach the scheduler {scheduler}: {exc}", err=True)
        return False


@contextlib.contextmanager
def _cluster(scheduler: str | None) -> Iterator[Any]:
    """:func:`_connect`'s answer (a client, ``None`` or ``False``) for the with-block; a client is closed after it."""
    client = _connect(scheduler)
    try:
        yield client
    finally:
        if client is not None and client is not False:
            client.close()


def _attempt(scheduler: str | None, run: Callable[[Any], Any]) -> Any:
    """``run(client)`` on the ``--scheduler`` client (or ``None``): its report, or the exit status when it could not run.

    A bad argument is a usage error, a missing extra exit 2 and any other
    facesafe error exit 1; all are raised before anything is written.
    """
    with _cluster(scheduler) as client:
        if client is False:
            return EXIT_FAILED
        try:
            return run(client)
        except (ValueError, TypeError) as exc:
            raise click.UsageError(cli_words(str(exc))) from None
        except MissingExtraError as exc:
            click.echo(f"facesafe: {exc}", err=True)
            return EXIT_USAGE
        except FacesafeError as exc:
            click.echo(f"facesafe: {cli_words(str(exc))}", err=True)
            return EXIT_FAILED


def _command_line(ctx: click.Context) -> str:
    """The command as it was typed, for the manifest."""
    return " ".join(["facesafe", *(ctx.obj or {}).get("argv", sys.argv[1:])])


def _finish(report: Any) -> int:
    """A run's failures on stderr, its summary and manifest on stdout; the exit status."""
    _echo_failures(report.failures, report.failed)
    click.echo(f"facesafe: {report.summary()}")
    click.echo(f"facesafe: manifest {report.manifest}")
    return EXIT_OK if report.ok else EXIT_FAILED


def _method_options(method: str, *, color: str | None, grow: float | None, seed: int | None,
                    no_donor_pool: bool = False) -> dict[str, Any]:
    """The redaction options of ``--color``, ``--grow`` and ``--seed``, checked against ``--method`` (``--no-donor-pool`` too)."""
    if no_donor_pool and method != "synthetic":
        raise click.UsageError("--no-donor-pool applies to --method synthetic only")
    options: dict[str, Any] = {}
    if color is not None:
        if method != "fill":
            raise click.UsageError("--color applies to --method fill only")
        from ._redact import parse_color  # private; loaded here like the catalogue (see _CatalogueChoice)

        try:
            options["color"] = parse_color(color)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--color") from None
    if grow is not None:
        options["grow"] = grow
    if seed is not None:
        seeded = _seeded_methods()
        if method not in seeded:
            raise click.UsageError(f"--seed applies to --method {', '.join(seeded)} only")
        options["seed"] = seed
    return options


def _redaction_options(command: Callable[..., object]) -> Callable[..., object]:
    """``--color``, ``--grow``, ``--seed`` and ``--no-donor-pool``, as ``anonymize`` and ``dataset`` both take them."""
    command = click.option("--seed", type=click.IntRange(min=0), default=None,
                           help="Seed of the noise (blur, pixelate) or of the synthetic faces [default: 0].")(command)
    command = click.option("--grow", type=click.FloatRange(min=1.0), default=None,
                           help="Each face region is the detected box grown by this factor [default: 1.3]; "
                                "--method synthetic --grow 1.6 also replaces the hair and ears nearest the face.")(command)
    command = click.option("--no-donor-pool", "no_donor_pool", is_flag=True,
                           help="--method synthetic: keep the painted donor instead of pooling a sample of the run's own faces "
                                "(no first pass).")(command)
    return click.option("--color", metavar="RRGGBB", default=None, help="Fill colour for --method fill (default 000000).")(command)


def _echo_failures(failures: Iterable[tuple[str, str]], failed: int) -> None:
    """Each listed failure as ``location: reason`` on stderr, and how many more the manifest holds."""
    listed = 0
    for location, reason in failures:
        click.echo(f"{location}: {cli_words(reason)}", err=True)
        listed += 1
    if failed > listed:
        click.echo(f"... and {failed - listed} more failures (see the manifest)", err=True)


def _preset_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--preset`` and ``--orient/--no-orient`` (shared by ``anonymize`` and ``dataset``)."""
    command = click.option(
        "--orient/--no-orient", default=None,
        help="Find which way up each photo is and search it turned upright (photos stored sideways or upside down) "
             "[default: as the preset does].")(command)
    return click.option("--preset", type=_CatalogueChoice(_presets), default="balanced", show_default=True,
                        help="Detection preset: recall against speed.")(command)


def _preset(name: str, orient: bool | None) -> str | facesafe.Preset:
    """The preset ``--preset`` names, with ``--orient``/``--no-orient`` applied (a run records a preset
    equal to its namesake by its name, so an ``--orient`` that changes nothing changes no setting)."""
    return name if orient is None else dataclasses.replace(facesafe.PRESETS[name], orient=orient)


_targets_flag = click.option(
    "--targets", default="faces", show_default=True, metavar="LIST",
    help="What to find and hide, comma-separated: faces, plates (licence plates), text (all readable text, signs too); "
         "plates and text need facesafe[text] and are pixelated.")


@cli.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, path_type=str))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=str), help="Output folder (mirrors the sources' layout).")
@click.option("--method", type=_CatalogueChoice(_redactions), default="blur", show_default=True, help="How faces are redacted.")
@_preset_options
@_targets_flag
@_redaction_options
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="same", show_default=True, help="Output format (same: the input's).")
@click.option("--quality", type=click.IntRange(1, 100), default=92, show_default=True, help="Quality of lossy outputs.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Worker processes [default: all cores].")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Inference threads per worker [default: cores / workers].")
@click.option("--manifest", type=click.Path(dir_okay=False, path_type=str), default=None, help="SQLite manifest [default: OUT.facesafe.sqlite beside OUT].")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs not written by this manifest.")
@click.option("--rename", type=click.Choice(["hmac"]), default=None, help="Name outputs by a keyed hash of their path.")
@click.option("--max-pixels", type=click.IntRange(min=1), default=None, help="Refuse images larger than this [default: 200,000,000].")
@click.option("--scheduler", metavar="ADDRESS", default=None, help="Run on a Dask cluster, e.g. tcp://host:8786 (needs facesafe[dask]).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar, only errors and the summary.")
@click.pass_context
def anonymize(ctx: click.Context, sources: tuple[str, ...], out_dir: str, method: str, preset: str, orient: bool | None, targets: str, color: str | None,
              grow: float | None, seed: int | None, no_donor_pool: bool, fmt: str, quality: int, workers: int | None, threads: int | None, manifest: str | None, overwrite: bool, rename: str | None,
              max_pixels: int | None, scheduler: str | None, quiet: bool) -> int:
    """Find and redact every face in SOURCES (files or folders) into --out.

    Every input ends as a clean output (rebuilt from pixels, no metadata) or
    as a failure recorded with its reason in the manifest; nothing is written
    for a failed input. Re-running the same command resumes.
    """
    options = _targets_option(targets) | _method_options(method, color=color, grow=grow, seed=seed, no_donor_pool=no_donor_pool)

    def run(client: Any) -> facesafe.Report:
        with warnings.catch_warnings():  # said at once (e.g. a default manifest that lands in a release)
            warnings.simplefilter("always")
            warnings.showwarning = _echo_warning
            return facesafe.anonymize_dir(
                list(sources), out_dir, method=method, preset=_preset(preset, orient), format=None if fmt == "same" else fmt,
                quality=quality, workers=workers, threads=threads, manifest=manifest, overwrite=overwrite, rename=rename,
                max_pixels=max_pixels, quiet=quiet, command=_command_line(ctx), client=client, donor_pool=not no_donor_pool,
                **options,
            )

    report = _attempt(scheduler, run)
    if isinstance(report, int):
        return report
    if report.images == 0:  # not a failure (nothing was left unredacted), but rarely what was meant (no failure is listed then)
        click.echo(f"facesafe: warning: no image found in {' '.join(sources)}", err=True)
    return _finish(report)


def _targets_option(targets: str) -> dict[str, Any]:
    """``--targets`` checked: ``{}`` for faces alone, else ``{"targets": (...)}``; a usage error names an
    unknown target, and plates or text without the text extra say how to install it (exit 2, nothing written)."""
    try:
        parsed = parse_targets(targets)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--targets") from None
    if text_kinds(parsed):
        try:
            text_model_path("det")
        except (MissingExtraError, DetectionError) as exc:
            raise click.UsageError(f"--targets {targets}: {exc}") from None
    return {} if parsed == ("faces",) else {"targets": parsed}


@cli.command()
@click.argument("source", type=click.Path(exists=True, path_type=str))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=str), help="Output folder.")
@click.option("--column", default=None, help="Parquet: the image column [default: the only binary or {bytes, path} column].")
@click.option("--images", type=click.Path(exists=True, file_okay=False, path_type=str), default=None,
              help="COCO: the folder the annotation file's file_name entries are relative to.")
@click.option("--method", type=_CatalogueChoice(_redactions), default="blur", show_default=True, help="How faces are redacted.")
@_preset_options
@_targets_flag
@_redaction_options
@click.option("--quality", type=click.IntRange(1, 100), default=92, show_default=True, help="Quality of lossy images (JPEG stays JPEG).")
@click.option("--workers", type=click.IntRange(min=0), default=None, help="Worker processes; 0 works in this process [default: all cores].")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Inference threads per worker [default: cores / workers].")
@click.option("--manifest", type=click.Path(dir_okay=False, path_type=str), default=None, help="SQLite manifest [default: OUT.facesafe.sqlite beside OUT].")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs not written by this manifest.")
@click.option("--stop-on-error", is_flag=True, help="Stop at the first record that fails (default: drop it, record it, go on).")
@click.option("--rename", type=click.Choice(["hmac"]), default=None,
              help="Parquet: a {bytes, path} cell's path becomes a keyed hash of it (else null); COCO: images named by one.")
@click.option("--faces-category", metavar="NAME", default=None,
              help="COCO: add category NAME with an annotation per face found, for review.")
@click.option("--max-pixels", type=click.IntRange(min=1), default=None, help="Refuse images larger than this [default: 200,000,000].")
@click.option("--scheduler", metavar="ADDRESS", default=None, help="Run on a Dask cluster, e.g. tcp://host:8786 (needs facesafe[dask]).")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines, only errors and the summary.")
@click.pass_context
def dataset(ctx: click.Context, source: str, out_dir: str, column: str | None, images: str | None, method: str, preset: str,
            orient: bool | None, targets: str, color: str | None, grow: float | None, seed: int | None, no_donor_pool: bool, quality: int, workers: int | None, threads: int | None,
            manifest: str | None, overwrite: bool, stop_on_error: bool, rename: str | None, faces_category: str | None,
            max_pixels: int | None, scheduler: str | None, quiet: bool) -> int:
    """Anonymise a dataset: Parquet tables, WebDataset .tar shards, or a COCO file with --images.

    SOURCE is a .parquet file or a folder of them, a .tar shard or a folder of
    them (mirrored under --out), or a COCO annotation .json (written as
    OUT/annotations.json and OUT/images/). A record whose image fails is
    dropped from the output and recorded with its location in the manifest,
    never passed through. Re-running the same command skips finished files.
    """
    from ._datasets import anonymize_dataset  # here: Parquet, COCO and tar readers only for this command

    options = _targets_option(targets) | _method_options(method, color=color, grow=grow, seed=seed, no_donor_pool=no_donor_pool)
    report = _attempt(scheduler, lambda client: anonymize_dataset(
        source, out_dir, images=images, column=column, method=method, preset=_preset(preset, orient), quality=quality, workers=workers,
        threads=threads, manifest=manifest, on_error="stop" if stop_on_error else "drop", overwrite=overwrite,
        rename=rename, faces_category=faces_category, max_pixels=max_pixels, command=_command_line(ctx), quiet=quiet,
        client=client, donor_pool=not no_donor_pool, **options,
    ))
    if isinstance(report, int):
        return report
    return _finish(report)


@cli.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, path_type=str))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=str), help="Output folder (mirrors the sources' layout).")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs.")
@click.option("--max-pixels", type=click.IntRange(min=1), default=None, help="Refuse images larger than this [default: 200,000,000].")
@click.option("-q", "--quiet", is_flag=True, help="Only failures, no per-file lines or summary.")
def strip(sources: tuple[str, ...], out_dir: str, overwrite: bool, max_pixels: int | None, quiet: bool) -> int:
    """Remove all metadata from the images in SOURCES (files or folders) into --out.

    JPEGs are cleaned losslessly (re-encoded only to turn a rotated photo
    upright); other formats are rebuilt from their pixels. Faces are NOT
    touched: use `facesafe anonymize` for that.
    """
    try:
        return _strip_commands().run_strip(list(sources), out_dir, overwrite=overwrite, max_pixels=max_pixels, quiet=quiet)
    except ValueError as exc:
        raise click.UsageError(cli_words(str(exc))) from None


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=str))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file, keyed by path.")
def inspect(paths: tuple[str, ...], as_json: bool) -> int:
    """Show the metadata the images in PATHS (files or folders) carry."""
    return _strip_commands().run_inspect(list(paths), as_json=as_json)


@cli.command()
@click.argument("folder", type=click.Path(exists=True, path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print the findings as one JSON object.")
@click.option("--preset", type=_CatalogueChoice(_presets), default="thorough", show_default=True, help="Detection preset of the re-scan.")
@click.option("--min-score", type=click.FloatRange(0.0, 1.0), default=None, help="Report faces at or above this score [default: 0.5].")
@click.option("--strict", is_flag=True, help="Also report confident detections whose pixels look redacted (mosaic, blur, fill), and those a second look does not find again.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Worker processes [default: all cores].")
@click.option("--manifest", type=click.Path(exists=True, dir_okay=False, path_type=str), default=None,
              help="The run's manifest: detections on faces it records as redacted or synthesised are set apart, not reported.")
def verify(folder: str, as_json: bool, preset: str, min_score: float | None, strict: bool, workers: int | None,
           manifest: str | None) -> int:
    """Re-scan a released FOLDER for faces and metadata left; exit 1 if anything is found.

    Needs no originals. Every file is checked: images (recognised by content)
    for faces and for anything beyond their format's structural tags; any
    other file is reported, since verify cannot vouch for it. With
    --manifest, detections inside the faces the run records as blurred,
    pixelated, filled or synthesised (in files it wrote, unchanged since) are
    listed apart; any other face fails.
    """
    options: dict[str, Any] = {} if min_score is None else {"min_score": min_score}  # else verify's own default
    try:
        result = facesafe.verify(folder, preset=preset, **options,
                                 judge_redaction=not strict, workers=workers or os.cpu_count() or 1, manifest=manifest)
    except ValueError as exc:  # arguments (a manifest that is not one): usage, exit 2
        raise click.UsageError(cli_words(str(exc))) from None
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else str(result))
    return EXIT_OK if result.clean else EXIT_FAILED


@cli.command()
@click.option("--manifest", required=True, type=click.Path(exists=True, dir_okay=False, path_type=str), help="The run manifest (SQLite).")
@click.option("--html", "html_path", required=True, type=click.Path(dir_okay=False, path_type=str), help="The HTML file to write.")
@click.option("--gallery", type=click.Path(exists=True, file_okay=False, path_type=str), default=None, help="People (a sub-folder of photos each) to measure re-identification risk on.")
@click.option("--verify", "verify_json", type=click.Path(exists=True, dir_okay=False, path_type=str), default=None, help="Findings of `facesafe verify --json` to put in the review queue.")
def report(manifest: str, html_path: str, gallery: str | None, verify_json: str | None) -> int:
    """Write a self-contained HTML QA report of a run (outputs only, never originals)."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            path = facesafe.render_report(manifest, html_path, gallery=gallery, verify=verify_json)
    except (ValueError, TypeError) as exc:
        raise click.UsageError(cli_words(str(exc))) from None
    except OutputError as exc:  # one line naming the path and the problem, never a traceback
        click.echo(f"facesafe: {cli_words(str(exc))}", err=True)
        return EXIT_FAILED
    finally:
        for warning in caught:  # e.g. a --gallery the audit extra is not installed to measure
            click.echo(f"facesafe: warning: {warning.message}", err=True)
    click.echo(f"facesafe: report {path}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    try:
        args = sys.argv[1:] if argv is None else list(argv)
        with private_caches():  # this process and its workers are facesafe's own
            code = cli.main(args=args, prog_name="facesafe", standalone_mode=False, obj={"argv": args})
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        click.echo("facesafe: interrupted; run the same command again to resume", err=True)
        return EXIT_INTERRUPTED
    except click.UsageError as exc:
        exc.show()
        return EXIT_USAGE
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    # Commands return their exit code; click returns None for --help.
    return code if isinstance(code, int) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
