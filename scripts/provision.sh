# shellcheck shell=bash
# Sourced by scripts/dev and scripts/test: makes sure PostgreSQL and Redis answer on their
# local ports, starting them, or installing them with apt-get where they are absent. Reuses
# servers that already run.

PG_HOST="${PG_HOST:-127.0.0.1}"
PG_PORT="${PG_PORT:-5432}"
REDIS_HOST="${REDIS_HOST:-127.0.0.1}"
REDIS_PORT="${REDIS_PORT:-6379}"

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root for: $*"; fi
}

apt_updated=""
apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found: install $* by hand"
  if [ -z "$apt_updated" ]; then
    log "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=1
  fi
  log "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() {
  local host=$1 port=$2 what=$3 i
  for i in $(seq 1 60); do
    port_open "$host" "$port" && return 0
    sleep 0.5
  done
  die "$what did not come up on $host:$port"
}

pg_ready() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -U postgres 2>/dev/null; }

ensure_postgres() {
  # pg_dump and pg_restore: backups and `api restore` run them.
  command -v psql >/dev/null && command -v pg_isready >/dev/null && command -v pg_dump >/dev/null \
    && command -v pg_restore >/dev/null || apt_install postgresql-client
  if pg_ready; then log "PostgreSQL answers on $PG_HOST:$PG_PORT"; return; fi
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    apt_install postgresql
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  local hba="/etc/postgresql/$version/main/pg_hba.conf"
  # Development and CI only: local TCP connections need no password.
  if ! as_root grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    log "allowing local trust connections in $hba"
    as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  fi
  log "starting PostgreSQL $version"
  if command -v pg_ctlcluster >/dev/null; then
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null \
      || as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload 2>/dev/null || true
  fi
  wait_port "$PG_HOST" "$PG_PORT" PostgreSQL
  for _ in $(seq 1 30); do pg_ready && break; sleep 0.5; done
  pg_ready || die "PostgreSQL does not accept connections"
}

ensure_redis() {
  if port_open "$REDIS_HOST" "$REDIS_PORT"; then log "Redis answers on $REDIS_HOST:$REDIS_PORT"; return; fi
  command -v redis-server >/dev/null || apt_install redis-server
  log "starting Redis"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/electioncart.log
  wait_port "$REDIS_HOST" "$REDIS_PORT" Redis
}

ensure_toolchain() {
  command -v cargo >/dev/null || die "cargo not found: install Rust (rustup) first"
  command -v cc >/dev/null || apt_install build-essential
}

# The queue dashboard's browser test (scripts/test) drives Debian's headless Chromium over
# WebDriver.
ensure_chromium() {
  if command -v chromedriver >/dev/null && { command -v chromium >/dev/null || command -v chromium-browser >/dev/null; }; then
    log "chromium and chromedriver present"
    return
  fi
  apt_install chromium chromium-driver
}

# The fuzz stage (scripts/fuzz): schemathesis in a virtualenv of its own, one pinned version so a
# seeded run generates the same cases everywhere. Sets SCHEMATHESIS to its CLI.
SCHEMATHESIS_VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"
ensure_schemathesis() {
  local venv="${SCHEMATHESIS_VENV:-$HOME/.cache/electioncart/schemathesis-$SCHEMATHESIS_VERSION}"
  SCHEMATHESIS="$venv/bin/schemathesis"
  if [ -x "$SCHEMATHESIS" ] && "$SCHEMATHESIS" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    log "schemathesis $SCHEMATHESIS_VERSION present"
    export SCHEMATHESIS
    return
  fi
  command -v python3 >/dev/null || apt_install python3 python3-venv
  python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
  log "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
  export SCHEMATHESIS
}

provision() {
  ensure_toolchain
  ensure_postgres
  ensure_redis
}
