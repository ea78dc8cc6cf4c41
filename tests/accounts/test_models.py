import pytest
from django.db import IntegrityError

from accounts.factories import (
    OrganizationEmailDomainFactory,
    OrganizationFactory,
    SchoolFactory,
    UserFactory,
)
from accounts.models import OrganizationEmailDomain

pytestmark = pytest.mark.django_db


def test_custom_user_model_is_active(django_user_model):
    user = UserFactory()
    assert django_user_model.__name__ == "User"
    assert user.organization is not None
    assert user.check_password("correct horse battery staple")


def test_email_domains_are_stored_lowercase_and_unique():
    domain = OrganizationEmailDomainFactory(domain="  Springfield.K12.IL.US ")
    assert OrganizationEmailDomain.objects.get(pk=domain.pk).domain == "springfield.k12.il.us"
    with pytest.raises(IntegrityError):
        OrganizationEmailDomainFactory(domain="springfield.k12.il.us")


def test_email_domains_are_stored_lowercase_on_every_path_and_looked_up_alike():
    organization = OrganizationFactory()
    OrganizationEmailDomain.objects.bulk_create(
        [
            OrganizationEmailDomain(organization=organization, domain=" Bulk.Example.ORG"),
        ]
    )
    stored = OrganizationEmailDomain.objects.values_list("domain", flat=True)
    assert list(stored) == ["bulk.example.org"]
    assert OrganizationEmailDomain.objects.filter(domain="BULK.example.org ").exists()
    OrganizationEmailDomain.objects.update(domain="Renamed.Example.ORG")
    assert list(stored.all()) == ["renamed.example.org"]


def test_school_nces_id_is_unique_within_an_organization_but_blank_may_repeat():
    organization = OrganizationFactory()
    SchoolFactory(organization=organization, nces_id="")
    SchoolFactory(organization=organization, nces_id="")
    SchoolFactory(organization=organization, nces_id="170993000001")
    SchoolFactory(organization=OrganizationFactory(), nces_id="170993000001")
    with pytest.raises(IntegrityError):
        SchoolFactory(organization=organization, nces_id="170993000001")


def test_organization_factory_makes_district_like_records():
    organization = OrganizationFactory()
    assert organization.name.endswith("School District")
    assert len(organization.nces_leaid) == 7
    assert len(organization.state) == 2
