"""Filling missing 2D keypoints (lifting.filling): one rule for a video, a training batch and exports."""

import numpy as np
import pytest

from body_models.errors import InputError
from body_models.joints import COCO_17
from lifting.filling import HIP_ANCHOR, fill_missing_frames, fill_missing_joints, fill_missing_joints_batch


def _reference(keypoints, present):
    """The rule without an anchor, written plainly: np.interp joint by joint, then never-seen joints
    at the mean of the frame's others (frames with none of those, interpolated whole)."""
    keypoints = np.array(keypoints, np.float32)
    frames = np.arange(len(keypoints))
    for joint in range(keypoints.shape[1]):
        seen = present[:, joint]
        if seen.any() and not seen.all():
            for c in range(keypoints.shape[2]):
                keypoints[~seen, joint, c] = np.interp(frames[~seen], frames[seen], keypoints[seen, joint, c])
    never = ~present.any(axis=0)
    if never.any():
        rows = present[:, ~never].any(axis=1)
        part = keypoints[:, ~never].reshape(len(keypoints), -1)
        for column in range(part.shape[1]):
            part[~rows, column] = np.interp(frames[~rows], frames[rows], part[rows, column])
        keypoints[:, ~never] = part.reshape(len(keypoints), -1, keypoints.shape[2])
        keypoints[:, never] = keypoints[:, ~never].mean(axis=1, keepdims=True)
    return keypoints


def test_without_an_anchor_the_batch_and_the_sequence_follow_the_plain_rule():
    rng = np.random.default_rng(0)
    keypoints = rng.normal(size=(6, 9, 5, 3)).astype(np.float32)
    present = rng.random(keypoints.shape[:3]) > 0.4
    present[0] = True  # nothing missing
    present[1, :, 2] = False  # a joint never seen in the window
    present[2, 3:6] = False  # frames with no joint at all
    present[2, :, 4] = False  # and a never-seen joint beside them
    present[3, :, :4] = False  # only one joint seen, in one frame
    present[3, 0, 4] = True
    keypoints[~present] = np.nan  # what is missing is never read
    filled = fill_missing_joints_batch(keypoints, present)
    for window in range(len(keypoints)):
        expected = _reference(np.nan_to_num(keypoints[window]), present[window])
        np.testing.assert_allclose(filled[window], expected, rtol=0, atol=1e-6)
        np.testing.assert_array_equal(fill_missing_joints(keypoints[window], present[window]), filled[window])
    np.testing.assert_array_equal(filled[present], keypoints[present])


def test_a_joint_lost_to_the_end_moves_on_with_the_hips():
    """Legs leaving the frame: the ankle keeps its offset from the hips, so it walks on with the
    body, where the plain rule would leave it standing at its last place in the image."""
    t = np.arange(10, dtype=np.float32)
    keypoints = np.zeros((10, 17, 2), np.float32)
    keypoints[..., 0] = 100 + 8 * t[:, None] + np.arange(17)  # the whole body moves 8 px a frame
    keypoints[..., 1] = 50 + np.arange(17) * 3.0
    present = np.ones((10, 17), bool)
    ankle = COCO_17.index("left_ankle")
    present[6:, ankle] = False
    lost = np.where(present[..., None], keypoints, np.nan)
    anchored = fill_missing_joints(lost, present, HIP_ANCHOR["coco"])
    np.testing.assert_allclose(anchored, keypoints, atol=1e-4)  # exact: the body moved rigidly
    plain = fill_missing_joints(lost, present)
    np.testing.assert_allclose(plain[6:, ankle, 0], keypoints[5, ankle, 0])  # held in the image


def test_an_anchor_missing_in_some_frames_is_interpolated_and_one_never_whole_is_not_used():
    t = np.arange(8, dtype=np.float32)
    keypoints = np.zeros((2, 8, 17, 2), np.float32)
    keypoints[..., 0] = 10 * t[:, None] + np.arange(17)
    keypoints[..., 1] = np.arange(17)
    present = np.ones((2, 8, 17), bool)
    left, right = HIP_ANCHOR["coco"]
    present[0, 3:5, left] = False  # the anchor is broken for two frames: interpolated there
    present[0, 2:, 0] = False  # the nose is lost from frame 2 on
    present[1, :, right] = False  # the anchor is never whole: filled without it
    present[1, 4:, 0] = False
    lost = np.where(present[..., None], keypoints, np.nan)
    filled = fill_missing_joints_batch(lost, present, HIP_ANCHOR["coco"])
    np.testing.assert_allclose(filled[0], keypoints[0], atol=1e-4)
    np.testing.assert_allclose(filled[1], fill_missing_joints(lost[1], present[1]), atol=1e-6)


def test_missing_frames_are_interpolated_and_bad_input_is_refused():
    keypoints = np.zeros((5, 17, 2), np.float32)
    keypoints[..., 0] = np.arange(5)[:, None] * 2.0
    keypoints[2] = np.nan
    filled, present = fill_missing_frames(keypoints)
    assert present.tolist() == [True, True, False, True, True]
    np.testing.assert_allclose(filled[2, :, 0], 4.0)
    with pytest.raises(InputError, match="no frame with keypoints"):
        fill_missing_joints(keypoints, np.zeros((5, 17), bool))
    with pytest.raises(InputError, match=r"must be \(B, T, J, C\)"):
        fill_missing_joints_batch(keypoints, np.ones((5, 17), bool))
