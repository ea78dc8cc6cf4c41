"""The district argument the matching commands share."""

from django.core.management.base import CommandError

from districts.models import District


def district_named(clever_id: str) -> District:
    district = District.objects.select_related("organization").filter(clever_id=clever_id).first()
    if district is None:
        raise CommandError(f"no district with Clever ID {clever_id} (run clever_districts first)")
    if district.organization_id is None:
        raise CommandError(f"district {clever_id} is not linked to an organization: nothing to match")
    return district
