"""Synthetic data with known truth: the image world (COCO-format keypoint datasets)."""

from hmr.synthetic.images import WorldConfig, annotation_path, make_synthetic_images

__all__ = ["WorldConfig", "annotation_path", "make_synthetic_images"]
