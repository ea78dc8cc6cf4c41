"""Permissions by the active Clever role (the role the person chose for this session).

A teacher who is also a district admin has one account and both roles; what a request may do
follows the role they act in now, kept in the session (``selectors.active_role``)::

    @role_required("district_admin")
    def linking_page(request): ...
"""

from __future__ import annotations

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode

from . import selectors


def password_accounts_only(view):
    """allauth's password and email pages, for accounts that have a password. An account that
    signs in through Clever gets a page saying so (403): it sets no password (one would outlive
    the district's connection) and its email is the district's to change."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.user.is_authenticated and not request.user.has_usable_password():
            return render(request, "sso/clever_account_page.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def has_role(request, *roles: str) -> bool:
    """Whether the signed-in person acts in one of ``roles`` right now."""
    return bool(request.user.is_authenticated and selectors.active_role(request) in roles)


def role_required(*roles: str):
    """Only people acting in one of ``roles``: anonymous people go home, people with several
    roles and none chosen go to the role chooser, others get 403."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect("/")
            if selectors.active_role(request) is None and len(selectors.session_roles(request)) > 1:
                chooser = reverse("sso_choose_role")
                return redirect(f"{chooser}?{urlencode({'next': request.get_full_path()})}")
            if not has_role(request, *roles):
                raise PermissionDenied("this page is not for the role you are using")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
