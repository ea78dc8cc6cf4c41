"""The linking panel of an organization admin's landing page (``accounts.landing``)."""

from __future__ import annotations

from accounts import landing


@landing.provider
def district_linking(request) -> landing.Panel | None:
    user = request.user
    if not (user.is_organization_admin and user.organization_id):
        return None
    return landing.Panel("matching/_landing_linking.html", order=10)
