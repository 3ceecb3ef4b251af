# accountservice: nginx with the account module, answering GET /accounts/<id>
# from an LMDB database, on port 6767.
#
#   make image                      builds accountservice:latest
#   docker run -p 6767:6767 accountservice
#
# Both stages start from the same Debian release, so that the module is
# compiled against the very nginx (nginx-dev depends on the exact nginx ABI)
# that the runtime stage installs.  On a machine that cannot pull images,
# scripts/base-image.sh makes debian:<release>-slim from Debian's packages
# under the same name; `make image` runs it first.
ARG DEBIAN_RELEASE=trixie

FROM debian:${DEBIAN_RELEASE}-slim AS build
WORKDIR /src
# the packages `make` needs, as for a build on the host
COPY scripts/deps.sh scripts/
RUN scripts/deps.sh build
COPY . .
RUN make build/ngx_http_account_module.so build/account-seed

FROM debian:${DEBIAN_RELEASE}-slim
# curl is for the HEALTHCHECK only.  Logs go to the container's stdout and
# stderr: nginx.conf logs errors to stderr and turns the access log off; the
# default log files are links to them, for an access_log turned on.  /data
# belongs to the workers' user, and so does a new volume.
# The upgrade brings the base image's packages up to the release's updates
# and security fixes (FRESH=1 scripts/build-image.sh rebuilds this layer).
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get upgrade -y -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends \
        nginx liblmdb0 libjansson4 curl \
    && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/default \
    && ln -sf /dev/stdout /var/log/nginx/access.log \
    && ln -sf /dev/stderr /var/log/nginx/error.log \
    && mkdir -p /data \
    && chown www-data:www-data /data
COPY --from=build /src/build/ngx_http_account_module.so /usr/lib/nginx/modules/
COPY --from=build /src/build/account-seed /usr/local/bin/
COPY nginx.conf /etc/nginx/nginx.conf
COPY docker/entrypoint.sh /usr/local/bin/docker-entrypoint
# worker_processes comes from /run/nginx-workers.conf, which the entrypoint
# writes from the container's CPU limit at each start (see there).  The
# module loads into this nginx, and the configuration holds (account_db
# opens its database at that time: a throwaway one).
RUN sed -i 's|^worker_processes auto;$|include /run/nginx-workers.conf;|' \
        /etc/nginx/nginx.conf \
    && grep -q '^include /run/nginx-workers.conf;$' /etc/nginx/nginx.conf \
    && echo 'worker_processes auto;' > /run/nginx-workers.conf \
    && account-seed --db /data/accounts.mdb --quiet \
    && nginx -t -q \
    && rm /data/accounts.mdb /data/accounts.mdb-lock

VOLUME /data
EXPOSE 6767
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS -o /dev/null --max-time 2 http://127.0.0.1:6767/health \
        || exit 1
ENTRYPOINT ["docker-entrypoint"]
CMD ["nginx", "-e", "stderr", "-g", "daemon off;"]
