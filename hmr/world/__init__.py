"""Motion in the world for a static camera: ground plane, world frame, foot contacts, scores."""
