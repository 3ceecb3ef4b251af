#!/bin/sh
# Entrypoint of the accountservice image.
#
# Before nginx starts: seeds the default accounts when the data volume holds
# no database, and makes the database usable by the user the nginx workers
# run as.  Then it runs the command: by default nginx in the foreground, as
# PID 1, so that `docker stop` (SIGQUIT) reaches the master and it shuts down
# gracefully.
#
# Environment:
#   ACCOUNT_DB   the database file (default /data/accounts.mdb); it must be
#                the path that `account_db` names in nginx.conf
set -eu

db=${ACCOUNT_DB:-/data/accounts.mdb}
worker=www-data
dir=$(dirname "$db")

# another command (account-seed, a shell) runs as it is
[ "${1:-}" = nginx ] || exec "$@"

if [ "$(id -u)" -ne 0 ]; then
    # Started with --user: nginx runs as this user alone (nginx.conf's `user`
    # is ignored, with a warning), and the files are this user's own.  It
    # writes /run/nginx.pid and makes its temp folders in /var/lib/nginx at
    # start; both are root's in the image, so they must be tmpfs mounts
    # owned by the user, and the data volume must be the user's too (a new
    # one is www-data's, from the image):
    #
    #   docker run -d --user www-data --read-only \
    #       --tmpfs /run:uid=33,gid=33 --tmpfs /var/lib/nginx:uid=33,gid=33 \
    #       -p 6767:6767 -v accounts:/data accountservice
    #
    # (33 is www-data; a bare --tmpfs is root's.)  What is not writable is
    # named here, before nginx's own error.
    for d in /run /var/lib/nginx "$dir"; do
        [ -w "$d" ] && continue
        if [ "$d" = "$dir" ]; then
            fix="mount a volume of that user's there"
        else
            fix="mount it as tmpfs of that user's: --tmpfs $d:uid=$(id -u),gid=$(id -g)"
        fi
        echo "$0: $d is not writable by uid $(id -u), as nginx started" \
             "with --user needs: $fix" >&2
    done
    [ -e "$db" ] || account-seed --db "$db"
    exec "$@"
fi

as_worker() {
    setpriv --reuid="$worker" --regid="$worker" --init-groups "$@"
}

# The workers open the database themselves and take reader slots in its lock
# file ($db-lock), which they create when it is missing: they need the folder
# and both files writable.  Give them what they cannot write yet.
give() {
    as_worker test -w "$1" 2>/dev/null && return 0
    chown "$worker:$worker" "$1" 2>/dev/null && return 0
    echo "$0: $1 is not writable by $worker and cannot be given to it:" \
         "mount the data volume read-write" >&2
}

mkdir -p "$dir"
give "$dir"
if [ ! -e "$db" ]; then
    as_worker account-seed --db "$db"
fi
for f in "$db" "$db-lock"; do
    [ -e "$f" ] && give "$f"
done

exec "$@"
