"""Person detectors for the top-down keypoints stage; each is a callable frame → (N, 5) boxes.

    detect = make_detector("hog")                 # OpenCV's built-in people detector, no download
    detect = make_detector("rtmdet_person.onnx")  # an ONNX detector the user brings
    boxes = detect(frame)                         # (N, 5) pixels x1, y1, x2, y2, score

- ``HOGPersonDetector``: Dalal and Triggs' HOG + linear SVM, as OpenCV ships it inside the wheel
  we already depend on (``cv2.HOGDescriptor_getDefaultPeopleDetector``). Nothing to download;
  weak on small, occluded or seated people, and slow-ish on CPU (the frame is upscaled so that
  people about 100 px tall fill its 64 × 128 window).
- ``ONNXPersonDetector``: a detector exported to ONNX in MMDeploy's end-to-end layout (RTMDet,
  YOLOX and other MMDetection models): one input ``(1, 3, H, W)`` float BGR image, letterboxed
  (aspect kept, padded with 114) and normalised with MMDetection's mean and std, and two
  outputs, ``dets (1, N, 5)`` x1, y1, x2, y2, score in the input's pixels and ``labels (1, N)``
  COCO class indices (person = 0). Run by onnxruntime when installed, else by ``cv2.dnn``.

``make_detector`` also takes ``"module:factory"`` (your own detector, ``hmr.pose2d.boxes.load_detector``)
and ``"keypoints"`` (None: the single-person keypoint tracker, no detector).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np

from body_models.errors import InputError, MissingFileError

DEFAULT_DETECTOR = "hog"
PERSON_LABEL = 0  # COCO's person class in MMDetection's 0-based labels
MMDET_MEAN_BGR = (103.53, 116.28, 123.675)  # RTMDet / YOLOX-in-MMDetection preprocessing
MMDET_STD_BGR = (57.375, 57.12, 58.395)
LETTERBOX_PAD = 114.0


def non_max_suppression(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices of the boxes kept by greedy NMS, best score first. boxes (N, 4) x1, y1, x2, y2."""
    from hmr.pose2d.boxes import box_iou

    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    for i in order:
        if not keep or (box_iou(boxes[i][None], boxes[keep])[0] < iou_threshold).all():
            keep.append(int(i))
    return np.asarray(keep, np.int64)


