"""Writes of the rostering app: the sync engine and what it needs.

- ``sync``: ``run_sync``, ``approve_hold``, ``reject_hold``, ``purge_district_roster`` (the
  entry points other apps, tasks, the admin and ``manage.py clever_sync`` call);
- ``mapping``: a Clever record -> the stored representation, its content hash, model columns;
- ``staging``: writing staged rows and reading the live hashes a page is compared with;
- ``diff``: the set-based diff of staging against the mirror, and the guard;
- ``apply``: the set-based apply of a run's staged rows to the mirror (one transaction);
- ``provisioning``: product accounts for the people of organization-linked districts;
- ``district_settings``: support staff changing a district's sync settings;
- ``sensitive``: stored people mapped again when what is kept of the sensitive and demographic
  fields changes (a district stops storing them; the upgrade that took them out of ``raw``).
"""
