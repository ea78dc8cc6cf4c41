"""LMS Connect: the product's assignments and results, pushing them to the district's LMS
through Clever (v3.1), and reading teacher edits back. Rules: docs/lms.md.

- ``payloads``: what is sent to Clever and read from it (assignment content, grade fields),
  and the conflict rule (``is_lms_edit``); pure functions.
- ``writes``: product writes (assignments, results, approvals), each ``@transaction.atomic``,
  enqueueing a push after the commit when the assignment's sync policy says so.
- ``grades``: the grades a teacher enters for a class, in the form or as a CSV file.
- ``sessions``: the Clever client of a batch, one ``DistrictSession`` per district.
- ``outcomes``: what a push or pull did (``Report``) and how a failure talking to Clever is
  classified, put in plain words and recorded on the assignment.
- ``push``: creating, updating and deleting the assignment in the LMS, and sending its grades.
- ``pull``: reading submissions back and recording teacher edits made in the LMS.
- ``reconcile``: teacher and support decisions: linking a create whose answer was lost,
  confirming it made nothing, sending the product's grade over an LMS edit.
- ``courses``: the LMS courses people open the app from (launches), and which class each is.
"""
