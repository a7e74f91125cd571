"""The face check: how many faces a photo shows and how alike the best one is to a
reference face. dlib's HOG detector, its 5-point shape model and its ResNet face
descriptor, loaded from the files of the `face-recognition-models` package (no download).

similarity = 1 - the Euclidean distance of the two 128-d descriptors (clipped at 0): dlib
calls two faces the same person below a distance of 0.6; the threshold hall flags below is
measured on test photographs and kept in config (proctor.similarity_threshold).
"""
from __future__ import annotations

import io


def available() -> bool:
    try:
        import dlib  # noqa: F401
        import face_recognition_models  # noqa: F401
    except ImportError:
        return False
    return True


class FaceModel:
    def __init__(self, upsample: int = 1):
        import dlib
        import face_recognition_models as frm

        self.upsample = upsample
        self.detector = dlib.get_frontal_face_detector()
        self.shape = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
        self.encoder = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
        self._refs: dict[str, object] = {}

    @staticmethod
    def load(data: bytes):
        import numpy as np
        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB"))

    def faces(self, img) -> list:
        """(area, descriptor) of every face found, largest first."""
        import numpy as np

        out = []
        for d in self.detector(img, self.upsample):
            desc = np.asarray(self.encoder.compute_face_descriptor(img, self.shape(img, d)))
            out.append((d.width() * d.height(), desc))
        return sorted(out, key=lambda x: -x[0])

    def reference(self, key: str, data: bytes):
        """The descriptor of a reference photo's largest face (cached by key), or None."""
        if key not in self._refs:
            found = self.faces(self.load(data))
            self._refs[key] = found[0][1] if found else None
        return self._refs[key]

    def analyze(self, data: bytes, ref=None) -> tuple[int, float | None]:
        """(faces found, similarity of the most similar face to ref, or None)."""
        import numpy as np

        found = self.faces(self.load(data))
        if ref is None or not found:
            return len(found), None
        best = max(1.0 - float(np.linalg.norm(desc - ref)) for _, desc in found)
        return len(found), round(max(0.0, best), 4)
