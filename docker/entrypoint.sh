#!/bin/sh
# Entrypoint of the accountservice image.
#
# Before nginx starts: seeds the default accounts when the data volume holds
# no database, and makes the database usable by the user the nginx workers
# run as.  Then it runs the command: by default nginx in the foreground, as
# PID 1, so that `docker stop` (SIGQUIT) reaches the master and it shuts down
# gracefully.
#
# It also writes /run/nginx-workers.conf, which the image's nginx.conf
# includes for its worker_processes: nginx's "auto" counts every CPU of the
# host, not the container's CPU limit (docker run --cpus, a Swarm
# --limit-cpu) nor its CPU set.  Each worker holds its connection tables
# (about 7 MB for worker_connections 16384) against the memory limit, so a
# 1-CPU task on a 32-core host would otherwise start 32 of them.
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

# the CPUs the container may use: its CPU set, and its CPU limit rounded up
cpus() {
    n=$(nproc)
    if [ -r /sys/fs/cgroup/cpu.max ]; then
        read -r quota period < /sys/fs/cgroup/cpu.max
    elif [ -r /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
        quota=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us)
        period=$(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)
    else
        quota=max
    fi
    case $quota in
    max|-1) ;;
    *)      limit=$(( (quota + period - 1) / period ))
            [ "$limit" -lt "$n" ] && n=$limit ;;
    esac
    echo "$n"
}

# (nginx's own count if the cgroup files say something unexpected; an
# unwritable /run is named below, for nginx started with --user)
workers=$(cpus 2>/dev/null || :)
case $workers in
''|*[!0-9]*|0) workers=auto ;;
esac
echo "worker_processes $workers;" 2>/dev/null > /run/nginx-workers.conf || :

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
