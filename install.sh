#!/bin/sh
# install.sh builds keyward from this checkout with the module's pinned
# dependency versions (go.sum) and installs the binary.
#
#   ./install.sh                 install into $(go env GOPATH)/bin
#   ./install.sh --bindir DIR    install into DIR (or set KEYWARD_BINDIR)
set -eu

die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 2; }

bindir=${KEYWARD_BINDIR:-}
while [ $# -gt 0 ]; do
	case $1 in
	--bindir) [ $# -ge 2 ] || die "--bindir needs a directory"; bindir=$2; shift 2 ;;
	--bindir=*) bindir=${1#--bindir=}; shift ;;
	-h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
done

command -v go >/dev/null 2>&1 || die "Go is not installed or not on PATH; get it from https://go.dev/dl/"
cd "$(dirname "$0")"
[ -f go.mod ] || die "run install.sh from a keyward checkout"

need=$(sed -n 's/^go \([0-9.]*\).*/\1/p' go.mod)
have=$(go env GOVERSION | sed 's/^go//')
# Go 1.21+ fetches a newer toolchain itself when go.mod asks for one
# (GOTOOLCHAIN=auto); say so rather than fail, since the fetch may be blocked.
if [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n1)" != "$need" ]; then
	printf 'install.sh: note: go.mod wants Go %s, this is Go %s; the go command will try to fetch it\n' "$need" "$have" >&2
fi

[ -n "$bindir" ] || bindir="$(go env GOPATH)/bin"
mkdir -p "$bindir" || die "cannot create $bindir"

version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
GOFLAGS=-mod=readonly go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$bindir/keyward" ./cmd/keyward

printf 'installed keyward %s to %s/keyward\n' "$version" "$bindir"
case ":$PATH:" in
*":$bindir:"*) ;;
*) printf 'note: %s is not on your PATH; add it, or run %s/keyward directly\n' "$bindir" "$bindir" ;;
esac
