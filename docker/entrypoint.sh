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
    # started with --user: the files are this user's own
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
