#!/bin/sh
# Print the address of the Debian archive that this machine's apt
# configuration uses, for scripts/deps.sh (which adds Debian's unstable suite
# from it) and scripts/base-image.sh (which debootstraps from it).
#
#   scripts/debian-archive.sh             the main archive
#   scripts/debian-archive.sh security    the security archive
#
# It reads /etc/apt/sources.list and /etc/apt/sources.list.d/ in apt's order,
# in both formats, and takes an entry only when it is a Debian one:
#   - deb822 (*.sources): a stanza that is not `Enabled: no`, whose Types
#     include deb, whose Components include main and whose Suites include a
#     Debian release (bookworm, trixie, ..., stable, unstable, sid, or one of
#     them with -updates, -backports, -proposed-updates); its first URI.
#     Comments and continuation lines (a Signed-By key block) are skipped.
#   - one-line (sources.list, *.list): a `deb` line, its [options] block
#     skipped, with such a suite and the component main.
# An entry for this machine's own Debian release is preferred; otherwise the
# first one wins.  The security archive is an entry whose suite is a Debian
# release's -security (or the old <release>/updates); the main archive is
# any other.  Third-party repositories (their own suites, or no main
# component) and Ubuntu's archive (no Debian suites) are not taken.
#
# Exit status: 0 an address printed; 1 none found (with a message saying
# so); 64 bad arguments.
#
# Environment:
#   APT_ETC   the apt configuration folder (default /etc/apt)
set -eu

want=${1:-archive}
case $want in
archive|security) ;;
*) echo "usage: $0 [archive|security]" >&2; exit 64 ;;
esac

etc=${APT_ETC:-/etc/apt}

# this machine's Debian release, when it is Debian
codename=
if [ -r /etc/os-release ]; then
    codename=$(. /etc/os-release
               if [ "${ID:-}" = debian ]; then echo "${VERSION_CODENAME:-}"; fi)
fi

set --
[ -r "$etc/sources.list" ] && set -- "$etc/sources.list"
for f in "$etc"/sources.list.d/*; do
    case $f in
    *.list|*.sources) [ -r "$f" ] && set -- "$@" "$f" ;;
    esac
done

uri=
if [ $# -gt 0 ]; then
    uri=$(awk -v want="$want" -v codename="$codename" '
        BEGIN {
            n = split("buzz rex bo hamm slink potato woody sarge etch lenny " \
                      "squeeze wheezy jessie stretch buster bullseye " \
                      "bookworm trixie forky duke sid stable testing " \
                      "unstable oldstable oldoldstable experimental " \
                      codename, a, " ")
            for (i = 1; i <= n; i++)
                release[a[i]] = 1
            reset()
        }
        function base(s) {
            sub(/\/updates$/, "", s)
            sub(/-(updates|security|backports|backports-sloppy|proposed-updates)$/, "", s)
            return s
        }
        function consider(uri, suite,    r) {
            if (!(base(suite) in release) || uri ~ /^cdrom:/)
                return
            if ((want == "security") != (suite ~ /(-security|\/updates)$/))
                return
            r = (codename != "" && base(suite) == codename) ? 0 : 1
            if (!(r in best))
                best[r] = uri
        }
        function reset() {
            deb = 0; main = 0; enabled = 1; uri = ""; nsuites = 0
        }
        function flush(    i) {
            if (deb && main && enabled && uri != "")
                for (i = 1; i <= nsuites; i++)
                    consider(uri, suites[i])
            reset()
        }
        function has(list, word,    w, k, n) {
            n = split(list, w, /[ \t]+/)
            for (k = 1; k <= n; k++)
                if (w[k] == word)
                    return 1
            return 0
        }
        FNR == 1 {
            if (deb822)
                flush()
            deb822 = FILENAME ~ /\.sources$/
        }
        deb822 && /^[ \t]*$/ { flush(); next }
        deb822 && /^(#|[ \t])/ { next }
        deb822 {
            i = index($0, ":")
            if (i == 0)
                next
            field = tolower(substr($0, 1, i - 1))
            value = substr($0, i + 1)
            if (field == "types")
                deb = has(value, "deb")
            else if (field == "components")
                main = has(value, "main")
            else if (field == "enabled")
                enabled = tolower(value) !~ /^[ \t]*no/
            else if (field == "uris") {
                split(value, w, /[ \t]+/)
                uri = (w[1] != "") ? w[1] : w[2]
            } else if (field == "suites") {
                nsuites = split(value, w, /[ \t]+/)
                for (k = 1; k <= nsuites; k++)
                    suites[k] = w[k]
            }
            next
        }
        {
            line = $0
            sub(/#.*/, "", line)
            sub(/^[ \t]*deb[ \t]+\[[^]]*\]/, "deb ", line)
            $0 = line
            if ($1 != "deb" || NF < 4)
                next
            for (k = 4; k <= NF; k++)
                if ($k == "main") {
                    consider($2, $3)
                    break
                }
        }
        END {
            if (deb822)
                flush()
            if (0 in best)
                print best[0]
            else if (1 in best)
                print best[1]
        }' "$@")
fi

if [ -z "$uri" ]; then
    case $want in
    archive)  what="Debian archive" suite="bookworm, trixie, ..., unstable" ;;
    security) what="Debian security archive" suite="trixie-security, ..." ;;
    esac
    echo "$0: no $what in the apt configuration ($etc/sources.list," \
         "$etc/sources.list.d/): no enabled deb entry with the component" \
         "main and a Debian suite ($suite)" >&2
    exit 1
fi
echo "$uri"
