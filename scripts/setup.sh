#!/usr/bin/env bash
# Create the two Python environments from the pinned requirements, only when they changed.
#   .venvs/rasa : Rasa 3.6.21 (Python 3.10, pydantic 1)
#   .venvs/app  : gateway, action server, knowledge base, tests (Python 3.10, pydantic 2)
set -euo pipefail
cd "$(dirname "$0")/.."

find_python310() {
  if [ -n "${PYTHON310:-}" ]; then echo "$PYTHON310"; return; fi
  if command -v pyenv >/dev/null 2>&1; then
    local root; root=$(pyenv root)
    for p in "$root"/versions/3.10*/bin/python3.10; do
      [ -x "$p" ] && { echo "$p"; return; }
    done
  fi
  command -v python3.10 && return
  echo "Python 3.10 not found: install it (pyenv install 3.10) or set PYTHON310" >&2
  exit 1
}

# pip prints a warning per package for find-links folders this machine lacks; hide only those.
quiet_pip() { grep -v "is ignored: it is neither a file nor a directory" || true; }

make_env() {  # name requirements-file
  local name=$1 req=$2 dir=.venvs/$1
  local stamp="$dir/.requirements.sha256"
  local want; want=$(sha256sum "$req" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "[setup] $name environment up to date"
    return
  fi
  echo "[setup] creating the $name environment from $req (first time: 1-3 minutes)"
  rm -rf "$dir"
  "$PY310" -m venv "$dir"
  "$dir/bin/python" -m pip install --upgrade --progress-bar on "pip==24.3.1" "setuptools==70.3.0" "wheel==0.45.1" 2>&1 | quiet_pip
  "$dir/bin/python" -m pip install --progress-bar on --no-deps -r "$req" 2>&1 | quiet_pip
  "$dir/bin/python" -m pip check >/dev/null || { "$dir/bin/python" -m pip check; exit 1; }
  echo "$want" > "$stamp"
  echo "[setup] $name environment ready"
}

PY310=$(find_python310)
echo "[setup] using $PY310"
make_env rasa requirements/rasa.txt
make_env app requirements/app.txt

# npm packages, from package-lock.json only when it changed: the browser bundles the gateway serves
# itself (rasa-webchat, socket.io-client, the dashboard's Apache ECharts; never from a CDN) and the
# Compose Specification's schema the tests validate deploy/compose.yaml with.
setup_npm() {
  local dir=$1 what=$2 stamp=$1/node_modules/.package-lock.sha256
  local want; want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "[setup] $what (npm) up to date"
    return
  fi
  command -v npm >/dev/null 2>&1 || { echo "[setup] npm not found: install Node.js (apt-get install -y nodejs npm)" >&2; exit 1; }
  echo "[setup] installing $what with npm ci (first time: up to a minute)"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
  echo "[setup] $what ready"
}

# Debian's Chromium for the browser tests (Playwright drives it; no browser download), a CJK
# font so screenshots show Chinese text, and haproxy, the load balancer of `make replicas`.
setup_debian_packages() {
  local need=()
  [ -x /usr/bin/chromium ] || need+=(chromium)
  fc-list :lang=zh 2>/dev/null | grep -q . || need+=(fonts-wqy-microhei)
  [ -x /usr/sbin/haproxy ] || need+=(haproxy)
  if [ ${#need[@]} -eq 0 ]; then
    echo "[setup] chromium, a Chinese font and haproxy present"
    return
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "[setup] installing ${need[*]} with apt-get (first time: 1-2 minutes)"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${need[@]}" \
    | grep -E "^(Get|Setting up|Unpacking) " | awk '{ n++; if (n % 20 == 1) print "[setup]   " $0 }' || true
  [ -x /usr/bin/chromium ] || { echo "[setup] chromium did not install" >&2; exit 1; }
  [ -x /usr/sbin/haproxy ] || { echo "[setup] haproxy did not install" >&2; exit 1; }
  echo "[setup] chromium ready: $(/usr/bin/chromium --version 2>/dev/null || echo installed)"
}

setup_npm connectors/widget "widget bundles"
setup_npm deploy "compose schema"
setup_npm connectors/dashboard "dashboard charts (Apache ECharts)"
setup_debian_packages
