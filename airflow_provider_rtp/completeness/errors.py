"""Bad input to the completeness core.

The core never talks to a system, so everything it raises is about the data it
was handed. Each message names the offending value and, where there is one, the
fix::

    CompletenessError (InvalidInputError, the provider's bad-input error)
    ├── NaiveDatetimeError         a datetime without tzinfo: pass an aware UTC datetime
    ├── InvalidWindowError         end ≤ start, or a window far beyond "now"
    ├── InvalidPolicyError         a negative or non-timedelta duration, an unknown behaviour
    ├── MalformedObservationError  observations that cannot describe a real system
    ├── InvalidPipelineError       a pipeline declaration with a missing, unknown or empty field
    └── MalformedRecordError       a stored decision that does not decode
"""

from __future__ import annotations

from airflow_provider_rtp.exceptions import InvalidInputError

__all__ = [
    "CompletenessError",
    "InvalidPipelineError",
    "InvalidPolicyError",
    "InvalidWindowError",
    "MalformedObservationError",
    "MalformedRecordError",
    "NaiveDatetimeError",
]


class CompletenessError(InvalidInputError):
    """Base of every input error of the completeness core."""


class NaiveDatetimeError(CompletenessError):
    """A datetime without a timezone: the core cannot guess which clock it was read from."""


class InvalidWindowError(CompletenessError):
    """The window is empty, inverted, or lies too far in the future to be a real request."""


class InvalidPipelineError(CompletenessError):
    """A pipeline declaration lacks a field, names an unknown one, or leaves one empty."""


class InvalidPolicyError(CompletenessError):
    """A policy value is negative, of the wrong type, or not one of the allowed choices."""


class MalformedObservationError(CompletenessError):
    """Observed values contradict each other or the window they were gathered for."""


class MalformedRecordError(CompletenessError):
    """A serialised decision is missing keys or holds values of the wrong shape."""
