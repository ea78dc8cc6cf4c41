"""Clever API client: OAuth, district tokens, Data API v3.0/v3.1, Events and LMS Connect."""
