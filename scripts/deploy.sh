#!/bin/sh
# Build the image and run it as the Swarm service accountservice, published
# on port 6767 through the routing mesh: the successor of copyall.sh.
#
#   scripts/deploy.sh                 build, deploy or roll out, wait, print
#   REPLICAS=3 scripts/deploy.sh      the same with three replicas
#   IMAGE=own:v2 scripts/deploy.sh    roll out an image of one's own, as it is
#
# It joins nothing: on an engine outside any swarm it runs `docker swarm init`
# (a single-node swarm).  It creates the overlay network when missing.  When
# the service exists it is never removed: the new image rolls out with
# `docker service update`, one task at a time, each new task started and
# healthy (the image's HEALTHCHECK) before an old one stops, and the service
# rolls back by itself when a new task fails.  The image is tagged with its
# own ID, so that a new build changes the service spec and rolls, while a
# rebuild of the same sources changes nothing.
#
# Nothing is mounted on /data: each task serves its own anonymous volume,
# seeded with the default accounts unless the image holds a database.  Own
# data goes into an image derived from this one (README, "Data in Swarm"),
# deployed with IMAGE=....  One named volume shared by the
# tasks of a node would break LMDB's reader registration (PIDs collide
# across containers).
#
# Environment:
#   REPLICAS        replicas (default: 1 for a new service; a rerun without
#                   it keeps the service's, as set by an earlier run or by
#                   `docker service scale`)
#   NETWORK         the overlay network (default my_network)
#   SERVICE         the service name (default accountservice)
#   PORT            the published port (default 6767; the container's port
#                   is nginx.conf's 6767)
#   PUBLISH_MODE    ingress (default: the routing mesh, any node answers) or
#                   host (the task's node only: one replica per node; for
#                   kernels without IPVS, where the mesh cannot work)
#                   NETWORK, PORT and PUBLISH_MODE are set when the service
#                   is created: a rerun with others fails (exit 1), saying so
#   IMAGE           the image to deploy, as it is (default: this repository's
#                   accountservice:latest, built first by
#                   scripts/build-image.sh)
#   SKIP_BUILD=1    deploy accountservice:latest without building it again
#   LIMIT_MEMORY    each task's memory limit (default: 128M for a new
#                   service; a rerun without it keeps the service's).  The
#                   pages of the database that a task reads count against
#                   it: keep it above the database file's size (du -h, or
#                   mdb_stat -e: pages in use times 4 KiB) plus 64M, or the
#                   kernel evicts them and lookups read the disk
#   RESERVE_MEMORY  memory reserved for each task (default: 32M for a new
#                   service; a rerun without it keeps the service's)
#   REGISTRY        a registry prefix (host[:port]/path) to push to, so that
#                   every node of a multi-node swarm pulls the same image
#   WAIT            seconds to wait for the service to converge (default 180)
#   ADVERTISE_ADDR  the address `docker swarm init` advertises, when the
#                   engine cannot choose one itself
#
# Exit status: 0 deployed, healthy and answering on PORT; 1 failed (the
# service rolled back, or did not converge in time, or exists with another
# NETWORK, PORT or PUBLISH_MODE); 3 deployed and healthy,
# but PORT does not answer on this machine.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
replicas=${REPLICAS:-}
network=${NETWORK:-my_network}
service=${SERVICE:-accountservice}
port=${PORT:-6767}
mode=${PUBLISH_MODE:-ingress}
image=${IMAGE:-accountservice:latest}
wait=${WAIT:-180}

say() { echo "deploy: $*"; }
die() { echo "deploy: $*" >&2; exit 1; }

case $mode in
ingress) order=start-first ;;
# a new task cannot bind the node's port while the old one holds it
host)    order=stop-first ;;
*)       die "PUBLISH_MODE is ingress or host, not '$mode'" ;;
esac

# 1. the image, tagged by its ID.  One given in IMAGE is never built over:
# it may be an image derived from this one, with its own data.
if [ -z "${IMAGE:-}" ] && [ "${SKIP_BUILD:-0}" != 1 ]; then
    IMAGE=$image "$here/scripts/build-image.sh"
