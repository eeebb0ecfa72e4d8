#!/usr/bin/env bash
# Builds the Go interop peer (tests/interop/peer/main.go, memberlist 0.2.2 from Debian's
# packages) into .cache/interop/peer. Installs Go and memberlist with apt-get when missing.
# Idempotent and quiet: prints nothing on success; rebuilds only when main.go changed.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
src="$root/tests/interop/peer/main.go"
out="$root/.cache/interop"
bin="$out/peer"
gocode=/usr/share/gocode

if ! command -v go >/dev/null 2>&1 || [ ! -d "$gocode/src/github.com/hashicorp/memberlist" ]; then
  command -v apt-get >/dev/null 2>&1 || { echo "build_peer: Go missing and no apt-get" >&2; exit 1; }
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "build_peer: need root or sudo to install Go" >&2; exit 1; }
    sudo="sudo -n" # never prompt: fail instead
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq golang-go golang-github-hashicorp-memberlist-dev >/dev/null
fi

if [ -x "$bin" ] && [ "$bin" -nt "$src" ]; then exit 0; fi
mkdir -p "$out"
cd "$(dirname "$src")"
# GOPATH mode: Debian's packaged sources, no module download.
GOPATH="$gocode" GO111MODULE=off GOFLAGS="" GOCACHE="${GOCACHE:-$out/go-build}" \
  go build -o "$bin.tmp.$$" main.go
mv -f "$bin.tmp.$$" "$bin"
