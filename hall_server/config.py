"""Configuration: TOML file over built-in defaults.

Every key is documented in config.example.toml; this module is the single place that
knows the defaults, so code never carries its own copy of a number.
"""
from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts.exam import EXAM_DEFAULTS

DEFAULTS: dict[str, dict[str, Any]] = {
    "server": {
        "host": "0.0.0.0",
        "port": 8080,
        "public_url": "",
        "async_mode": "eventlet",
        "max_connections": 4096,
        "max_connections_per_address": 16,
        "reserved_share": 0.5,
        "session_reserved_share": 0.25,
        "header_timeout_seconds": 5.0,
        "max_events_in_flight": 8,
        "max_events_waiting": 512,
        "max_waiting_bytes": 262144,
        "max_outgoing_packets": 256,
        "data_dir": "var/hall",
        "ping_interval": 25,
        "ping_timeout": 20,
        "gc_freeze": True,
        "tls_cert": "",
        "tls_key": "",
    },
    "writer": {"max_batch": 512, "synchronous": "FULL", "checkpoint_seconds": 1.0, "call_timeout_seconds": 30.0},
    "rules": {
        # the exam's numbers for a plan that does not state them (contracts/exam.py)
        "duration_minutes": EXAM_DEFAULTS["duration_minutes"],
        "late_entry_minutes": EXAM_DEFAULTS["late_entry_minutes"],
        "earliest_submit_minutes": EXAM_DEFAULTS["earliest_submit_minutes"],
        "timeup_sweep_seconds": 0.25,
        "answer_log_max_per_question": 50,
        "minor_violations_before_cheating": 2,
    },
    "security": {
        "login_max_failures": 5,
        "login_lockout_seconds": 30,
        "login_max_failures_per_ticket": 30,
        "staff_allowlist": ["127.0.0.1", "::1"],
        "qr_rotate_seconds": 0,
        "qr_grace_seconds": 120,
        "qr_valid_after_end_minutes": 60,
        "device_change_requires_approval": True,
        "pairing_code_seconds": 300,
        "paired_device_days": 30,
    },
    "clock": {"drift_alert_seconds": 5.0},
    "site": {"wifi_ssid": "", "wifi_password": "", "timezone": EXAM_DEFAULTS["timezone"]},
    "bundle": {"central_public_key": "", "site_no": ""},
    "sync": {"central_url": "", "outbox": "outbox"},
    "replica": {"path": "", "interval_seconds": 1.0, "max_cpu_share": 0.25, "stale_alert_seconds": 15.0},
    "rehearsal": {"data_dir": "", "questions": 10, "duration_minutes": 15, "late_entry_minutes": 10,
                  "earliest_submit_minutes": 2, "practice_candidates_per_room": 3},
    # Camera proctoring and identity (issue 16; hall_server/proctor). Numbers of the rules,
    # not of the code: config.example.toml says what each one means.
    "proctor": {
        "enabled": True,
        "login_capture_required": True,
        "random_captures": 3,
        "first_after_minutes": 3.0,
        "last_before_end_minutes": 5.0,
        "prompt_grace_seconds": 120,
        "max_upload_bytes": 65536,
        "max_side_px": 480,
        "target_bytes": 40960,
        "max_captures_per_candidate": 24,
        "photo_dir": "photos",
        "face_worker": True,
        "face_upsample": 1,
        "similarity_threshold": 0.53,
        "purge_after_days": 30,
        "bundle_thumb_px": 96,
        "bundle_thumbs_per_candidate": 4,
        "bundle_max_bytes": 12582912,
    },
    "doctor": {"min_free_mb": 512, "disk_per_candidate_kb": 256, "battery_min_percent": 50,
               "expect_printer": False},
}

ASYNC_MODES = ("eventlet", "threading")


class ConfigError(ValueError):
    pass


@dataclass
class Config:
    data: dict[str, dict[str, Any]] = field(default_factory=lambda: copy.deepcopy(DEFAULTS))
    path: Path | None = None
    from_file: set = field(default_factory=set)   # (section, key) pairs the config file set

    def set_in_file(self, section: str, key: str) -> bool:
        return (section, key) in self.from_file

    def __getitem__(self, section: str) -> dict[str, Any]:
        return self.data[section]

    @property
    def data_dir(self) -> Path:
        d = Path(self.data["server"]["data_dir"])
        if not d.is_absolute() and self.path is not None:
            d = self.path.parent / d
        return d

    @property
    def db_path(self) -> Path:
        return self.data_dir / "hall.db"


def load(path: str | Path | None = None, overrides: dict | None = None) -> Config:
    cfg = Config(path=Path(path).resolve() if path else None)
    if path:
        try:
            with open(path, "rb") as f:
                user = tomllib.load(f)
        except FileNotFoundError:
            raise ConfigError(f"配置文件不存在: {path}") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"配置文件格式错误 {path}: {e}") from None
        _merge(cfg.data, user, where=str(path))
        cfg.from_file = {(sec, k) for sec, vals in user.items() if isinstance(vals, dict) for k in vals}
    if overrides:
        _merge(cfg.data, overrides, where="overrides")
    if cfg["server"]["async_mode"] not in ASYNC_MODES:
        raise ConfigError(f"server.async_mode must be one of {ASYNC_MODES}")
    if cfg["writer"]["synchronous"] not in ("FULL", "EXTRA", "NORMAL"):
        raise ConfigError("writer.synchronous must be FULL, EXTRA or NORMAL")
    _check_limits(cfg["server"])
    rep = cfg["replica"]
    if rep["interval_seconds"] <= 0 or not 0 < rep["max_cpu_share"] <= 1 or rep["stale_alert_seconds"] <= 0:
        raise ConfigError("replica: interval_seconds and stale_alert_seconds must be positive, 0 < max_cpu_share <= 1")
    return cfg


def _check_limits(srv: dict) -> None:
    for key in ("max_connections", "max_events_in_flight", "max_events_waiting", "max_waiting_bytes",
                "max_outgoing_packets"):
        if srv[key] < 1:
            raise ConfigError(f"server.{key} must be at least 1")
    if srv["header_timeout_seconds"] <= 0:
        raise ConfigError("server.header_timeout_seconds must be positive")
    if not 0 <= srv["session_reserved_share"] <= srv["reserved_share"] < 1:
        raise ConfigError("need 0 <= server.session_reserved_share <= server.reserved_share < 1")


def _merge(base: dict, user: dict, where: str) -> None:
    for section, values in user.items():
        if section not in base:
            raise ConfigError(f"{where}: unknown section [{section}]")
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: [{section}] must be a table")
        for key, value in values.items():
            if key not in base[section]:
                raise ConfigError(f"{where}: unknown key {section}.{key}")
            want = type(base[section][key])
            if want is int and isinstance(value, bool) or not isinstance(value, want):
                if not (want is float and isinstance(value, int)):
                    raise ConfigError(f"{where}: {section}.{key} must be {want.__name__}")
            base[section][key] = value
