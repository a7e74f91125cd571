"""模拟演练: a practice sitting on the real laptop with real phones, days before the exam
(docs/rehearsal.md).

`hall rehearsal start` builds a database of its own (`build.py`) in a folder of its own
(`[rehearsal] data_dir`, default `<server.data_dir>/rehearsal`) from the real site's rooms,
the roster of each room's first sitting and the staff accounts, read from the real
database without changing it; adds a few practice candidates per room; gives everyone a
short paper from a practice bank (【演练题】); signs it with a fresh site key; and serves
it at the real address, so the QR, login, answer and submit flow is exactly exam day's.
Every phone page, console page, poster and form says 模拟演练; the result export refuses a
rehearsal database; `hall rehearsal wipe` deletes the folder. Real papers are never read.
"""
