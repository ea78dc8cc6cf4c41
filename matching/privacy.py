"""What matching erases when a district's roster is purged (docs/data-lifecycle.md)."""

from __future__ import annotations

from core import events
from core.redaction import redact_json_column
from rostering.events import RosterPurging

from .models import DistrictCandidate, DistrictLinkRequest, MatchAudit, PersonMatch, SchoolMatch


@events.subscribe(RosterPurging, atomic=True)
def erase_matches(event: RosterPurging) -> dict:
    """The district's match records and district-linking candidates go (they pair people and
    schools that no longer exist here); the match audit and link requests keep IDs and
    decisions (their free text, which support may have written names into, is removed)."""
    district = event.district_id
    requests = DistrictLinkRequest.objects.filter(district_id=district)
    return {
        "person_matches": PersonMatch.objects.filter(district_id=district).delete()[0],
        "school_matches": SchoolMatch.objects.filter(district_id=district).delete()[0],
        "district_candidates": DistrictCandidate.objects.filter(district_id=district).delete()[0],
        "match_audits_redacted": redact_json_column(
            MatchAudit.objects.filter(district_id=district), "details"
        ),
        "link_requests_redacted": (
            redact_json_column(requests, "evidence") + requests.exclude(note="").update(note="")
        ),
    }
