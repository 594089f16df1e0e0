"""Negation and hypotheticals, NegEx-style: trigger words before or after a hit within the
codebook's window, stopped by terminators and sentence ends."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .records import Hit, MatchedSpan

_NEGATION_LISTS = ("before", "after", "hypothetical_before", "hypothetical_after", "terminators", "ignore")


class _Context:
    """Per-Doc state used to judge negation and to build matched spans; ``offset``: the Doc's
    position in ``text``, ``sentence_of`` and ``words`` (running word count) indexed by token."""

    def __init__(self, offset: int, text: str, sentence_of: list[int], words: list[int]) -> None:
        self.offset = offset
        self.text = text
        self.sentence_of = sentence_of
        self.words = words
        self.window = 0
        self.triggers: dict[str, list[Hit]] = {}

    def load_triggers(self, keyed: Mapping[str, list[Hit]], window: int) -> None:
        """Trigger hits of one unit, and the negation window of its language: longest match wins,
        and ``ignore`` phrases switch triggers off."""
        self.window = window
        ignored = keyed.get("negation:ignore", [])
        self.triggers = {}
        for name in _NEGATION_LISTS:
            hits = keyed.get(f"negation:{name}", [])
            self.triggers[name] = [
                h
                for h in hits
                if not any(_inside(h, i) for i in ignored)
                and not any(_inside(h, o) and (o.start, o.end) != (h.start, h.end) for o in hits)
            ]

    def gap(self, first: Hit, last: Hit) -> int:
        """Words strictly between the end of ``first`` and the start of ``last``."""
        return max(0, self.words[last.start] - self.words[first.end]) if last.start >= first.end else 0

    def text_of(self, hit: Hit) -> str:
        start = self.offset + hit.start_char
        return self.text[start : self.offset + hit.end_char]

    def matched_span(self, hit: Hit) -> MatchedSpan:
        start, end = self.offset + hit.start_char, self.offset + hit.end_char
        return MatchedSpan(start, end, self.text[start:end], hit.term)

    def flags(
        self, combo: Sequence[Hit], negation: bool = True, hypothetical: bool = True
    ) -> tuple[bool, bool, str | None]:
        neg_cue = self._cue(combo, "before", "after") if negation else None
        hyp_cue = self._cue(combo, "hypothetical_before", "hypothetical_after") if hypothetical else None
        return neg_cue is not None, hyp_cue is not None, neg_cue or hyp_cue

    def _cue(self, combo: Sequence[Hit], before: str, after: str) -> str | None:
        """The nearest trigger in scope of the hit, or None.

        A trigger that lies inside the hit's own words (the rule asked for it, as in "without a
        lease") means the hit is not negated. Otherwise a ``before`` trigger must start at or
        before the hit and an ``after`` trigger end at or after it, within the window, in the
        same sentence, with no terminator in between.
        """
        before_hits, after_hits = self.triggers.get(before, []), self.triggers.get(after, [])
        if not before_hits and not after_hits:
            return None  # most units: no trigger of this kind at all
        if any(_inside(t, h) for t in (*before_hits, *after_hits) for h in combo):
            return None
        first, last = combo[0], combo[-1]
        terminators = self.triggers.get("terminators", [])
        found: list[tuple[int, Hit]] = []
        for trigger in before_hits:
            if trigger.start > first.start or self.sentence_of[trigger.start] != self.sentence_of[first.start]:
                continue
            gap_end = min(trigger.end, first.start)
            if any(gap_end <= t.start and t.end <= first.start for t in terminators):
                continue
            found.append((self.words[first.start] - self.words[gap_end], trigger))
        for trigger in after_hits:
            if trigger.end < last.end or self.sentence_of[trigger.end - 1] != self.sentence_of[last.end - 1]:
                continue
            gap_start = max(trigger.start, last.end)
            if any(last.end <= t.start and t.end <= gap_start for t in terminators):
                continue
            found.append((self.words[gap_start] - self.words[last.end], trigger))
        in_window = [(distance, t) for distance, t in found if distance <= self.window]
        return self.text_of(min(in_window, key=lambda f: f[0])[1]) if in_window else None


def _inside(inner: Hit, outer: Hit) -> bool:
    return outer.start <= inner.start and inner.end <= outer.end
