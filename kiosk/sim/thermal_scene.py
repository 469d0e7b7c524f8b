"""Thermal truth of a simulated scene: what the MLX90640 sees, and where the camera sees each face.

`render_thermal(rig, subjects, room_c)` traces a fine grid of rays through every sensor pixel
(`supersample` x `supersample` per pixel), finds the nearest surface each ray meets, and averages
back to the rig's sensor grid (24x32 for an MLX90640), so a small or distant face is diluted by its
background the way a real thermopile dilutes it. `project_face(rig, subject)` gives the same face's box and six BlazeFace
keypoints in camera pixels, so the camera image and the thermal image agree.

A live face is drawn from a template in face-box units (box width = `face_width_m`): warm inner
canthi (the hottest spots), a forehead plateau, cooler eyes, cheeks, nose and ears, hair above the
hairline, an optional surgical mask over the lower face, a neck and clothing. The canthus and
forehead temperatures follow the skin-to-core model's inverse (kiosk.thermal.skin_core), so the
simulation tests the measurement chain, not physiology. A printed photo is a sheet near room
temperature; a screen is a uniform, slightly warm rectangle; both are held by a person whose hands
show at the edges and whose body stands behind.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Optional

import numpy as np

from ..thermal.geometry import Rig
from ..thermal.skin_core import MODEL
from .walkups import Presentation, SubjectState

# Keypoints in face-box units (x right, y down, box centre = origin, box width = 1): BlazeFace order.
KEYPOINTS = np.array([[-0.20, -0.12], [0.20, -0.12], [0.0, 0.06], [0.0, 0.24], [-0.48, -0.02], [0.48, -0.02]])
HOLDER_BEHIND_M = 0.35   # an attacker holds the photo or screen this far in front of their own face


@dataclass(frozen=True)
class Subject:
    """One thing in front of the kiosk that shows a face.

    Positions are in camera coordinates: `lateral_m` to the image right, `height_m` of the face
    centre above the camera axis, `distance_m` along the axis. For a photo or screen,
    `face_width_m` is the size of the face it shows and `surface_m` the size of the sheet/screen.
    """

    distance_m: float
    lateral_m: float = 0.0
    height_m: float = 0.0
    face_width_m: float = 0.1575
    body_c: float = 36.8
    presentation: Presentation = Presentation.live
    masked: bool = False
    surface_m: Optional[tuple[float, float]] = None   # (width, height); default A5 photo or a phone
    surface_c: Optional[float] = None                 # default room + 0.3 (photo) or room + 5 (screen)


@dataclass(frozen=True)
class Emitter:
    """A flat warm object facing the kiosk: a blackbody reference (square) or a calibration target (disc).

    Camera coordinates, metres; `size_m` is the side of the square or the disc's diameter.
    """

    lateral_m: float
    height_m: float
    distance_m: float
    size_m: float
    temperature_c: float
    disc: bool = False


@dataclass(frozen=True)
class FaceProjection:
    box: tuple[float, float, float, float]   # x1, y1, x2, y2 camera pixels
    keypoints: np.ndarray                    # (6, 2) camera pixels, BlazeFace order
    distance_m: float


def project_emitter(rig: Rig, emitter: Emitter) -> tuple[np.ndarray, float]:
    """Centre (2,) and radius (half size) of an emitter in camera pixels."""
    centre = np.array([[emitter.lateral_m, -emitter.height_m, emitter.distance_m]])
    return rig.project_camera(centre)[0], rig.camera.fx * emitter.size_m / 2 / emitter.distance_m


def project_face(rig: Rig, subject: Subject) -> FaceProjection:
    """Where the camera sees the subject's face (for a photo or screen: the face it shows)."""
    width = subject.face_width_m
    centre = np.array([subject.lateral_m, -subject.height_m])
    corners = np.array([[-0.5, -0.5], [0.5, 0.5]]) * width + centre
    points = np.vstack([corners, KEYPOINTS * width + centre])
    pixels = rig.project_camera(np.column_stack([points, np.full(len(points), subject.distance_m)]))
    (x1, y1), (x2, y2) = pixels[0], pixels[1]
    return FaceProjection((float(x1), float(y1), float(x2), float(y2)), pixels[2:], subject.distance_m)


