# Sourced by the test scripts: finds the lictor binary, starts it on the demo, and installs, from
# Debian's packages, what a fresh machine lacks. The sourcing script sets `script` first: its name starts every message.

# LICTOR_BIN (default target/debug/lictor), exported; exits 2 when it is not built.
require_lictor() {
  export LICTOR_BIN="${LICTOR_BIN:-$root/target/debug/lictor}"
  if [ ! -x "$LICTOR_BIN" ]; then
    echo "$script: $LICTOR_BIN not found: build it first with 'cargo build -p lictor', or set LICTOR_BIN" >&2
    exit 2
  fi
}

# Starts `lictor run --demo --config CONFIG`, its output in DIR/stdout.log and DIR/stderr.log, and
# waits until it says `ready`. Sets `server_pid`, and `address`: its directory-rest HOST:PORT, which
# must be on 127.0.0.1. Exits 1, printing the server's output, when it does not start.
start_demo_server() {
  local config="$1" dir="$2"
  "$LICTOR_BIN" run --demo --config "$config" >"$dir/stdout.log" 2>"$dir/stderr.log" &
  server_pid=$!
  for _ in $(seq 1 300); do
    if grep -qx ready "$dir/stdout.log" || ! kill -0 "$server_pid" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  address="$(awk '$1 == "listening" && $2 == "directory-rest" { print $3 }' "$dir/stdout.log")"
  if ! grep -qx ready "$dir/stdout.log" || [ -z "$address" ]; then
    echo "$script: lictor did not start; its output:" >&2
    cat "$dir/stdout.log" "$dir/stderr.log" >&2
    exit 1
  fi
  case "$address" in
    127.0.0.1:*) ;;
    *)
      echo "$script: lictor listens on $address, not on 127.0.0.1" >&2
      exit 1
      ;;
  esac
}

apt_updated=0
# Installs Debian packages quietly (with sudo when not root); apt-get update runs once per script.
apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "$script: missing $*, and no apt-get to install it with" >&2
    exit 2
  fi
  local sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  if [ "$apt_updated" = 0 ]; then
    $sudo apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

# Node.js and npm.
need_node() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "== installing nodejs and npm"
    apt_install nodejs npm
  fi
}

# python3 with its venv module (Debian ships it apart).
need_python_venv() {
  if ! command -v python3 >/dev/null 2>&1; then
    echo "== installing python3"
    apt_install python3 python3-venv
  elif ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    echo "== installing python3-venv"
    apt_install python3-venv
  fi
}

# A command, from the package of the same name unless a package is given.
need_command() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "== installing ${2:-$1}"
    apt_install "${2:-$1}"
  fi
}