fi
id=$(docker image inspect -f '{{.Id}}' "$image") \
    || die "no image $image: build it with 'IMAGE=$image make image'"
id=${id#sha256:}
# the repository: without a digest, and without a tag (a ":" after the last
# "/"; the one in host:port/name is not a tag)
name=${image%%@*}
case ${name##*/} in
*:*) name=${name%:*} ;;
esac
if [ -n "${REGISTRY:-}" ]; then
    name=${REGISTRY%/}/${name##*/}
fi
tagged=$name:$(printf %.12s "$id")
docker tag "$image" "$tagged"
if [ -n "${REGISTRY:-}" ]; then
    docker push -q "$tagged" >/dev/null
    resolve=--with-registry-auth
else
    # a single node uses its local image; there is no digest to record
    resolve=--no-resolve-image
fi

# 2. the swarm
state=$(docker info -f '{{.Swarm.LocalNodeState}}')
case $state in
inactive)
    say "docker swarm init"
    docker swarm init ${ADVERTISE_ADDR:+--advertise-addr "$ADVERTISE_ADDR"} \
        >/dev/null ;;
active) ;;
locked)
    die "this engine's swarm is locked: unlock it with 'docker swarm unlock'" ;;
*) die "this engine's swarm is '$state': repair it or 'docker swarm leave'" ;;
esac
[ "$(docker info -f '{{.Swarm.ControlAvailable}}')" = true ] \
    || die "this node is not a swarm manager: run deploy.sh on a manager"

# REPLICAS, or for a new service 1, or for a rerun the service's own count
scale="--replicas ${replicas:-1}"
if [ -z "$replicas" ]; then
    replicas=$(docker service inspect \
                   -f '{{with .Spec.Mode.Replicated}}{{.Replicas}}{{end}}' \
                   "$service" 2>/dev/null) || replicas=
    [ -z "$replicas" ] || scale=
    replicas=${replicas:-1}
fi

if [ "$mode" = host ]; then
    nodes=$(docker node ls -q | wc -l)
    [ "$replicas" -le "$nodes" ] \
        || die "PUBLISH_MODE=host publishes port $port on the node itself:" \
               "at most one replica per node ($nodes), not $replicas"
fi