class HOGPersonDetector:
    """OpenCV's HOG people detector on RGB frames.

    Args:
        upscale: the frame is resized by this factor first; HOG's 64 × 128 window finds people
            of about 100 px and more at 1, so 2 finds them from about 50 px.
        min_score: lowest SVM margin kept (OpenCV's ``weights``; about 0 to 3).
        nms_iou: overlapping windows above this IoU are merged (the best kept).
        scale: the image pyramid's step.
        tighten: the fraction of the window's width and height that is margin around the
            person on each side (HOG's training windows are padded); removed from each box.
    """

    def __init__(self, upscale: float = 1.5, min_score: float = 0.3, nms_iou: float = 0.45,
                 scale: float = 1.05, tighten: tuple[float, float] = (0.15, 0.08)) -> None:
        import cv2

        self.upscale, self.min_score, self.nms_iou, self.scale = float(upscale), min_score, nms_iou, scale
        self.tighten = tighten
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def __repr__(self) -> str:
        return f"HOGPersonDetector(upscale={self.upscale}, min_score={self.min_score})"

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB → (N, 5) pixels x1, y1, x2, y2, score."""
        import cv2

        image = np.ascontiguousarray(frame)
        if self.upscale != 1.0:
            image = cv2.resize(image, None, fx=self.upscale, fy=self.upscale, interpolation=cv2.INTER_LINEAR)
        rects, weights = self._hog.detectMultiScale(image, winStride=(8, 8), padding=(8, 8), scale=self.scale)
        if len(rects) == 0:
            return np.zeros((0, 5))
        rects = np.asarray(rects, np.float64).reshape(-1, 4) / self.upscale  # x, y, w, h in the frame
        scores = np.asarray(weights, np.float64).reshape(-1)
        dx, dy = rects[:, 2] * self.tighten[0], rects[:, 3] * self.tighten[1]
        boxes = np.stack([rects[:, 0] + dx, rects[:, 1] + dy, rects[:, 0] + rects[:, 2] - dx,
                          rects[:, 1] + rects[:, 3] - dy], -1)
        ok = scores >= self.min_score
        boxes, scores = boxes[ok], scores[ok]
        keep = non_max_suppression(boxes, scores, self.nms_iou)
        return np.concatenate([boxes[keep], scores[keep, None]], -1) if len(keep) else np.zeros((0, 5))


class ONNXPersonDetector:
    """An ONNX person detector in MMDeploy's end-to-end layout (see the module docstring).

    Args:
        path: the ``.onnx`` file.
        input_size: (width, height) the network takes; read from the file by onnxruntime, and
            needed with ``cv2.dnn`` when it is not 640 × 640 (RTMDet's).
        min_score: detections below this score are dropped.
        nms_iou: a second NMS over the person boxes (the exported graph usually has its own).
        backend: "auto" (onnxruntime if installed, else cv2.dnn), "onnxruntime" or "opencv".
    """

    def __init__(self, path: str | os.PathLike, input_size: tuple[int, int] | None = None,
                 min_score: float = 0.3, nms_iou: float = 0.65, backend: str = "auto") -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise MissingFileError(f"ONNX detector not found: {self.path}; export one with MMDeploy "
                                   "(e.g. RTMDet, end-to-end: outputs dets and labels) and pass its path")
        self.min_score, self.nms_iou = min_score, nms_iou
        self._session = self._net = None
        if backend not in ("auto", "onnxruntime", "opencv"):
            raise InputError(f"ONNX backend must be auto, onnxruntime or opencv, got {backend!r}")
        if backend in ("auto", "onnxruntime"):
            try:
                import onnxruntime
            except ImportError:
                if backend == "onnxruntime":
                    raise InputError("onnxruntime is not installed; pip install onnxruntime, or use the "
                                     "opencv backend") from None
            else:
                try:
                    self._session = onnxruntime.InferenceSession(str(self.path), providers=["CPUExecutionProvider"])
                except Exception as err:  # onnxruntime raises its own exception types
                    raise InputError(f"{self.path}: onnxruntime cannot load it ({' '.join(str(err).split())[:200]})") \
                        from None
                shape = self._session.get_inputs()[0].shape
                if input_size is None and all(isinstance(v, int) for v in shape[2:4]):
                    input_size = (int(shape[3]), int(shape[2]))
        if self._session is None:
            import cv2

            try:
                self._net = cv2.dnn.readNetFromONNX(str(self.path))
            except cv2.error as err:
                raise InputError(f"{self.path}: OpenCV cannot read it as an ONNX model "
                                 f"({' '.join(str(err).split())[-200:]})") from None
            names = tuple(self._net.getUnconnectedOutLayersNames())
            if not {"dets", "labels"} <= set(names):
                raise InputError(f"{self.path}: outputs are {', '.join(names)}; expected MMDeploy's dets and labels")
        self.input_size = tuple(int(v) for v in (input_size or (640, 640)))

    def __repr__(self) -> str:
        return f"ONNXPersonDetector({str(self.path)!r}, input_size={self.input_size})"

    def _letterbox(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        """(H, W, 3) RGB → (1, 3, h, w) float32 normalised BGR, and the resize factor."""
        import cv2

        width, height = self.input_size
        ratio = min(width / frame.shape[1], height / frame.shape[0])
        new_w, new_h = max(1, round(frame.shape[1] * ratio)), max(1, round(frame.shape[0] * ratio))
        resized = cv2.resize(frame[..., ::-1], (new_w, new_h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        canvas = np.full((height, width, 3), LETTERBOX_PAD, np.float32)
        canvas[:new_h, :new_w] = resized
        canvas = (canvas - np.array(MMDET_MEAN_BGR, np.float32)) / np.array(MMDET_STD_BGR, np.float32)
        return np.ascontiguousarray(canvas.transpose(2, 0, 1)[None]), ratio

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB → (N, 5) pixels x1, y1, x2, y2, score, people only."""
        blob, ratio = self._letterbox(frame)
        if self._session is not None:
            outputs = {o.name: v for o, v in zip(self._session.get_outputs(),
                                                 self._session.run(None, {self._session.get_inputs()[0].name: blob}))}
        else:
            self._net.setInput(blob)
            outputs = dict(zip(("dets", "labels"), self._net.forward(["dets", "labels"])))
        if "dets" not in outputs or "labels" not in outputs:
            raise InputError(f"{self.path}: outputs are {', '.join(outputs)}; expected MMDeploy's dets and labels")
        dets = np.asarray(outputs["dets"], np.float64).reshape(-1, 5)
        labels = np.asarray(outputs["labels"]).reshape(-1)
        if len(labels) != len(dets):
            raise InputError(f"{self.path}: {len(dets)} dets but {len(labels)} labels")
        people = dets[(labels == PERSON_LABEL) & (dets[:, 4] >= self.min_score)]
        boxes = people[:, :4] / ratio
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, frame.shape[1])
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, frame.shape[0])
        keep = non_max_suppression(boxes, people[:, 4], self.nms_iou)
        return np.concatenate([boxes[keep], people[keep, 4:5]], -1) if len(keep) else np.zeros((0, 5))


def make_detector(spec: str | None) -> Callable[[np.ndarray], np.ndarray] | None:
    """A detector from its name: ``"hog"``, a path ending in ``.onnx``, ``"module:factory"``, or
    ``"keypoints"`` / None for no detector (the single-person keypoint tracker)."""
    if spec is None or spec == "keypoints":
        return None
    if spec == "hog":
        return HOGPersonDetector()
    if str(spec).lower().endswith(".onnx"):
        return ONNXPersonDetector(spec)
    if ":" in str(spec):
        from hmr.pose2d.boxes import load_detector

        return load_detector(spec)
    raise InputError(f"unknown detector {spec!r}; use hog, keypoints, a .onnx file or module:factory")
