"""Self-serve district linking for organization admins (mounted at the site root)."""

from django.urls import path

from . import views

urlpatterns = [
    path("organization/districts/", views.linking_page, name="district_linking"),
    path("organization/districts/verify/<str:token>/", views.verification_link, name="district_link_verify"),
    path("organization/districts/<str:clever_id>/", views.choose_district, name="district_link_choose"),
]
