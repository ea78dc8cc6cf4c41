"""District linking (issue #5 part 1): the self-serve page, its permissions, the "Verify with Clever"
round trip through the sandbox, verification links, requests to support and the evidence refresh.

The helpers shared with test_linking_both_sides.py and test_linking_admin.py are in helpers.py,
the ``maple``/``maple_org`` fixtures in conftest.py."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from django.core import signing
from django.urls import reverse

from accounts.factories import OrganizationFactory, UserFactory
from districts.models import District, DistrictAudit, LinkMethod
from districts.services import LinkError
from matching.linking.refresh import refresh_district_candidates
from matching.linking.selectors import (
    ORIGIN_EVIDENCE,
    ORIGIN_SELF_SERVE,
    ORIGIN_VERIFICATION_LINK,
    Waiting,
    waiting_for,
)
from matching.linking.services import (
    complete_clever_verification,
    reject_link_request,
    staff_link_district,
    staff_relink_district,
    staff_unlink_district,
)
from matching.models import DistrictCandidate, DistrictLinkRequest, DistrictVerification
from sandbox import services as sandbox
from sandbox.ids import new_id
from sso.identity import CleverIdentity
from sso.models import CleverLogin, LoginOutcome
from sso.services import record_login
from tests.sso.conftest import Browser, query_of, to_callback, to_clever_authorize

from .helpers import PAGE, mirror_person, mirror_school, organization_with_admin, signed_in


def start_verification(browser: Browser, district: District) -> str:
    """Press "Verify with Clever" on the district's page; returns Clever's authorize URL (not
    followed yet)."""
    browser.go(
        f"{PAGE}{district.clever_id}/",
        method="post",
        data={"action": "verify"},
        stop=to_clever_authorize,
    )
    assert to_clever_authorize(browser.url), browser.hops
    return browser.url


def verify_with_clever(browser: Browser, district: District, clever_user_id: str):
    """Press "Verify with Clever" on the district's page, then sign in at the sandbox's Clever."""
    browser.go(start_verification(browser, district))
    return browser.sign_in_at_clever(browser.url, clever_user_id)


def linked_audits(district):
    return list(DistrictAudit.objects.filter(district=district, action=DistrictAudit.Action.LINKED))


# --- permissions -------------------------------------------------------------------------------------


def test_anonymous_people_are_sent_to_sign_in(db, maple):
    browser = Browser()
    response = browser.client.get(PAGE)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_user_who_is_not_an_organization_admin_is_refused(maple, maple_org):
    organization, _admin = maple_org
    teacher = UserFactory(username="plain-teacher", organization=organization, is_organization_admin=False)
    browser = signed_in(teacher)
    assert browser.client.get(PAGE).status_code == 403
    response = browser.client.post(f"{PAGE}{maple.district.clever_id}/", {"action": "ask_support"})
    assert response.status_code == 403
    response = browser.client.post(f"{PAGE}{maple.district.clever_id}/", {"action": "verify"})
    assert response.status_code == 403
    assert not DistrictLinkRequest.objects.exists()
    maple.district.refresh_from_db()
    assert maple.district.organization is None


def test_an_inactive_or_organizationless_admin_is_refused(maple):
    loner = UserFactory(username="loner", organization=None, is_organization_admin=True)
    assert signed_in(loner).client.get(PAGE).status_code == 403


def test_another_organizations_admin_cannot_claim_a_linked_district(maple, maple_org):
    organization, admin = maple_org
    browser = signed_in(admin)
    response = verify_with_clever(browser, maple.district, maple.admin["id"])
    assert response.status_code == 200
    _rival, rival_admin = organization_with_admin("Rival Schools", username="rival-admin")
    rival = signed_in(rival_admin)

    page = rival.client.get(PAGE)
    assert maple.district.clever_id not in page.content.decode()  # not offered
    # Answered as a district that does not exist: whether another customer has it is not the
    # rival's to learn (security review of issue #16).
    for action in ("verify", "send_link", "ask_support"):
        response = rival.client.post(f"{PAGE}{maple.district.clever_id}/", {"action": action})
        assert response.status_code == 404, action
        assert "already linked" not in response.content.decode()
    assert rival.client.get(f"{PAGE}{maple.district.clever_id}/").status_code == 404
    assert rival.client.get(f"{PAGE}{'f' * 24}/").status_code == 404
    maple.district.refresh_from_db()
    assert maple.district.organization == organization
    assert not DistrictLinkRequest.objects.filter(organization=_rival).exists()


# --- the round trip -------------------------------------------------------------------------------


def test_verify_with_clever_links_the_district_at_once(maple, maple_org):
    organization, admin = maple_org
    browser = signed_in(admin)

    response = verify_with_clever(browser, maple.district, maple.admin["id"])

    assert response.status_code == 200, response.content
    assert "District linked" in response.content.decode()
    maple.district.refresh_from_db()
    assert maple.district.organization == organization
    assert maple.district.link_method == LinkMethod.CLEVER_LOGIN
    assert maple.district.linked_by == admin
    (audit,) = linked_audits(maple.district)
    assert audit.actor == admin and audit.method == LinkMethod.CLEVER_LOGIN
    assert audit.details["evidence"]["verified_by_clever_user"] == maple.admin["id"]
    assert audit.details["evidence"]["proof"] == DistrictVerification.Method.ROUND_TRIP
    verification = DistrictVerification.objects.get()
    assert (
        verification.district,
        verification.organization,
        verification.clever_user_id,
        verification.requested_by,
    ) == (maple.district, organization, maple.admin["id"], admin)
    assert browser.user_id() == str(admin.pk)  # still the organization admin; nobody else signed in
    assert CleverLogin.objects.get().outcome == LoginOutcome.PURPOSE
    # The page now lists it as linked and no longer offers it.
    page = browser.client.get(PAGE).content.decode()
    assert "Maple Valley Unified" in page.split('id="linked-districts"')[1].split("</ul>")[0]
    assert f'data-clever-id="{maple.district.clever_id}"' not in page


def test_a_teacher_cannot_verify_the_district(maple, maple_org):
    _organization, admin = maple_org
    response = verify_with_clever(signed_in(admin), maple.district, maple.teacher["id"])
    assert response.status_code == 403
    assert "Only a district administrator" in response.content.decode()
    maple.district.refresh_from_db()
    assert maple.district.organization is None and not linked_audits(maple.district)
    assert not DistrictVerification.objects.exists()


def test_a_forged_state_is_refused_and_nothing_is_linked(maple, maple_org):
    _organization, admin = maple_org
    browser = signed_in(admin)
    authorize = start_verification(browser, maple.district)
    forged = authorize.replace(query_of(authorize)["state"][0], "forged-state-id")
    browser.go(forged)
    response = browser.sign_in_at_clever(browser.url, maple.admin["id"])
    assert response.status_code in (400, 403)
    maple.district.refresh_from_db()
    assert maple.district.organization is None and not linked_audits(maple.district)


def test_a_replayed_callback_links_nothing_more(maple, maple_org):
    organization, admin = maple_org
    browser = signed_in(admin)
    browser.go(start_verification(browser, maple.district))
    browser.sign_in_at_clever(browser.url, maple.admin["id"], stop=to_callback)
    callback = browser.url
    assert browser.client.get(callback).status_code == 200
    maple.district.refresh_from_db()
    assert maple.district.organization == organization

    # The same callback again (same browser, another admin's browser): the state and code are used.
    _other, other_admin = organization_with_admin("Other Org", username="other-admin")
    for replayer in (browser, signed_in(other_admin)):
        response = replayer.client.get(callback)
        assert response.status_code != 200 or "District linked" not in response.content.decode()
    maple.district.refresh_from_db()
    assert maple.district.organization == organization
    assert len(linked_audits(maple.district)) == 1
    assert DistrictVerification.objects.count() == 1


def test_a_state_started_by_another_admin_is_refused(maple, maple_org):
    _organization, admin = maple_org
    browser = signed_in(admin)
    browser.go(start_verification(browser, maple.district))
    browser.sign_in_at_clever(browser.url, maple.admin["id"], stop=to_callback)
    callback = browser.url
    _rival, rival_admin = organization_with_admin("Rival Schools", username="rival-admin")
    response = signed_in(rival_admin).client.get(callback)
    assert response.status_code in (400, 403)
    maple.district.refresh_from_db()
    assert maple.district.organization is None


def test_a_district_linked_elsewhere_meanwhile_is_not_taken(maple, maple_org):
    _organization, admin = maple_org
    browser = signed_in(admin)
    browser.go(start_verification(browser, maple.district))
    other = OrganizationFactory(name="Got There First")
    staff_link_district(district=maple.district, organization=other, actor=None)

    response = browser.sign_in_at_clever(browser.url, maple.admin["id"])

    assert response.status_code == 403
    assert "already linked to another organization" in response.content.decode()
    maple.district.refresh_from_db()
    assert maple.district.organization == other
    assert not DistrictVerification.objects.exists()


def test_an_admin_demoted_before_the_callback_links_nothing(maple, maple_org):
    _organization, admin = maple_org
    browser = signed_in(admin)
    browser.go(start_verification(browser, maple.district))
    admin.is_organization_admin = False
    admin.save(update_fields=["is_organization_admin"])
    response = browser.sign_in_at_clever(browser.url, maple.admin["id"])
    assert response.status_code == 403
    maple.district.refresh_from_db()
    assert maple.district.organization is None


def test_the_clever_admin_of_another_district_cannot_verify(maple, maple_org):
    """Clever confirmed a district admin, but of another district: refused (service level, with
    the identity the callback would hand over)."""
    organization, admin = maple_org
    identity = CleverIdentity(
        clever_id="u" * 24, district_id="d" * 24, authorized_by="district", roles=("district_admin",)
    )
    with pytest.raises(LinkError, match="another district"):
        complete_clever_verification(
            identity=identity,
            data={"organization": organization.pk, "district": maple.district.clever_id},
            actor=admin,
        )
    maple.district.refresh_from_db()
    assert maple.district.organization is None


# --- verification links -----------------------------------------------------------------------------


def test_a_verification_link_lets_the_clever_admin_verify_for_the_org_admin(maple, maple_org):
    organization, admin = maple_org
    page = signed_in(admin).client.post(f"{PAGE}{maple.district.clever_id}/", {"action": "send_link"})
    assert page.status_code == 200
    url = page.context["url"]
    path = url.split("testserver", 1)[1]
    link_request = DistrictLinkRequest.objects.get()
    assert (link_request.origin, link_request.status, link_request.requested_by) == (
        ORIGIN_VERIFICATION_LINK,
        DistrictLinkRequest.Status.PENDING,
        admin,
    )

    clever_admin = Browser()  # the district's Clever admin: not signed in to the product
    landing = clever_admin.client.get(path)
    assert landing.status_code == 200 and "Maple Valley Schools" in landing.content.decode()
    clever_admin.go(path, method="post", stop=to_clever_authorize)
    clever_admin.go(clever_admin.url)
    response = clever_admin.sign_in_at_clever(clever_admin.url, maple.admin["id"])

    assert response.status_code == 200, response.content
    maple.district.refresh_from_db()
    assert maple.district.organization == organization
    assert maple.district.link_method == LinkMethod.VERIFICATION_LINK
    assert maple.district.linked_by == admin  # the requesting org admin is the recorded requester
    link_request.refresh_from_db()
    assert link_request.status == DistrictLinkRequest.Status.APPROVED
    assert "verification_nonce" not in link_request.evidence
    assert DistrictVerification.objects.get().method == DistrictVerification.Method.VERIFICATION_LINK
    # Single use.
    assert Browser().client.get(path).status_code == 410


def test_a_tampered_or_expired_verification_link_is_refused(maple, maple_org, settings):
    _organization, admin = maple_org
    url = (
        signed_in(admin)
        .client.post(f"{PAGE}{maple.district.clever_id}/", {"action": "send_link"})
        .context["url"]
    )
    path = url.split("testserver", 1)[1]
    token = path.rstrip("/").rsplit("/", 1)[1]
    forged = signing.TimestampSigner(salt="another-salt").sign_object({"request": 1, "nonce": "x"})
    assert Browser().client.get(reverse("district_link_verify", args=[forged])).status_code == 410
    assert Browser().client.get(reverse("district_link_verify", args=[token[:-2] + "xx"])).status_code == 410
    settings.DISTRICT_LINK_VERIFICATION_MAX_AGE = -1
    response = Browser().client.get(path)
    assert response.status_code == 410 and "expired" in response.content.decode()
    assert Browser().client.post(path).status_code == 410


def test_a_new_verification_link_retires_the_previous_one(maple, maple_org):
    _organization, admin = maple_org
    browser = signed_in(admin)
    first = browser.client.post(f"{PAGE}{maple.district.clever_id}/", {"action": "send_link"}).context["url"]
    second = browser.client.post(f"{PAGE}{maple.district.clever_id}/", {"action": "send_link"}).context["url"]
    assert Browser().client.get(first.split("testserver", 1)[1]).status_code == 410
    assert Browser().client.get(second.split("testserver", 1)[1]).status_code == 200
    assert DistrictLinkRequest.objects.count() == 1


# --- requests without proof ----------------------------------------------------------------------------


def test_without_proof_the_request_goes_to_supports_queue(maple, maple_org):
    organization, admin = maple_org
    browser = signed_in(admin)
    response = browser.client.post(f"{PAGE}{maple.district.clever_id}/", {"action": "ask_support"})
    assert response.status_code == 302
    again = browser.client.post(f"{PAGE}{maple.district.clever_id}/", {"action": "ask_support"})
    assert again.status_code == 302
    link_request = DistrictLinkRequest.objects.get()
    assert (
        link_request.origin,
        link_request.status,
        link_request.organization,
        link_request.requested_by,
    ) == (ORIGIN_SELF_SERVE, DistrictLinkRequest.Status.PENDING, organization, admin)
    maple.district.refresh_from_db()
    assert maple.district.organization is None
    assert "Waiting for our support team to check it" in browser.client.get(PAGE).content.decode()


# --- the page: ranking, search, pagination -------------------------------------------------------------


@pytest.fixture
def market(db):
    """An organization with evidence for two districts among many unmatched ones."""
    organization, admin = organization_with_admin(
        "Cedar Ridge Public Schools",
        username="cedar-admin",
        state="OR",
        mdr_number="7654321",
        domains=["cedarridge.k12.or.us"],
    )
    districts = [
        District.objects.create(clever_id=f"{n:024x}", name=f"Aardvark {n} School District", us_state="TX")
        for n in range(1, 31)
    ]
    cedar = District.objects.create(
        clever_id="c" * 24, name="Cedar Ridge School District", us_state="OR", mdr_number="7654321"
    )
    domain_only = District.objects.create(clever_id="d" * 24, name="Zephyr Hills Schools", us_state="OR")
    for n in range(4):
        mirror_person(domain_only, email=f"t{n}@cedarridge.k12.or.us", is_teacher=True)
    mirror_school(districts[3], name="Bay High", city="Portland", us_state="OR")
    mirror_school(districts[4], name="Ridge Elementary", city="Salem", us_state="OR")
    return SimpleNamespace(
        organization=organization, admin=admin, districts=districts, cedar=cedar, domain_only=domain_only
    )


def rows_of(response) -> list[str]:
    return [row.district.clever_id for row in response.context["rows"]]


def test_the_page_ranks_unmatched_districts_by_evidence_with_chips(market, settings):
    settings.DISTRICT_LINKING_PAGE_SIZE = 10
    summary = refresh_district_candidates(queue=False)
    assert summary["districts"] == 32 and summary["candidates"] > 0
    browser = signed_in(market.admin)
    response = browser.client.get(PAGE)
    assert response.status_code == 200
    ranked = rows_of(response)
    assert ranked[:2] == [market.cedar.clever_id, market.domain_only.clever_id]
    chips = {row.district.clever_id: [chip["kind"] for chip in row.chips] for row in response.context["rows"]}
    assert "mdr_number" in chips[market.cedar.clever_id]
    assert "email_domain" in chips[market.domain_only.clever_id]
    html = response.content.decode()
    assert "MDR \u2713 7654321" in html and "100% of staff emails on your domains" in html
    # Pagination: 32 districts, 10 a page.
    assert response.context["page"].paginator.count == 32
    last = browser.client.get(PAGE, {"page": 4})
    assert len(rows_of(last)) == 2
    assert not set(rows_of(last)) & set(ranked)


def test_the_page_searches_by_name_city_and_state(market):
    browser = signed_in(market.admin)
    assert rows_of(browser.client.get(PAGE, {"q": "aardvark 12 "})) == [market.districts[11].clever_id]
    assert rows_of(browser.client.get(PAGE, {"city": "portl"})) == [market.districts[3].clever_id]
    by_state = set(rows_of(browser.client.get(PAGE, {"state": "or"})))
    # The district's own state, or a school's.
    assert by_state == {
        market.cedar.clever_id,
        market.domain_only.clever_id,
        market.districts[3].clever_id,
        market.districts[4].clever_id,
    }
    both = rows_of(browser.client.get(PAGE, {"state": "OR", "city": "Salem"}))
    assert both == [market.districts[4].clever_id]


def test_sso_logins_by_the_organizations_people_are_evidence(market):
    from allauth.socialaccount.models import SocialAccount

    target = market.districts[7]
    for n in range(3):
        user = UserFactory(username=f"cedar-teacher-{n}", organization=market.organization)
        SocialAccount.objects.create(
            user=user,
            provider="clever",
            uid=f"{n:024d}",
            extra_data={"id": f"{n:024d}", "district": target.clever_id},
        )
    refresh_district_candidates(queue=False)
    candidate = DistrictCandidate.objects.get(district=target, organization=market.organization)
    (chip,) = [chip for chip in candidate.evidence if chip["kind"] == "sso_logins"]
    assert chip["label"] == "3 of your people logged in from here"


# --- the refresh: strong evidence goes to support's queue; nothing links on its own ---------------


def test_an_uncontested_nces_match_is_queued_for_support_never_linked_on_its_own(db):
    """The security review found it: an NCES or MDR number is the district's own record (and
    public), so a district that copied a new customer's number was linked to it automatically."""
    organization = OrganizationFactory(
        name="Pine County Schools", state="CA", nces_leaid="0600001", mdr_number=""
    )
    district = District.objects.create(clever_id="a" * 24, name="Pine County USD", nces_id="0600001")
    summary = refresh_district_candidates()
    assert summary["queued"] == 1 and "auto_linked" not in summary
    district.refresh_from_db()
    assert district.organization is None and not linked_audits(district)
    (queued,) = DistrictLinkRequest.objects.filter(origin=ORIGIN_EVIDENCE, district=district)
    assert queued.organization == organization and queued.status == DistrictLinkRequest.Status.PENDING
    assert waiting_for(queued) == Waiting.SUPPORT
    # Running again changes nothing.
    assert refresh_district_candidates()["queued"] == 0


