from django.apps import AppConfig


class RosteringConfig(AppConfig):
    name = "rostering"
    verbose_name = "Rostering (Clever mirror)"

    def ready(self):
        from districts.crypto import register_encrypted_column

        # Subscribe to what districts announces (core.events): status and settings changes.
        from . import checks  # noqa: F401 - registers the settings checks
        from .services import district_settings, lifecycle  # noqa: F401

        # People's sensitive fields and date of birth (rostering.services.mapping): rotated with
        # the other ciphertexts by ``manage.py rotate_encryption_keys``.
        register_encrypted_column(self.get_model("Person"), "sensitive_ciphertext")
