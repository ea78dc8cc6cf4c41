"""The support console: the Django admin's site, whose index is a dashboard of what needs
attention. It sits above every app (it reads districts, rostering, matching and LMS through
their models and selectors) and nothing imports it."""
