"""The lift stage: VideoPose3D on the keypoints stage's output (``hmr.lift.stage``)."""
