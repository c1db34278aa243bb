# Shared by the scripts: paths, privilege handling and the install steps.
# Sourced, not run. Everything here is idempotent and quick when already done.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
PGBIN=/usr/lib/postgresql/15/bin
RSYSLOG_MODDIR=/usr/lib/x86_64-linux-gnu/rsyslog
PGRX_VERSION=0.18.1
# cargo-deb makes the Debian packages (scripts/package); 3.8.0 needs rustc 1.85.
CARGO_DEB_VERSION=3.8.0
# Plain cargo builds get their own target folder: cargo-pgrx builds with other
# rustflags, and sharing one folder would rebuild the pgrx chain every time.
export PLAIN_TARGET="$ROOT/target/plain"

if [ "$(id -u)" = 0 ]; then SUDO=(); else SUDO=(sudo); fi

say() { printf '\n\033[1m== %s\033[0m (%s)\n' "$*" "$(date +%T)"; }

# Debian packages ELSE needs to build, run and test.
PACKAGES=(build-essential postgresql-15 postgresql-server-dev-15 libclang-dev clang sudo pkg-config libpq-dev
          rsyslog rsyslog-relp rsyslog-pgsql postfix pflogsumm ca-certificates openssl bc python3 faketime
          dnsmasq-base postgresql-15-cron)

# The browser the web UI's tests drive (scripts/test installs it; setup does not).
TEST_PACKAGES=(chromium chromium-driver lintian debootstrap iproute2)

