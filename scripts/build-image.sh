#!/bin/sh
# Build the accountservice image from the Dockerfile at the top of the repo.
#
#   scripts/build-image.sh                      accountservice:latest (trixie)
#   DEBIAN_RELEASE=bookworm IMAGE=accountservice:bookworm scripts/build-image.sh
#
# The base image debian:<release>-slim is made first when the engine lacks it
# and no registry serves it (scripts/base-image.sh).  The build containers
# fetch Debian's packages from the archive named in the base image's apt
# sources; where the engine's bridge network cannot reach it, build with the
# host's network: BUILD_NETWORK=host.
#
# Environment:
#   IMAGE            the tag to build (default accountservice:latest)
#   DEBIAN_RELEASE   the Debian release of both stages (default: the
#                    Dockerfile's, trixie)
#   BUILD_NETWORK    the network of the build containers (default: the
#                    engine's default bridge)
#   FRESH=1          build every layer again (docker build --no-cache): the
#                    cached ones keep the Debian packages of their day, and
#                    a fresh build takes the release's newest updates and
#                    security fixes
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
image=${IMAGE:-accountservice:latest}
release=${DEBIAN_RELEASE:-$(sed -n 's/^ARG DEBIAN_RELEASE=\([a-z]*\).*/\1/p' \
                                "$here/Dockerfile" | head -n 1)}

"$here/scripts/base-image.sh" "$release"

set -- --build-arg "DEBIAN_RELEASE=$release" --tag "$image"
[ -z "${BUILD_NETWORK:-}" ] || set -- "$@" --network "$BUILD_NETWORK"
[ "${FRESH:-0}" != 1 ] || set -- "$@" --no-cache

echo "$0: building $image on debian:$release-slim"
docker build "$@" "$here"
