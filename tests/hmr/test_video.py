"""Video and image-folder reading (metadata, timestamps, seeking, rotation), writing, and errors."""

import inspect

import av
import cv2
import numpy as np
import pytest

from body_models.errors import InputError, MissingFileError
from hmr.io.video import VideoWriter, iter_batches, iter_frames, probe_video, read_frame, write_video


def _frames(n, height=48, width=64):
    """Frames whose mean grey level encodes their index (survives H.264 well)."""
    return [np.full((height, width, 3), 10 + 20 * i, np.uint8) for i in range(n)]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    write_video(path, _frames(12), fps=25)
    return path


def test_probe_and_stream_frames_with_timestamps(clip):
    info = probe_video(clip)
    assert (info.width, info.height, info.fps, info.num_frames, info.rotation) == (64, 48, 25.0, 12, 0)
    assert info.duration_s == pytest.approx(12 / 25)
    frames = iter_frames(clip)
    assert inspect.isgenerator(frames)  # streamed, not a list of the whole video
    frames = list(frames)
    assert [f.index for f in frames] == list(range(12))
    np.testing.assert_allclose([f.time_s for f in frames], np.arange(12) / 25, atol=1e-6)
    assert frames[0].image.shape == (48, 64, 3) and frames[0].image.dtype == np.uint8
    np.testing.assert_allclose([f.image.mean() for f in frames], 10 + 20 * np.arange(12), atol=3)
    assert [len(b) for b in iter_batches(clip, 5)] == [5, 5, 2]


def test_seeking_returns_the_exact_frame(clip):
    for index in (0, 7, 11):
        frame = read_frame(clip, index)
        assert frame.index == index and abs(frame.image.mean() - (10 + 20 * index)) < 3
    assert [f.index for f in iter_frames(clip, start=4, stop=6)] == [4, 5]
    with pytest.raises(InputError, match="no frame 40"):
        read_frame(clip, 40)


def test_rotation_metadata_is_applied(tmp_path):
    path = tmp_path / "phone.mp4"
    image = np.zeros((48, 64, 3), np.uint8)
    image[:16, :16] = 255  # marker in the stored top-left corner
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.set_display_rotation(90)  # counter-clockwise, as phones store portrait clips
        for _ in range(2):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    info = probe_video(path)
    assert (info.rotation, info.width, info.height) == (90, 48, 64)
    shown = read_frame(path, 0).image
    assert shown.shape == (64, 48, 3)
    # rotating the stored image 90° counter-clockwise moves its top-left corner to the bottom-left
    assert shown[-8:, :8].mean() > 200 and shown[:8, :8].mean() < 50


def test_image_folder_sorted_by_number(tmp_path):
    for i, image in enumerate(_frames(11)):
        suffix = ".png" if i % 2 else ".jpg"
        cv2.imwrite(str(tmp_path / f"frame{i}{suffix}"), image)
    (tmp_path / "notes.txt").write_text("not a frame")
    info = probe_video(tmp_path, fps=10)
    assert (info.is_image_folder, info.num_frames, info.width, info.height, info.fps) == (True, 11, 64, 48, 10.0)
    frames = list(iter_frames(tmp_path, fps=10))
    means = [f.image.mean() for f in frames]
    np.testing.assert_allclose(means, 10 + 20 * np.arange(11), atol=3)  # frame10 after frame9
    assert frames[3].time_s == pytest.approx(0.3)


def test_bad_inputs_give_one_line_errors(tmp_path):
    with pytest.raises(MissingFileError, match="video not found"):
        probe_video(tmp_path / "missing.mp4")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no .jpg or .png"):
        probe_video(empty)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 255, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(InputError, match="not a readable video") as err:
        probe_video(garbage)
    assert "\n" not in str(err.value)
    truncated = tmp_path / "truncated.mp4"
    write_video(tmp_path / "whole.mp4", _frames(10), fps=25)
    truncated.write_bytes((tmp_path / "whole.mp4").read_bytes()[:600])
    with pytest.raises(InputError):
        list(iter_frames(truncated))
    folder = tmp_path / "broken_folder"
    folder.mkdir()
    (folder / "0001.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(InputError, match="not a readable image"):
        probe_video(folder)


def test_writer_pads_odd_sizes_and_leaves_nothing_on_failure(tmp_path):
    path = write_video(tmp_path / "odd.mp4", _frames(3, height=31, width=45), fps=30)
    info = probe_video(path)
    assert (info.width, info.height, info.num_frames) == (46, 32, 3)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
    target = tmp_path / "failed.mp4"
    with pytest.raises(ValueError):
        with VideoWriter(target, fps=30) as writer:
            writer.write(_frames(1)[0])
            writer.write(np.zeros((10, 10), np.uint8))
    assert list(tmp_path.glob("*failed*")) == []
    with pytest.raises(InputError, match="no frames"):
        VideoWriter(tmp_path / "none.mp4", fps=30).close()
    assert list(tmp_path.glob("*none*")) == []


def test_prefetch_gives_the_same_frames_bounded_and_stops_with_the_consumer(clip):
    import threading
    import time

    from hmr.io.video import prefetch

    plain = [f.image for f in iter_frames(clip)]
    fetched = list(prefetch(iter_frames(clip), depth=3))
    assert [f.index for f in fetched] == list(range(12))
    assert all(np.array_equal(a, f.image) for a, f in zip(plain, fetched))

    made = []

    def counted():
        for i in range(1000):
            made.append(i)
            yield i
    stream = prefetch(counted(), depth=4)
    assert next(stream) == 0
    time.sleep(0.2)  # the reader runs ahead, but only as far as the queue holds
    assert len(made) <= 1 + 4 + 1
    stream.close()  # the consumer stops: the reader thread ends and closes its source
    assert not any(t.name == "hmr-decode" and t.is_alive() for t in threading.enumerate())

    def failing():
        yield 1
        raise InputError("frame 2 of clip.mp4 is corrupt")
    stream = prefetch(failing())
    assert next(stream) == 1
    with pytest.raises(InputError, match="corrupt"):  # the reader's error, at the frame where it happened
        next(stream)
    assert list(prefetch(iter([7, 8]), depth=0)) == [7, 8]
