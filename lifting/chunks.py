"""Training chunks as VideoPose3D's ``ChunkedGenerator`` makes them.

Every video is cut into chunks of ``chunk_length`` output frames; the 2D input of a chunk
reaches ``pad`` frames further on each side (shifted ``causal_shift`` frames into the past for
causal models) and is edge-padded where it leaves the video. With ``augment`` every chunk is
listed a second time, mirrored.

    chunks = ChunkedBatches(poses_2d, poses_3d, cameras, chunk_length=1, pad=13, augment=True)
    for pairs in _rank_batches(chunks.shuffled(), 512, rank=0, world=1):
        batch = chunks.batch(pairs)  # ChunkBatch: keypoints, targets, cameras
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from body_models.errors import InputError
from body_models.joints import H36M_17

__all__ = ["ChunkBatch", "ChunkedBatches"]


@dataclass
class ChunkBatch:
    """One batch of training chunks.

    Attributes:
        keypoints: (B, L + 2·pad, J_in, F) normalised 2D input, edge-padded, flipped where asked.
        targets: (B, L, 17, 3) metres, camera frame (joint 0 the trajectory), or None.
        cameras: (B, 9) intrinsics (c_x and p1 negated for flipped chunks), or None.
    """

    keypoints: np.ndarray
    targets: np.ndarray | None
    cameras: np.ndarray | None


class ChunkedBatches:
    """Chunks of L output frames over a list of videos, as VideoPose3D's ``ChunkedGenerator``.

    Each video of T frames gets ceil(T / L) chunks, centred so the overhang is split between
    both ends; the chunk list holds, per video, the plain chunks and then (with ``augment``) the
    same chunks flagged for flipping. ``shuffled()`` permutes the chunk list with this object's
    ``numpy.random.RandomState`` exactly as the official generator does, so the same seed gives
    the same order. The 2D window of the chunk [s, s + L) is [s - pad - shift, s + L + pad - shift),
    edge-padded outside the video (index clamping, the same as ``np.pad(..., 'edge')``).

    Args:
        poses_2d: per video (T, J_in, F) normalised keypoints.
        poses_3d: per video (T, 17, 3) metres, or None (unlabeled).
        cameras: per video (9,) intrinsics, or None.
        chunk_length: L, output frames per chunk.
        pad: (R - 1) / 2.
        causal_shift: pad for causal models, else 0.
        augment: list every chunk a second time, flipped.
        kps_left, kps_right: the input layout's symmetry.
        joints_left, joints_right: the output skeleton's symmetry.
        seed: seed of the chunk order.
    """

    def __init__(self, poses_2d: Sequence[np.ndarray], poses_3d: Sequence[np.ndarray] | None = None,
                 cameras: Sequence[np.ndarray] | None = None, chunk_length: int = 1, pad: int = 0,
                 causal_shift: int = 0, augment: bool = False, kps_left: Sequence[int] = (),
                 kps_right: Sequence[int] = (), joints_left: Sequence[int] = H36M_17.left,
                 joints_right: Sequence[int] = H36M_17.right, seed: int = 1234) -> None:
        if not poses_2d:
            raise InputError("no training videos: check the subjects and actions of the config")
        if poses_3d is not None and len(poses_3d) != len(poses_2d):
            raise InputError(f"{len(poses_2d)} 2D videos but {len(poses_3d)} 3D videos")
        if cameras is not None and len(cameras) != len(poses_2d):
            raise InputError(f"{len(poses_2d)} 2D videos but {len(cameras)} cameras")
        self.chunk_length, self.pad, self.causal_shift = int(chunk_length), int(pad), int(causal_shift)
        self.kps_swap = (list(kps_left) + list(kps_right), list(kps_right) + list(kps_left))
        self.joints_swap = (list(joints_left) + list(joints_right), list(joints_right) + list(joints_left))
        self.lengths = np.array([len(p) for p in poses_2d], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])
        self.poses_2d = np.concatenate([np.asarray(p, dtype=np.float32) for p in poses_2d])  # (ΣT, J, F)
        self.poses_3d = None if poses_3d is None else np.concatenate([np.asarray(p, dtype=np.float32) for p in poses_3d])
        self.cameras = None if cameras is None else np.stack([np.asarray(c, dtype=np.float32) for c in cameras])
        rows = []
        for video, frames in enumerate(self.lengths):
            n_chunks = (frames + chunk_length - 1) // chunk_length
            offset = (n_chunks * chunk_length - frames) // 2
            bounds = np.arange(n_chunks + 1) * chunk_length - offset
            plain = np.stack([np.full(n_chunks, video), bounds[:-1], bounds[1:], np.zeros(n_chunks, np.int64)], 1)
            rows.append(plain)
            if augment:
                rows.append(plain + np.array([0, 0, 0, 1]))
        self.pairs = np.concatenate(rows).astype(np.int64)  # (N, 4) video, start, end, flip
        self.random = np.random.RandomState(seed)

    def __len__(self) -> int:
        return len(self.pairs)

    def shuffled(self) -> np.ndarray:
        """(N, 4) the chunk list in a fresh random order (advances the random state)."""
        return self.random.permutation(self.pairs)

    def _gather(self, poses: np.ndarray, videos: np.ndarray, starts: np.ndarray, frames: int) -> np.ndarray:
        index = starts[:, None] + np.arange(frames)  # (B, frames), may leave the video
        index = np.clip(index, 0, self.lengths[videos][:, None] - 1) + self.offsets[videos][:, None]
        return poses[index]

    def batch(self, pairs: np.ndarray) -> ChunkBatch:
        """The arrays of the chunks ``pairs`` ((B, 4) rows of ``pairs``)."""
        videos, starts, ends, flips = (pairs[:, i] for i in range(4))
        flips = flips.astype(bool)
        length = self.chunk_length
        keypoints = self._gather(self.poses_2d, videos, starts - self.pad - self.causal_shift, length + 2 * self.pad)
        keypoints[flips, :, :, 0] *= -1
        keypoints[np.ix_(flips, np.arange(keypoints.shape[1]), self.kps_swap[0])] = \
            keypoints[np.ix_(flips, np.arange(keypoints.shape[1]), self.kps_swap[1])]
        targets = cameras = None
        if self.poses_3d is not None:
            targets = self._gather(self.poses_3d, videos, starts, length)
            targets[flips, :, :, 0] *= -1
            targets[np.ix_(flips, np.arange(length), self.joints_swap[0])] = \
                targets[np.ix_(flips, np.arange(length), self.joints_swap[1])]
        if self.cameras is not None:
            cameras = self.cameras[videos]
            cameras[flips, 2] *= -1  # c_x
            cameras[flips, 7] *= -1  # p1
        return ChunkBatch(keypoints, targets, cameras)


def _rank_batches(order: np.ndarray, batch_size: int, rank: int, world: int) -> list[np.ndarray]:
    """This process's batches of ``order``: every ``world``-th chunk (the order padded by
    repetition to a multiple of ``world``), in batches of ``batch_size``."""
    if world > 1:
        total = -(-len(order) // world) * world
        order = np.concatenate([order, order[: total - len(order)]])[rank::world]
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


class _EndlessBatches:
    """Batches of a ``ChunkedBatches`` without end: a new shuffle whenever one pass is used up
    (``run.py``'s unlabeled generator with ``endless=True``)."""

    def __init__(self, chunks: ChunkedBatches, batch_size: int, rank: int, world: int) -> None:
        self.chunks, self.batch_size, self.rank, self.world = chunks, batch_size, rank, world
        self.order: np.ndarray | None = None  # the current shuffled chunk list
        self.cursor = 0  # next batch index into it

    def next(self) -> ChunkBatch:
        batches = None if self.order is None else _rank_batches(self.order, self.batch_size, self.rank, self.world)
        if batches is None or self.cursor >= len(batches):
            self.order = self.chunks.shuffled()
            self.cursor = 0
            batches = _rank_batches(self.order, self.batch_size, self.rank, self.world)
        pairs = batches[self.cursor]
        self.cursor += 1
        return self.chunks.batch(pairs)
