"""The wire format: one connection carries one request line and one reply line, both JSON.

Request: ``{"command": "status"|"checkpoint"|"flush"|"stop"}`` and a newline, at most
:data:`MAX_REQUEST` bytes. Reply: one JSON object and a newline; it always carries
``"ok"``, and ``"error"`` (one line) when ``ok`` is false. A line protocol over a Unix
stream socket needs no framing library, reads with ``nc -U`` or ``socat`` when a person
has to look, and cannot smuggle anything but data: JSON only, never pickle.
"""

from __future__ import annotations

import json
import math
from typing import Any

from continuum.errors import ControlError

#: The commands a live run answers. ``status`` is answered by the server thread; the others
#: are taken by the tick loop between two ticks.
COMMANDS = ("status", "checkpoint", "flush", "stop")
#: Commands the tick loop executes (queued; ``status`` never waits for the loop).
LOOP_COMMANDS = ("checkpoint", "flush", "stop")
#: The largest request line (bytes, newline included) and reply line a peer reads.
MAX_REQUEST = 4096
MAX_REPLY = 64 * 1024


def encode(doc: dict[str, Any]) -> bytes:
    """One strict JSON line: NaN and the infinities as null (never the non-JSON tokens),
    anything JSON has no type for as its text."""
    text = json.dumps(_finite(doc), allow_nan=False, separators=(",", ":"), default=str)
    return text.encode() + b"\n"


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def request_line(command: str) -> bytes:
    """The line that asks ``command``; ``ControlError`` for a command no run answers."""
    if command not in COMMANDS:
        raise ControlError(f"unknown control command {command!r}; one of {', '.join(COMMANDS)}")
    return encode({"command": command})


def parse_request(line: bytes) -> str:
    """The command of a request line; ``ControlError`` (one line, sent back) otherwise."""
    try:
        doc = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ControlError(
            'the request is not one JSON line; send {"command": "status"} and a newline'
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("command"), str):
        raise ControlError('the request must be a JSON object like {"command": "status"}')
    command = doc["command"]
    if command not in COMMANDS:
        raise ControlError(
            f"unknown command {command[:40]!r}; a live run answers {', '.join(COMMANDS)}"
        )
    return command


def parse_reply(line: bytes) -> dict[str, Any]:
    """A reply line as a dict holding ``ok``; ``ControlError`` for anything else."""
    try:
        doc = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ControlError("the run's reply is not JSON (is it a Continuum run?)") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("ok"), bool):
        raise ControlError("the run's reply carries no 'ok' (is it a Continuum run?)")
    if not doc["ok"] and not isinstance(doc.get("error"), str):
        doc["error"] = "the run refused the command without saying why"
    return doc


def error_reply(message: object) -> dict[str, Any]:
    """``{"ok": false, "error": "..."}`` with the message's first line."""
    text = str(message).strip().splitlines()
    return {"ok": False, "error": text[0] if text else "error"}
