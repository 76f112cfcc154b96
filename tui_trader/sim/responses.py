"""The emulator's JSON response, shared by its trading, broker and market-data routes.

Compact (no spaces), as Alpaca sends it. It lives apart from the server so that the route
modules the server mounts (``marketdata``) can use it without importing the server.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode()
