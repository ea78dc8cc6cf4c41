from django.apps import AppConfig, apps

# Keys of allauth's ``Authenticator.data`` that hold ciphertexts: the authenticator app's secret
# and the recovery codes' seed (encrypted with the field keys by ``sso.adapter.MFAAdapter``).
AUTHENTICATOR_SECRET_KEYS = ("secret", "seed")


class SsoConfig(AppConfig):
    name = "sso"
    verbose_name = "Clever single sign-on"

    def ready(self):
        from districts.crypto import register_encrypted_column

        from . import (
            checks,  # noqa: F401 - registers the deploy checks
            privacy,  # noqa: F401 - subscribes to the roster purge (core.events)
        )

        # sso's MFA adapter encrypts the second-factor secrets: key rotation must re-encrypt them.
        if apps.is_installed("allauth.mfa"):
            register_encrypted_column(
                apps.get_model("mfa", "Authenticator"), "data", json_keys=AUTHENTICATOR_SECRET_KEYS
            )
