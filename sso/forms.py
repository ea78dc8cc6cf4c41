"""Forms of allauth's account pages, narrowed to this product's accounts."""

from allauth.account.forms import ResetPasswordForm


class PasswordResetForm(ResetPasswordForm):
    """Password reset for accounts that have a password. An account made from Clever has none
    and never gets one: its email came from the district's SIS, unverified, so a reset link
    sent there would hand the account to whoever controls that address. The page answers the
    same either way (allauth's enumeration prevention)."""

    def clean_email(self) -> str:
        email = super().clean_email()
        self.users = [user for user in self.users if user.has_usable_password()]
        return email
