"""Clever's buttons (templates/sso/_clever_button.html): "Log in with Clever" wherever Clever
sign-in is offered, "Sign up with Clever" (Clever Library) where a teacher looks for signing up.
Each is a POST form, with this site's CSRF token, to the Clever login start; nothing on these pages
comes from another host."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from allauth.socialaccount.models import SocialAccount
from django.test import Client
from django.urls import reverse

from sso.models import CleverLogin, LoginOutcome
from tests.sso.conftest import path_of, query_of, to_clever_authorize

CLEVER_LOGIN = "/accounts/clever/login/"
LOG_IN = "Log in with Clever"
SIGN_UP = "Sign up with Clever"
HOME, LOGIN_PAGE, SIGNUP_PAGE = "/", "/accounts/login/", "/accounts/signup/"


class PageParts(HTMLParser):
    """The forms of a page (method, action, hidden inputs, buttons with their ids and text) and
    every URL an element of the page loads or links to."""

    URL_ATTRIBUTES = ("src", "href", "action", "srcset", "formaction", "poster", "data")

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self.urls: list[str] = []
        self._form: dict | None = None
        self._button: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.urls += [attrs[name] or "" for name in self.URL_ATTRIBUTES if name in attrs]
        if tag == "form":
            self._form = {
                "method": (attrs.get("method") or "get").lower(),
                "action": attrs.get("action"),
                "inputs": {},
                "buttons": [],
            }
            self.forms.append(self._form)
        elif tag == "input" and self._form is not None:
            self._form["inputs"][attrs.get("name")] = attrs.get("value")
        elif tag == "button" and self._form is not None:
            self._button = {
                "id": attrs.get("id"),
                "type": attrs.get("type"),
                "class": attrs.get("class") or "",
                "text": "",
            }
            self._form["buttons"].append(self._button)

    def handle_endtag(self, tag):
        if tag == "button":
            self._button = None
        elif tag == "form":
            self._form = None

    def handle_data(self, data):
        if self._button is not None:
            self._button["text"] += data

    def clever_buttons(self) -> dict[str, tuple[dict, dict]]:
        """{button text: (form, button)} for the Clever buttons of the page."""
        found = {}
        for form in self.forms:
            for button in form["buttons"]:
                if "clever-button" in button["class"].split():
                    text = " ".join(button["text"].split())
                    assert text not in found, f"two {text!r} buttons on one page"
                    found[text] = (form, button)
        return found


def parts_of(response) -> PageParts:
    assert response.status_code == 200
    parts = PageParts()
    parts.feed(response.content.decode())
    return parts


@pytest.mark.parametrize(
    ("url", "offered"),
    [
        (HOME, {LOG_IN: "log-in-with-clever", SIGN_UP: "sign-up-with-clever"}),
        (LOGIN_PAGE, {LOG_IN: "log-in-with-clever"}),
        (SIGNUP_PAGE, {LOG_IN: "log-in-with-clever", SIGN_UP: "sign-up-with-clever"}),
    ],
)
def test_each_page_offers_its_clever_buttons_as_post_forms_to_the_clever_login(db, client, url, offered):
    assert reverse("clever_login") == CLEVER_LOGIN
    parts = parts_of(client.get(url))

    buttons = parts.clever_buttons()

    assert set(buttons) == set(offered)
    for text, (form, button) in buttons.items():
        assert (form["method"], form["action"]) == ("post", CLEVER_LOGIN), text
        assert form["inputs"].get("csrfmiddlewaretoken"), text
        assert (button["type"], button["id"]) == ("submit", offered[text])
        # The button is the form's only control: a bare start, no next, no district, no extra parameter.
        assert set(form["inputs"]) == {"csrfmiddlewaretoken"}
        assert form["buttons"] == [button]


@pytest.mark.parametrize("url", [HOME, LOGIN_PAGE, SIGNUP_PAGE])
def test_nothing_on_these_pages_comes_from_or_links_to_another_host(db, client, url):
    parts = parts_of(client.get(url))
    page = client.get(url).content.decode()

    assert parts.urls, "the page names no URL at all?"
    for value in parts.urls:
        assert not value.lower().startswith(("http:", "https:", "//")), value
    # No image (Clever's or anyone's) and no stylesheet or script from elsewhere in the buttons.
    assert "<img" not in page and "@import" not in page and "url(" not in page


def test_the_signed_in_home_page_offers_no_clever_button(world, browser, portal_launch):
    portal_launch(browser, world.teacher["id"])
    parts = parts_of(browser.client.get(HOME))
    assert parts.clever_buttons() == {}


@pytest.mark.parametrize(
    ("url", "text"),
    [
        (HOME, LOG_IN),
        (HOME, SIGN_UP),
        (LOGIN_PAGE, LOG_IN),
        (SIGNUP_PAGE, LOG_IN),
        (SIGNUP_PAGE, SIGN_UP),
    ],
)
def test_every_button_starts_the_clever_login_with_this_sites_csrf_token(world, url, text):
    browser = Client(enforce_csrf_checks=True)
    form, _button = parts_of(browser.get(url)).clever_buttons()[text]

    response = browser.post(form["action"], form["inputs"])

    assert response.status_code == 302
    authorize = response["Location"]
    assert path_of(authorize) == "/sandbox/oauth/authorize"
    params = query_of(authorize)
    assert params["client_id"] == ["sandbox-client-id"] and len(params["state"][0]) >= 16
    assert "district_id" not in params
    # Without the token the form is refused: another site cannot press the button for someone.
    assert browser.post(form["action"], {}).status_code == 403


def test_a_library_teacher_signs_up_with_clever_from_the_sign_up_page(library, browser):
    form, _button = parts_of(browser.client.get(SIGNUP_PAGE)).clever_buttons()[SIGN_UP]

    browser.go(form["action"], method="post", data=form["inputs"], stop=to_clever_authorize)
    assert to_clever_authorize(browser.url), browser.hops
    browser.go(browser.url)
    response = browser.sign_in_at_clever(browser.url, library.teacher["id"])

    assert response.status_code == 200
    account = SocialAccount.objects.get(provider="clever", uid=library.teacher["id"])
    assert str(account.user.pk) == browser.user_id()
    login = CleverLogin.objects.get()
    assert (login.authorized_by, login.outcome) == ("teacher", LoginOutcome.LOGGED_IN)
    assert "Clever Library" in response.content.decode()
