#!/bin/sh
# Make sure the Debian base images that the Dockerfile names exist locally.
#
#   scripts/base-image.sh                the releases the Dockerfile uses
#   scripts/base-image.sh trixie ...     these releases
#
# For each release, the image debian:<release>-slim is used as it is when the
# engine has it, pulled when a registry answers, and otherwise made here from
# Debian's packages: debootstrap --variant=minbase into a temporary folder,
# trimmed the way the official slim images are, then `docker import`ed under
# the same name, so the Dockerfile needs no change on an air-gapped machine.
#
# The apt sources inside the imported image are the host's: the archive and
# security URIs are read from the host's apt configuration at import time.
#
# Environment:
#   BASE_PULL=0      do not try `docker pull` first (default: try, 30 s)
#   BASE_WORKDIR     where to debootstrap (default: a new folder in /tmp)
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)

die() { echo "$0: $*" >&2; exit 1; }

releases=$*
if [ -z "$releases" ]; then
    # the default of `ARG DEBIAN_RELEASE=...` in the Dockerfile
    releases=$(sed -n 's/^ARG DEBIAN_RELEASE=\([a-z]*\).*/\1/p' \
                   "$here/Dockerfile" | head -n 1)
    [ -n "$releases" ] || die "no 'ARG DEBIAN_RELEASE=' in $here/Dockerfile"
fi

command -v docker >/dev/null || die "docker is not installed"

# the host's Debian archive and security archive (empty when it has none)
archive_uri()  { "$here/scripts/debian-archive.sh" archive; }
security_uri() { "$here/scripts/debian-archive.sh" security 2>/dev/null || :; }

make_image() {
    release=$1 tag=debian:$1-slim

    archive=$(archive_uri) \
        || die "debootstrap needs the address of a Debian archive to make $tag"
    security=$(security_uri)

    [ "$(id -u)" -eq 0 ] || die "debootstrap needs root to make $tag"
    if ! command -v debootstrap >/dev/null; then
        apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            --no-install-recommends debootstrap >/dev/null \
            || die "debootstrap is needed to make $tag"
    fi

    work=${BASE_WORKDIR:-$(mktemp -d /tmp/accountservice-base.XXXXXX)}
    root=$work/$release
    trap 'rm -rf "$root"' EXIT INT TERM

    echo "$0: making $tag with debootstrap (a few minutes)"
    rm -rf "$root"
    if ! debootstrap --variant=minbase --arch="$(dpkg --print-architecture)" \
             "$release" "$root" "$archive" >"$work/$release.log" 2>&1; then
        tail -n 20 "$work/$release.log" >&2
        [ -f "$root/debootstrap/debootstrap.log" ] \
            && tail -n 20 "$root/debootstrap/debootstrap.log" >&2
        die "debootstrap of $release from $archive failed (log above)"
    fi

    # apt sources: the host's archive and security URIs, this release
    rm -f "$root/etc/apt/sources.list"
    {
        printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\n' \
            "$archive" "$release" "$release"
        printf 'Components: main\n'
        printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
        if [ -n "$security" ]; then
            printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\n' \
                "$security" "$release"
            printf 'Components: main\n'
            printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
        fi
    } >"$root/etc/apt/sources.list.d/debian.sources"

    # what the official slim images do: no docs, man pages or locales from
    # later installs, no kept .debs, no package lists in the image
    cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
CFG
    cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CFG
    printf 'Acquire::GzipIndexes "true";\n' \
        >"$root/etc/apt/apt.conf.d/docker-gzip-indexes"
    printf 'APT::AutoRemove::SuggestsImportant "false";\n' \
        >"$root/etc/apt/apt.conf.d/docker-autoremove-suggests"
    find "$root/usr/share/doc" -mindepth 2 ! -name copyright \
        ! -type d -delete 2>/dev/null || true
    rm -rf "$root/usr/share/man/"* "$root/usr/share/info/"* \
        "$root/usr/share/locale/"* "$root/var/lib/apt/lists/"* \
        "$root/var/cache/apt/"*.bin "$root/var/cache/apt/archives/"*.deb \
        "$root/var/log/"*.log "$root/var/log/apt/"* "$root/debootstrap"
    : >"$root/etc/hostname"
    rm -f "$root/etc/resolv.conf" "$root/etc/machine-id"
    : >"$root/etc/machine-id"

    tar --numeric-owner --xattrs -C "$root" -c . \
        | docker import \
              --change 'CMD ["bash"]' \
              --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
              --message "debootstrap --variant=minbase $release (scripts/base-image.sh)" \
              - "$tag" >/dev/null
    rm -rf "$root"
    [ -n "${BASE_WORKDIR:-}" ] || rm -rf "$work"
    trap - EXIT INT TERM
    echo "$0: made $tag ($(docker image inspect -f '{{.Size}}' "$tag" \
        | awk '{ printf "%d MB", $1 / 1e6 }'))"
}

for release in $releases; do
    tag=debian:$release-slim
    if docker image inspect "$tag" >/dev/null 2>&1; then
        echo "$0: $tag is present"
        continue
    fi
    if [ "${BASE_PULL:-1}" != 0 ] \
       && timeout 30 docker pull -q "$tag" >/dev/null 2>&1; then
        echo "$0: pulled $tag"
        continue
    fi
    make_image "$release"
done
