"""Memory of the long-running servers (`assistant ui`, `serve`, `mcp`).

glibc gives each thread that allocates its own malloc arena, up to eight per core. A server
answers on a pool of worker threads, so over hours more and more arenas hold freed memory they
never hand back, and the resident size creeps up with no Python object kept alive: in the soak
(eval/soak.py, issue 33) the Python heap grew 3.5 MB over 250 questions while RSS grew 39 MB.
Two arenas cut that growth to 17.5 MB (eval/EXPERIMENTS.md). Set before the server's threads
start; the environment's MALLOC_ARENA_MAX, when set, wins.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # mallopt's parameter number (malloc.h)
ARENAS = 2


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas for this process; False where there is no glibc (or the
    environment already says how many)."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to cap
        log.debug("no mallopt in %s", name)
        return False