def test_a_contested_nces_match_is_queued_not_linked(db):
    first = OrganizationFactory(name="North Schools", state="CA", nces_leaid="0600002", mdr_number="")
    second = OrganizationFactory(name="North Network", state="CA", nces_leaid="0600002", mdr_number="")
    district = District.objects.create(clever_id="b" * 24, name="North USD", nces_id="0600002")
    summary = refresh_district_candidates()
    assert summary["queued"] == 2
    district.refresh_from_db()
    assert district.organization is None
    queued = DistrictLinkRequest.objects.filter(origin=ORIGIN_EVIDENCE, district=district)
    assert {item.organization for item in queued} == {first, second}
    assert all("ids_point_to_different_organizations" in item.evidence["reasons"] for item in queued)
    # Not asked twice.
    assert refresh_district_candidates()["queued"] == 0


def test_a_pair_a_person_unlinked_is_never_proposed_again(db):
    lone = OrganizationFactory(name="Oak Schools", state="", nces_leaid="0600004", mdr_number="")
    oak = District.objects.create(clever_id="0" * 24, name="Oak USD", nces_id="0600004")
    staff_link_district(district=oak, organization=lone, actor=None)
    staff_unlink_district(district=oak, actor=None, reason="wrong")
    assert refresh_district_candidates()["queued"] == 0
    oak.refresh_from_db()
    assert oak.organization is None and lone.districts.count() == 0


