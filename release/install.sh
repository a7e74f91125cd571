#!/usr/bin/env bash
# hall 考场服务器 — offline installer. Needs no network: everything comes from this folder.
#
#   sudo ./install.sh [--prefix /opt/hall] [--bin-dir /usr/local/bin] [--config-dir /etc/hall]
#                     [--python /usr/bin/python3] [--check]
#
# Installs the app into PREFIX/app and a virtualenv into PREFIX/venv (pip --no-index from
# ./wheelhouse; pip itself is bootstrapped from the wheelhouse, so Debian's python3-venv is
# not needed), writes CONFIG_DIR/config.toml once (data in /var/lib/hall) and puts a `hall`
# command in BIN_DIR that reads it. Data is never under PREFIX: a reinstall or upgrade keeps
# every database and the config. --check only reports missing system packages.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PREFIX=/opt/hall
BIN_DIR=/usr/local/bin
CONFIG_DIR=/etc/hall
DATA_DIR=/var/lib/hall
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON="$(command -v python3 || echo python3)"
CHECK_ONLY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift 2 ;;
    --bin-dir) BIN_DIR="$2"; shift 2 ;;
    --config-dir) CONFIG_DIR="$2"; shift 2 ;;
    --python) PYTHON="$2"; shift 2 ;;
    --check) CHECK_ONLY=1; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "未知参数: $1" >&2; exit 2 ;;
  esac
done
WANT_PY="$(sed -n 's/.*"python": "py\([0-9]\)\([0-9]*\)".*/\1.\2/p' "$HERE/BUILD.json")"
WANT_ARCH="$(sed -n 's/.*"platform": "linux-\(.*\)".*/\1/p' "$HERE/BUILD.json")"
FONT_FILES="/usr/share/fonts/truetype/wqy/wqy-microhei.ttc /usr/share/fonts/wqy-microhei/wqy-microhei.ttc"

say() { printf '%s\n' "$*"; }

# 1. The copy is complete (a USB stick can truncate a file).
say "[1/4] 校验安装包文件 …"
if ! (cd "$HERE" && sha256sum --quiet -c MANIFEST.sha256); then
  say "安装包文件不完整或已损坏，请重新拷贝安装包。" >&2
  exit 4
fi

# 2. System packages: what is missing, by Debian package name.
say "[2/4] 检查系统软件 …"
missing_required=()
missing_optional=()
if ! "$PYTHON" -c "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$WANT_PY' else 1)" 2>/dev/null; then
  missing_required+=("python3 (需要 Python $WANT_PY，即 Debian 12 的 python3；当前: $("$PYTHON" --version 2>&1 || echo 无))")
fi
if [ "$(uname -m)" != "$WANT_ARCH" ]; then
  missing_required+=("本安装包适用于 $WANT_ARCH 电脑，本机为 $(uname -m)")
fi
font_ok=0
for f in $FONT_FILES; do [ -f "$f" ] && font_ok=1; done
if [ $font_ok = 0 ] && command -v fc-list >/dev/null && fc-list | grep -qi microhei; then font_ok=1; fi
if [ $font_ok = 0 ]; then
  deb="$(ls "$HERE"/debs/fonts-wqy-microhei_*.deb 2>/dev/null | head -1 || true)"
  if [ -n "$deb" ] && [ "$(id -u)" = 0 ] && [ $CHECK_ONLY = 0 ] && command -v dpkg >/dev/null; then
    say "      安装中文字体（安装包自带）: $(basename "$deb")"
    dpkg -i "$deb" >/dev/null
  else
    missing_required+=("fonts-wqy-microhei (打印表格所需中文字体；安装包自带 ${deb:-无}，以 root 运行本脚本即自动安装)")
  fi
fi
command -v lpstat >/dev/null || missing_optional+=("cups-client (直接打印到打印机；也可用浏览器打开PDF打印)")
command -v systemctl >/dev/null || missing_optional+=("systemd (hall install-service 开机自动运行)")
for m in "${missing_optional[@]}"; do say "      提示：未安装 $m"; done
if [ ${#missing_required[@]} -gt 0 ]; then
  say "缺少必需的系统软件，无法安装：" >&2
  for m in "${missing_required[@]}"; do say "  - $m" >&2; done
  say "请在有网络时执行: sudo apt-get install python3 fonts-wqy-microhei" >&2
  exit 3
fi
say "      系统软件齐全"
[ $CHECK_ONLY = 1 ] && exit 0

# 3. The app and its virtualenv. pip reads no config file and no PIP_* variable, and
#    --no-index: it can only see ./wheelhouse.
say "[3/4] 安装到 $PREFIX …"
mkdir -p "$PREFIX"
rm -rf "$PREFIX/app.new"
cp -a "$HERE/app" "$PREFIX/app.new"
rm -rf "$PREFIX/app.old"
[ -d "$PREFIX/app" ] && mv "$PREFIX/app" "$PREFIX/app.old"
mv "$PREFIX/app.new" "$PREFIX/app"
rm -rf "$PREFIX/app.old"
"$PYTHON" -m venv --clear --without-pip "$PREFIX/venv"
for v in $(env | sed -n 's/^\(PIP_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
export PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
PIP_WHEEL="$(ls "$HERE"/wheelhouse/pip-*.whl | head -1)"
"$PREFIX/venv/bin/python" "$PIP_WHEEL/pip" install --quiet --no-index --find-links "$HERE/wheelhouse" pip
"$PREFIX/venv/bin/python" -m pip install --quiet --no-index --find-links "$HERE/wheelhouse" -e "$PREFIX/app[face]"
cp "$HERE/BUILD.json" "$PREFIX/BUILD.json"

# 4. The site's config (kept on upgrade) and the command on PATH, which reads it.
say "[4/4] 配置与命令 …"
"$PREFIX/venv/bin/hall" --help >/dev/null
mkdir -p "$CONFIG_DIR"
if [ ! -f "$CONFIG_DIR/config.toml" ]; then
  sed "s|^data_dir = .*|data_dir = \"$DATA_DIR\"|" "$PREFIX/app/config.example.toml" > "$CONFIG_DIR/config.toml"
  say "      已写入配置 $CONFIG_DIR/config.toml（数据目录 $DATA_DIR）"
fi
if [ -n "$BIN_DIR" ]; then
  mkdir -p "$BIN_DIR"
  cat > "$BIN_DIR/hall" <<WRAPPER
#!/bin/sh
# hall, installed from the offline artifact: reads $CONFIG_DIR/config.toml unless --config is given.
case " \$* " in *" --config "*|*" --config="*) exec "$PREFIX/venv/bin/hall" "\$@" ;; esac
exec "$PREFIX/venv/bin/hall" --config "$CONFIG_DIR/config.toml" "\$@"
WRAPPER
  chmod 755 "$BIN_DIR/hall"
fi
HALL="${BIN_DIR:+$BIN_DIR/}hall"
say ""
say "hall 已安装: $PREFIX   命令: $HALL   配置: $CONFIG_DIR/config.toml"
say "下一步（详见 $PREFIX/app/docs/install.md）:"
say "  1. 试运行演示考点:   $HALL demo"
say "  2. 开机自动运行:     sudo $HALL install-service"
say "  3. 导入本考点数据包: sudo -u hall $HALL import site_XXX.hallbundle --central-key central_ed25519.pub --site-no N"
say "  4. 考前自检:         $HALL doctor"
