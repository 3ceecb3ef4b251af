# accountservice: nginx answers /accounts/<id> from LMDB.
#
#   make            build/ngx_http_account_module.so and build/account-seed
#   make run        seed data/accounts.mdb if missing, serve it on :6767
#   make test       the Test::Nginx suite and the store's unit tests

NGINX_SRC   ?= /usr/share/nginx/src
NGINX       ?= /usr/sbin/nginx
BUILD       ?= build
DB          ?= data/accounts.mdb

CC          ?= cc
CFLAGS      ?= -g -O2
WARN        := -Wall -Wextra -Werror
SEED_CFLAGS := -std=gnu11 $(WARN) -Istore $(CFLAGS)
SEED_LIBS   := -llmdb -ljansson

# the flags Debian builds its nginx and modules with, plus ours
MOD_CC_OPT  := -g -O2 -fstack-protector-strong -Wformat \
               -Werror=format-security -fPIC -Wdate-time \
               -D_FORTIFY_SOURCE=2 $(WARN) $(MOD_EXTRA_CFLAGS)
MOD_LD_OPT  := -Wl,-z,relro -Wl,-z,now -fPIC $(MOD_EXTRA_LDFLAGS)

MODULE      := $(BUILD)/ngx_http_account_module.so
SEED        := $(BUILD)/account-seed
UNIT        := $(BUILD)/test_account_store
STORE_SRCS  := store/account_store.c store/account_store.h

.PHONY: all deps test-deps run test clean

all: deps $(MODULE) $(SEED) $(UNIT)

deps:
	@scripts/deps.sh build

test-deps:
	@scripts/deps.sh test

$(BUILD)/nginx/objs/Makefile: config
	rm -rf $(BUILD)/nginx
	mkdir -p $(BUILD)
	cp -r $(NGINX_SRC) $(BUILD)/nginx
	cd $(BUILD)/nginx && bash -c '. ./conf_flags && ./configure \
	    "$${NGX_CONF_FLAGS[@]}" --add-dynamic-module=$(CURDIR) \
	    --with-cc-opt="$(MOD_CC_OPT)" --with-ld-opt="$(MOD_LD_OPT)"' \
	    > configure.log || { cat $(BUILD)/nginx/configure.log; exit 1; }

$(MODULE): $(BUILD)/nginx/objs/Makefile ngx_http_account_module.c $(STORE_SRCS)
	$(MAKE) -C $(BUILD)/nginx -f objs/Makefile modules
	cp $(BUILD)/nginx/objs/ngx_http_account_module.so $@.tmp
	mv $@.tmp $@

SEED_SRCS   := store/account_seed.c store/account_line.c store/account_store.c

$(SEED): $(SEED_SRCS) store/account_line.h store/account_store.h
	@mkdir -p $(BUILD)
	$(CC) $(SEED_CFLAGS) -o $@ $(SEED_SRCS) $(LDFLAGS) $(SEED_LIBS)

$(UNIT): t/unit/test_account_store.c $(STORE_SRCS)
	@mkdir -p $(BUILD)
	$(CC) $(SEED_CFLAGS) -o $@ t/unit/test_account_store.c \
	    store/account_store.c $(LDFLAGS) -llmdb

$(DB): | $(SEED)
	@mkdir -p $(dir $(DB))
	$(SEED) --db $(DB)

run: all $(DB)
	@mkdir -p $(BUILD)/run/logs
	sed -e 's|modules/ngx_http_account_module.so|$(CURDIR)/$(MODULE)|' \
	    -e 's|/data/accounts.mdb|$(CURDIR)/$(DB)|' \
	    -e 's|^pid .*|pid nginx.pid;|' \
	    -e "s|^user .*|$$( [ $$(id -u) = 0 ] && echo 'user root;' )|" \
	    nginx.conf > $(BUILD)/run/nginx.conf
	exec $(NGINX) -p $(CURDIR)/$(BUILD)/run -c nginx.conf \
	    -e /dev/stderr -g 'daemon off; master_process on;'

test: test-deps all
	ACCOUNT_BUILD=$(abspath $(BUILD)) TEST_NGINX_BINARY=$(NGINX) \
	    prove -r $(PROVE_FLAGS) t/

clean:
	rm -rf $(BUILD)