def test_relinking_moves_the_provisioned_accounts(db):
    wrong = OrganizationFactory(name="Wrong Org")
    right = OrganizationFactory(name="Right Org")
    district = District.objects.create(clever_id="9" * 24, name="Birch USD")
    staff_link_district(district=district, organization=wrong, actor=None)
    provisioned = UserFactory(username="clever-" + "1" * 24, made_for_clever_id="1" * 24, organization=wrong)
    matched = UserFactory(username="jane.product", organization=wrong)
    mirror_person(district, user=provisioned, is_student=True)
    mirror_person(district, user=matched, is_teacher=True)
    staff = UserFactory(username="support", is_staff=True, is_superuser=True, organization=None)

    _district, moved = staff_relink_district(
        district=district, organization=right, actor=staff, reason="wrong link"
    )

    assert moved == 1
    provisioned.refresh_from_db()
    matched.refresh_from_db()
    assert provisioned.organization == right and matched.organization == wrong
    audit = DistrictAudit.objects.get(district=district, action=DistrictAudit.Action.RELINKED)
    assert (audit.organization_before, audit.organization_after, audit.actor) == (wrong, right, staff)
    assert audit.details["evidence"]["accounts_moved"] == 1


# --- when the evidence is refreshed ------------------------------------------------------------------


