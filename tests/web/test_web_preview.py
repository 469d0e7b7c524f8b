"""The camera preview: downscaled JPEGs with the face boxes, encoded once per frame and only while watched."""
from __future__ import annotations

import threading

import cv2
import httpx
import numpy as np
from web_support import WAIT_S, LiveServer, face, web_config

from drivers.camera.base import Frame
from kiosk.web import preview as preview_module
from kiosk.web.preview import BOX_BGR, encode


def scene(seq: int, width: int = 640, height: int = 480) -> Frame:
    image = np.full((height, width, 3), 90, np.uint8)
    return Frame(image=image, timestamp=float(seq), seq=seq)


def test_encode_downscales_and_draws_the_face_box() -> None:
    jpeg = encode(scene(1).image, [(200.0, 100.0, 440.0, 380.0)], 320)
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (240, 320, 3)
    edge = image[50:190, 100]                       # the box's left edge, at half scale
    assert np.abs(edge.astype(int) - BOX_BGR).max(axis=1).mean() < 40
    assert np.abs(image[120, 160].astype(int) - 90).max() < 10, "inside the box: the frame"
    small = cv2.imdecode(np.frombuffer(encode(scene(2, 160, 120).image, [], 320), np.uint8), cv2.IMREAD_COLOR)
    assert small.shape == (120, 160, 3), "never scaled up"


class MjpegReader:
    """Reads JPEG parts of /preview.mjpg in a thread."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.parts: list[bytes] = []
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        with httpx.stream("GET", self.url, timeout=httpx.Timeout(WAIT_S, read=None)) as response:
            self.content_type = response.headers["content-type"]
            buffer = b""
            for chunk in response.iter_bytes():
                buffer += chunk
                *complete, buffer = buffer.split(b"--frame\r\n")     # a part is whole once the next has begun
                for part in complete:
                    if part:
                        headers, _, body = part.partition(b"\r\n\r\n")
                        assert headers == b"Content-Type: image/jpeg" and body.endswith(b"\r\n"), part[:80]
                        with self.changed:
                            self.parts.append(body[:-2])
                            self.changed.notify_all()

    def wait(self, count: int) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: len(self.parts) >= count, WAIT_S)


def has_box(jpeg: bytes) -> bool:
    """The box (100, 100, 300, 300) of a 640-wide frame, drawn on the 240-wide preview: its left edge."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    edge = image[45:105, 38].astype(int)
    return bool(np.abs(edge - BOX_BGR).max(axis=1).mean() < 40)


def test_frames_are_kept_only_while_watched_and_encoded_once_for_every_watcher(monkeypatch) -> None:
    encoded: list[int] = []

    def counting(image, boxes, width):
        encoded.append(width)
        return encode(image, boxes, width)
    monkeypatch.setattr(preview_module, "encode", counting)
    with LiveServer(web_config(preview_width=240)) as server:
        hub = server.web.preview
        server.call(hub.offer_faces, 1.0, [face((100, 100, 300, 300))])
        server.call(hub.offer_frame, scene(1))
        assert server.call(lambda: (hub._latest, hub._faces[1])) == (None, []), "nobody watches: nothing kept"
        readers = [MjpegReader(f"{server.url}preview.mjpg") for _ in range(2)]
        for _ in range(200):                           # until both streams are open
            if server.call(lambda: hub.clients) == 2:
                break
            threading.Event().wait(0.05)
        assert server.call(lambda: hub.clients) == 2
        server.call(hub.offer_faces, 2.0, [face((100, 100, 300, 300))])
        server.call(hub.offer_frame, scene(2))
        assert all(reader.wait(1) for reader in readers)
        assert readers[0].parts[0] == readers[1].parts[0] and encoded == [240], "one encoding for both"
        assert readers[0].content_type == "multipart/x-mixed-replace; boundary=frame"
        image = cv2.imdecode(np.frombuffer(readers[0].parts[0], np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == (180, 240, 3) and has_box(readers[0].parts[0])
        server.call(hub.offer_frame, scene(5))        # 3 s after the faces were found: their box is stale
        assert all(reader.wait(2) for reader in readers), "the next frame follows"
        assert not has_box(readers[0].parts[1])
        server.stop()
        for reader in readers:
            reader.thread.join(WAIT_S)
            assert not reader.thread.is_alive(), "the stream ends when the daemon stops"
        assert hub.clients == 0 and hub._latest is None


def test_too_many_previews_are_refused() -> None:
    with LiveServer(web_config()) as server:
        server.web.preview.max_clients = 0
        refused = httpx.get(f"{server.url}preview.mjpg", timeout=WAIT_S)
        assert refused.status_code == 503 and "camera previews" in refused.text


def test_no_preview_when_its_rate_is_zero() -> None:
    with LiveServer(web_config(preview_fps=0)) as server:
        assert server.web.preview is None
        assert httpx.get(f"{server.url}preview.mjpg", timeout=WAIT_S).status_code == 404
        page = httpx.get(server.url, timeout=WAIT_S).text
        assert 'id="preview"' not in page and "data-preview" not in page
