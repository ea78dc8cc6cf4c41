"""``manage.py demo_setup`` (what ``make demo`` runs before serving): seeds, discovers, syncs,
and gives the product side a linked organization with matching work and an org admin."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from accounts.models import Organization
from districts.models import District
from matching.models import MatchStatus, PersonMatch
from rostering.models import SyncRun

pytestmark = pytest.mark.django_db


def test_demo_setup_prepares_everything_and_can_run_again(sandbox_app):
    out = io.StringIO()
    call_command("demo_setup", stdout=out)

    assert "The demo is ready." in out.getvalue()
    assert District.objects.count() == 3
    assert SyncRun.objects.filter(status=SyncRun.Status.SUCCEEDED).values("district").distinct().count() == 3
    linked = District.objects.exclude(organization=None).get()
    assert linked.organization.name.startswith("Demo: ")
    assert PersonMatch.objects.filter(district=linked, status=MatchStatus.AUTO_LINKED).count() > 40
    assert PersonMatch.objects.filter(district=linked, status=MatchStatus.PENDING).exists()
    admin = get_user_model().objects.get(username="orgadmin")
    assert admin.is_organization_admin and not admin.organization.districts.exists()
    assert get_user_model().objects.get(username="support").is_superuser

    call_command("demo_setup", stdout=io.StringIO())  # again: nothing duplicated

    assert Organization.objects.filter(name__startswith="Demo: ").count() == 2
    assert District.objects.count() == 3
