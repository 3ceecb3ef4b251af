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
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends \
        build-essential nginx-dev liblmdb-dev libjansson-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make

FROM debian:${DEBIAN_RELEASE}-slim
# curl is for the HEALTHCHECK only.  The access and error logs are the
# container's stdout and stderr.  /data belongs to the workers' user, so that
# a new volume does too.
RUN apt-get update \
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
COPY docker/served-by.conf /etc/nginx/conf.d/
COPY docker/entrypoint.sh /usr/local/bin/docker-entrypoint
# the module loads into this nginx, and the configuration parses
RUN nginx -t -q

VOLUME /data
EXPOSE 6767
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS -o /dev/null --max-time 2 http://127.0.0.1:6767/health \
        || exit 1
ENTRYPOINT ["docker-entrypoint"]
CMD ["nginx", "-e", "stderr", "-g", "daemon off;"]
