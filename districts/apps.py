from django.apps import AppConfig


class DistrictsConfig(AppConfig):
    name = "districts"
    verbose_name = "Clever districts"

    def ready(self):
        from .crypto import register_encrypted_column

        # Tokens pasted by support staff (districts.services.set_pasted_token).
        register_encrypted_column(self.get_model("District"), "token_ciphertext")
