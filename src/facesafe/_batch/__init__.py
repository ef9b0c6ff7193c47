"""Batch runs over whole folders: discovery, the shared runner, workers, manifest, resume."""

from ._manifest import Manifest, default_manifest_path
from ._run import Report, anonymize_dir
from ._strip import StripReport, strip_dir

__all__ = ["Manifest", "Report", "StripReport", "anonymize_dir", "default_manifest_path", "strip_dir"]
