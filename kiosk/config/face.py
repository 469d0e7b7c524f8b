"""[face]: detection, alignment, quality gates and the embedding model."""
from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Optional

from pydantic import Field

from .base import Section


class DetectorKind(StrEnum):
    blazeface_short = "blazeface_short"  # MediaPipe BlazeFace short range via LiteRT (default, faces within ~2 m)
    blazeface_full = "blazeface_full"    # BlazeFace full range (faces beyond 2 m)
    yunet = "yunet"                      # OpenCV FaceDetectorYN; needs face.yunet_model
    mediapipe = "mediapipe"              # MediaPipe Tasks FaceDetector; needs the 'mediapipe' extra


class MaskModel(StrEnum):
    auto = "auto"                # the AIZOO SSD where installed, else the learned classifier
    aizoo_mask = "aizoo_mask"    # the AIZOO face-mask SSD (optional model, trained on real masked faces)
    learned = "learned"          # the learnt classifier shipped with the package (kiosk.face.mask)


class LandmarkSource(StrEnum):
    facemesh = "facemesh"    # MediaPipe FaceMesh on the face crop: eye centres, nose tip, mouth corners (default)
    detector = "detector"    # the detector's own keypoints (BlazeFace: 4 coarse points; YuNet: 5 points)


class FaceConfig(Section):
    models_dir: Optional[Path] = Field(None, description="Model directory; unset = <state_dir>/models.")
    detector: DetectorKind = Field(DetectorKind.blazeface_short, description="Face detector backend.")
    yunet_model: Optional[Path] = Field(None, description="Path of the YuNet .onnx file (detector = yunet).")
    detection_threshold: float = Field(0.6, gt=0, lt=1, description="Minimum detector score.")
    landmarks: LandmarkSource = Field(LandmarkSource.facemesh,
                                      description="Alignment points: 'facemesh' (precise) or 'detector'.")
    embedder: str = Field("auto", description="Embedding model id (a spec in the models directory), or \"auto\": "
                                              "the first installed of mobilefacenet, dlib_resnet_v1.")
    mask_model: MaskModel = Field(MaskModel.auto, description="Mask score: \"auto\" (the AIZOO face-mask SSD where "
                                                              "installed, else the learned classifier), aizoo_mask "
                                                              "or learned.")
    mask_every_s: float = Field(0.5, ge=0, le=5, description="In camera frames, a face in the same place keeps its "
                                                            "mask score this long before it is scored again (the "
                                                            "SSD costs about an embedding); 0 = every frame.")
    num_threads: int = Field(1, ge=1, le=16, description="Inference threads per model.")
    min_face_px: int = Field(80, ge=20, le=1000, description="Minimum face width in pixels ('move closer').")
    max_yaw_deg: float = Field(30.0, gt=0, le=90, description="Largest head turn accepted ('look at the camera').")
    min_sharpness: float = Field(40.0, ge=0, description="Minimum variance of the Laplacian of the face chip.")
    min_brightness: float = Field(50.0, ge=0, le=255, description="Minimum mean luminance of the face.")
    max_brightness: float = Field(215.0, ge=0, le=255, description="Maximum mean luminance of the face.")
    max_image_pixels: int = Field(40_000_000, ge=1_000_000, le=178_000_000,
                                  description="Enrollment photos larger than this (width x height, read from the "
                                              "file's header) are refused before decoding; at most 178 MP "
                                              "(Pillow's own limit).")
