"""Socket.IO packets without binary attachments.

python-socketio walks every outgoing payload recursively looking for bytes, to decide
whether to send it as a binary packet (Packet.data_is_binary: a list and a reduce per level,
4 % of the server's CPU at 1,000 phones). Everything the hall sends is JSON text, so the
walk is switched off; bytes in a payload would fail loudly in json.dumps instead.
Incoming packets are decoded exactly as before.
"""
from __future__ import annotations

from socketio import packet


class TextPacket(packet.Packet):
    uses_binary_events = False
