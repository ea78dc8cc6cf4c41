"""The District admin's matching part (``districts.admin.DistrictAdminExtension``): "Run
matching" for a linked district, and the onboarding checklist on the district's page."""

from __future__ import annotations

from django.db.models import Count, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.urls import reverse

from districts.admin import DistrictAdminExtension, Panel, extend_district_admin

from . import selectors, services
from .models import MatchStatus, PersonMatch


def _in_words(counts: dict) -> str:
    """{"auto_linked": 57, "pending": 3} -> "57 auto linked, 3 pending" (a message, never a dict)."""
    return ", ".join(f"{n} {key.replace('_', ' ')}" for key, n in counts.items() if n) or "nothing new"


class MatchingDistrictAdmin(DistrictAdminExtension):
    buttons = {"match": "Run matching"}

    def shows(self, request, district, name):
        return bool(district.organization_id)

    def press(self, request, district, name, reason=""):
        summary = services.match_district(district=district)
        return (
            f"{district}: matching done; {summary['review_queue']} in the review queue "
            f"(people: {_in_words(summary['people'])}; schools: {_in_words(summary['schools'])})."
        )

    def annotate(self, queryset):
        waiting = (
            PersonMatch.objects.filter(district=OuterRef("pk"), status=MatchStatus.PENDING)
            .order_by()
            .values("district")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return queryset.annotate(review_waiting=Coalesce(Subquery(waiting), Value(0)))

    def next_action(self, district):
        waiting = getattr(district, "review_waiting", 0)
        return f"Decide {waiting} in the review queue" if waiting else ""

    def panels(self, request, district):
        return [
            Panel(
                "admin/matching/district_onboarding_panel.html",
                {
                    "onboarding": selectors.onboarding_checklist(district),
                    "review_url": reverse("admin:matching_personmatch_changelist")
                    + f"?district__id__exact={district.pk}&status__exact=pending",
                },
                position=10,
            )
        ]


extend_district_admin(MatchingDistrictAdmin())