def test_a_clever_login_from_a_district_refreshes_its_evidence(market, django_capture_on_commit_callbacks):
    assert not DistrictCandidate.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        record_login(
            identity=CleverIdentity(
                clever_id=new_id(),
                district_id=market.cedar.clever_id,
                authorized_by="district",
                roles=("teacher",),
                email="ms.lane@cedarridge.k12.or.us",
            ),
            district=market.cedar,
            outcome=LoginOutcome.DISTRICT_NOT_CONNECTED,
        )
    assert set(DistrictCandidate.objects.values_list("district_id", flat=True)) == {market.cedar.pk}
    candidate = DistrictCandidate.objects.get(district=market.cedar, organization=market.organization)
    assert {"mdr_number", "name"} <= {chip["kind"] for chip in candidate.evidence}


def test_login_domains_are_evidence_before_the_roster_arrives(market):
    bare = District.objects.create(clever_id="b" * 24, name="Unsynced District")
    for _ in range(2):
        CleverLogin.objects.create(
            clever_district_id=bare.clever_id,
            district=bare,
            roles=["staff"],
            email_domain="cedarridge.k12.or.us",
            outcome=LoginOutcome.DISTRICT_NOT_CONNECTED,
        )
    CleverLogin.objects.create(
        clever_district_id=bare.clever_id,
        district=bare,
        roles=["student"],
        email_domain="gmail.com",
        outcome=LoginOutcome.DISTRICT_NOT_CONNECTED,
    )
    refresh_district_candidates(district_ids=[bare.pk], queue=False)
    candidate = DistrictCandidate.objects.get(district=bare, organization=market.organization)
    assert "100% of staff emails on your domains" in [chip["label"] for chip in candidate.evidence]


