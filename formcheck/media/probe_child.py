"""`python -m formcheck.media.probe_child PATH MAX_SIDE_PX STOP_AFTER_PACKETS MEM_LIMIT_BYTES`: probe one video
in a process of its own under an address-space limit, and print one JSON line (video.probe_isolated reads it).

The limit is set before PyAV is imported, so a decoder that tries to allocate a huge picture fails here
(MemoryError or a decoder error) instead of growing the web server.
"""

from __future__ import annotations

import json
import resource
import sys
from typing import Any


def main(argv: list[str]) -> int:
    path, max_side_px, stop_after, mem_limit = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
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
