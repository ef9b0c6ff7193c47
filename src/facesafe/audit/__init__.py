"""Audits: evidence that redacted outputs no longer identify anyone.

:func:`reidentification` runs dlib's face recogniser against redacted photos
(``pip install 'facesafe[audit]'``; dlib is imported only when it runs).
"""

from __future__ import annotations

from ._reid import Enrolment, ReidResult, enrol, reidentification, roc_auc

__all__ = ["reidentification", "enrol", "Enrolment", "ReidResult", "roc_auc"]

for _name in __all__:
    globals()[_name].__module__ = "facesafe.audit"
del _name
