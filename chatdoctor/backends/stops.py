"""Stop strings on streamed text: emit everything before the first stop, hold back a possible prefix."""

from __future__ import annotations


class StopMatcher:
    """Feed streamed text; get back what is safe to show and whether a stop string was reached."""

    def __init__(self, stops: list[str] | tuple[str, ...]) -> None:
        self.stops = [s for s in dict.fromkeys(stops) if s]
        self._held = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        """Text that can be emitted now; after a stop string everything is swallowed."""
        if self.stopped:
            return ""
        buf = self._held + text
        hits = [i for i in (buf.find(s) for s in self.stops) if i >= 0]
        if hits:
            self.stopped = True
            self._held = ""
            return buf[: min(hits)]
        keep = self._partial(buf)
        self._held = buf[len(buf) - keep :] if keep else ""
        return buf[: len(buf) - keep]

    def flush(self) -> str:
        """The held-back tail once the stream has ended without a stop."""
        held, self._held = self._held, ""
        return "" if self.stopped else held

    def _partial(self, buf: str) -> int:
        """Length of the longest suffix of ``buf`` that begins some stop string."""
        best = 0
        for s in self.stops:
            for n in range(min(len(s) - 1, len(buf)), best, -1):
                if buf.endswith(s[:n]):
                    best = n
                    break
        return best
