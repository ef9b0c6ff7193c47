"""The library's parameter names in messages, said as the command line's options.

A message raised by the Python API names its parameters (``max_pixels``,
``overwrite``); the CLI prints it with the option a user types instead::

    cli_words("a.png: ... over the limit of 1,000 (max_pixels)")  # -> "... (--max-pixels)"
"""

from __future__ import annotations

import re

__all__ = ["cli_words"]

# Library parameters named in messages, as the CLI's options.
_OPTION_OF = {"max_pixels": "--max-pixels", "out_dir": "--out", "out": "--out", "manifest": "--manifest",
              "overwrite": "--overwrite", "workers": "--workers", "threads": "--threads", "quality": "--quality"}
_NAMES = "|".join(_OPTION_OF)


def cli_words(message: str) -> str:
    """``message`` with the library's parameter names as the CLI's options.

    ``... over the limit of 1,000 (max_pixels)`` -> ``(--max-pixels)``;
    ``manifest must not be inside ...`` -> ``--manifest must ...``;
    ``(pass overwrite to replace it)`` -> ``(use --overwrite to replace it)``.
    """
    message = re.sub(rf"\(({_NAMES})\)", lambda m: f"({_OPTION_OF[m[1]]})", message)
    message = re.sub(rf"^({_NAMES})(:| must)", lambda m: _OPTION_OF[m[1]] + m[2], message)
    return re.sub(rf"\bpass ({_NAMES}) to\b", lambda m: f"use {_OPTION_OF[m[1]]} to", message)
