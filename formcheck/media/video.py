"""Frame sources: decode videos (PyAV) upright with decoder timestamps, on a reader thread; read cameras (OpenCV)."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from numpy.typing import NDArray

from formcheck.errors import VideoError
from formcheck.media.frame_limits import MAX_FRAME_SIDE_PX, MIN_FRAME_SIDE_PX

log = logging.getLogger(__name__)

DECODE_NICE = 10  # niceness of the decode thread: it has slack (decodes 3-10x faster than inference needs)
READ_AHEAD_FRAMES = 8  # decoded frames buffered ahead of inference: enough to hide decode jitter, small in memory
# Frames are scaled down (in the decoder's own scaler) so their longer side is at most this: the pose model works
# at 256x256 anyway, and converting full-HD frames to RGB costs more than the whole inference on small ones.
MAX_SIDE_PX = 960
CAMERA_OPEN_TIMEOUT_S = 5.0


@dataclasses.dataclass(frozen=True, eq=False)
class Frame:
    """One upright RGB image with its presentation time in seconds."""

    t_s: float
    rgb: NDArray  # (H, W, 3) uint8

    @property
    def wh(self) -> tuple[int, int]:
        return int(self.rgb.shape[1]), int(self.rgb.shape[0])


class VideoRefusedError(VideoError):
    """A video refused for what it is (too large a picture, too small, too long): the message names no path and
    may be shown to the person who sent it as it is."""


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    duration_s: float | None
    frame_count: int | None
    rotation_deg: int
    packets: int | None = None  # video packets in the file (probe_isolated counts them without decoding)
    packet_span_s: float | None = None  # first to last packet, in seconds (the duration the file really holds)


def _open(path: Path):
    import av

    if not path.exists():
        raise VideoError(f"{path}: no such file")
    if path.is_dir():
        raise VideoError(f"{path}: is a directory, not a video")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: the file is empty (0 bytes)")
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise VideoError(f"{path}: not a readable video ({_short(exc)})") from exc
    if not container.streams.video:
        container.close()
        raise VideoError(f"{path}: contains no video stream")
    return container


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


def check_picture_size(w: int, h: int, max_side_px: int = MAX_FRAME_SIDE_PX) -> None:
    """VideoRefusedError (one line, with the limit) for a picture too large or too small to analyse."""
    if w <= 0 or h <= 0:
        raise VideoRefusedError("This file is not a playable video: its picture size is unknown")
    if max(w, h) > max_side_px:
        raise VideoRefusedError(f"The video is {w}x{h} px; the limit is {max_side_px} px on a side: send 1080p or less")
    if min(w, h) < MIN_FRAME_SIDE_PX:
        raise VideoRefusedError(f"The video is {w}x{h} px: too small, at least {MIN_FRAME_SIDE_PX} px on a side")


def probe(path: str | Path, *, max_side_px: int | None = None) -> VideoInfo:
    """Size (upright, as decoded), nominal fps, duration and rotation of a video; decodes one frame at most.

    With `max_side_px` the size the stream declares is checked before anything is decoded (a small file can
    declare a huge picture), and the decoded frame's size again (VideoRefusedError)."""
    import av

    path = Path(path)
    container = _open(path)
    try:
        s = container.streams.video[0]
        if max_side_px is not None:
            check_picture_size(int(s.codec_context.width or 0), int(s.codec_context.height or 0), max_side_px)
            s.codec_context.thread_count = 1  # one frame needs no decoder threads (each reserves a stack)
        rate = float(s.average_rate) if s.average_rate else 0.0
        dur = (
            float(s.duration * s.time_base)
            if s.duration and s.time_base
            else (container.duration / 1e6 if container.duration else None)
        )
        rot = 0
        try:
            first = next(container.decode(s), None)
        except (av.error.FFmpegError, OSError) as exc:
            raise VideoError(f"{path}: no frame can be decoded ({_short(exc)})") from exc
        if first is None:
            raise VideoError(f"{path}: no frames could be decoded (truncated or not a video)")
        if max_side_px is not None:
            check_picture_size(first.width, first.height, max_side_px)
        rot = int(getattr(first, "rotation", 0) or 0) % 360
        w, h = _scaled_size(first.width, first.height, MAX_SIDE_PX)
        if rot % 180:
            w, h = h, w
        return VideoInfo(width=w, height=h, fps=rate, duration_s=dur, frame_count=s.frames or None, rotation_deg=rot)
    finally:
        container.close()