def _ellipse(x: np.ndarray, y: np.ndarray, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1.0


def _person(x: np.ndarray, y: np.ndarray, subject: Subject, room_c: float) -> tuple[np.ndarray, np.ndarray]:
    """Temperature and coverage of a live person; x, y in face-box units on the face plane."""
    canthus, forehead = MODEL.skin(subject.body_c, room_c)
    cold = max(0.0, 30.0 - room_c)                   # the colder the room, the cooler nose, ears and cheeks
    head = _ellipse(x, y, 0.0, -0.08, 0.5, 0.66)
    neck = (np.abs(x) < 0.28) & (y > 0.40) & (y < 1.25)
    torso = (y > 1.05) & (np.abs(x) < 1.25 + 0.3 * (y - 1.05))
    covered = head | neck | torso
    t = np.full(x.shape, room_c, dtype=np.float64)
    t[torso] = room_c + 0.3 * (forehead - room_c)     # clothing
    t[neck] = forehead - 0.7
    t[head] = forehead - 0.8 - 0.05 * cold            # cheeks, temples, chin
    t[_ellipse(x, y, 0.0, -0.36, 0.36, 0.16) & head] = forehead
    for side in (-1, 1):
        t[_ellipse(x, y, side * 0.48, -0.02, 0.06, 0.10)] = forehead - 1.5 - 0.08 * cold   # ears
        t[_ellipse(x, y, side * 0.20, -0.12, 0.12, 0.07)] = canthus - 0.6                # periorbital skin
        t[_ellipse(x, y, side * 0.21, -0.12, 0.06, 0.03)] = canthus - 1.3                # eye (cornea)
        t[_ellipse(x, y, side * 0.085, -0.11, 0.03, 0.03)] = canthus                     # inner canthus
    t[_ellipse(x, y, 0.0, -0.01, 0.07, 0.09)] = forehead - 1.0 - 0.06 * cold              # nose bridge to tip
    t[_ellipse(x, y, 0.0, 0.06, 0.05, 0.04)] = forehead - 1.6 - 0.1 * cold                # nose tip
    t[_ellipse(x, y, 0.0, 0.24, 0.12, 0.04)] = canthus - 0.5                              # lips
    hair = head & (y < -0.50 + 0.6 * x ** 2)
    t[hair] = room_c + 0.45 * (forehead - room_c)
    if subject.masked:
        mask = _ellipse(x, y, 0.0, 0.28, 0.52, 0.34) & (y > -0.03)
        t[mask] = room_c + 0.55 * (forehead - room_c)
    return t, covered


def _medium(x: np.ndarray, y: np.ndarray, subject: Subject, room_c: float) -> tuple[np.ndarray, np.ndarray]:
    """A photo or screen and the hands that hold it; x, y in metres on its plane, centred on the shown face."""
    screen = subject.presentation == Presentation.screen
    width, height = subject.surface_m or ((0.075, 0.155) if screen else (0.148, 0.21))
    surface_c = subject.surface_c if subject.surface_c is not None else room_c + (5.0 if screen else 0.3)
    sheet = (np.abs(x) <= width / 2) & (np.abs(y - 0.1 * height) <= height / 2)
    t = np.full(x.shape, room_c, dtype=np.float64)
    # A screen warms unevenly a little (processor side); paper takes the room's temperature.
    t[sheet] = surface_c + (0.4 * (y[sheet] / height) if screen else 0.0)
    hands = np.zeros_like(sheet)
    for side in (-1, 1):
        hands |= _ellipse(x, y, side * (width / 2 + 0.02), 0.1 * height + height / 4, 0.035, 0.05)
    _, forehead = MODEL.skin(36.8, room_c)
    t[hands & ~sheet] = forehead - 1.5
    return t, sheet | hands


def _objects(subjects: Sequence[Subject], emitters: Sequence[Emitter]) -> list[tuple[float, Subject | Emitter]]:
    """Every surface with its depth; an attack brings its holder along behind it."""
    objects: list[tuple[float, Subject | Emitter]] = []
    for subject in subjects:
        objects.append((subject.distance_m, subject))
        if subject.presentation != Presentation.live:
            holder = Subject(subject.distance_m + HOLDER_BEHIND_M, subject.lateral_m, subject.height_m)
            objects.append((holder.distance_m, holder))
    objects.extend((emitter.distance_m, emitter) for emitter in emitters)
    return sorted(objects, key=lambda item: -item[0])   # far to near: nearer surfaces paint over


def render_thermal(rig: Rig, subjects: Sequence[Subject], room_c: float, emitters: Sequence[Emitter] = (),
                   supersample: int = 8) -> np.ndarray:
    """The (rows, cols) float32 object temperatures the rig's sensor would see, background at `room_c`."""
    s = supersample
    n_rows, n_cols = rig.thermal_geometry.resolution
    cols = (np.arange(n_cols * s) + 0.5) / s - 0.5
    rows = (np.arange(n_rows * s) + 0.5) / s - 0.5
    grid_c, grid_r = np.meshgrid(cols, rows)
    origin, directions = rig.thermal_rays(np.column_stack([grid_c.ravel(), grid_r.ravel()]))
    image = np.full(grid_c.size, room_c, dtype=np.float64)
    for depth, thing in _objects(subjects, emitters):
        along = (depth - origin[2]) / directions[:, 2]
        px = origin[0] + along * directions[:, 0]
        py = origin[1] + along * directions[:, 1]
        if isinstance(thing, Emitter):
            dx, dy, half = px - thing.lateral_m, py + thing.height_m, thing.size_m / 2
            hit = (dx * dx + dy * dy <= half * half) if thing.disc else (np.abs(dx) <= half) & (np.abs(dy) <= half)
            image[hit] = thing.temperature_c
            continue
        x, y = px - thing.lateral_m, py + thing.height_m
        if thing.presentation == Presentation.live:
            t, hit = _person(x / thing.face_width_m, y / thing.face_width_m, thing, room_c)
        else:
            t, hit = _medium(x, y, thing, room_c)
        image[hit] = t[hit]
    fine = image.reshape(n_rows, s, n_cols, s)
    return fine.mean(axis=(1, 3)).astype(np.float32)


@dataclass
class ThermalScene:
    """A scene that can be re-rendered as subjects move.

    `scene(t)` -> ((rows, cols) temperatures, sensor die temperature) is the scene callable of the
    MLX90640 mock bus (drivers.mlx90640.mock.MockMlx90640Bus); the die runs `self_heating_c` above
    the room, as a real sensor in its housing does. `scene.faces()` gives the camera-side
    projections of the same subjects, in the same order.
    """

    rig: Rig
    room_c: float = 22.0
    subjects: list[Subject] | None = None
    emitters: list[Emitter] = field(default_factory=list)
    supersample: int = 8
    self_heating_c: float = 8.0

    def __call__(self, t: float = 0.0) -> tuple[np.ndarray, float]:
        return self.render(), self.room_c + self.self_heating_c

    def render(self) -> np.ndarray:
        return render_thermal(self.rig, self.subjects or [], self.room_c, self.emitters, self.supersample)

    def faces(self) -> list[FaceProjection]:
        return [project_face(self.rig, subject) for subject in self.subjects or []]

    def move(self, index: int, **changes: Any) -> None:
        """Change one subject's position or state (distance_m, lateral_m, height_m, ...)."""
        subjects = list(self.subjects or [])
        subjects[index] = replace(subjects[index], **changes)
        self.subjects = subjects


def subject_for(state: SubjectState) -> Subject:
    """The thermal subject of a walk-up at one instant (kiosk.sim.walkups.Script.at).

    A photo is printed life-size on A5; a screen is a tablet showing the face nearly life-size.
    """
    walkup = state.walkup
    screen = walkup.presentation == Presentation.screen
    return Subject(state.distance_m, state.lateral_m, state.height_m, face_width_m=0.14 if screen else 0.1575,
                   body_c=walkup.body_c, presentation=walkup.presentation, masked=walkup.mask,
                   surface_m=(0.17, 0.24) if screen else None)
