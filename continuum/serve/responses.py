"""JSON responses encoded by msgspec: strict JSON, several times faster than ``json``.

A point's history over 10,000 frames is 20,000 numbers: ``json.dumps`` takes ~23 ms for
it, msgspec under 1 ms. msgspec writes NaN and the infinities as ``null`` (never the
non-JSON tokens ``NaN``/``Infinity``), which is what every endpoint promises.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.responses import Response

_encoder = msgspec.json.Encoder()


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _encoder.encode(content)