def test_the_management_command_refreshes_and_reports_json(market):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("refresh_district_candidates", market.cedar.clever_id, "--no-queue", "--json", stdout=out)
    summary = json.loads(out.getvalue())
    assert summary["districts"] == 1 and summary["queued"] == 0 and summary["candidates"] >= 1
    market.cedar.refresh_from_db()
    assert market.cedar.organization is None


def test_discovery_of_a_new_district_queues_its_uncontested_nces_match_for_support(
    db, sandbox_app, django_capture_on_commit_callbacks
):
    from districts.tasks import discover_districts_task

    organization = OrganizationFactory(
        name="Hemlock Schools", state="WA", nces_leaid="5300777", mdr_number=""
    )
    sandbox.create_district(name="Hemlock School District", data={"nces_id": "5300777"})
    with django_capture_on_commit_callbacks(execute=True):
        summary = discover_districts_task.delay().get()
    (clever_id,) = summary["created"]
    district = District.objects.get(clever_id=clever_id)
    assert district.nces_id == "5300777" and district.organization is None
    queued = DistrictLinkRequest.objects.get(district=district, origin=ORIGIN_EVIDENCE)
    assert queued.organization == organization and waiting_for(queued) == Waiting.SUPPORT


def test_a_verification_link_support_rejected_is_dead(maple, maple_org):
    _organization, admin = maple_org
    url = (
        signed_in(admin)
        .client.post(f"{PAGE}{maple.district.clever_id}/", {"action": "send_link"})
        .context["url"]
    )
    link_request = DistrictLinkRequest.objects.get()
    reject_link_request(link_request=link_request, actor=None, note="not this district")
    assert Browser().client.get(url.split("testserver", 1)[1]).status_code == 410


def test_a_library_sign_in_cannot_verify_a_district(maple, maple_org):
    organization, admin = maple_org
    identity = CleverIdentity(
        clever_id=maple.admin["id"],
        district_id=maple.district.clever_id,
        authorized_by="teacher",
        roles=("district_admin",),
    )
    with pytest.raises(LinkError, match="district administrator"):
        complete_clever_verification(
            identity=identity,
            data={"organization": organization.pk, "district": maple.district.clever_id},
            actor=admin,
        )
    maple.district.refresh_from_db()
    assert maple.district.organization is None and not DistrictVerification.objects.exists()


def test_the_account_page_links_an_organization_admin_to_the_linking_page(db, client):
    admin = UserFactory(username="org-admin-link", is_organization_admin=True)
    client.force_login(admin)

    page = client.get("/account/").content.decode()

    assert 'id="link-districts"' in page and "/organization/districts/" in page
