"""Batch runs over whole folders: discovery, workers, manifest, resume."""

from ._manifest import Manifest, default_manifest_path
from ._run import Report, anonymize_dir

__all__ = ["Manifest", "Report", "anonymize_dir", "default_manifest_path"]
