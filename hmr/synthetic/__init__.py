"""Synthetic data with known truth: the image world (COCO-format keypoint datasets, ``images``) and
the mannequin test clip the demo and the end-to-end tests film (``clip``)."""

from hmr.synthetic.images import WorldConfig, annotation_path, make_synthetic_images

__all__ = ["WorldConfig", "annotation_path", "make_synthetic_images"]