def count_packets(path: str | Path, stop_after: int) -> tuple[int, float | None]:
    """(video packets, seconds from the first to the end of the last) read from the container without decoding;
    stops once more than `stop_after` are counted. For files whose header gives no duration or frame count
    (a Matroska stream written without a duration): what is really in the file, cheaply."""
    import av

    path = Path(path)
    container = _open(path)
    try:
        s = container.streams.video[0]
        tb = s.time_base
        n, first, end = 0, None, None
        try:
            for packet in container.demux(s):
                if not packet.size:
                    continue
                n += 1
                if packet.pts is not None and tb is not None:
                    first = packet.pts if first is None else min(first, packet.pts)
                    stop = packet.pts + (packet.duration or 0)
                    end = stop if end is None else max(end, stop)
                if n > stop_after:
                    break
        except (av.error.FFmpegError, OSError) as exc:
            raise VideoError(f"{path}: the file is corrupt after {n} frames ({_short(exc)})") from exc
        span = float((end - first) * tb) if first is not None and end is not None and tb is not None else None
        return n, span
    finally:
        container.close()


# The probe process: a web upload's first frame is decoded there, never in the server. A 1920x1080 frame and
# PyAV/FFmpeg/numpy's own mappings (~300 MB of address space) fit under this; a 16000x16000 picture (~770 MB
# as RGB) does not.
PROBE_MEM_LIMIT_BYTES = 512 * 1024 * 1024
PROBE_TIMEOUT_S = 60.0  # a probe decodes one frame and reads the packet headers: seconds, not minutes


