"""Settings for the test run (pytest's ``DJANGO_SETTINGS_MODULE``): the project's settings, plus
only what makes tests faster without changing what they test.

Everything else (the database, Redis, the sandbox) still comes from the environment exactly as
in ``config.settings``, so CI's PostgreSQL and Redis runs use this module too.
"""

from .settings import *  # noqa: F403

# Test users are created by the thousand (UserFactory hashes a password each time): MD5 instead
# of PBKDF2's 1,000,000 iterations. Never for real passwords.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
