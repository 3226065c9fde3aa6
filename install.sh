#!/bin/sh
# Builds postfeed and installs it as a systemd service:
#   PREFIX/bin/postfeed                      the binary (PREFIX defaults to /usr/local)
#   /etc/systemd/system/postfeed*.{service,socket,path}
#   /etc/postfeed/config.toml                the example config, only if there is none yet
# then reloads systemd. It enables nothing: see "Run as a service" in README.md for the next steps.
#
# Usage: ./install.sh [--prefix DIR] [--destdir DIR] [--bin FILE]
#   --prefix DIR    install the binary as DIR/bin/postfeed; the units are adjusted to match
#   --destdir DIR   stage everything under DIR (also DESTDIR=DIR in the environment), for
#                   packaging and tests; systemctl is not run then
#   --bin FILE      install FILE instead of building with cargo
set -eu

usage() {
    if [ "$1" -eq 0 ]; then
        sed -n '2,14s/^# \{0,1\}//p' "$0"
    else
        sed -n '2,14s/^# \{0,1\}//p' "$0" >&2
    fi
    exit "$1"
}

PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
BIN=
while [ $# -gt 0 ]; do
    case $1 in
        --prefix) [ $# -ge 2 ] || usage 2; PREFIX=$2; shift 2 ;;
        --prefix=*) PREFIX=${1#--prefix=}; shift ;;
        --destdir) [ $# -ge 2 ] || usage 2; DESTDIR=$2; shift 2 ;;
        --destdir=*) DESTDIR=${1#--destdir=}; shift ;;
        --bin) [ $# -ge 2 ] || usage 2; BIN=$2; shift 2 ;;
        --bin=*) BIN=${1#--bin=}; shift ;;
        -h|--help) usage 0 ;;
        *) echo "install.sh: unknown argument: $1" >&2; usage 2 ;;
    esac
done
case $PREFIX in
    /*) ;;
    *) echo "install.sh: --prefix must be an absolute path (the units name the binary by it)" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
if [ -z "$BIN" ]; then
    (cd "$here" && cargo build --release --locked)
    BIN=$here/target/release/postfeed
fi
[ -x "$BIN" ] || { echo "install.sh: $BIN is not an executable" >&2; exit 1; }

bindir=$PREFIX/bin
unitdir=/etc/systemd/system
confdir=/etc/postfeed

install -d -m 0755 "$DESTDIR$bindir" "$DESTDIR$unitdir" "$DESTDIR$confdir"
install -m 0755 "$BIN" "$DESTDIR$bindir/postfeed"
echo "installed $DESTDIR$bindir/postfeed"

for unit in postfeed.service postfeed.socket postfeed-regen.service postfeed-regen.path; do
    sed "s|/usr/local/bin/postfeed|$bindir/postfeed|g" "$here/systemd/$unit" >"$DESTDIR$unitdir/$unit.tmp"
    chmod 0644 "$DESTDIR$unitdir/$unit.tmp"
    mv "$DESTDIR$unitdir/$unit.tmp" "$DESTDIR$unitdir/$unit"
    echo "installed $DESTDIR$unitdir/$unit"
done

if [ -e "$DESTDIR$confdir/config.toml" ]; then
    echo "kept the existing $DESTDIR$confdir/config.toml"
else
    install -m 0644 "$here/systemd/config.toml" "$DESTDIR$confdir/config.toml"
    echo "installed $DESTDIR$confdir/config.toml: edit [site] and [source] before starting"
fi

if [ -z "$DESTDIR" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl daemon-reload
    echo "systemd reloaded; next: systemctl enable --now postfeed.socket"
fi
