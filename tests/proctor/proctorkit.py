"""Photographs and helpers for the camera tests (issue 16).

The faces are real photographs that ship inside scikit-image (no download): the
astronaut (Eileen Collins), the cameraman and the LFW faces. The cases the face check must
tell apart are built from them the way a phone would deliver them (<= 480 px JPEG).
"""
from __future__ import annotations

import io
import secrets
import sys
from pathlib import Path

import numpy as np
import requests
from PIL import Image, ImageEnhance

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def jpeg(img, side: int = 480, quality: int = 75) -> bytes:
    im = img if isinstance(img, Image.Image) else Image.fromarray(np.asarray(img))
    im = im.convert("RGB")
    im.thumbnail((side, side))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality)
    return out.getvalue()


def astronaut_face() -> Image.Image:
    """The astronaut's head and shoulders (the full picture also shows a badge that dlib
    takes for a second face)."""
    from skimage import data

    return Image.fromarray(data.astronaut()[0:300, 100:400])


def cameraman() -> Image.Image:
    from skimage import data

    g = data.camera()
    return Image.fromarray(np.stack([g] * 3, -1)[40:360, 100:420])


def lfw_faces(n: int = 12) -> list[Image.Image]:
    """LFW faces (25x25 in the package) enlarged to a phone photo's size."""
    from skimage import data, transform

    faces = data.lfw_subset()
    return [Image.fromarray((np.stack([transform.resize(faces[i], (240, 240), order=3)] * 3, -1) * 255)
                            .clip(0, 255).astype(np.uint8)) for i in range(0, 200, 200 // n)][:n]


def same_person_variants() -> dict[str, Image.Image]:
    """The astronaut as other captures of the same person: mirrored (front camera),
    smaller, darker, brighter, another crop."""
    from skimage import data

    face = astronaut_face()
    a = data.astronaut()
    return {"mirrored": face.transpose(Image.FLIP_LEFT_RIGHT), "small": face.resize((200, 200)),
            "darker": ImageEnhance.Brightness(face).enhance(0.6), "brighter": ImageEnhance.Brightness(face).enhance(1.3),
            "other_crop": Image.fromarray(a[20:280, 140:380])}


def blank(side: int = 480, grey: int = 20) -> Image.Image:
    """A covered camera: an almost black frame."""
    return Image.new("RGB", (side, side), (grey, grey, grey))


def two_people() -> Image.Image:
    """Two photographs side by side: the astronaut and someone else."""
    left = astronaut_face().resize((240, 240))
    right = lfw_faces(1)[0].resize((240, 240))
    im = Image.new("RGB", (480, 240))
    im.paste(left, (0, 0))
    im.paste(right, (240, 0))
    return im


def capture_id() -> str:
    return "cap-" + secrets.token_hex(8)


def upload(hall, session: str, data: bytes, slot: int = 0, cid: str | None = None, source: str = "file",
           headers: dict | None = None) -> requests.Response:
    h = {"Authorization": f"Bearer {session}", "Content-Type": "image/jpeg", "X-Capture-Id": cid or capture_id(),
         "X-Capture-Slot": str(slot), "X-Capture-Source": source}
    h.update(headers or {})
    return requests.post(hall.url + "/api/capture", data=data, headers=h, timeout=20)


def logged_in_phone(hall, ticket_index: int = 0, confirm: bool = True):
    from hallproc import Phone

    c = hall.plan["candidates"][ticket_index]
    p = Phone(hall, c["ticket"], c["id_number"][-6:]).connect()
    r = p.login(c["sitting_id"])
    assert r["ok"], r
    if confirm:
        assert p.call("confirm")["ok"]
    return p, c


def proctor_hall(tmp_path, config: str = "face_worker = false\n", plan: dict | None = None, **kw):
    """The real server with the camera rules on (tests/hallproc.py turns them off for the
    other suites)."""
    from factories import make_plan
    from hallproc import HallProcess

    return HallProcess(tmp_path / "hall", plan or make_plan(), "[proctor]\n" + config, **kw).start()


import pytest  # noqa: E402


@pytest.fixture
def phall(tmp_path):
    h = proctor_hall(tmp_path)
    yield h
    h.stop()


@pytest.fixture
def phall_face(tmp_path):
    h = proctor_hall(tmp_path, "face_worker = true\n")
    yield h
    h.stop()
