"""The [server] limits of the connection layer: config checks, and what the connection
reserve (net/admission.py) reads from a request. The limits themselves are tested against
the real server in tests/attack/test_flood.py and test_connection_pressure.py."""
import pytest

from hall_server import config
from hall_server.net.admission import NEITHER, SESSION, TOKEN, Credentials


@pytest.mark.parametrize("key, value", [
    ("max_events_in_flight", 0), ("max_events_waiting", 0), ("max_waiting_bytes", 0), ("max_outgoing_packets", 0),
    ("header_timeout_seconds", 0.0), ("reserved_share", 1.0), ("session_reserved_share", -0.1),
])
def test_limits_out_of_range_are_refused(key, value):
    with pytest.raises(config.ConfigError, match=key):
        config.load(overrides={"server": {key: value}})


def test_session_reserve_cannot_exceed_the_reserve():
    with pytest.raises(config.ConfigError, match="session_reserved_share"):
        config.load(overrides={"server": {"reserved_share": 0.2, "session_reserved_share": 0.3}})


def _creds():
    return Credentials(session_valid=lambda s: s == "good-session", token_valid=lambda t: t == "good.token",
                       staff_address=lambda ip: ip == "10.0.0.1")


@pytest.mark.parametrize("environ, kind", [
    ({"PATH_INFO": "/healthz"}, NEITHER),
    ({"PATH_INFO": "/r/good.token"}, TOKEN),
    ({"PATH_INFO": "/r/bad.token"}, NEITHER),
    ({"PATH_INFO": "/socket.io/", "QUERY_STRING": "EIO=4&transport=websocket&t=good.token"}, TOKEN),
    ({"PATH_INFO": "/socket.io/", "QUERY_STRING": "EIO=4&transport=websocket&t=good.token&s=good-session"}, SESSION),
    ({"PATH_INFO": "/socket.io/", "QUERY_STRING": "t=bad.token&s=stolen"}, NEITHER),
    ({"PATH_INFO": "/api/paper", "HTTP_AUTHORIZATION": "Bearer good-session"}, SESSION),
    ({"PATH_INFO": "/api/paper", "HTTP_AUTHORIZATION": "Bearer nope"}, NEITHER),
    ({"PATH_INFO": "/static/client/app.js", "HTTP_REFERER": "http://192.168.1.2:8080/r/good.token"}, TOKEN),
    ({"PATH_INFO": "/static/client/app.js", "HTTP_REFERER": "http://192.168.1.2:8080/"}, NEITHER),
    ({"PATH_INFO": "/healthz", "REMOTE_ADDR": "10.0.0.1"}, SESSION),
])
def test_what_a_request_proves(environ, kind):
    assert _creds().classify({"REMOTE_ADDR": "192.168.1.50", **environ}) == kind
