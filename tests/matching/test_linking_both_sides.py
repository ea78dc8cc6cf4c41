"""Self-serve district linking from both sides (issue #16, part 1): a new user's findings on the
organization admin's pages (search with abbreviations and typos, a request to support that is
never lost and always says where it stands, the linked district's sync, the verification link
shown whole with a Copy button, the header and a way back), and the Clever district admin's
side (an unlinked district's admin asks an organization with real evidence; only the
organization's admin, or support, links it).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.factories import UserFactory
from districts.models import District, DistrictAudit, LinkMethod
from districts.services import LinkError
from matching.linking.refresh import refresh_district_candidates
from matching.linking.search import search_words
from matching.linking.selectors import Step, Waiting, requests_to_answer, waiting_for
from matching.linking.services import (
    ASKS_PER_WINDOW,
    confirm_district_admin_request,
    staff_link_district,
)
from matching.models import DistrictLinkRequest, DistrictVerification
from rostering.models import Person, SyncRun
from tests.sso.conftest import Browser, build_world, to_clever_authorize
from tests.sso.test_accounts import UnsharingTransport

from .helpers import PAGE, clever_district, mirror_person, organization_with_admin, signed_in

DISTRICT_PAGE = "/district/link/"


def rows_of(response) -> list[str]:
    return [row.district.clever_id for row in response.context["rows"]]


def names_of(response) -> list[str]:
    return [row.district.name for row in response.context["rows"]]


# --- 1. search: abbreviations and typos, best match first ------------------------------------------


@pytest.fixture
def madison(db):
    _organization, admin = organization_with_admin("Maple Grove Schools", username="grove-admin")
    names = [
        "Madison Independent School District",
        "Madison County Schools",
        "New Madison School District",
        "Madisonville Consolidated ISD",
        "Springfield Public Schools",
        "Medina Valley ISD",
        "Aardvark 12 School District",
        "Aardvark 1 School District",
    ]
    for n, name in enumerate(names, start=1):
        District.objects.create(clever_id=f"{n:024x}", name=name)
    return signed_in(admin)


def test_search_words_abbreviate_district_kinds_and_drop_punctuation():
    assert search_words("Madison Independent School District") == ("madison", "isd")
    assert search_words("Madison I.S.D.") == ("madison", "isd")
    assert search_words("Springfield Public Schools") == ("springfield", "ps")
    assert search_words("Río Grande Unified School District") == ("rio", "grande", "usd")
    assert search_words("Cherry Creek School District No. 5") == ("cherry", "creek", "sd", "no", "5")


def test_a_search_with_an_abbreviation_finds_the_full_name_first(madison):
    found = names_of(madison.client.get(PAGE, {"q": "Madison ISD"}))
    assert found[0] == "Madison Independent School District"
    # Other Madisons follow (the kind is a preference, not a filter); Medina is no Madison.
    assert "Madison County Schools" in found and "Medina Valley ISD" not in found
    assert names_of(madison.client.get(PAGE, {"q": "springfield ps"})) == ["Springfield Public Schools"]
    # And the other way round: the full words find a name written with the abbreviation.
    assert (
        names_of(madison.client.get(PAGE, {"q": "madisonville consolidated independent school district"}))[0]
        == "Madisonville Consolidated ISD"
    )


def test_a_search_with_a_typo_finds_the_district_and_ranks_the_best_match_first(madison):
    found = names_of(madison.client.get(PAGE, {"q": "madisn"}))
    # Equally good matches by name (the same word, the same typo) come by evidence, then name.
    assert found == [
        "Madison County Schools",
        "Madison Independent School District",
        "New Madison School District",
    ]
    # A name that is exactly the search comes before one that only starts with it, and a name
    # whose other words were not searched comes after.
    exact = names_of(madison.client.get(PAGE, {"q": "madison"}))
    assert exact.index("Madison Independent School District") < exact.index("New Madison School District")
    assert exact.index("Madison County Schools") < exact.index("Madisonville Consolidated ISD")
    assert names_of(madison.client.get(PAGE, {"q": "madison county"}))[0] == "Madison County Schools"


def test_a_search_of_kind_words_only_lists_the_districts_of_that_kind(madison):
    assert set(names_of(madison.client.get(PAGE, {"q": "ISD"}))) == {
        "Madison Independent School District",
        "Madisonville Consolidated ISD",
        "Medina Valley ISD",
    }
    # "school" is in every one of them, spelled out or abbreviated.
    assert len(names_of(madison.client.get(PAGE, {"q": "schools"}))) == 8


def test_numbers_and_short_words_in_a_search_match_exactly(madison):
    assert names_of(madison.client.get(PAGE, {"q": "aardvark 12"})) == ["Aardvark 12 School District"]
    assert "Madison County Schools" not in names_of(madison.client.get(PAGE, {"q": "zzz"}))


# --- 2. a request to support is never lost, and says where it stands ----------------------------------


def choose(browser: Browser, district: District, action: str):
    return browser.client.post(f"{PAGE}{district.clever_id}/", {"action": action})


def test_asking_support_after_a_verification_link_puts_the_request_in_supports_queue(
    maple, maple_org, support
):
    _organization, admin = maple_org
    browser = signed_in(admin)
    url = choose(browser, maple.district, "send_link").context["url"]
    page = browser.client.get(PAGE).content.decode()
    assert "Waiting for the district&#x27;s Clever administrator to open the verification link" in page

    response = choose(browser, maple.district, "ask_support")

    assert response.status_code == 302
    link_request = DistrictLinkRequest.objects.get()
    assert link_request.status == DistrictLinkRequest.Status.PENDING
    assert waiting_for(link_request) == Waiting.SUPPORT
    page = browser.client.get(PAGE).content.decode()
    assert "Waiting for our support team to check it" in page
    assert "The verification link you sent also works until" in page
    # Support's queue lists it as theirs, and the dashboard counts it.
    queue = support.get(reverse("admin:matching_districtlinkrequest_changelist"), {"waiting_for": "support"})
    assert list(queue.context["cl"].result_list) == [link_request]
    assert "pending: waiting for support" in queue.content.decode()
    dashboard = support.get(reverse("admin:index")).content.decode()
    assert "district link requests wait" in dashboard
    # The link still works.
    assert Browser().client.get(url.split("testserver", 1)[1]).status_code == 200
    steps = [item["step"] for item in link_request.history]
    assert steps == [Step.SENT_LINK, Step.ASKED_SUPPORT]
    assert all(item["by"] == admin.pk for item in link_request.history)


def test_an_expired_verification_link_says_so(maple, maple_org, settings):
    _organization, admin = maple_org
    browser = signed_in(admin)
    choose(browser, maple.district, "send_link")
    link_request = DistrictLinkRequest.objects.get()
    issued = timezone.now() - timedelta(seconds=settings.DISTRICT_LINK_VERIFICATION_MAX_AGE + 60)
    link_request.evidence = {**link_request.evidence, "verification_issued_at": issued.isoformat()}
    link_request.save(update_fields=["evidence"])

    page = browser.client.get(PAGE).content.decode()

    assert waiting_for(link_request) == Waiting.EXPIRED_LINK
    assert "The verification link you sent expired on" in page and "get a new link, or ask support" in page


def test_a_request_support_declined_stays_on_the_page_with_the_reason(maple, maple_org, support):
    _organization, admin = maple_org
    browser = signed_in(admin)
    choose(browser, maple.district, "ask_support")
    link_request = DistrictLinkRequest.objects.get()
    support.post(
        reverse("admin:matching_districtlinkrequest_decide", args=[link_request.pk]),
        {"decision": "reject", "reason": "This district is in Oregon, yours in California"},
    )

    page = browser.client.get(PAGE).content.decode()

    assert "declined by our support team on" in page and "This district is in Oregon" in page
    link_request.refresh_from_db()
    assert link_request.history[-1]["step"] == Step.REJECTED
    assert link_request.history[-1]["by"] == support.user.pk


# --- 3. a linked district's sync ------------------------------------------------------------------------


def test_a_linked_district_shows_its_last_sync_in_words_and_its_roster_counts(maple, maple_org):
    organization, admin = maple_org
    staff_link_district(district=maple.district, organization=organization, actor=None)
    for n in range(3):
        mirror_person(maple.district, email=f"s{n}@maple.k12.example.us", is_student=True)
    mirror_person(maple.district, email="t@maple.k12.example.us", is_teacher=True)
    browser = signed_in(admin)

    page = browser.client.get(PAGE).content.decode()
    assert "Not synced yet: the first sync brings its roster." in page
    assert "syncs are switched off for this district" in page  # the fixture's district

    SyncRun.objects.create(
        district=maple.district,
        kind="full",
        status=SyncRun.Status.FAILED,
        cause=SyncRun.Cause.TOKEN_REFUSED,
        retryable=False,
        finished_at=timezone.now(),
    )
    page = browser.client.get(PAGE).content.decode()
    section = page.split('id="linked-districts"')[1]
    assert "Full sync of Maple Valley Unified" in section and ">failed<" in section
    assert "Clever refused the district&#x27;s access token" in section
    assert "<strong>3</strong> students" in section and "<strong>1</strong> teacher<" in section
    assert maple.district.clever_id not in section  # names, never Clever IDs

    # A failure only support can fix: the organization admin is not sent to "the details".
    SyncRun.objects.create(
        district=maple.district,
        kind="full",
        status=SyncRun.Status.FAILED,
        cause=SyncRun.Cause.BAD_ANSWER,
        retryable=False,
        finished_at=timezone.now() + timedelta(seconds=1),
        started_at=timezone.now() + timedelta(seconds=1),
    )
    section = browser.client.get(PAGE).content.decode().split('id="linked-districts"')[1]
    assert "Our support team sees this failure" in section and "Support should" not in section


# --- 4. the verification link, whole, with a Copy button ---------------------------------------------


def test_the_verification_link_is_shown_whole_with_a_copy_button(maple, maple_org):
    _organization, admin = maple_org
    response = choose(signed_in(admin), maple.district, "send_link")
    html = response.content.decode()
    url = response.context["url"]
    # Whole, in a read-only box that wraps and selects itself (works without JavaScript).
    assert f'readonly rows="3" spellcheck="false" onfocus="this.select()">{url}</textarea>' in html
    # The Copy button appears only where the clipboard works (JavaScript on).
    assert 'id="copy-verification-url" hidden' in html and "navigator.clipboard.writeText" in html


# --- 5. the header and a way back ------------------------------------------------------------------------


def test_the_linking_pages_have_the_header_and_a_way_back(maple, maple_org):
    _organization, admin = maple_org
    browser = signed_in(admin)
    for path in (PAGE, f"{PAGE}{maple.district.clever_id}/"):
        html = browser.client.get(path).content.decode()
        assert 'id="nav-home"' in html and ">Log out</button>" in html, path
        assert f'href="{PAGE}"' in html, path  # back to the districts
    html = choose(browser, maple.district, "send_link").content.decode()
    assert 'id="nav-home"' in html and "Back to your districts" in html
    refused = browser.client.post(f"{PAGE}{maple.district.clever_id}/", {"action": "nonsense"})
    assert refused.status_code == 400 and "Choose one of the buttons below." in refused.content.decode()


# --- 6. the Clever district admin's side ---------------------------------------------------------------


@pytest.fixture
def unlinked(db, sandbox_app):
    """An unlinked district with evidence for two organizations (its NCES ID; its staff emails on
    a domain), one organization only its name resembles, and the first's admin."""
    world = clever_district("Maple Valley Unified", nces_id="0612345", us_state="CA")
    nces_org, nces_admin = organization_with_admin(
        "Maple Valley Schools", username="maple-admin", state="CA", nces_leaid="0612345"
    )
    domain_org, _domain_admin = organization_with_admin(
        "Valley Learning Network", username="network-admin", domains=["maple.k12.example.us"]
    )
    for n in range(4):
        mirror_person(world.district, email=f"staff{n}@maple.k12.example.us", is_staff=True)
    lookalike, _ = organization_with_admin("Maple Valley Unified Academy", username="lookalike-admin")
    refresh_district_candidates(queue=False)
    world.organizations = (nces_org, domain_org, lookalike)
    world.org_admin = nces_admin
    return world


