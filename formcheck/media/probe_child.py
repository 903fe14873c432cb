"""`python -m formcheck.media.probe_child PATH MAX_SIDE_PX STOP_AFTER_PACKETS MEM_LIMIT_BYTES`: probe one video
in a process of its own under an address-space limit, and print one JSON line (video.probe_isolated reads it).

The limit is set before PyAV is imported, so a decoder that tries to allocate a huge picture fails here
(MemoryError or a decoder error) instead of growing the web server.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import resource
import sys
from typing import Any

MALLOC_ARENAS = 2  # glibc reserves 64 MB of address space per malloc arena (one per thread): keep the limit
M_ARENA_MAX = -8  # mallopt parameter (malloc.h)


def _lean_process() -> None:
    """Before numpy and PyAV load: one BLAS thread, few malloc arenas, so the address-space limit is about
    pictures and not about how many cores the machine has."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ[name] = "1"
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt(M_ARENA_MAX, MALLOC_ARENAS)


def main(argv: list[str]) -> int:
    path, max_side_px, stop_after, mem_limit = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    _lean_process()
    resource.setrlimit(resource.RLIMIT_AS, (mem_limit, mem_limit))
    from formcheck.errors import VideoError
    from formcheck.media.video import VideoRefusedError, count_packets, probe

    out: dict[str, Any]
    try:
        info = probe(path, max_side_px=max_side_px)
        packets, span_s = count_packets(path, stop_after)
    except VideoRefusedError as exc:
        out = {"refused": str(exc)}
    except VideoError as exc:
        out = {"error": str(exc)}
    except MemoryError:
        out = {"refused": f"The video's pictures need more memory than the {mem_limit >> 20} MB a probe may use"}
    else:
        out = {
            "info": {
                "width": info.width,
                "height": info.height,
                "fps": info.fps,
                "duration_s": info.duration_s,
                "frame_count": info.frame_count,
                "rotation_deg": info.rotation_deg,
                "packets": packets,
                "packet_span_s": span_s,
            }
        }
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
