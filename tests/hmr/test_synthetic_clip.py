import numpy as np

from hmr.io.video import iter_frames, probe_video
from hmr.synthetic.clip import make_synthetic_clip


def test_clip_and_ground_truth_agree(tmp_path, mannequin_smpl):
    clip = make_synthetic_clip(tmp_path, motion="wave", num_frames=6, image_size=(160, 120),
                               focal_length=150.0, smpl=mannequin_smpl)
    info = probe_video(clip.video)
    assert (info.width, info.height, info.num_frames) == (160, 120, 6)
    gt = np.load(clip.ground_truth, allow_pickle=False)
    assert gt["keypoints"].shape == (6, 1, 17, 3) and gt["joints3d"].shape == (6, 1, 17, 3)
    assert str(gt["body_model"]) == "mannequin"
    np.testing.assert_allclose(gt["joints3d"][:, 0, 0], 0.0, atol=1e-6)
    # the 3D joints (root + trajectory) project to the body in the picture
    pelvis = gt["joints3d"][:, 0, 0] + gt["trajectory"][:, 0]
    uv = pelvis[:, :2] / pelvis[:, 2:] * 150.0 + [80.0, 60.0]
    background = None
    for frame, (u, v) in zip(iter_frames(clip.video), uv):
        assert frame.image.shape == (120, 160, 3)
        if background is None:
            background = frame.image[2, 2].astype(int)
        pixel = frame.image[int(round(v)), int(round(u))].astype(int)
        assert np.abs(pixel - background).sum() > 30, "the pelvis pixel shows the body, not the wall"
    x1, y1, x2, y2 = gt["boxes"][0, 0]
    k = gt["keypoints"][0, 0]
    assert (k[:, 0] >= x1 - 1).all() and (k[:, 0] <= x2 + 1).all() and (k[:, 1] >= y1 - 1).all()
    assert (k[:, 2] == 1).all()  # every joint visible at this distance
