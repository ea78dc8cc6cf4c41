"""The Organization admin is accounts' own, registered once; matching extends it (issue #17:
nothing unregisters another app's admin, so the admin a model gets never depends on the order
the apps load in)."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from accounts import admin as accounts_admin
from accounts.factories import OrganizationFactory, UserFactory
from accounts.models import Organization
from districts.models import District, LinkMethod
from matching.admin_linking import LinkingOrganizationAdmin

pytestmark = pytest.mark.django_db


def test_the_registered_organization_admin_is_accounts_with_matchings_extension():
    model_admin = admin.site._registry[Organization]

    assert type(model_admin) is accounts_admin.OrganizationAdmin
    assert [type(extension) for extension in accounts_admin._extensions] == [LinkingOrganizationAdmin]
    names = {pattern.name for pattern in model_admin.get_urls()}
    assert {"accounts_organization_choose_district", "accounts_organization_unlink_district"} <= names
    # Registering matching's extension again adds nothing.
    accounts_admin.extend_organization_admin(LinkingOrganizationAdmin())
    assert len(accounts_admin._extensions) == 1


def test_support_staff_get_the_linking_link_and_panel_on_the_organization_page(support):
    organization = OrganizationFactory(name="Spruce Hill Schools")
    District.objects.create(
        clever_id="5" * 24, name="Spruce Hill SD", organization=organization, link_method=LinkMethod.STAFF
    )

    page = support.get(reverse("admin:accounts_organization_change", args=[organization.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    choose = reverse("admin:accounts_organization_choose_district", args=[organization.pk])
    assert f'<a href="{choose}" id="choose-district">Choose district from unmatched list</a>' in html
    assert 'id="linked-clever-districts"' in html and "Spruce Hill SD" in html
    assert reverse("admin:accounts_organization_unlink_district", args=[organization.pk]) in html
    assert [panel.template for panel in page.context["organization_panels"]] == [
        "admin/matching/organization_linking_panel.html"
    ]


def test_staff_who_are_not_support_get_the_page_without_the_linking_parts():
    organization = OrganizationFactory(name="Spruce Hill Schools")
    clerk = UserFactory(username="clerk", is_staff=True, organization=None)
    clerk.user_permissions.add(Permission.objects.get(codename="change_organization"))
    browser = Client()
    browser.force_login(clerk)

    page = browser.get(reverse("admin:accounts_organization_change", args=[organization.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert "Choose district from unmatched list" not in html and "linked-clever-districts" not in html
    choose = reverse("admin:accounts_organization_choose_district", args=[organization.pk])
    assert browser.get(choose).status_code == 403


def test_only_support_staff_may_see_organizations_without_the_model_permission(support):
    outsider = Client()
    outsider.force_login(UserFactory(username="intern", is_staff=True, organization=None))

    assert support.get(reverse("admin:accounts_organization_changelist")).status_code == 200
    assert outsider.get(reverse("admin:accounts_organization_changelist")).status_code == 403
