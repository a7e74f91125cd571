"""What systemd does with hall.service, for a machine where systemd cannot run (a container):
start ExecStart in WorkingDirectory with Environment and LimitNOFILE, and when the main
process dies, restart it after RestartSec as Restart= and RestartPreventExitStatus= say.
Only the unit's own text decides; nothing is taken from hall's code."""
from __future__ import annotations

import os
import resource
import shlex
import signal
import subprocess
import threading
import time
from pathlib import Path

from hall_server.service_unit import parse_unit


class UnitSupervisor:
    def __init__(self, unit_text: str, log: Path):
        self.unit = parse_unit(unit_text)
        self.svc = self.unit["Service"]
        self.log = log
        self.proc: subprocess.Popen | None = None
        self.exits: list[int] = []          # returncode of each death (negative: signal)
        self.starts: list[float] = []
        self.stopping = False
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def _policy_restarts(self, rc: int) -> bool:
        policy = self.svc.get("Restart", "no")
        prevent = {int(x) for x in self.svc.get("RestartPreventExitStatus", "").split() if x.isdigit()}
        if rc in prevent:
            return False
        clean = rc == 0
        return {"always": True, "on-failure": not clean, "on-abnormal": rc < 0, "on-abort": rc < 0,
                "no": False}.get(policy, False)

    def _spawn(self) -> None:
        nofile = int(self.svc["LimitNOFILE"])
        env = dict(os.environ)
        for item in shlex.split(self.svc.get("Environment", "")):
            k, v = item.split("=", 1)
            env[k] = v

        def limits():
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(shlex.split(self.svc["ExecStart"]), cwd=self.svc["WorkingDirectory"],
                                         env=env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=limits)
        self.starts.append(time.monotonic())

    def start(self) -> "UnitSupervisor":
        self._spawn()
        self.thread.start()
        return self

    def _watch(self) -> None:
        while True:
            rc = self.proc.wait()
            with self.lock:
                self.exits.append(rc)
                if self.stopping or not self._policy_restarts(rc):
                    return
            time.sleep(float(self.svc.get("RestartSec", "0.1")))
            with self.lock:
                if self.stopping:
                    return
                self._spawn()

    def kill_main(self) -> int:
        """SIGKILL the main process (an OOM kill, a crash): systemd sees a failure."""
        pid = self.proc.pid
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self) -> None:
        with self.lock:
            self.stopping = True
            proc = self.proc
        if proc and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.thread.join(5)
