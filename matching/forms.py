"""The forms of the self-serve linking pages: every POST goes through one, and bad input comes
back as a form error on the page."""

from __future__ import annotations

from django import forms

from core.forms import ReasonForm


class DistrictActionForm(forms.Form):
    """An organization admin's way to ask for a district (``matching/choose.html``)."""

    VERIFY = "verify"
    SEND_LINK = "send_link"
    ASK_SUPPORT = "ask_support"

    action = forms.ChoiceField(
        choices=[
            (VERIFY, "Verify with Clever"),
            (SEND_LINK, "Get a verification link"),
            (ASK_SUPPORT, "Ask support to link it"),
        ],
        error_messages={
            "invalid_choice": "Choose one of the buttons below.",
            "required": "Choose one of the buttons below.",
        },
    )


class AnswerRequestForm(ReasonForm):
    """The organization admin's answer to a Clever district admin's request, with a reason."""

    CONFIRM = "confirm"
    DECLINE = "decline"

    answer = forms.ChoiceField(
        choices=[(CONFIRM, "Confirm: link it"), (DECLINE, "Decline")],
        error_messages={"invalid_choice": "Confirm or decline.", "required": "Confirm or decline."},
    )


class DistrictAdminForm(forms.Form):
    """A Clever district admin asks one of the organizations offered to them, or takes their
    pending request back."""

    ASK = "ask"
    WITHDRAW = "withdraw"

    action = forms.ChoiceField(
        choices=[(ASK, "Ask to link"), (WITHDRAW, "Take the request back")],
        error_messages={
            "invalid_choice": "Choose one of the buttons below.",
            "required": "Choose one of the buttons below.",
        },
    )
    organization = forms.TypedChoiceField(
        coerce=int,
        required=False,
        choices=(),
        error_messages={"invalid_choice": "Choose one of the organizations listed."},
    )

    def __init__(self, *args, offers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].choices = [
            (offer.organization.pk, offer.organization.name) for offer in offers
        ]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("action") == self.ASK and not cleaned.get("organization"):
            self.add_error("organization", "Choose one of the organizations listed.")
        return cleaned
