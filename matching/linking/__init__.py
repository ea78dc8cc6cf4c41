"""District-to-organization linking (issues #5 and #16, part 1); docs/matching.md, "District linking".

- ``selectors``: reads: who administers what, unlinked districts, a pair's evidence and request,
  whom a request waits for, what a Clever district admin may ask; the request's origins and steps.
- ``evidence``: what the refresh reads for the engine (staff email domains, Clever logins, states,
  people who signed in) and the evidence chips it stores.
- ``refresh``: ``refresh_district_candidates``: the engine's ranking stored in ``DistrictCandidate``,
  strong evidence queued for support (nothing links on its own).
- ``services``: writes: asking support, verification links, the verified "Log in with Clever"
  round trip, a Clever district admin's ask and the organization's answer, support's decisions.
- ``presentation``: what the pages show: the unmatched list (paginator adapters), facts side by
  side, where a request stands and how it ended, a linked district's sync, in words.
- ``search``: the name search over unlinked districts (abbreviations, kind words, typos).
"""
