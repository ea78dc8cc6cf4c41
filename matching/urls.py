"""Self-serve district linking, for organization admins and for Clever district admins (mounted
at the site root)."""

from django.urls import path

from . import views

urlpatterns = [
    path("organization/districts/", views.linking_page, name="district_linking"),
    path("organization/districts/verify/<str:token>/", views.verification_link, name="district_link_verify"),
    path("organization/districts/requests/<int:pk>/", views.answer_request, name="district_link_answer"),
    path("organization/districts/<str:clever_id>/", views.choose_district, name="district_link_choose"),
    path("district/link/", views.district_admin_linking, name="district_admin_linking"),
]
