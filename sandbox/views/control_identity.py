"""The control page's identity-token card: whether the app is configured for OIDC, the signing
keys the JWKS publishes (rotate, with or without retiring the old ones), and a defect to give
every identity token minted (``KNOBS.identity_token_fault``), to show how the app refuses one.

Like the rest of the control page: views validate the POSTed form (400 on bad input), call one
function of ``sandbox.services`` or ``KNOBS``, and redirect back to the card.
"""

from django import forms
from django.contrib import messages
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from .. import services
from ..knobs import KNOBS
from ..models import SandboxApplication

IDENTITY_TOKEN_FAULTS = [
    ("", "none: sound identity tokens"),
    ("bad_signature", "bad signature (signature bytes altered)"),
    ("wrong_audience", "wrong audience (another app's client ID)"),
    ("expired", "expired (an hour ago)"),
    ("wrong_subject", "wrong subject (another person's ID in sub)"),
    ("unpublished_key", "unpublished key (signed by a key the JWKS does not publish)"),
    ("wrong_issuer", "wrong issuer (not https://clever.com)"),
]
FAULT_WORDS = dict(IDENTITY_TOKEN_FAULTS)
# The extra tag of this card's messages: the control page shows them in the card.
MESSAGES = "identity"


class IdentityFaultForm(forms.Form):
    fault = forms.ChoiceField(label="Defect", choices=IDENTITY_TOKEN_FAULTS, required=False)


class OidcForm(forms.Form):
    oidc = forms.ChoiceField(choices=[("on", "on"), ("off", "off")])


def card(app: SandboxApplication) -> dict:
    """The card's part of the control page's context."""
    return {
        "oidc_on": app.oidc,
        "signing_keys": services.published_signing_keys(),
        "identity_fault": FAULT_WORDS[KNOBS.identity_token_fault],
        "identity_fault_form": IdentityFaultForm(initial={"fault": KNOBS.identity_token_fault}),
    }


def _back():
    return redirect(reverse("sandbox:home") + "#identity")


@require_POST
def set_oidc(request):
    form = OidcForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text())
    app = services.set_application_oidc(enabled=form.cleaned_data["oidc"] == "on")
    if app.oidc:
        text = "The app is configured for OIDC: code exchanges answer an identity token."
    else:
        text = "The app is not configured for OIDC: code exchanges answer no identity token."
    messages.success(request, text, extra_tags=MESSAGES)
    return _back()


@require_POST
def rotate_key(request):
    retire = request.POST.get("retire") == "1"
    key = services.rotate_signing_key(retire_previous=retire)
    kept = (
        "the previous keys are retired (gone from the JWKS)" if retire else "the previous keys stay published"
    )
    messages.success(request, f"New signing key {key.kid}; {kept}.", extra_tags=MESSAGES)
    return _back()


@require_POST
def set_fault(request):
    form = IdentityFaultForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text())
    KNOBS.set_identity_token_fault(form.cleaned_data["fault"])
    messages.success(
        request, f"Identity tokens: {FAULT_WORDS[KNOBS.identity_token_fault]}.", extra_tags=MESSAGES
    )
    return _back()


urlpatterns = [
    path("control/identity/oidc/", set_oidc, name="control-oidc"),
    path("control/identity/rotate-key/", rotate_key, name="control-rotate-key"),
    path("control/identity/fault/", set_fault, name="control-identity-fault"),
]
