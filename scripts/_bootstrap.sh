# shellcheck shell=bash
# Shared set-up for scripts/test and scripts/demo: a Python >= 3.13.2, the project's
# virtual environment, Mosquitto, ffmpeg and libturbojpeg (for Home Assistant), and for the
# tests MicroPython (npm) and Chromium. Every step is idempotent and cheap when done.

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${BLYNK_BELL_CACHE:-$HOME/.cache/blynk-bell}"
VENV="$REPO_ROOT/.venv"
PYTHON_BUILD_PREFIX="$CACHE_DIR/python3.13"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# True when $1 is a Python interpreter of at least 3.13.2 (Home Assistant 2026.2's floor).
python_is_recent() {
  "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 13, 2) else 1)' >/dev/null 2>&1
}

find_python() {
  local candidate
  for candidate in \
    "$PYTHON_BUILD_PREFIX/bin/python3.13" \
    "$(command -v python3.13 || true)" \
    "$(command -v python3 || true)" \
    "$HOME"/.pyenv/versions/3.1[3-9]*/bin/python3; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] && python_is_recent "$candidate"; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

# Debian's mirror, read from the system's apt sources, so no host name lives in the repo.
debian_mirror() {
  local uri
  uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | awk '{print $2}' | grep -v security | head -n 1 || true)
  if [ -z "$uri" ]; then
    uri=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null \
      | awk '{for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) {print $i; exit}}' | head -n 1 || true)
  fi
  [ -n "$uri" ] || { echo "cannot find a Debian mirror in the apt sources" >&2; return 1; }
  echo "$uri"
}

# Build CPython from Debian trixie's source package into the cache (about 4 minutes).
build_python() {
  local work apt_dir mirror tarball
  log "No Python >= 3.13.2 found: building CPython 3.13 from Debian trixie's source into $PYTHON_BUILD_PREFIX"
  work="$CACHE_DIR/build"
  apt_dir="$work/apt"
  rm -rf "$work"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$work/src"
  mirror=$(debian_mirror)
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" \
    >"$apt_dir/sources.list"
  local apt_opts=(
    -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::Etc::SourceList=$apt_dir/sources.list"
    -o "Dir::Etc::SourceParts=/nonexistent"
    -o "Dir::Cache=$apt_dir/cache"
    -o "Debug::NoLocking=1"
    -o "APT::Sandbox::User=root"
  )
  apt-get "${apt_opts[@]}" update -qq
  (cd "$work/src" && apt-get "${apt_opts[@]}" source --download-only python3.13)
  tarball=$(ls "$work"/src/python3.13_*.orig.tar.* | head -n 1)
  tar -xf "$tarball" -C "$work/src"
  (
    cd "$work"/src/Python-3.13*/
    ./configure --prefix="$PYTHON_BUILD_PREFIX" --with-ensurepip=install >"$work/configure.log" 2>&1
    make -j"$(nproc)" >"$work/make.log" 2>&1
    make install >"$work/install.log" 2>&1
  )
  rm -rf "$work"
  python_is_recent "$PYTHON_BUILD_PREFIX/bin/python3.13"
}

ensure_python() {
  PYTHON=$(find_python) || { build_python && PYTHON=$(find_python); }
  export PYTHON
}

# The virtual environment, shared by scripts/test and scripts/demo. pip runs only when a
# requirements file changed (requirements_test.txt includes requirements_demo.txt).
ensure_venv() {
  local requirements="$1" stamp wanted
  stamp="$VENV/.$(basename "$requirements").sha256"
  wanted=$(cat "$REPO_ROOT"/requirements_*.txt | sha256sum | cut -d' ' -f1)
  if [ -x "$VENV/bin/python" ] && python_is_recent "$VENV/bin/python" \
    && [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ]; then
    return 0
  fi
  ensure_python
  if ! { [ -x "$VENV/bin/python" ] && python_is_recent "$VENV/bin/python"; }; then
    log "Creating $VENV with $PYTHON"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  log "Installing $(basename "$requirements") (a few minutes the first time)"
  local pip_log="$VENV/pip.log"
  if ! "$VENV/bin/python" -m pip install --upgrade pip -r "$requirements" >"$pip_log" 2>&1; then
    grep -v "^WARNING: Location" "$pip_log" | tail -n 40 >&2
    return 1
  fi
  echo "$wanted" >"$stamp"
}

# Debian packages, as root; the package lists are refreshed once per run.
APT_UPDATED=""
apt_install() {
  if [ -z "$APT_UPDATED" ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "$@" >/dev/null
}

ensure_mosquitto() {
  if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then
    return 0
  fi
  log "Installing Mosquitto"
  apt_install mosquitto mosquitto-clients
  # Debian starts a system broker on port 1883; this project starts its own instances.
  as_root systemctl disable --now mosquitto >/dev/null 2>&1 || true
}

# What Home Assistant's own integrations in the demo look for at start: the ffmpeg
# program (tts, which Assist loads) and libjpeg-turbo (camera, which Home Assistant
# imports when it describes its actions). Without them it logs an ERROR for each.
ensure_media_libraries() {
  if command -v ffmpeg >/dev/null 2>&1 \
    && dpkg-query -W -f='${Status}' libturbojpeg0 2>/dev/null | grep -q 'ok installed'; then
    return 0
  fi
  log "Installing ffmpeg and libturbojpeg for Home Assistant"
  apt_install ffmpeg libturbojpeg0
}

# Debian's Chromium, which the browser test drives (Playwright's own download cannot work
# offline, and is not needed).
ensure_chromium() {
  # With fonts for Japanese and Chinese: the browser test pictures the config flow in
  # Japanese, and without them Chromium draws boxes.
  if [ -x /usr/bin/chromium ] \
    && dpkg-query -W -f='${Status}\n' fonts-ipafont-gothic fonts-wqy-microhei 2>/dev/null \
      | grep -c 'ok installed' | grep -qx 2; then
    return 0
  fi
  log "Installing Chromium, with Japanese and Chinese fonts, for the browser test"
  apt_install chromium fonts-ipafont-gothic fonts-wqy-microhei
}

# MicroPython's WebAssembly build from the npm registry, which runs the firmware's logic
# tests under Node.js. npm runs only when the lock file changed.
ensure_micropython_wasm() {
  local dir="$REPO_ROOT/tests/firmware" stamp wanted
  stamp="$dir/node_modules/.lock.sha256"
  wanted=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ] && return 0
  command -v npm >/dev/null 2>&1 || { log "npm not found: the firmware logic tests will fail"; return 1; }
  log "Installing MicroPython WebAssembly for the firmware tests (npm ci)"
  npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/dev/null
  echo "$wanted" >"$stamp"
}
