"""The review workflow without a user interface.

``service.reviews.ReviewService`` is what a supervisor does between the
rule engine's flags and the meeting: reviews of flags and clients, action
items, the audit trail, the weekly agenda, and their exports. It takes its
dependencies explicitly (the database path, the ``--clinician`` scope,
``--read-only``; the loaded analyses per call) and returns results: a
refusal or a failure is a ``Notice`` (message and severity), never a
notification; the dashboard (``ui.app``) turns notices into notifications
and changes into screen refreshes. No Textual import.

``service.exports`` names and writes the export files (private, never
overwriting) through ``store.files``.
"""
