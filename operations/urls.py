from django.urls import path

from . import views

urlpatterns = [
    path("", views.HealthView.as_view(), name="health"),
    path("live/", views.live, name="health-live"),
]
