import pytest

from accounts.factories import OrganizationFactory
from districts import services
from districts.models import District, DistrictAudit, LinkMethod

pytestmark = pytest.mark.django_db


@pytest.fixture
def district():
    return District.objects.create(
        clever_id="5a0c91b95c7cc000010d417c", name="Springfield Unified", nces_id="1709930"
    )


@pytest.fixture
def springfield():
    return OrganizationFactory(name="Springfield School District", nces_leaid="1709930")


@pytest.fixture
def shelbyville():
    return OrganizationFactory(name="Shelbyville School District")


def test_linking_records_the_organization_method_and_evidence(district, springfield, staff_user):
    evidence = {"nces_id": "1709930", "organization_nces_leaid": "1709930", "score": 1.0}

    linked = services.link_district(
        district=district,
        organization=springfield,
        method=LinkMethod.NCES,
        evidence=evidence,
        actor=staff_user,
    )

    assert linked.organization == springfield
    assert linked.link_method == "nces" and linked.link_evidence == evidence
    assert linked.linked_by == staff_user and linked.linked_at is not None
    audit = DistrictAudit.objects.get(district=district)
    assert audit.action == DistrictAudit.Action.LINKED
    assert audit.organization_before is None and audit.organization_after == springfield
    assert audit.method == "nces" and audit.details == {"evidence": evidence}
    assert audit.actor == staff_user and audit.actor_label == "staff: support"


def test_an_automatic_link_names_its_rule(district, springfield):
    services.link_district(
        district=district,
        organization=springfield,
        method=LinkMethod.MDR,
        evidence={"mdr_number": "123"},
        actor_label="matching: mdr",
    )
    audit = DistrictAudit.objects.get(district=district)
    assert audit.actor is None and audit.actor_label == "matching: mdr"


def test_linking_again_to_the_same_organization_changes_nothing(district, springfield, staff_user):
    services.link_district(
        district=district, organization=springfield, method=LinkMethod.STAFF, evidence={}, actor=staff_user
    )
    services.link_district(
        district=district,
        organization=springfield,
        method=LinkMethod.NCES,
        evidence={"other": True},
        actor=staff_user,
    )
    district.refresh_from_db()
    assert district.link_method == "staff"
    assert DistrictAudit.objects.filter(district=district).count() == 1


def test_linking_refuses_a_district_linked_to_another_organization(
    district, springfield, shelbyville, staff_user
):
    services.link_district(
        district=district, organization=springfield, method=LinkMethod.STAFF, evidence={}, actor=staff_user
    )

    with pytest.raises(services.DistrictAlreadyLinked, match="relink") as caught:
        services.link_district(
            district=district,
            organization=shelbyville,
            method=LinkMethod.STAFF,
            evidence={},
            actor=staff_user,
        )

    assert district.clever_id in str(caught.value)
    district.refresh_from_db()
    assert district.organization == springfield
    assert DistrictAudit.objects.filter(district=district).count() == 1


def test_relinking_moves_the_district_and_audits_before_and_after(
    district, springfield, shelbyville, staff_user
):
    services.link_district(
        district=district,
        organization=springfield,
        method=LinkMethod.NCES,
        evidence={"nces_id": "1709930"},
        actor_label="matching: nces",
    )

    moved = services.relink_district(
        district=district,
        organization=shelbyville,
        method=LinkMethod.STAFF,
        evidence={"ticket": "SUP-12"},
        actor=staff_user,
        reason="wrong customer",
    )

    assert moved.organization == shelbyville and moved.link_method == "staff"
    assert moved.linked_by == staff_user
    audit = DistrictAudit.objects.get(district=district, action=DistrictAudit.Action.RELINKED)
    assert audit.organization_before == springfield and audit.organization_after == shelbyville
    assert audit.method == "staff"
    assert audit.details["evidence"] == {"ticket": "SUP-12"}
    assert audit.details["previous"]["method"] == "nces"
    assert audit.details["previous"]["evidence"] == {"nces_id": "1709930"}
    assert audit.details["reason"] == "wrong customer"


def test_relinking_an_unlinked_district_is_refused(district, springfield, staff_user):
    with pytest.raises(services.DistrictNotLinked):
        services.relink_district(
            district=district,
            organization=springfield,
            method=LinkMethod.STAFF,
            evidence={},
            actor=staff_user,
        )
    assert not DistrictAudit.objects.exists()


def test_unlinking_audits_the_link_it_removes(district, springfield, staff_user):
    services.link_district(
        district=district,
        organization=springfield,
        method=LinkMethod.NCES,
        evidence={"nces_id": "1709930"},
        actor=staff_user,
    )

    unlinked = services.unlink_district(district=district, actor=staff_user, reason="customer left")

    assert unlinked.organization is None and unlinked.linked_at is None
    assert unlinked.link_method == "" and unlinked.link_evidence == {} and unlinked.linked_by is None
    audit = DistrictAudit.objects.get(district=district, action=DistrictAudit.Action.UNLINKED)
    assert audit.organization_before == springfield and audit.organization_after is None
    assert audit.method == "nces"
    assert audit.details["previous"]["evidence"] == {"nces_id": "1709930"}
    assert audit.details["reason"] == "customer left"
    # Unlinking an unlinked district is a no-op, and it can then be linked elsewhere.
    services.unlink_district(district=district, actor=staff_user)
    assert DistrictAudit.objects.filter(action=DistrictAudit.Action.UNLINKED).count() == 1
    assert (
        services.link_district(
            district=district,
            organization=springfield,
            method=LinkMethod.STAFF,
            evidence={},
            actor=staff_user,
        ).organization
        == springfield
    )


def test_secrets_never_reach_the_evidence_snapshot(district, springfield):
    evidence = {
        "me": {"id": "u1", "district": district.clever_id, "access_token": "abc123"},
        "id_token": "eyJ...",
        "code": "xyz",
        "state_verified": True,
        "logins": [{"user": "u2", "refresh_token": "r"}],
    }

    services.link_district(
        district=district,
        organization=springfield,
        method=LinkMethod.CLEVER_LOGIN,
        evidence=evidence,
        actor_label="sso",
    )

    district.refresh_from_db()
    assert district.link_evidence == {
        "me": {"id": "u1", "district": district.clever_id},
        "state_verified": True,
        "logins": [{"user": "u2"}],
    }
    assert DistrictAudit.objects.get().details["evidence"] == district.link_evidence


def test_an_unknown_method_is_refused(district, springfield):
    with pytest.raises(services.LinkError, match="unknown link method"):
        services.link_district(district=district, organization=springfield, method="guess", evidence={})
    assert District.objects.get(pk=district.pk).organization is None
