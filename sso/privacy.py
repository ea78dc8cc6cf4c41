"""What sso erases when a district's roster is purged (docs/data-lifecycle.md)."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.db.models import Q

from core import events
from core.redaction import redact_json_column
from rostering.events import RosterPurging
from rostering.models import Person
from rostering.services.provisioning import accounts_made_for_people

from .identity import PROVIDER, CleverIdentity
from .models import AccountLink, CleverLogin


def _identity_only(extra_data: dict | None) -> dict:
    return CleverIdentity.from_extra_data(extra_data or {}).without_personal_data().extra_data()


@events.subscribe(RosterPurging, atomic=True)
def erase_sign_in_data(event: RosterPurging) -> dict:
    """The Clever links of the district's people keep IDs and roles only (the link itself stays,
    so a returning person signs into the same account); allauth's email rows of the accounts
    made for them go; the district's login records go (their count stays in the purge audit);
    the account-link audit keeps IDs and decisions."""
    people = Person.objects.filter(district_id=event.district_id)
    links = SocialAccount.objects.filter(provider=PROVIDER).filter(
        Q(uid__in=people.values("clever_id")) | Q(extra_data__district=event.clever_district_id)
    )
    logins = CleverLogin.objects.filter(
        Q(district_id=event.district_id) | Q(clever_district_id=event.clever_district_id)
    )
    return {
        "clever_links_scrubbed": redact_json_column(links, "extra_data", transform=_identity_only),
        "email_addresses": EmailAddress.objects.filter(
            user__in=accounts_made_for_people(event.district_id)
        ).delete()[0],
        "login_records": logins.delete()[0],
        "account_link_audits_redacted": redact_json_column(
            AccountLink.objects.filter(clever_district_id=event.clever_district_id), "details"
        ),
    }