# PORT, PUBLISH_MODE and NETWORK are set when the service is created;
# `docker service update` here changes the image and the rolling settings
# only.  A rerun that asks for others is refused, not rolled out on the old
# ones.
if docker service inspect "$service" >/dev/null 2>&1; then
    ports='{{range .Ports}}{{.PublishedPort}}:{{.TargetPort}}/{{.PublishMode}} {{end}}'
    have_ports=$(docker service inspect \
        -f "{{with .Spec.EndpointSpec}}$ports{{end}}" "$service")
    have_ports=${have_ports% }
    nets='{{range .Spec.TaskTemplate.Networks}}{{.Target}} {{end}}'
    nets=$(docker service inspect -f "$nets" "$service")
    have_net=
    for n in $nets; do
        n=$(docker network inspect -f '{{.Name}}' "$n" 2>/dev/null || echo "$n")
        have_net="$have_net $n"
    done
    have_net=${have_net# }
    if [ "$have_ports" != "$port:6767/$mode" ] || [ "$have_net" != "$network" ]
    then
        die "the service $service exists, publishing ${have_ports:-nothing}" \
            "on the network(s) ${have_net:-none}; this run asks for" \
            "$port:6767/$mode (PORT, PUBLISH_MODE) on $network (NETWORK)." \
            "They are set only when the service is created: rerun with the" \
            "service's, or change it yourself (docker service update" \
            "--publish-rm/--publish-add, --network-rm/--network-add), or" \
            "remove it ('docker service rm $service') and deploy again"
    fi
fi

# 3. the network
if ! docker network inspect "$network" >/dev/null 2>&1; then
    say "docker network create --driver overlay $network"
    docker network create --driver overlay --attachable "$network" >/dev/null
fi
# a network made a moment after `docker swarm init` can show no driver yet
for _ in 1 2 3 4 5 6 7 8 9 10; do
    driver=$(docker network inspect -f '{{.Driver}}' "$network") || driver=
    [ -z "$driver" ] || break
    sleep 1
done
[ "$driver" = overlay ] \
    || die "network $network is a '$driver' network, not an overlay one:" \
           "choose another NETWORK"

# 4. the service: the rolling settings are given on both paths, so that a
# service made by an older deploy.sh converges to them too
status='{{if .UpdateStatus}}{{.UpdateStatus.State}} {{.UpdateStatus.StartedAt}}{{end}}'
if docker service inspect "$service" >/dev/null 2>&1; then
    action=update mount=--mount-add
    last=$(docker service inspect -f "$status" "$service")
    memory="${LIMIT_MEMORY:+--limit-memory $LIMIT_MEMORY}"
    memory="$memory ${RESERVE_MEMORY:+--reserve-memory $RESERVE_MEMORY}"
else
    action=create mount=--mount
    memory="--limit-memory ${LIMIT_MEMORY:-128M}"
    memory="$memory --reserve-memory ${RESERVE_MEMORY:-32M}"
fi

set -- \
    $scale \
    --update-order "$order" --update-parallelism 1 --update-delay 2s \
    --update-monitor 10s --update-failure-action rollback \
    --update-max-failure-ratio 0 \
    --rollback-order "$order" --rollback-parallelism 1 \
    --rollback-monitor 10s --rollback-failure-action pause \
    --restart-condition any --restart-delay 2s --restart-window 30s \
    --stop-grace-period 10s \
    --limit-cpu 1 $memory \
    --read-only $mount type=tmpfs,dst=/run $mount type=tmpfs,dst=/tmp \
    $mount type=tmpfs,dst=/var/lib/nginx \
    $resolve --detach --quiet

if [ $action = update ]; then
    say "docker service update --image $tagged $service (was" \
        "$(docker service inspect \
             -f '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "$service"))"
    docker service update --image "$tagged" "$@" "$service" >/dev/null
else
    say "docker service create --name $service --replicas $replicas" \
        "--network $network --publish $port:6767 $tagged"
    docker service create --name "$service" --network "$network" \
        --publish "published=$port,target=6767,mode=$mode" \
        "$@" "$tagged" >/dev/null
fi

# 5. wait: the update is over, and as many tasks as replicas run the new
# image (a task with a health check is running only once healthy)
deadline=$(( $(date +%s) + wait ))
while :; do
    # the state of an update that this run started, if any
    update=$(docker service inspect -f "$status" "$service")
    [ "$update" != "${last:-}" ] || update=
    update=${update%% *}
    running=$(docker service ps --filter desired-state=running \
                  --format '{{.CurrentState}} {{.Image}}' "$service" \
              | grep -c "^Running .* $tagged" || true)
    case $update in
    rollback_completed|rollback_paused|paused)
        die "the update of $service to $tagged failed (a new task exited," \
            "or did not become healthy) and is $update; the service runs" \
            "$(docker service inspect \
                 -f '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "$service");" \
            "see 'docker service ps --no-trunc $service'" ;;
    updating|rollback_started) ;;
    *)  [ "$running" -ge "$replicas" ] && break ;;
    esac
    [ "$(date +%s)" -lt "$deadline" ] \
        || die "$service has $running of $replicas tasks running after" \
               "${wait}s (update: ${update:-none});" \
               "see 'docker service ps --no-trunc $service'"
    sleep 1
done
say "$service runs $tagged: $running/$replicas replicas healthy"

# 6. from this machine, through the published port
if command -v curl >/dev/null \
   && ! curl -fsS -o /dev/null --max-time 3 "http://127.0.0.1:$port/health"; then
    echo "deploy: $service is healthy, but port $port does not answer here." >&2
    if [ "$mode" = ingress ]; then
        echo "deploy: the routing mesh needs IPVS in the kernel (dockerd" \
             "logs 'Could not get ipvs family information from the kernel'" \
             "when it lacks it); PUBLISH_MODE=host publishes on the node" \
             "itself instead, one replica per node." >&2
    fi
    exit 3
fi
say "try: curl http://localhost:$port/accounts/10000"
