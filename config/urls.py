from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from accounts.views import home

# The admin signs in through allauth's page (rate limits, second factor), never its own form.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("", home, name="home"),
    path("admin/", admin.site.urls),
    path("", include("sso.urls")),
    path("", include("matching.urls")),
    path("", include("lms.urls")),
    # /health/ (every check) and /health/live/ (the process answers): operations/views.py.
    path("health/", include("operations.urls")),
]

if settings.CLEVER_SANDBOX:
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
