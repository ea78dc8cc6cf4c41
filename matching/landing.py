"""The linking panels of the landing page (``accounts.landing``): an organization admin's (link
districts; answer what Clever district admins asked) and a Clever district admin's (where their
district's link stands, and the way to ask for one)."""

from __future__ import annotations

from accounts import landing

from .linking import selectors as linking_selectors


@landing.provider
def district_linking(request) -> landing.Panel | None:
    organization = linking_selectors.administered_organization(request.user)
    if organization is None:
        return None
    return landing.Panel(
        "matching/_landing_linking.html",
        {"organization": organization, "to_answer": linking_selectors.requests_to_answer(organization)},
        order=10,
    )


@landing.provider
def district_admin_linking(request) -> landing.Panel | None:
    district_admin = linking_selectors.signed_in_district_admin(request)
    if district_admin is None:
        return None
    district = district_admin.district
    requests = linking_selectors.district_admin_requests(district, limit=1)
    return landing.Panel(
        "matching/_landing_district_admin.html",
        {
            "district": district,
            "pending": next((item for item in requests if item.status == item.Status.PENDING), None),
        },
        order=10,
    )
