"""Video and image-folder input, and H.264 output, streamed frame by frame with PyAV.

Frames are (H, W, 3) uint8 RGB numpy arrays in the displayed orientation: a phone video's
rotation metadata is applied (``VideoFrame.rotation`` counter-clockwise, undone with
``np.rot90``). Reading is an iterator, so memory stays bounded by one frame (or one batch)
however long the video is.

    info = probe_video("clip.mp4")                 # size, fps, frame count, rotation
    for frame in iter_frames("clip.mp4"):          # or an image folder of .jpg/.png files
        frame.index, frame.time_s, frame.image
    for frame in prefetch(iter_frames("clip.mp4")):  # decoded in a background thread, 8 ahead
    with VideoWriter("overlay.mp4", fps=info.fps) as out:
        out.write(image)

PyAV was chosen by measurement (``benchmarks/bench_video.py``; RENDERING_VIDEO.md §3): decode
speed on a par with OpenCV, exact per-frame timestamps, keyframe seeking, the rotation exposed,
and a real H.264 encoder in the wheel (OpenCV's wheel has none).
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import av
import cv2
import numpy as np

from body_models.atomic import atomic_path
from body_models.errors import InputError, MissingFileError

__all__ = [
    "ENCODE_CRF",
    "ENCODE_PRESET",
    "IMAGE_SUFFIXES",
    "PREFETCH_FRAMES",
    "VFR_TICKS_PER_S",
    "VideoFrame",
    "VideoInfo",
    "VideoWriter",
    "iter_batches",
    "iter_frames",
    "prefetch",
    "probe_video",
    "read_frame",
    "write_video",
]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
VFR_TICKS_PER_S = 90_000  # the encoder's clock: fine enough for any source frame timing
ENCODE_PRESET = "veryfast"  # 76 fps at 720p on 2 cores; "medium" is 2.4x slower for ~15% smaller files
ENCODE_CRF = 23


@dataclass(frozen=True)
class VideoInfo:
    """What a video file or an image folder holds.

    Attributes:
        path: the file or folder.
        width: displayed frame width, pixels (after rotation).
        height: displayed frame height, pixels.
        fps: frames per second; 0 when unknown (an image folder without a given rate).
        num_frames: frame count; for a video the container's count, else duration × fps.
        rotation: degrees counter-clockwise applied to the stored pixels (0, 90, 180, 270).
        duration_s: seconds; 0 when unknown.
        is_image_folder: the input is a folder of images.
    """

    path: Path
    width: int
    height: int
    fps: float
    num_frames: int
    rotation: int
    duration_s: float
    is_image_folder: bool


@dataclass
class VideoFrame:
    """One decoded frame.

    Attributes:
        index: frame number from 0.
        time_s: presentation time, seconds (index / fps for image folders; NaN when fps unknown).
        image: (H, W, 3) uint8 RGB, displayed orientation.
    """

    index: int
    time_s: float
    image: np.ndarray


# ---------------------------------------------------------------------------------------------
# reading


def probe_video(path: str | os.PathLike, fps: float | None = None) -> VideoInfo:
    """Read the metadata of a video file or an image folder (decodes the first frame only).

    Args:
        path: a video file (anything FFmpeg reads) or a folder of .jpg/.png images.
        fps: frame rate to use for an image folder (ignored for videos).

    Raises:
        MissingFileError: nothing at ``path``.
        InputError: not a readable video, no video stream, or a folder without images.
    """
    path = Path(path)
    if path.is_dir():
        files = _image_files(path)
        first = _read_image(files[0])
        rate = float(fps or 0.0)
        return VideoInfo(path=path, width=first.shape[1], height=first.shape[0], fps=rate,
                         num_frames=len(files), rotation=0, duration_s=len(files) / rate if rate else 0.0,
                         is_image_folder=True)
    with _open_container(path) as container:
        stream = container.streams.video[0]
        first = next(_decode(container, stream, path), None)
        if first is None:
            raise InputError(f"{path}: the video stream has no decodable frames; re-encode or replace the file")
        rate = float(stream.average_rate or stream.guessed_rate or 0.0)
        duration = _duration_s(container, stream)
        count = int(stream.frames) or (int(round(duration * rate)) if rate else 0)
        rotation = int(first.rotation) % 360
        width, height = (first.height, first.width) if rotation in (90, 270) else (first.width, first.height)
        return VideoInfo(path=path, width=width, height=height, fps=rate, num_frames=count,
                         rotation=rotation, duration_s=duration, is_image_folder=False)


def iter_frames(path: str | os.PathLike, start: int = 0, stop: int | None = None,
                fps: float | None = None) -> Iterator[VideoFrame]:
    """Frames ``start`` ≤ index < ``stop`` of a video or image folder, one at a time.

    For a video, frame ``index`` is the frame's position in presentation order and ``time_s`` its
    own timestamp, so variable-frame-rate videos are numbered and timed correctly; ``start`` > 0
    decodes (without converting) the frames before it.

    Args:
        path: a video file or an image folder (sorted by name, numbers in names compared as
            numbers: ``frame2.jpg`` before ``frame10.jpg``).
        start: first frame index.
        stop: one past the last index; None for the end.
        fps: frame rate of an image folder (for ``time_s``).
    """
    path = Path(path)
    if path.is_dir():
        files = _image_files(path)
        size = None
        for index in range(start, len(files) if stop is None else min(stop, len(files))):
            image = _read_image(files[index])
            if size is not None and image.shape != size:
                raise InputError(f"{files[index]} is {image.shape[1]}x{image.shape[0]} but the folder's first frame "
                                 f"is {size[1]}x{size[0]}; all frames of a folder must have one size")
            size = image.shape
            yield VideoFrame(index=index, time_s=index / fps if fps else float("nan"), image=image)
        return
    with _open_container(path) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or Fraction(30)
        # Frames are numbered in the order they are shown, not from their timestamps: in a
        # variable-frame-rate video, timestamp × average rate gives duplicate and skipped numbers.
        # So there is no seeking either; frames before ``start`` are decoded but not converted.
        for index, frame in enumerate(_decode(container, stream, path)):
            if index < start:
                continue
            if stop is not None and index >= stop:
                break
            time_s = float(frame.time) if frame.time is not None else index / float(rate)
            yield VideoFrame(index=index, time_s=time_s, image=_to_rgb(frame))


PREFETCH_FRAMES = 8  # decoded frames held ahead of the stages: 8 x 1080p RGB is 50 MB


def prefetch(frames: Iterable[VideoFrame], depth: int = PREFETCH_FRAMES) -> Iterator[VideoFrame]:
    """The same frames, decoded in a background thread up to ``depth`` ahead of the consumer.

    Decoding (FFmpeg, the colour conversion, JPEG/PNG reads) releases the GIL, so it overlaps
    the networks' work. The queue is bounded, so memory stays ``depth`` frames. An error in the
    reader reaches the consumer at the frame where it happened; a consumer that stops early (a
    ``break``, an exception) stops the reader and closes its file.

    Args:
        frames: an iterator of frames, e.g. ``iter_frames(path)``.
        depth: frames decoded ahead; 0 reads in the calling thread (no thread).
    """
    import queue
    import threading

    if depth < 1:
        yield from frames
        return
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        source = iter(frames)
        try:
            for frame in source:
                if not put(frame):
                    break
            else:
                put(end)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there
            put(error)
        finally:
            if hasattr(source, "close"):
                source.close()

    reader = threading.Thread(target=read, name="hmr-decode", daemon=True)
    reader.start()
    try:
        while True:
            item = slots.get()
            if item is end:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join()


def iter_batches(path: str | os.PathLike, batch_size: int, fps: float | None = None) -> Iterator[list[VideoFrame]]:
    """``iter_frames`` grouped into lists of at most ``batch_size`` frames."""
    if batch_size < 1:
        raise InputError(f"batch_size must be >= 1, got {batch_size}")
    batch: list[VideoFrame] = []
    for frame in iter_frames(path, fps=fps):
        batch.append(frame)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def read_frame(path: str | os.PathLike, index: int, fps: float | None = None) -> VideoFrame:
    """One frame by index (seeks; see ``iter_frames``)."""
    frame = next(iter_frames(path, start=index, stop=index + 1, fps=fps), None)
    if frame is None:
        raise InputError(f"{path} has no frame {index}")
    return frame


@contextlib.contextmanager
def _open_container(path: Path):
    if not path.exists():
        raise MissingFileError(f"video not found: {path}")
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, UnicodeDecodeError) as err:
        raise InputError(f"{path} is not a readable video ({_reason(err)}); check the file or re-encode it "
                         "(e.g. ffmpeg -i IN -c:v libx264 OUT.mp4)") from None
    try:
        if not container.streams.video:
            raise InputError(f"{path} has no video stream")
        yield container
    finally:
        container.close()


def _decode(container, stream, path: Path) -> Iterator[av.VideoFrame]:
    try:
        yield from container.decode(stream)
    except av.FFmpegError as err:
        raise InputError(f"{path}: decoding failed ({_reason(err)}); the file may be truncated or corrupt") from None


def _reason(err: Exception) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _to_rgb(frame: av.VideoFrame) -> np.ndarray:
    image = frame.to_ndarray(format="rgb24")
    rotation = int(frame.rotation) % 360
    if rotation:
        image = np.ascontiguousarray(np.rot90(image, k=rotation // 90))
    return image


def _duration_s(container, stream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _image_files(folder: Path) -> list[Path]:
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
                   key=_natural_key)
    if not files:
        raise InputError(f"{folder} holds no .jpg or .png images; give a video file or a folder of frames")
    return files


def _read_image(path: Path) -> np.ndarray:
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise InputError(f"{path} is not a readable image; remove it from the folder or replace it")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


# ---------------------------------------------------------------------------------------------
# writing


class VideoWriter:
    """H.264 (libx264, yuv420p) mp4 writer fed with RGB frames; the file appears when closed.

    Odd frame sizes are padded by one edge pixel (yuv420p needs even sizes).

    Args:
        path: output ``.mp4``.
        fps: frames per second.
        crf: x264 quality, lower is better (23 default).
        preset: x264 speed preset ("veryfast" default).
    """

    def __init__(self, path: str | os.PathLike, fps: float, crf: int = ENCODE_CRF, preset: str = ENCODE_PRESET):
        if not fps or fps <= 0:
            raise InputError(f"VideoWriter needs fps > 0, got {fps}")
        self.path = Path(path)
        self.fps = fps
        self.crf = crf
        self.preset = preset
        self.frames_written = 0
        self._exit = contextlib.ExitStack()
        self._tmp = self._exit.enter_context(atomic_path(self.path))
        self._container = None
        self._stream = None
        self._size: tuple[int, int] | None = None
        self._first_time: float | None = None
        self._last_pts = -1

    def write(self, image: np.ndarray, time_s: float | None = None) -> None:
        """Append one (H, W, 3) uint8 RGB frame, shown at ``time_s`` seconds when given (the
        source frame's timestamp, so a variable-frame-rate input keeps its timing), else at the
        next tick of ``fps``."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"frames must be (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}")
        if self._container is None:
            self._start(image.shape[1], image.shape[0])
        if (image.shape[1], image.shape[0]) != self._size:
            raise ValueError(f"frame is {image.shape[1]}x{image.shape[0]}, the video {self._size[0]}x{self._size[1]}")
        pad_h, pad_w = image.shape[0] % 2, image.shape[1] % 2
        if pad_h or pad_w:
            image = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        tick = self._stream.codec_context.time_base
        if time_s is not None and np.isfinite(time_s):
            if self._first_time is None:
                self._first_time = float(time_s)
            pts = int(round((float(time_s) - self._first_time) / tick))
        else:
            pts = 0 if self._last_pts < 0 else self._last_pts + int(round(1 / (self.fps * tick)))
        frame.pts = max(pts, self._last_pts + 1)  # strictly increasing, as the encoder needs
        frame.time_base = tick
        self._last_pts = frame.pts
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames_written += 1

    def _start(self, width: int, height: int) -> None:
        self._size = (width, height)
        self._container = av.open(str(self._tmp), mode="w", format="mp4")
        rate = Fraction(self.fps).limit_denominator(1001)
        stream = self._container.add_stream("libx264", rate=rate)
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(self.crf), "preset": self.preset}
        stream.codec_context.time_base = Fraction(1, VFR_TICKS_PER_S)
        self._stream = stream

    def close(self) -> Path:
        """Flush the encoder and move the finished file into place."""
        if self._container is not None:
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._container.close()
            self._container = None
        else:
            self._abort()
            raise InputError(f"no frames were written to {self.path}")
        self._exit.close()
        return self.path

    def _abort(self) -> None:
        """Drop the partial output: close the encoder quietly and remove the temporary file."""
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.close()
            self._container = None
        error = RuntimeError("video writing aborted")
        self._exit.__exit__(type(error), error, None)

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
            return
        self._abort()


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float, crf: int = ENCODE_CRF,
                preset: str = ENCODE_PRESET) -> Path:
    """Encode an iterable of (H, W, 3) uint8 RGB frames to an H.264 mp4 (atomically)."""
    with VideoWriter(path, fps=fps, crf=crf, preset=preset) as writer:
        for image in frames:
            writer.write(image)
    return Path(path)
