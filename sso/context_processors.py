"""What every page's header shows about the person signed in (District SSO asks for a sign-in
indicator and a Log Out button on every signed-in page)."""

from __future__ import annotations

from . import selectors


def signed_in(request) -> dict:
    """``signed_in``: the person's name (never a username like ``clever-…``) and the role they
    act in; nothing for an anonymous visitor."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    name = selectors.display_name(request) or "your account"
    return {"signed_in": {"name": name, "role": selectors.role_label(selectors.active_role(request))}}
