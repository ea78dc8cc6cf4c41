"""What the LMS app announces (``core.events``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AssignmentStateUnknown:
    """An assignment's creation in the LMS is unconfirmed (``CleverAssignment.State.UNKNOWN``):
    Clever may have created it but its answer was lost, so nothing is sent again until support
    reconciles it. ``assignment_id``: the ``lms.Assignment`` pk."""

    assignment_id: int
