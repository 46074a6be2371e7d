"""Reviews and action items as they stood on a day: ``--as-of`` is "what we
knew then" (issue 10), so a review made after the day is not shown as made.

``ReviewsAsOf(source, day)`` is a read-only ``ReviewStore`` whose reads
answer as of the end of ``day`` (UTC dates of the stored timestamps):

* a review whose current record was set on or before ``day`` is shown as
  it is; one set later is replaced by its state at the end of ``day``,
  rebuilt from its audit history (the latest entry on or before ``day``),
  or is "new" (no review) when it had none then;
* an action item created after ``day`` is left out; one done after
  ``day`` is shown open. (Its text and due date are the current ones: the
  audit keeps their history, but what an item said is not a clinical
  signal.)

A past ``day`` (before today's date, as the store's clock says) is read
only: writes raise ``ReadOnlyError`` before touching any file — the past
cannot be reviewed, and a review made now would not belong to that day.
``--as-of`` today is the present: reviews can be written (``past`` is
False). The audit trail itself is unchanged (it is the record of who did
what when).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from supervision_tui.store.reviews import ActionItem, Review, ReviewStore, parse_key

ACTION_PREFIX = "action:"


class ReviewsAsOf(ReviewStore):
    def __init__(self, source: Any, day: date, **kw: Any) -> None:
        super().__init__(source, **kw)
        self.day = day
        self.past = day.isoformat() < self._clock()[:10]
        if self.past:
            self.read_only = True
        self._cut = day.isoformat()
        self._then: dict[str, Review | None] | None = None  # key -> review at the end of the day
        self._then_token: Any = object()

    def __repr__(self) -> str:
        return f"ReviewsAsOf({str(self.path)!r}, {self._cut})"

    def _on_or_before(self, at: str | None) -> bool:
        return bool(at) and at[:10] <= self._cut

    def _past_reviews(self) -> dict[str, Review | None]:
        """Reviews changed after the day: their state at its end (None: none then)."""
        token = self.snapshot_token
        if self._then is not None and self._then_token == token:
            return self._then
        later = {k for k, r in super().reviews().items() if not self._on_or_before(r.at)}
        then: dict[str, Review | None] = {k: None for k in later}
        if later:
            for e in self._audit_entries():  # oldest first: the last one on or before the day wins
                if e.target not in later or not self._on_or_before(e.at):
                    continue
                if e.after is None:
                    then[e.target] = None
                    continue
                client, kind, _s, _i = parse_key(e.target)
                a = e.after
                then[e.target] = Review(e.target, client, kind, a.get("status", "new"), a.get("note"), e.user, e.at,
                                        a.get("flag_status"), a.get("flag_session"))
        self._then, self._then_token = then, token
        return then

    def get(self, key: str) -> Review | None:
        past = self._past_reviews()
        if key in past:
            return past[key]
        return super().get(key)

    def reviews(self) -> dict[str, Review]:
        out = super().reviews()
        for key, r in self._past_reviews().items():
            if r is None:
                out.pop(key, None)
            else:
                out[key] = r
        return out

    def actions(self, *, client: str | None = None, owner: str | None = None,
                open_only: bool = False, clients=None) -> list[ActionItem]:
        out = []
        for item in super().actions(client=client, owner=owner, clients=clients):
            if not self._on_or_before(item.created_at):
                continue  # not created yet
            if item.done and not self._on_or_before(item.done_at):
                item = replace(item, done=False, done_by=None, done_at=None)  # still open then
            if open_only and item.done:
                continue
            out.append(item)
        return out
