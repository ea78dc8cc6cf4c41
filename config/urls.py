from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("admin/", admin.site.urls),
]

if settings.CLEVER_SANDBOX:
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