def signs_in_with_clever(clever_id: str) -> Browser:
    browser = Browser()
    browser.go("/accounts/clever/login/", stop=to_clever_authorize)
    browser.go(browser.url)
    response = browser.sign_in_at_clever(browser.url, clever_id)
    assert response.status_code == 200, browser.hops
    return browser


def district_admin_signs_in(world) -> Browser:
    return signs_in_with_clever(world.admin["id"])


def ask(browser: Browser, organization) -> object:
    return browser.client.post(DISTRICT_PAGE, {"action": "ask", "organization": organization.pk})


def test_a_district_admin_of_an_unlinked_district_lands_on_a_way_to_link_it(unlinked):
    browser = district_admin_signs_in(unlinked)

    landing = browser.client.get("/account/").content.decode()
    assert 'id="landing-district-link"' in landing and 'id="landing-nothing-yet"' not in landing
    assert "Maple Valley Unified is not linked to an organization yet" in landing
    page = browser.client.get(DISTRICT_PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="nav-home"' in html and ">Log out</button>" in html


def test_only_organizations_with_real_evidence_are_offered(unlinked):
    nces_org, domain_org, lookalike = unlinked.organizations
    browser = district_admin_signs_in(unlinked)

    offers = browser.client.get(DISTRICT_PAGE).context["offers"]

    assert [offer.organization for offer in offers] == [nces_org, domain_org]
    html = browser.client.get(DISTRICT_PAGE).content.decode()
    assert lookalike.name not in html  # its name alone is no evidence: not enumerable
    assert "100% of your staff emails on its domains" in html
    # Asking an organization that was not offered is a form error, and asks nobody.
    response = ask(browser, lookalike)
    assert response.status_code == 400
    assert "Choose one of the organizations listed." in response.content.decode()
    assert not DistrictLinkRequest.objects.exists()


def test_a_district_with_no_real_evidence_is_told_to_ask_support(db, sandbox_app):
    world = clever_district("Lonely Pines District", us_state="OR")
    organization_with_admin("Lonely Pines Schools", username="pines-admin", state="OR")
    refresh_district_candidates(queue=False)
    html = district_admin_signs_in(world).client.get(DISTRICT_PAGE).content.decode()
    assert 'id="no-offers"' in html and "contact our support team" in html
    assert "Lonely Pines Schools" not in html


def test_the_organization_admin_confirms_and_only_then_the_district_is_linked(unlinked):
    nces_org, _domain_org, _lookalike = unlinked.organizations
    district_admin = district_admin_signs_in(unlinked)

    assert ask(district_admin, nces_org).status_code == 302
    district = unlinked.district
    district.refresh_from_db()
    assert (
        district.organization is None
        and not DistrictAudit.objects.filter(district=district, action=DistrictAudit.Action.LINKED).exists()
    )
    page = district_admin.client.get(DISTRICT_PAGE).content.decode()
    assert "An administrator of Maple Valley Schools must confirm it" in page
    assert "Waiting for an administrator of" in district_admin.client.get("/account/").content.decode()

    org_admin = signed_in(unlinked.org_admin)
    landing = org_admin.client.get("/account/").content.decode()
    assert "1 request from Clever district administrators waits for your answer" in landing
    link_request = DistrictLinkRequest.objects.get()
    answer_url = reverse("district_link_answer", args=[link_request.pk])
    assert answer_url in org_admin.client.get(PAGE).content.decode()
    answer = org_admin.client.get(answer_url).content.decode()
    assert "Dana Admin" in answer and "dana@maple.k12.example.us" in answer
    assert "Confirm only if you know this district is yours" in answer
    # No reason: a form error, nothing linked.
    response = org_admin.client.post(answer_url, {"answer": "confirm", "reason": ""})
    assert response.status_code == 400 and "This field is required." in response.content.decode()
    district.refresh_from_db()
    assert district.organization is None

    response = org_admin.client.post(answer_url, {"answer": "confirm", "reason": "Dana runs our district"})

    assert response.status_code == 302
    district.refresh_from_db()
    assert district.organization == nces_org and district.link_method == LinkMethod.CLEVER_LOGIN
    audit = DistrictAudit.objects.get(district=district, action=DistrictAudit.Action.LINKED)
    assert audit.actor == unlinked.org_admin
    evidence = audit.details["evidence"]
    assert evidence["asked_by_clever_user"] == unlinked.admin["id"]
    assert evidence["proof"] == DistrictVerification.Method.DISTRICT_ADMIN_REQUEST
    assert evidence["reason"] == "Dana runs our district" and evidence["request"] == link_request.pk
    verification = DistrictVerification.objects.get()
    assert verification.clever_user_id == unlinked.admin["id"]
    assert verification.requested_by == unlinked.org_admin
    link_request.refresh_from_db()
    assert link_request.status == DistrictLinkRequest.Status.APPROVED
    steps = [item["step"] for item in link_request.history]
    assert steps == [Step.DISTRICT_ASKED, Step.CONFIRMED]
    assert link_request.history[0]["clever_user"] == unlinked.admin["id"]
    # The district admin's account (made at their sign-in, with no organization) joined it,
    # and both sides see the link.
    assert Person.objects.get(district=district, clever_id=unlinked.admin["id"]).user.organization == nces_org
    assert "Your district is linked to <strong>Maple Valley Schools</strong>" in (
        district_admin.client.get(DISTRICT_PAGE).content.decode()
    )
    assert (
        "Maple Valley Unified"
        in org_admin.client.get(PAGE)
        .content.decode()
        .split('id="linked-districts"')[1]
        .split('id="unmatched-districts"')[0]
    )


def test_the_answer_page_names_the_district_admin_who_asked_not_the_organizations_own_asker(unlinked):
    """The security review found it: a district admin's ask that took over the organization's
    own pending request was shown as made by the organization's admin, on their date."""
    nces_org, _domain_org, _lookalike = unlinked.organizations
    org_admin = signed_in(unlinked.org_admin)
    assert choose(org_admin, unlinked.district, "ask_support").status_code == 302
    DistrictLinkRequest.objects.update(created_at=timezone.now() - timedelta(days=3))

    assert ask(district_admin_signs_in(unlinked), nces_org).status_code == 302

    link_request = DistrictLinkRequest.objects.get()
    answer = org_admin.client.get(reverse("district_link_answer", args=[link_request.pk])).content.decode()
    summary = answer.split('id="request-summary">')[1].split("</p>")[0]
    assert summary.startswith("Dana Admin &lt;dana@maple.k12.example.us&gt;, a district administrator")
    assert unlinked.org_admin.email not in summary
    assert "Your organization had asked to link this district before" in summary


def test_a_declined_organization_is_not_offered_again(unlinked):
    nces_org, domain_org, _lookalike = unlinked.organizations
    district_admin = district_admin_signs_in(unlinked)
    ask(district_admin, nces_org)
    link_request = DistrictLinkRequest.objects.get()
    org_admin = signed_in(unlinked.org_admin)
    answer_url = reverse("district_link_answer", args=[link_request.pk])
    org_admin.client.post(answer_url, {"answer": "decline", "reason": "Not a district of ours"})

    page = district_admin.client.get(DISTRICT_PAGE)

    unlinked.district.refresh_from_db()
    assert unlinked.district.organization is None
    assert [offer.organization for offer in page.context["offers"]] == [domain_org]
    assert "Maple Valley Schools: declined by the organization&#x27;s administrator" in page.content.decode()
    assert ask(district_admin, nces_org).status_code == 400
    assert org_admin.client.get(answer_url).status_code == 404  # answered already


def test_one_pending_request_per_district_which_its_admin_can_take_back(unlinked):
    nces_org, domain_org, _lookalike = unlinked.organizations
    district_admin = district_admin_signs_in(unlinked)
    ask(district_admin, nces_org)

    # The page offers nothing more while it waits; a forged second ask is refused.
    assert district_admin.client.get(DISTRICT_PAGE).context["offers"] == []
    response = ask(district_admin, domain_org)
    assert response.status_code == 409 and "already asked an organization" in response.content.decode()
    assert DistrictLinkRequest.objects.count() == 1

    response = district_admin.client.post(DISTRICT_PAGE, {"action": "withdraw"})

    assert response.status_code == 302
    link_request = DistrictLinkRequest.objects.get()
    assert link_request.status == DistrictLinkRequest.Status.WITHDRAWN
    assert link_request.history[-1]["step"] == Step.DISTRICT_WITHDREW
    assert ask(district_admin, domain_org).status_code == 302
    assert not requests_to_answer(nces_org)


def test_asking_and_taking_back_in_a_loop_stops_after_a_few_asks(unlinked):
    """The security review found it: ask, take back, ask again without end filled an
    organization's page with requests."""
    nces_org, _domain_org, _lookalike = unlinked.organizations
    district_admin = district_admin_signs_in(unlinked)
    for _ in range(ASKS_PER_WINDOW):
        assert ask(district_admin, nces_org).status_code == 302
        assert district_admin.client.post(DISTRICT_PAGE, {"action": "withdraw"}).status_code == 302

    refused = ask(district_admin, nces_org)

    assert refused.status_code == 409 and "Ask our support team to link it." in refused.content.decode()
    assert DistrictLinkRequest.objects.count() == ASKS_PER_WINDOW


def test_another_organizations_admin_cannot_answer_and_support_can_approve(unlinked, support):
    nces_org, domain_org, _lookalike = unlinked.organizations
    ask(district_admin_signs_in(unlinked), nces_org)
    link_request = DistrictLinkRequest.objects.get()
    answer_url = reverse("district_link_answer", args=[link_request.pk])
    other = UserFactory(username="network-admin-2", organization=domain_org, is_organization_admin=True)
    assert signed_in(other).client.get(answer_url).status_code == 404
    forged = signed_in(other).client.post(answer_url, {"answer": "confirm", "reason": "mine"})
    assert forged.status_code == 404
    with pytest.raises(LinkError, match="Only an administrator of the organization"):
        confirm_district_admin_request(link_request=link_request, organization_admin=other, reason="mine")
    queue = support.get(
        reverse("admin:matching_districtlinkrequest_changelist"), {"waiting_for": "organization_admin"}
    )
    assert list(queue.context["cl"].result_list) == [link_request]
    review = support.get(reverse("admin:matching_districtlinkrequest_change", args=[link_request.pk]))
    assert "A Clever district administrator asked" in review.content.decode()

    # The security review found it: support approved a district admin's ask, before the
    # organization answered, in one click or in bulk, with no reason.
    changelist = reverse("admin:matching_districtlinkrequest_changelist")
    support.post(changelist, {"action": "approve_selected", "_selected_action": [link_request.pk]})
    decide = reverse("admin:matching_districtlinkrequest_decide", args=[link_request.pk])
    refused = support.post(decide, {"decision": "approve"}, follow=True).content.decode()
    assert "say why you approve it without them" in refused
    unlinked.district.refresh_from_db()
    assert unlinked.district.organization is None

    support.post(decide, {"decision": "approve", "reason": "The district called us (ticket 7)"})

    unlinked.district.refresh_from_db()
    assert unlinked.district.organization == nces_org
    link_request.refresh_from_db()
    assert link_request.history[-1]["step"] == Step.APPROVED
    evidence = DistrictAudit.objects.get(
        district=unlinked.district, action=DistrictAudit.Action.LINKED
    ).details["evidence"]
    assert evidence["asked_by_clever_user"] == unlinked.admin["id"]
    assert evidence["reason"] == "The district called us (ticket 7)"


def test_what_a_district_types_is_escaped_on_the_organizations_page(unlinked):
    District.objects.filter(pk=unlinked.district.pk).update(name='<script>alert("x")</script> ISD')
    nces_org, *_ = unlinked.organizations
    ask(district_admin_signs_in(unlinked), nces_org)
    requester = DistrictLinkRequest.objects.get().requested_by
    requester.first_name = "<img src=x onerror=alert(1)>"
    requester.save(update_fields=["first_name"])
    org_admin = signed_in(unlinked.org_admin)
    answer_url = reverse("district_link_answer", args=[DistrictLinkRequest.objects.get().pk])
    for path in ("/account/", PAGE, answer_url):
        html = org_admin.client.get(path).content.decode()
        assert '<script>alert("x")' not in html and "<img src=x" not in html, path
        assert "&lt;script&gt;" in html, path


def test_people_who_are_not_district_admins_get_no_district_admin_page(unlinked):
    teacher = signs_in_with_clever(unlinked.teacher["id"])
    assert teacher.client.get(DISTRICT_PAGE).status_code == 403
    assert 'id="landing-district-link"' not in teacher.client.get("/account/").content.decode()
    assert signed_in(unlinked.org_admin).client.get(DISTRICT_PAGE).status_code == 403
    assert Browser().client.get(DISTRICT_PAGE).status_code == 302


def test_bad_input_on_the_district_admin_page_is_a_form_error(unlinked):
    browser = district_admin_signs_in(unlinked)
    for data in ({"action": "nonsense"}, {"action": "ask"}, {"action": "ask", "organization": "x"}, {}):
        response = browser.client.post(DISTRICT_PAGE, data)
        assert response.status_code == 400, data
        assert 'id="form-errors"' in response.content.decode(), data
    response = browser.client.post(DISTRICT_PAGE, {"action": "withdraw"})
    assert response.status_code == 409 and "no request waiting" in response.content.decode()


def test_a_district_admin_of_a_district_that_shares_nothing_is_told_how_to_connect_it(
    db, sandbox_app, settings, monkeypatch
):
    unknown = build_world(name="Ogdenville", connect=False)
    monkeypatch.setattr(UnsharingTransport, "district", unknown.sandbox_district)
    settings.CLEVER_HTTP_ADAPTER = "tests.sso.test_accounts.UnsharingTransport"

    response = Browser().go(f"/sandbox/portal/launch?user={unknown.district_admin_only['id']}")

    assert response.status_code == 403
    html = response.content.decode()
    assert 'id="sso-district-admin-next"' in html and "Please ask your district" not in html
