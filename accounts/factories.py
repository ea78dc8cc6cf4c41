"""factory_boy factories for the product-side records (used by tests, benchmarks and demos)."""

import factory
from factory.django import DjangoModelFactory

from .models import Organization, OrganizationEmailDomain, School, User


class OrganizationFactory(DjangoModelFactory):
    class Meta:
        model = Organization

    class Params:
        city = factory.Faker("city", locale="en_US")

    name = factory.LazyAttribute(lambda o: f"{o.city} School District")
    state = factory.Faker("state_abbr", include_territories=False, locale="en_US")
    nces_leaid = factory.Sequence(lambda n: f"{1000000 + n:07d}")
    mdr_number = factory.Sequence(lambda n: f"{2000000 + n}")


class OrganizationEmailDomainFactory(DjangoModelFactory):
    class Meta:
        model = OrganizationEmailDomain

    organization = factory.SubFactory(OrganizationFactory)
    domain = factory.Sequence(lambda n: f"district{n}.k12.example.us")


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    organization = factory.SubFactory(OrganizationFactory)
    password = factory.django.Password("correct horse battery staple")


class SchoolFactory(DjangoModelFactory):
    class Meta:
        model = School

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"School {n} Elementary")
    nces_id = factory.LazyAttributeSequence(lambda s, n: f"{s.organization.nces_leaid}{n:05d}"[:12])
    state_id = factory.Sequence(lambda n: f"ST-{n:05d}")
    school_number = factory.Sequence(lambda n: f"{100 + n}")
