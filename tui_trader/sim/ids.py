"""Identifiers the emulator hands out: event ULIDs, legacy integer ids, seeded UUIDs.

Event ids are monotonic ULIDs by default, as a well-behaved server would send. The
``invert_next`` counter makes the next id in the same millisecond sort *lower* than the one
before it, which is what real ULIDs with a random tail can do (API.md §2.5), so that a
client's resume logic can be tested against it.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime

from ulid import ULID

_RANDOM_BITS = 80
_RANDOM_MASK = (1 << _RANDOM_BITS) - 1


class UlidFactory:
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._last_ms = -1
        self._last_rand = 0
        self.invert_next = 0  # how many coming same-millisecond ids to invert

    def new(self, at: datetime) -> str:
        ms = int(at.timestamp() * 1000)
        if ms < self._last_ms:
            ms = self._last_ms  # never go back in time, even if a caller's clock does
        if ms == self._last_ms:
            if self.invert_next > 0 and self._last_rand > 1:
                self.invert_next -= 1
                rand = self._rng.randrange(0, self._last_rand)
                # keep later ids above the highest one already issued in this millisecond
                return str(ULID.from_int((ms << _RANDOM_BITS) | rand))
            rand = (self._last_rand + 1) & _RANDOM_MASK
        else:
            rand = self._rng.getrandbits(_RANDOM_BITS - 1)  # headroom for increments
        self._last_ms, self._last_rand = ms, rand
        return str(ULID.from_int((ms << _RANDOM_BITS) | rand))


def seeded_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def normalise_uuid(text: str) -> str | None:
    """Accept a UUID with or without hyphens (APCA sends 32 hex digits); None if not one."""
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        return None
