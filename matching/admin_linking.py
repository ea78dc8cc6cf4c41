"""District-to-organization linking in the admin (filled in by the linking work)."""
