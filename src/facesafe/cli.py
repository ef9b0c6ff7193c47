"""The ``facesafe`` command line: argument parsing only, over the public API.

Exit codes, for every command: 0 when every input succeeded, 1 when any input
failed (or, for ``verify``, anything was found), 2 for usage errors.
"""

from __future__ import annotations

import sys

import click

from . import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="facesafe")
def cli() -> None:
    """De-identify images: strip metadata, find faces, redact them."""


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    try:
        code = cli.main(args=argv, prog_name="facesafe", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        return EXIT_FAILED
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
