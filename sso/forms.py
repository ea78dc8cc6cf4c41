"""Forms of allauth's account pages, narrowed to this product's accounts, and the Clever Library
teacher's "I already have an account"."""

from allauth.account.forms import ResetPasswordForm
from django import forms


class PasswordResetForm(ResetPasswordForm):
    """Password reset for accounts that have a password. An account made from Clever has none
    and never gets one: its email came from the district's SIS, unverified, so a reset link
    sent there would hand the account to whoever controls that address. The page answers the
    same either way (allauth's enumeration prevention)."""

    def clean_email(self) -> str:
        email = super().clean_email()
        self.users = [user for user in self.users if user.has_usable_password()]
        return email


class ExistingAccountForm(forms.Form):
    """ "I already have an account" (a Clever Library teacher, right after the sign-in that made
    them a new account): the existing account's username or email and its password. Checking
    them, and linking, is ``sso.services``'s."""

    login = forms.CharField(
        label="Username or email",
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class RoleForm(forms.Form):
    """The role a multi-role person acts in now: one of the roles of their Clever sign-in."""

    role = forms.ChoiceField(
        error_messages={
            "required": "Choose one of your roles.",
            "invalid_choice": "Choose one of your roles.",
        }
    )

    def __init__(self, *args, roles, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(role, role) for role in roles]
