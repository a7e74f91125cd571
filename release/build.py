"""`make dist`: one file that installs hall on a Debian 12 laptop with no network.

    python -m release.build [--out build/dist]

The tarball hall-<version>-<python tag>-<arch>.tar.gz holds one folder:
  install.sh        creates a venv and installs with `pip install --no-index` (release/install.sh)
  app/              the tracked source files, plus socket.io-client from npm (static_client/vendor)
  wheelhouse/       every runtime dependency as a wheel for this Python and architecture, and
                    the build backend (setuptools) that the install of app/ itself needs
  debs/             fonts-wqy-microhei (the forms' CJK font), installed by install.sh if missing
  BUILD.json        version, commit, Python tag, platform, wheel list
  MANIFEST.sha256   the sha256 of every file above; install.sh checks it first (a USB copy)

The wheelhouse is downloaded from the package index once and cached in
build/wheelhouse/<key>/ (gitignored), keyed by the dependency list, Python and platform.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENDOR = "static_client/vendor/node_modules"


def requirements(repo: Path = REPO) -> list[str]:
    """Runtime dependencies and the [face] extra (no test or bench extras) and the build backend."""
    meta = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))
    # pip too: install.sh bootstraps it from the wheelhouse (no python3-venv/ensurepip needed).
    # [face]: the site laptop runs the offline face check (issue 16; ~100 MB of dlib models).
    return (list(meta["project"]["dependencies"]) + list(meta["project"]["optional-dependencies"]["face"])
            + list(meta["build-system"]["requires"]) + ["pip"])


def python_tag() -> str:
    return f"py{sys.version_info.major}{sys.version_info.minor}"


def wheelhouse(cache_root: Path, reqs: list[str], python: str = sys.executable) -> Path:
    """The cached wheelhouse for ``reqs``; built with `pip wheel` on the first call."""
    key = hashlib.sha256(json.dumps([reqs, python_tag(), sysconfig.get_platform()]).encode()).hexdigest()[:16]
    dest = cache_root / key
    if (dest / ".complete").exists():
        return dest
    tmp = cache_root / (key + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    # `pip wheel` resolves the transitive dependencies and builds a wheel for any that ships
    # only a source archive, so the laptop never compiles anything.
    subprocess.run([python, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(tmp), *reqs], check=True)
    (tmp / ".complete").write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest


# Debian packages the artifact carries for a laptop without network: architecture-independent
# and without dependencies, so they install on any Debian 12 with dpkg -i.
BUNDLED_DEBS = ("fonts-wqy-microhei",)


def debs(cache: Path) -> list[Path]:
    """The bundled .deb files, fetched with `apt-get download` once; missing ones are
    reported (install.sh then names the package to install instead)."""
    cache.mkdir(parents=True, exist_ok=True)
    out = []
    for pkg in BUNDLED_DEBS:
        have = sorted(cache.glob(f"{pkg}_*.deb"))
        if not have:
            r = subprocess.run(["apt-get", "download", pkg], cwd=cache, capture_output=True, text=True)
            if r.returncode != 0:
                print(f"warning: could not download {pkg}: {r.stderr.strip()[-300:]}", file=sys.stderr)
            have = sorted(cache.glob(f"{pkg}_*.deb"))
        out += have[-1:]
    return out


def tracked_files(repo: Path = REPO) -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=repo, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit(f"make dist needs a git checkout of hall: {e}") from None
    return sorted(p for p in out.decode().split("\0") if p and (repo / p).is_file())


def _commit(repo: Path) -> str:
    r = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True)
    return r.stdout.strip() or "unknown"


def build(out_dir: Path, repo: Path = REPO, cache_root: Path | None = None) -> Path:
    vendor = repo / VENDOR / "socket.io-client" / "dist" / "socket.io.min.js"
    if not vendor.exists():
        raise SystemExit(f"missing {vendor}: run make setup first (npm ci)")
    meta = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))
    version = meta["project"]["version"]
    reqs = requirements(repo)
    wheels = wheelhouse(cache_root or repo / "build" / "wheelhouse", reqs)
    name = f"hall-{version}-{python_tag()}-{platform.machine()}"
    files: dict[str, Path] = {"install.sh": repo / "release" / "install.sh"}
    files |= {f"app/{rel}": repo / rel for rel in tracked_files(repo)}
    for p in sorted((repo / VENDOR).rglob("*")):
        if p.is_file():
            files[f"app/{p.relative_to(repo)}"] = p
    wheel_files = sorted(w for w in wheels.glob("*.whl"))
    files |= {f"wheelhouse/{w.name}": w for w in wheel_files}
    deb_files = debs((cache_root or repo / "build" / "wheelhouse").parent / "debs")
    files |= {f"debs/{d.name}": d for d in deb_files}
    build_info = {"name": "hall", "version": version, "commit": _commit(repo), "python": python_tag(),
                  "python_full": platform.python_version(), "platform": sysconfig.get_platform(),
                  "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "requirements": reqs, "wheels": [w.name for w in wheel_files],
                  "debs": [d.name for d in deb_files]}
    extra = {"BUILD.json": json.dumps(build_info, ensure_ascii=False, indent=1).encode()}
    manifest = "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {rel}\n" for rel, p in sorted(files.items()))
    manifest += "".join(f"{hashlib.sha256(b).hexdigest()}  {rel}\n" for rel, b in extra.items())
    extra["MANIFEST.sha256"] = manifest.encode()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{name}.tar.gz"
    part = target.with_suffix(".part")
    with tarfile.open(part, "w:gz") as tar:
        for rel, p in sorted(files.items()):
            info = tar.gettarinfo(str(p), arcname=f"{name}/{rel}")
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mode = 0o755 if os.access(p, os.X_OK) else 0o644
            with open(p, "rb") as f:
                tar.addfile(info, f)
        for rel, body in extra.items():
            info = tarfile.TarInfo(f"{name}/{rel}")
            info.size, info.mode, info.mtime = len(body), 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(body))
    part.rename(target)
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m release.build", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "build" / "dist"), help="folder for the tarball")
    a = ap.parse_args(argv)
    target = build(Path(a.out))
    sha = hashlib.sha256(target.read_bytes()).hexdigest()
    print(f"{target}\n{target.stat().st_size / 1e6:.1f} MB  sha256 {sha}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