# install_packages [EXTRA...]: PACKAGES and the extra ones, if missing.
install_packages() {
    local missing=()
    for p in "${PACKAGES[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "Installing Debian packages: ${missing[*]}"
        # Postfix comes along for its tools only: no system mail service is configured.
        # rsyslog-pgsql (ompgsql, for comparisons) would offer to make a database
        # of its own through dbconfig-common, and fail noisily without one.
        printf '%s\n' 'postfix postfix/main_mailer_type select No configuration' \
            'rsyslog-pgsql rsyslog-pgsql/dbconfig-install boolean false' | "${SUDO[@]}" debconf-set-selections
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

# The Debian packages scripts/package writes to target/debian/ (README "Packages").
DEB_PACKAGES=(rsyslog-omelse postgresql-15-pg-else else-greylse else-wui)

install_cargo_deb() {
    if ! cargo deb --version 2>/dev/null | grep -qwF "$CARGO_DEB_VERSION"; then
        say "Installing cargo-deb $CARGO_DEB_VERSION (a few minutes on 2 cores, once)"
        cargo install cargo-deb --version "=$CARGO_DEB_VERSION" --locked
    fi
}

# The release binaries in target/plain: omelse, else-load, greylse, else-wui and
# the test programs. One selection for every caller (install_else, scripts/package),
# so that neither makes the other rebuild dependencies with other features.
build_release() {
    (cd "$ROOT" && CARGO_TARGET_DIR="$PLAIN_TARGET" cargo build --release -p omelse -p greylse -p else-wui -p else-tests --bins --lib)
}

# Release build of both parts, installed where rsyslogd and PostgreSQL look.
install_else() {
    say "Building and installing pg_else into PostgreSQL 15"
    local sudo_flag=()
    [ ${#SUDO[@]} -gt 0 ] && sudo_flag=(--sudo)
    (cd "$ROOT" && cargo pgrx install -p pg_else --release --pg-config "$PG_CONFIG" "${sudo_flag[@]}")
    say "Building and installing omelse into $RSYSLOG_MODDIR"
    build_release
    "${SUDO[@]}" install -m 0644 "$PLAIN_TARGET/release/libomelse.so" "$RSYSLOG_MODDIR/omelse.so"
    # The DBA's loader for log files (README: "Loading existing log files").
    "${SUDO[@]}" install -m 0755 "$PLAIN_TARGET/release/else-load" /usr/local/bin/else-load
    # The GreyLSE policy server (README "GreyLSE"; not started by setup).
    "${SUDO[@]}" install -m 0755 "$PLAIN_TARGET/release/greylse" /usr/local/sbin/greylse
    # The web UI (README "Web UI"; setup starts it on loopback).
    "${SUDO[@]}" install -m 0755 "$PLAIN_TARGET/release/else-wui" /usr/local/bin/else-wui
}

# A free loopback TCP port (bound, then released).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The OS user that owns private clusters: initdb refuses root, so root's
# clusters run as postgres; anyone else's run as themselves.
cluster_owner() { if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi; }
# From / : postgres cannot enter root's checkout, and PostgreSQL's programs
# would say so ("could not change directory to ...").
as_owner() { if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }

# safe_dir DIR MODE [OWNER]: create DIR, or accept an existing one only if it
# is a real folder (not a symbolic link) owned by OWNER (default: us). Stops a
# local user who created /var/tmp/else-demo-$USER first, or pointed it elsewhere.
safe_dir() {
    local d=$1 mode=$2 owner=${3:-$(id -un)}
    mkdir -m "$mode" -- "$d" 2>/dev/null || true
    if [ -L "$d" ] || [ ! -d "$d" ]; then
        echo "refusing $d: not a folder (a symbolic link or a file)" >&2; return 1
    fi
    if [ "$(stat -c %U -- "$d")" != "$owner" ]; then
        if [ "$(id -u)" = 0 ] && [ "$(stat -c %U -- "$d")" = root ] && [ "$owner" != root ]; then
            chown "$owner:" -- "$d"      # made by us just now, handed to the owner
        else
            echo "refusing $d: owned by $(stat -c %U -- "$d"), not $owner" >&2; return 1
        fi
    fi
    chmod "$mode" -- "$d"
}

# start_cluster DIR PORT [ROLE...]: a private PostgreSQL 15 cluster in DIR
# (data in DIR/data, the server log in DIR/server.log). It has no TCP listener:
# its socket is in DIR/sock, and DIR is mode 0700, so no other local user can
# even reach it; peer authentication then lets the OS user running this script
# connect as postgres and as each ROLE (and the owner as postgres). Every
# other role logs in with its password (SCRAM): the people of the web UI.
# Connect with host=DIR/sock port=PORT. Extra settings: CLUSTER_SETTINGS (lines).
start_cluster() {
    local dir=$1 port=$2 owner me; shift 2
    owner=$(cluster_owner) me=$(id -un)
    safe_dir "$dir" 0700 "$owner"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_owner "$PGBIN/initdb" -D "$dir/data" -U postgres --auth-local=peer --auth-host=reject \
            --locale=C.UTF-8 -E UTF8 --no-instructions >/dev/null
    fi
    as_owner mkdir -p -m 0700 "$dir/sock"
    {
        echo "# Written by scripts/lib.sh start_cluster: Unix socket only; the script's"
        echo "# user by peer authentication, everyone else by password."
        echo "local all $(IFS=,; echo "postgres${*:+,$*}") peer map=else"
        echo "local all all scram-sha-256"
    } | as_owner tee "$dir/data/pg_hba.conf" >/dev/null
    {
        echo "else $owner postgres"
        [ "$me" != "$owner" ] && echo "else $me postgres"
        for r in "$@"; do echo "else $me $r"; done
    } | as_owner tee "$dir/data/pg_ident.conf" >/dev/null
    printf "port = %s\nlisten_addresses = ''\nunix_socket_directories = '%s'\n%s\n" \
        "$port" "$dir/sock" "${CLUSTER_SETTINGS:-}" | as_owner tee "$dir/data/postgresql.auto.conf" >/dev/null
    as_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null
}

# stop_cluster DIR [MODE]: stop a cluster that start_cluster started, if running.
stop_cluster() {
    [ -f "$1/data/postmaster.pid" ] || return 0
    as_owner "$PGBIN/pg_ctl" -D "$1/data" -m "${2:-fast}" -w -t 60 stop >/dev/null
}

# The test programs of package else-tests (one per tests/*.rs, and the
# library's unit tests; profile e2e, see Cargo.toml), built if needed; with
# names, only those. Prints one path per line.
test_programs() {
    local sel=()
    for t in "$@"; do sel+=(--test "$t"); done
    [ ${#sel[@]} -gt 0 ] || sel=(--tests)
    CARGO_TARGET_DIR="$PLAIN_TARGET" cargo test --profile e2e -p else-tests "${sel[@]}" --no-run --message-format=json 2>/dev/null \
        | python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] in (["test"], ["lib"]):
        print(m["executable"])' | sort
}

# Run a command with a deadline of LIMIT seconds. A test that hangs must fail
# with a picture of what it waits for, not eat the whole CI budget: on the
# deadline the process tree (with each process's wait channel) and, when gdb is
# installed, the test program's thread stacks are printed, then the whole
# process group is killed. Returns the command's status, or 124.
run_bounded() {
    local limit=$1; shift
    setsid "$@" &
    local pid=$! t=0
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$t" -ge "$limit" ]; then
            echo "!! $(basename "$1") still running after ${limit} s: what it waits for" >&2
            ps -eo pid,ppid,etimes,stat,wchan:24,args --forest | grep -v ' \[' | tail -n 80 >&2
            if command -v gdb >/dev/null; then
                gdb -p "$pid" -batch -ex 'thread apply all bt 12' 2>/dev/null | grep -E '^(Thread|#)' | head -n 150 >&2
            fi
            kill -9 -- -"$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
            return 124
        fi
        sleep 1
        t=$((t + 1))
    done
    wait "$pid"
}
