"""One holder at a time of a named job (the retention sweep, a stream's delivery) across
instances, on a state store that only offers create-if-absent."""

from __future__ import annotations

import uuid

from auditlog.ports.state import StateStore


class Lease:
    """Each lease is a document named after the one it succeeds, so of the instances that find a
    lease expired, exactly one creates its successor (``create`` is atomic), and the pointer
    (``<name>``, holding ``{"token", "expires"}``) names it."""

    def __init__(self, state: StateStore, seconds: float, collection: str, name: str = "lease") -> None:
        self._state = state
        self._seconds = seconds
        self._collection = collection
        self._name = name
        self.token = uuid.uuid4().hex

    def acquire(self, now: float) -> bool:
        current = self._state.get(self._collection, self._name) or {"token": "none", "expires": 0.0}
        if float(current["expires"]) > now:
            return False
        successor = f"{self._name}-after-{current['token']}"
        if not self._state.create(self._collection, successor, {"token": self.token}):
            return False  # another instance took the succession
        self._state.put(self._collection, self._name, {"token": self.token, "expires": now + self._seconds})
        return True

    def held(self, now: float) -> bool:
        """Still ours and unexpired (checked before a holder commits what it did)."""
        current = self._state.get(self._collection, self._name)
        return current is not None and current.get("token") == self.token and float(current["expires"]) > now

    def release(self) -> None:
        current = self._state.get(self._collection, self._name)
        if current is not None and current.get("token") == self.token:
            self._state.put(self._collection, self._name, {"token": self.token, "expires": 0.0})
        # Its successor's marker: none yet.
        self._state.delete(self._collection, f"{self._name}-after-{self.token}")
