"""Forms more than one app asks with."""

from __future__ import annotations

from django import forms


class ReasonForm(forms.Form):
    """Why a person takes a decision that others will ask about (disconnecting a district,
    approving a hold, replacing a grade): required, recorded with their name."""

    reason = forms.CharField(
        label="Reason (for the audit log)",
        min_length=3,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Who asked, or why: it is recorded with your name.",
    )
