"""The picture size a JPEG declares, read from its frame header (SOF) without decoding a pixel.

A 631-byte JPEG can declare 16000 x 16000; decoding it first costs ~1.5 GB and seconds of CPU (issue 8, finding
2). The live socket reads the size here and refuses oversize frames before OpenCV ever sees them.
"""

from __future__ import annotations

import struct

SOI = b"\xff\xd8"
# Start-of-frame markers (baseline, extended, progressive, lossless; Huffman or arithmetic). 0xC4 (DHT), 0xC8
# (reserved) and 0xCC (DAC) share the range but are not frames.
SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
SOS = 0xDA
EOI = 0xD9
STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0..7: no length field
MAX_SEGMENTS = 512  # a camera JPEG has < 20 segments before its frame header
# Scans (SOS markers) a live frame may have. A baseline JPEG (what browsers' canvas.toBlob and cameras send) has 1;
# libjpeg's default progressive script has 10 for colour. Each scan is another full pass over the picture in the
# decoder, so a progressive JPEG with thousands of scans costs ~29 s of CPU for one 1920 px frame (issue 17, L1).
MAX_JPEG_SCANS = 16


def jpeg_size_px(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the first frame header, or None when there is none before the scan data."""
    if data[:2] != SOI:
        return None
    i = 2
    for _ in range(MAX_SEGMENTS):
        while i < len(data) and data[i] == 0xFF and i + 1 < len(data) and data[i + 1] == 0xFF:
            i += 1  # fill bytes
        if i + 4 > len(data) or data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker in STANDALONE:
            i += 2
            continue
        if marker in (SOS, EOI):
            return None
        (length,) = struct.unpack_from(">H", data, i + 2)
        if length < 2:
            return None
        if marker in SOF_MARKERS:
            if i + 9 > len(data):
                return None
            height, width = struct.unpack_from(">HH", data, i + 5)
            return int(width), int(height)
        i += 2 + length
    return None


def jpeg_scan_count(data: bytes) -> int:
    """How many scans (SOS markers) a JPEG has, without decoding: inside entropy-coded data a 0xFF byte is always
    followed by 0x00 (stuffing) or a restart marker, so every 0xFF 0xDA is a real start-of-scan."""
    return data.count(b"\xff\xda")