def probe_isolated(
    path: str | Path,
    *,
    max_side_px: int = MAX_FRAME_SIDE_PX,
    stop_after_packets: int,
    mem_limit_bytes: int = PROBE_MEM_LIMIT_BYTES,
    timeout_s: float = PROBE_TIMEOUT_S,
) -> VideoInfo:
    """`probe` (with the size check) plus a packet count, in a child process under an address-space limit and a
    timeout. VideoRefusedError (a one-line reason with the limit) or VideoError (the decoder's words)."""
    import json
    import subprocess
    import sys

    cmd = [
        sys.executable,
        "-m",
        "formcheck.media.probe_child",
        str(path),
        str(int(max_side_px)),
        str(int(stop_after_packets)),
        str(int(mem_limit_bytes)),
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise VideoRefusedError(f"The video could not be read within {timeout_s:g} s") from None
    lines = done.stdout.decode(errors="replace").strip().splitlines()
    try:
        out = json.loads(lines[-1]) if lines else {}
    except ValueError:
        out = {}
    if "refused" in out:
        raise VideoRefusedError(str(out["refused"]))
    if "info" in out:
        return VideoInfo(**out["info"])
    if "error" in out:
        raise VideoError(str(out["error"]))
    err = done.stderr.decode(errors="replace").strip().splitlines()
    log.warning("probe of %s ended with code %s: %s", path, done.returncode, err[-1][:300] if err else "")
    raise VideoError(f"{path}: the probe process ended with code {done.returncode}")


def _upright(rgb: NDArray, rotation_deg: int) -> NDArray:
    """Rotate a decoded frame so it displays upright (rotation is counter-clockwise, FFmpeg convention)."""
    k = (rotation_deg // 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, k=k)) if k else rgb


def _scaled_size(w: int, h: int, max_side_px: int | None) -> tuple[int, int]:
    if not max_side_px or max(w, h) <= max_side_px:
        return w, h
    k = max_side_px / max(w, h)
    return max(2, int(round(w * k / 2)) * 2), max(2, int(round(h * k / 2)) * 2)


def frame_cap_message(max_frames: int) -> str:
    return f"The video has more than {max_frames} frames; the limit is {max_frames}: trim it or record at 30 fps"


def duration_cap_message(max_s: float) -> str:
    return f"The video is longer than {max_s / 60:g} min, the limit: trim it to the sets you want reviewed"


def _check_caps(frames: int, span_s: float, max_frames: int | None, max_s: float | None) -> None:
    if max_frames is not None and frames > max_frames:
        raise VideoRefusedError(frame_cap_message(max_frames))
    if max_s is not None and span_s > max_s:
        raise VideoRefusedError(duration_cap_message(max_s))


def _decode(
    path: Path,
    stop: threading.Event,
    max_side_px: int | None = MAX_SIDE_PX,
    max_frames: int | None = None,
    max_s: float | None = None,
) -> Iterator[Frame]:
    import av

    container = _open(path)
    n = 0
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tb = stream.time_base
        rate = float(stream.average_rate) if stream.average_rate else None
        last_t = -np.inf
        first_t = 0.0
        packets = 0
        try:
            for packet in container.demux(stream):
                if packet.size:
                    packets += 1
                for vf in packet.decode():  # the final empty packet flushes the decoder
                    if stop.is_set():
                        return
                    if vf.pts is not None and tb is not None:
                        t = float(vf.pts * tb)
                    elif rate:
                        t = n / rate
                        if n == 0:
                            log.warning("%s: frames carry no timestamps; using the stream's %.3f fps", path, rate)
                    else:
                        raise VideoError(f"{path}: frames carry no timestamps and the stream has no frame rate")
                    if t <= last_t:  # duplicate or reordered pts: keep time strictly increasing
                        t = last_t + 1e-3
                    first_t = t if n == 0 else first_t
                    last_t = t
                    _check_caps(n + 1, t - first_t, max_frames, max_s)
                    rot = getattr(vf, "rotation", 0) or 0
                    w, h = _scaled_size(vf.width, vf.height, max_side_px)
                    rgb = (
                        vf.to_ndarray(format="rgb24", width=w, height=h)
                        if (w, h) != (vf.width, vf.height)
                        else vf.to_ndarray(format="rgb24")
                    )
                    # PyAV may hand back rows padded to its line size (a strided view); MediaPipe ignores strides.
                    yield Frame(t_s=t, rgb=np.ascontiguousarray(_upright(rgb, int(rot) % 360)))
                    n += 1
        except (av.error.FFmpegError, OSError) as exc:
            raise VideoError(f"{path}: video is truncated or corrupt after {n} frames ({_short(exc)})") from exc
        if n == 0:
            raise VideoError(f"{path}: no frames could be decoded (truncated or not a video)")
        # The container's index promises `stream.frames` samples; fewer on disk means the file was cut short.
        # (Decoded frames can legitimately be fewer than samples: edit lists drop leading frames.)
        expected = stream.frames or 0
        if expected and packets < expected:
            raise VideoError(f"{path}: video is truncated: {packets} of {expected} frames are in the file")
    finally:
        container.close()


def _lower_thread_priority() -> None:
    """Decoding runs ahead in the background: let it yield the CPU to the pose model (Linux: per-thread nice;
    the decoder's own worker threads, created from this thread, inherit it)."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or not allowed: decoding still works
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), DECODE_NICE)


def read_video(
    path: str | Path,
    *,
    read_ahead: int = READ_AHEAD_FRAMES,
    max_side_px: int | None = MAX_SIDE_PX,
    max_frames: int | None = None,
    max_s: float | None = None,
) -> Iterator[Frame]:
    """Decode `path` on a background thread so decoding overlaps the consumer's work; errors re-raised here.

    With `max_frames` / `max_s`, decoding stops with a VideoRefusedError once the video has more frames or lasts
    longer (the caps hold on what is decoded, whatever the file's header says)."""
    path = Path(path)
    _open(path).close()  # fail fast, in the caller's thread, on a missing or unreadable file
    q: queue.Queue = queue.Queue(maxsize=read_ahead)
    stop = threading.Event()
    done = object()

    def work() -> None:
        _lower_thread_priority()
        try:
            for frame in _decode(path, stop, max_side_px, max_frames, max_s):
                while not stop.is_set():
                    try:
                        q.put(frame, timeout=0.1)
                        break
                    except queue.Full:
                        continue
            q.put(done)
        except BaseException as exc:  # handed to the consumer thread, which re-raises it
            q.put(exc)

    t = threading.Thread(target=work, name=f"decode:{path.name}", daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while t.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                t.join(timeout=0.05)


def read_camera(index: int, *, max_frames: int | None = None) -> Iterator[Frame]:
    """Frames from a local camera, stamped with the monotonic clock at capture."""
    import cv2

    cap = cv2.VideoCapture(index)
    try:
        if not cap.isOpened():
            raise VideoError(f"camera {index}: cannot be opened (no such camera, or it is in use)")
        t0 = time.monotonic()
        n = 0
        while max_frames is None or n < max_frames:
            ok, bgr = cap.read()
            if not ok:
                if n == 0:
                    raise VideoError(f"camera {index}: opened but delivers no frames")
                return
            yield Frame(t_s=time.monotonic() - t0, rgb=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            n += 1
    finally:
        cap.release()


def frames_from(
    source: str | Path | int | Iterable[tuple[float, NDArray]] | Iterable[Frame], *, bgr: bool = True
) -> Iterator[Frame]:
    """Any frame source: a video path, a camera index, Frames, or (t_s, image) pairs (BGR unless bgr=False)."""
    if isinstance(source, int):
        return read_camera(source)
    if isinstance(source, (str, Path)):
        return read_video(source)

    def gen() -> Iterator[Frame]:
        for item in source:
            if isinstance(item, Frame):
                yield item
                continue
            t_s, img = item
            yield Frame(t_s=float(t_s), rgb=np.ascontiguousarray(img[..., ::-1]) if bgr else img)

    return gen()


# ------------------------------------------------------------------------------------------------- writing

# libx264 defaults from docs/platform.md §1 (veryfast crf 23: ~80 fps at 960x540, browser-playable).
X264_PRESET = "veryfast"
X264_CRF = 23
WRITE_FPS = 30
MS_TIME_BASE = 1000  # timed frames (t_s given) are stamped in milliseconds


def _even(n: int) -> int:
    return n - (n % 2)


class H264Writer:
    """The one H.264 writer: browser-playable MP4 (libx264, yuv420p, +faststart), atomic (written to
    `<stem>.part<suffix>` and renamed on a clean close; removed on an error).

    Frames are RGB (or BGR with fmt="bgr24"); the size is the first frame's, cropped to even sides (yuv420p);
    later frames of another size are scaled to it. Give `t_s` to stamp each frame with its own time (a live
    clip's uneven frame rate), else frames play at `fps`. `threads=1` makes the bitstream the same on every
    machine (x264's output depends on its thread count).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        fps: int = WRITE_FPS,
        crf: int = X264_CRF,
        preset: str = X264_PRESET,
        threads: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.part = self.path.with_name(f"{self.path.stem}.part{self.path.suffix}")
        self.fps = int(fps) or WRITE_FPS
        self.options = {"preset": preset, "crf": str(crf)} | ({"threads": str(threads)} if threads else {})
        self.frames = 0
        self._container: av.container.OutputContainer | None = None
        self._stream: av.VideoStream | None = None
        self._t0_s: float | None = None
        self._last_pts = -1

    def __enter__(self) -> H264Writer:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()

    def _open(self, w: int, h: int, timed: bool) -> av.VideoStream:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._container = av.open(str(self.part), "w", options={"movflags": "+faststart"})
        except (OSError, av.FFmpegError) as e:
            raise VideoError(f"{self.path}: cannot write video ({e})") from None
        stream = self._container.add_stream("libx264", rate=self.fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        if timed:  # the encoder's clock too: on the 1/fps clock, frames closer than a tick would share a time
            stream.time_base = stream.codec_context.time_base = Fraction(1, MS_TIME_BASE)
        stream.options = dict(self.options)
        self._stream = stream
        return stream

    def write(self, image: NDArray[Any], *, fmt: str = "rgb24", t_s: float | None = None) -> None:
        """Encode one (H, W, 3) uint8 frame."""
        h, w = image.shape[:2]
        stream = self._stream or self._open(_even(w), _even(h), t_s is not None)
        if (h, w) != (stream.height, stream.width):
            if h - stream.height in (0, 1) and w - stream.width in (0, 1):
                image = image[: stream.height, : stream.width]
            else:
                import cv2

                image = cv2.resize(image, (stream.width, stream.height))
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format=fmt)
        if t_s is not None:
            self._t0_s = t_s if self._t0_s is None else self._t0_s
            pts = max(self._last_pts + 1, int(round((t_s - self._t0_s) * MS_TIME_BASE)))
            vf.pts, vf.time_base, self._last_pts = pts, Fraction(1, MS_TIME_BASE), pts
        assert self._container is not None
        for p in stream.encode(vf):
            self._container.mux(p)
        self.frames += 1

    def close(self) -> Path:
        """Flush, close and move the finished file into place; VideoError when no frame was written."""
        if self._stream is None or self._container is None:
            raise VideoError(f"{self.path}: no frames to write")
        try:
            for p in self._stream.encode():
                self._container.mux(p)
        except BaseException:
            self.discard()
            raise
        self._container.close()
        self._container, self._stream = None, None
        self.part.replace(self.path)
        return self.path

    def discard(self) -> None:
        """Stop writing and remove the partial file (never leave a half-written video behind)."""
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.close()
        self._container, self._stream = None, None
        self.part.unlink(missing_ok=True)
