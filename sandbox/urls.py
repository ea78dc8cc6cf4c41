from django.urls import include, path

app_name = "sandbox"

urlpatterns = [
    path("", include("sandbox.views.control")),
    path("", include("sandbox.views.control_identity")),
    path("", include("sandbox.views.oauth")),
    path("", include("sandbox.views.lms")),
    path("", include("sandbox.views.lms_launch")),
    path("", include("sandbox.views.api")),
]
