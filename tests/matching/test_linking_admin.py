"""District linking in the admin, for support staff: the organization's "choose district from
unmatched list" and the queue of pending district links (approve, reject, unlink, relink, bulk)."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client
from django.urls import reverse

from accounts.factories import OrganizationEmailDomainFactory, OrganizationFactory, UserFactory
from districts.models import District, DistrictAudit, LinkMethod
from matching.linking.refresh import refresh_district_candidates
from matching.linking.selectors import ORIGIN_EVIDENCE, ORIGIN_SELF_SERVE
from matching.linking.services import request_district_link, staff_link_district
from matching.models import DistrictCandidate, DistrictLinkRequest

from .helpers import mirror_person, mirror_school

pytestmark = pytest.mark.django_db


@pytest.fixture
def outsider(db):
    """Staff without the support permission."""
    client = Client()
    client.force_login(UserFactory(username="intern", is_staff=True, organization=None))
    return client


@pytest.fixture
def world(db):
    organization = OrganizationFactory(name="Spruce Hill Schools", state="WA", nces_leaid="", mdr_number="")
    OrganizationEmailDomainFactory(organization=organization, domain="sprucehill.k12.wa.us")
    spruce = District.objects.create(clever_id="5" * 24, name="Spruce Hill School District", us_state="WA")
    for n in range(3):
        mirror_person(spruce, email=f"s{n}@sprucehill.k12.wa.us", is_staff=True)
    mirror_school(spruce, name="Spruce Hill High", city="Tacoma", us_state="WA")
    others = [
        District.objects.create(clever_id=f"{n:024x}", name=f"Basin {n} District", us_state="ID")
        for n in range(1, 6)
    ]
    refresh_district_candidates(queue=False)
    return organization, spruce, others


def choose_url(organization):
    return reverse("admin:accounts_organization_choose_district", args=[organization.pk])


def test_only_support_staff_get_the_linking_admin(outsider, world):
    organization, spruce, _others = world
    assert outsider.get(choose_url(organization)).status_code == 403
    assert outsider.post(choose_url(organization), {"district": spruce.clever_id}).status_code == 403
    assert outsider.get(reverse("admin:matching_districtlinkrequest_changelist")).status_code == 403
    spruce.refresh_from_db()
    assert spruce.organization is None


def test_the_organization_page_offers_the_unmatched_list(support, world):
    organization, _spruce, _others = world
    page = support.get(reverse("admin:accounts_organization_change", args=[organization.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Choose district from unmatched list" in html and choose_url(organization) in html


def test_choosing_from_the_ranked_list_links_at_once_audited(support, world):
    organization, spruce, others = world
    page = support.get(choose_url(organization))
    assert page.status_code == 200
    rows = [row.district for row, _chips in page.context["rows"]]
    assert rows[0] == spruce and set(rows[1:]) == set(others)
    assert "100% of staff emails on your domains" in page.content.decode()
    # Search narrows the list.
    searched = support.get(choose_url(organization), {"city": "tacoma"})
    assert [row.district for row, _chips in searched.context["rows"]] == [spruce]

    # The finding: Link acted on one click. It asks first, with a reason; without one, nothing.
    asked = support.post(choose_url(organization), {"district": spruce.clever_id})
    assert asked.status_code == 200 and 'name="reason"' in asked.content.decode()
    refused = support.post(
        choose_url(organization), {"district": spruce.clever_id, "confirmed": "1", "reason": ""}
    )
    assert refused.status_code == 200 and "This field is required" in refused.content.decode()
    spruce.refresh_from_db()
    assert spruce.organization is None

    response = support.post(
        choose_url(organization),
        {"district": spruce.clever_id, "confirmed": "1", "reason": "the superintendent's email of 2 Dec"},
    )

    assert response.status_code == 302
    spruce.refresh_from_db()
    assert spruce.organization == organization and spruce.link_method == LinkMethod.STAFF
    audit = DistrictAudit.objects.get(district=spruce, action=DistrictAudit.Action.LINKED)
    assert audit.actor == support.user
    assert any(chip["kind"] == "email_domain" for chip in audit.details["evidence"]["chips"])
    assert audit.details["evidence"]["reason"] == "the superintendent's email of 2 Dec"
    # Linked elsewhere now: another organization cannot have it.
    other = OrganizationFactory(name="Grabby Schools")
    support.post(choose_url(other), {"district": spruce.clever_id, "confirmed": "1", "reason": "grab"})
    spruce.refresh_from_db()
    assert spruce.organization == organization
    assert DistrictAudit.objects.filter(district=spruce).count() == 1


def test_the_queue_shows_the_evidence_side_by_side_and_approves(support, world):
    organization, spruce, _others = world
    admin = UserFactory(username="spruce-admin", organization=organization, is_organization_admin=True)
    link_request = request_district_link(organization=organization, district=spruce, requested_by=admin)

    page = support.get(reverse("admin:matching_districtlinkrequest_change", args=[link_request.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert "sprucehill.k12.wa.us (3)" in html and "Tacoma, WA" in html and 'value="approve"' in html
    response = support.post(
        reverse("admin:matching_districtlinkrequest_decide", args=[link_request.pk]), {"decision": "approve"}
    )
    assert response.status_code == 302
    spruce.refresh_from_db()
    link_request.refresh_from_db()
    assert spruce.organization == organization and spruce.link_method == LinkMethod.REQUEST_APPROVED
    assert (link_request.status, link_request.decided_by) == (
        DistrictLinkRequest.Status.APPROVED,
        support.user,
    )
    audit = DistrictAudit.objects.get(district=spruce, action=DistrictAudit.Action.LINKED)
    assert audit.actor == support.user and audit.details["evidence"]["request"] == link_request.pk


def test_reject_then_unlink_and_relink_a_wrong_link(support, world):
    organization, spruce, _others = world
    wrong = OrganizationFactory(name="Wrong Schools")
    staff_link_district(district=spruce, organization=wrong, actor=support.user)
    provisioned = UserFactory(username="clever-" + "7" * 24, made_for_clever_id="7" * 24, organization=wrong)
    mirror_person(spruce, user=provisioned, is_student=True)
    to_reject = DistrictLinkRequest.objects.create(
        district=spruce, organization=OrganizationFactory(), origin=ORIGIN_SELF_SERVE
    )
    correct = DistrictLinkRequest.objects.create(
        district=spruce, organization=organization, origin=ORIGIN_SELF_SERVE
    )
    decide = "admin:matching_districtlinkrequest_decide"

    support.post(reverse(decide, args=[to_reject.pk]), {"decision": "reject", "reason": "not theirs"})
    to_reject.refresh_from_db()
    assert (to_reject.status, to_reject.note) == (DistrictLinkRequest.Status.REJECTED, "not theirs")

    page = support.get(
        reverse("admin:matching_districtlinkrequest_change", args=[correct.pk])
    ).content.decode()
    assert 'value="relink"' in page and 'value="unlink"' in page and 'value="approve"' not in page
    support.post(reverse(decide, args=[correct.pk]), {"decision": "relink", "reason": "wrong customer"})

    spruce.refresh_from_db()
    provisioned.refresh_from_db()
    correct.refresh_from_db()
    assert spruce.organization == organization and provisioned.organization == organization
    assert correct.status == DistrictLinkRequest.Status.APPROVED
    relinked = DistrictAudit.objects.get(district=spruce, action=DistrictAudit.Action.RELINKED)
    assert (relinked.organization_before, relinked.actor, relinked.details["reason"]) == (
        wrong,
        support.user,
        "wrong customer",
    )

    support.post(reverse(decide, args=[correct.pk]), {"decision": "unlink", "reason": "oops, wrong one"})
    spruce.refresh_from_db()
    assert spruce.organization is None
    unlinked = DistrictAudit.objects.get(district=spruce, action=DistrictAudit.Action.UNLINKED)
    assert unlinked.organization_before == organization and unlinked.actor == support.user


def test_bulk_approve_and_reject(support, world):
    organization, spruce, others = world
    second = OrganizationFactory(name="Basin Org")
    first_request = DistrictLinkRequest.objects.create(
        district=spruce, organization=organization, origin=ORIGIN_SELF_SERVE
    )
    second_request = DistrictLinkRequest.objects.create(
        district=others[0], organization=second, origin=ORIGIN_EVIDENCE
    )
    third_request = DistrictLinkRequest.objects.create(
        district=others[1], organization=second, origin=ORIGIN_EVIDENCE
    )
    changelist = reverse("admin:matching_districtlinkrequest_changelist")
    assert support.get(changelist).status_code == 200

    support.post(
        changelist,
        {"action": "approve_selected", ACTION_CHECKBOX_NAME: [first_request.pk, second_request.pk]},
    )
    support.post(changelist, {"action": "reject_selected", ACTION_CHECKBOX_NAME: [third_request.pk]})

    spruce.refresh_from_db()
    others[0].refresh_from_db()
    others[1].refresh_from_db()
    assert spruce.organization == organization and others[0].organization == second
    assert others[1].organization is None
    assert set(DistrictLinkRequest.objects.values_list("status", flat=True)) == {"approved", "rejected"}
    assert DistrictAudit.objects.filter(action=DistrictAudit.Action.LINKED, actor=support.user).count() == 2


def test_the_refresh_button_recomputes_the_evidence(support, world, django_capture_on_commit_callbacks):
    DistrictCandidate.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        response = support.post(reverse("admin:matching_districtlinkrequest_refresh"))
    assert response.status_code == 302
    assert DistrictCandidate.objects.exists()


def test_unlinking_from_the_organization_page(support, world):
    organization, spruce, _others = world
    staff_link_district(district=spruce, organization=organization, actor=support.user)
    page = support.get(reverse("admin:accounts_organization_change", args=[organization.pk])).content.decode()
    unlink_url = reverse("admin:accounts_organization_unlink_district", args=[organization.pk])
    # The finding: Unlink acted on one click. It leads to a page that says what it does and
    # asks for a reason; without one nothing changes.
    assert f'href="{unlink_url}?district={spruce.clever_id}">Unlink…</a>' in page
    confirm = support.get(unlink_url, {"district": spruce.clever_id})
    assert confirm.status_code == 200 and 'name="reason"' in confirm.content.decode()
    refused = support.post(unlink_url, {"district": spruce.clever_id, "reason": ""})
    assert refused.status_code == 200 and "This field is required" in refused.content.decode()
    spruce.refresh_from_db()
    assert spruce.organization == organization

    response = support.post(unlink_url, {"district": spruce.clever_id, "reason": "wrong customer"})

    assert response.status_code == 302
    spruce.refresh_from_db()
    assert spruce.organization is None
    audit = DistrictAudit.objects.get(district=spruce, action=DistrictAudit.Action.UNLINKED)
    assert (audit.actor, audit.details["reason"]) == (support.user, "wrong customer")


def test_a_link_decision_that_undoes_something_needs_a_reason(support, world):
    """Reject, unlink and relink without a reason change nothing (a form error, never a 500);
    an unknown decision is refused the same way."""
    organization, spruce, _others = world
    link_request = DistrictLinkRequest.objects.create(
        district=spruce, organization=organization, origin=ORIGIN_SELF_SERVE
    )
    decide = reverse("admin:matching_districtlinkrequest_decide", args=[link_request.pk])
    for data in ({"decision": "reject"}, {"decision": "reject", "reason": " "}, {"decision": "drop-table"}):
        response = support.post(decide, data, follow=True)
        assert response.status_code == 200 and "Nothing was changed" in response.content.decode()
    link_request.refresh_from_db()
    assert link_request.status == DistrictLinkRequest.Status.PENDING
