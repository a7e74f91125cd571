"""Camera proctoring and identity (issue 16).

- photos.py     content-addressed photo files: check an upload, store it durably, thumbnails
- schedule.py   the secret random moments of the prompts, pure functions
- ops.py        writer operations: captures, missed prompts, face results, identity checks
- service.py    ProctorActions, mixed into the exam service (mirror and rules)
- face.py       the face check itself (dlib, models from face-recognition-models)
- face_worker.py  the separate low-priority process that runs face.py
- face_client.py  the server's side of it: a green thread feeding the worker
- web.py        HTTP: the phone's upload, the console's photo views (audited)
"""
