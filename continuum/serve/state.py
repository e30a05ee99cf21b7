"""What one inspector holds between requests: its settings, the catalog, open stores, caches.

:class:`ServeConfig` is parsed once (by ``continuum serve`` or a test) and never
re-validated; :class:`Inspector` is built from it by :func:`continuum.serve.create_app`
and reached by handlers as ``request.app.state.inspector``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from continuum.catalog import Catalog
from continuum.serve.frames import LRU, FrameCache, SampleMaps
from continuum.serve.security import new_token
from continuum.serve.stores import Stores

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


@dataclass(frozen=True)
class ServeConfig:
    """``catalog_url``: as ``--catalog`` (None: the default catalog); ``export_roots``: more
    directories SQL may read beside the default export root (as ``lens sql --export-dir``);
    ``sql_timeout``: seconds per statement; ``live_interval``: seconds between live events."""

    catalog_url: str | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str = field(default_factory=new_token, repr=False)
    export_roots: tuple[Path, ...] = ()
    sql_timeout: float = 30.0
    live_interval: float = 1.0
    control_timeout: float = 5.0


class Inspector:
    """The shared parts: one :class:`Catalog` (thread-safe), lens stores, frame caches."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.catalog = Catalog(config.catalog_url)
        self.stores = Stores(self.catalog)
        self.maps = SampleMaps()
        self.frames = FrameCache()
        #: (run_id, signal, store generation) -> (ticks, values, units): a few KB a run
        self.signals: LRU[tuple[str, str, int], tuple[Any, Any, str | None]] = LRU(1024)
        #: set when the server begins to shut down: open event streams end at once, so the
        #: graceful shutdown is not cut short with a cancelled task's traceback
        self.stopping = threading.Event()

    def close(self) -> None:
        self.stores.close()
        self.catalog.close()
