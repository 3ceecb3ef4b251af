#!/bin/sh
# Install the Debian packages the project needs to build, run and test.
#
#   scripts/deps.sh build     compiler, nginx-dev, LMDB, jansson
#   scripts/deps.sh test      build + Test::Nginx, wrk, valgrind, clang and its
#                             sanitizer and libFuzzer runtimes, and
#                             the Lua module the benchmark's smoke test uses
#   scripts/deps.sh bench     test + gnuplot and hey
#
# Test::Nginx is packaged by Debian in the unstable suite only.  The suite is
# added from the Debian archive address the machine's apt configuration
# already uses (scripts/debian-archive.sh finds it), with a pin that keeps
# everything but libtest-nginx-perl on the stable release.
set -eu

want=${1:-build}

build_pkgs="build-essential nginx nginx-dev liblmdb-dev lmdb-utils libjansson-dev"
test_pkgs="$build_pkgs libtest-nginx-perl wrk valgrind clang libclang-rt-dev \
           curl libnginx-mod-http-lua"
bench_pkgs="$test_pkgs gnuplot-nox hey"

case $want in
build) pkgs=$build_pkgs ;;
test)  pkgs=$test_pkgs ;;
bench) pkgs=$bench_pkgs ;;
*)     echo "usage: $0 build|test|bench" >&2; exit 64 ;;
esac

missing=
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' \
        || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo

case $missing in
*libtest-nginx-perl*)
    # the pin first: a sources file without it would let every newer
    # package of unstable in, nginx included
    prefs=/etc/apt/preferences.d/unstable-test-nginx
    if [ ! -e "$prefs" ]; then
        printf '%s\n' \
            'Package: *' 'Pin: release a=unstable' 'Pin-Priority: 1' '' \
            'Package: libtest-nginx-perl' 'Pin: release a=unstable' \
            'Pin-Priority: 500' \
            | $sudo tee "$prefs" >/dev/null
    fi
    if [ ! -e /etc/apt/sources.list.d/unstable-test-nginx.sources ]; then
        # the Debian archive of the apt configuration (it says why not,
        # on a machine with none, such as Ubuntu)
        uri=$("$(dirname "$0")/debian-archive.sh") || {
            echo "$0: libtest-nginx-perl comes from Debian's unstable" \
                 "suite, added from the Debian archive this machine uses;" \
                 "install Test::Nginx another way, or add that archive" >&2
            exit 1
        }
        printf 'Types: deb\nURIs: %s\nSuites: unstable\nComponents: main\n%s\n' \
            "$uri" \
            'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' \
            | $sudo tee /etc/apt/sources.list.d/unstable-test-nginx.sources \
            >/dev/null
    fi
    ;;
esac

$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing
