# Shared by the scripts: paths, privilege handling and the install steps.
# Sourced, not run. Everything here is idempotent and quick when already done.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
PGBIN=/usr/lib/postgresql/15/bin
RSYSLOG_MODDIR=/usr/lib/x86_64-linux-gnu/rsyslog
PGRX_VERSION=0.18.1
# Plain cargo builds get their own target folder: cargo-pgrx builds with other
# rustflags, and sharing one folder would rebuild the pgrx chain every time.
export PLAIN_TARGET="$ROOT/target/plain"

if [ "$(id -u)" = 0 ]; then SUDO=(); else SUDO=(sudo); fi

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# Debian packages ELSE needs to build, run and test.
PACKAGES=(build-essential postgresql-15 postgresql-server-dev-15 libclang-dev clang sudo pkg-config libpq-dev
          rsyslog rsyslog-relp rsyslog-pgsql postfix pflogsumm ca-certificates openssl bc python3 faketime)

install_packages() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "Installing Debian packages: ${missing[*]}"
        # Postfix comes along for its tools only: no system mail service is configured.
        echo 'postfix postfix/main_mailer_type select No configuration' | "${SUDO[@]}" debconf-set-selections
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
}

install_cargo_pgrx() {
    if ! cargo pgrx --version 2>/dev/null | grep -q " $PGRX_VERSION"; then
        say "Installing cargo-pgrx $PGRX_VERSION (about 6 minutes on 2 cores, once)"
        cargo install cargo-pgrx --version "=$PGRX_VERSION" --locked
    fi
    if ! grep -qs "pg15" "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; then
        cargo pgrx init --pg15 "$PG_CONFIG"
    fi
}

# Release build of both parts, installed where rsyslogd and PostgreSQL look.
install_else() {
    say "Building and installing pg_else into PostgreSQL 15"
    local sudo_flag=()
    [ ${#SUDO[@]} -gt 0 ] && sudo_flag=(--sudo)
    (cd "$ROOT" && cargo pgrx install -p pg_else --release --pg-config "$PG_CONFIG" "${sudo_flag[@]}")
    say "Building and installing omelse into $RSYSLOG_MODDIR"
    (cd "$ROOT" && CARGO_TARGET_DIR="$PLAIN_TARGET" cargo build --release -p omelse -p else-tests --bins --lib)
    "${SUDO[@]}" install -m 0644 "$PLAIN_TARGET/release/libomelse.so" "$RSYSLOG_MODDIR/omelse.so"
    # The DBA's loader for log files (README: "Loading existing log files").
    "${SUDO[@]}" install -m 0755 "$PLAIN_TARGET/release/else-load" /usr/local/bin/else-load
}
