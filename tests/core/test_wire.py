"""The two wire-level speed-ups give exactly what the libraries they replace give."""
import json
import random
import warnings

import pytest
from hypothesis import given, settings, strategies as st

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from eventlet.websocket import RFC6455WebSocket
from socketio import packet

from hall_server.net import ws_mask
from hall_server.realtime.packets import TextPacket



def eventlet_mask(data, mask, length=None, offset=0):
    """eventlet 0.41's own _apply_mask, copied here because the server replaces it."""
    if length is None:
        length = len(data)
    return b"".join(bytes((data[i] ^ mask[(offset + i) % 4],)) for i in range(length))


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300), mask=st.binary(min_size=4, max_size=4),
       offset=st.integers(0, 1000), as_list=st.booleans(), cut=st.integers(0, 300))
def test_mask_matches_eventlet(data, mask, offset, as_list, cut):
    m = list(mask) if as_list else mask  # eventlet passes a list when sending, bytes when reading
    length = min(cut, len(data))
    assert ws_mask.apply_mask(data, m, length=length, offset=offset) == eventlet_mask(data, m, length, offset)
    assert ws_mask.apply_mask(data, m, offset=offset) == eventlet_mask(data, m, None, offset)


def test_masking_twice_gives_the_frame_back():
    rng = random.Random(7)
    data = bytes(rng.getrandbits(8) for _ in range(5000))
    mask = bytes(rng.getrandbits(8) for _ in range(4))
    assert ws_mask.apply_mask(ws_mask.apply_mask(data, mask), mask) == data


@pytest.mark.parametrize("data", [
    ["answer", {"ok": True, "q": 3, "choice": "B", "seq": 12, "now": 1}],
    [{"ok": False, "error": {"code": "time_up", "message": "考试时间已到"}}],
    ["state", {"answers": {"1": ["A", 1], "2": [None, 2]}, "nested": [[1, [2, {"x": "中文"}]]]}],
])
def test_text_packet_encodes_as_socketio_does(data):
    for kind, pid in ((packet.EVENT, None), (packet.ACK, 5)):
        ours = TextPacket(kind, data=data, namespace="/staff", id=pid).encode()
        theirs = packet.Packet(kind, data=data, namespace="/staff", id=pid).encode()
        assert ours == theirs
        assert json.loads(ours[ours.index("["):]) == json.loads(json.dumps(data))


def test_text_packet_refuses_bytes_loudly():
    with pytest.raises(TypeError):
        TextPacket(packet.EVENT, data=["x", b"\x00"]).encode()


def test_text_packet_still_decodes_what_phones_send():
    p = TextPacket(encoded_packet='2/staff,7["watch",{"sitting":"S1"}]')
    assert (p.packet_type, p.namespace, p.id, p.data) == (packet.EVENT, "/staff", 7, ["watch", {"sitting": "S1"}])
