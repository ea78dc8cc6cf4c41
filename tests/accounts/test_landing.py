"""The landing page's panels come from the apps that know what a person can do next."""

from __future__ import annotations

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory
from django.urls import reverse

from accounts import landing
from accounts.factories import UserFactory


def landing_request(username: str):
    request = RequestFactory().get("/account/")
    request.user = UserFactory(username=username)
    request.session = SessionStore()
    return request


def test_providers_give_panels_in_order_and_nothing_says_what_comes_next(db, client):
    request = landing_request("nobody")
    assert all(panel.template for panel in landing.panels(request))

    client.force_login(request.user)
    page = client.get(reverse("sso_account")).content.decode()
    assert 'id="landing-nothing-yet"' in page


@pytest.fixture
def extra_provider():
    def first(request):
        return landing.Panel("matching/_landing_linking.html", order=-1)

    landing.provider(first)
    landing.provider(first)  # once only
    yield first
    landing._providers.remove(first)


def test_a_provider_is_registered_once_and_panels_sort_by_order(db, extra_provider):
    request = landing_request("someone")
    assert landing._providers.count(extra_provider) == 1
    assert landing.panels(request)[0].order == -1
