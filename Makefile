# accountservice: nginx answers /accounts/<id> from LMDB.
#
#   make            build/ngx_http_account_module.so and build/account-seed
#   make run        seed data/accounts.mdb if missing, serve it on :6767
#   make test       the Test::Nginx suite and the store's unit tests
#   make bench      the benchmark against nginx's ceiling and its peers
#   make image      the accountservice:latest image (base image made if needed)
#   make deploy     build and roll it out as a Swarm service on :6767

NGINX_SRC   ?= /usr/share/nginx/src
NGINX       ?= /usr/sbin/nginx
BUILD       ?= build
DB          ?= data/accounts.mdb

CC          ?= cc
CFLAGS      ?= -g -O2
WARN        := -Wall -Wextra -Werror
SEED_CFLAGS := -std=gnu11 -pthread $(WARN) -Istore $(CFLAGS)
SEED_LIBS   := -llmdb -ljansson

# the flags Debian builds its nginx and modules with, plus ours
MOD_CC_OPT  := -g -O2 -fstack-protector-strong -Wformat \
               -Werror=format-security -fPIC -Wdate-time \
               -D_FORTIFY_SOURCE=2 $(WARN) $(MOD_EXTRA_CFLAGS)
MOD_LD_OPT  := -Wl,-z,relro -Wl,-z,now -fPIC $(MOD_EXTRA_LDFLAGS)

MODULE      := $(BUILD)/ngx_http_account_module.so
SEED        := $(BUILD)/account-seed
UNIT        := $(BUILD)/test_account_store
LOOKUP      := $(BUILD)/account-lookup-bench
STORE_SRCS  := store/account_store.c store/account_store.h

.PHONY: all deps test-deps run test bench bench-publish bench-instructions \
        bench-seeding bench-scale image deploy \
        test-docker clean

all: deps $(MODULE) $(SEED) $(UNIT) $(LOOKUP)

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

# the store's lookup alone, for scripts/bench.sh
$(LOOKUP): scripts/bench/lookup.c $(STORE_SRCS)
	@mkdir -p $(BUILD)
	$(CC) $(SEED_CFLAGS) -o $@ scripts/bench/lookup.c \
	    store/account_store.c $(LDFLAGS) -llmdb

$(DB): | $(SEED)
	@mkdir -p $(dir $(DB))
	$(SEED) --db $(DB)

# as many open files as nginx.conf asks for, or as the shell may have
NOFILE = $(shell n=$$(ulimit -Hn); \
                 { [ "$$n" = unlimited ] || [ "$$n" -gt 20000 ]; } && n=20000; \
                 echo $$n)

run: all $(DB)
	@mkdir -p $(BUILD)/run/logs
	sed -e 's|modules/ngx_http_account_module.so|$(CURDIR)/$(MODULE)|' \
	    -e 's|/data/accounts.mdb|$(CURDIR)/$(DB)|' \
	    -e 's|^pid .*|pid nginx.pid;|' \
	    -e "s|^worker_rlimit_nofile .*|worker_rlimit_nofile $(NOFILE);|" \
	    -e "s|^user .*|$$( [ $$(id -u) = 0 ] && echo 'user root;' )|" \
	    nginx.conf > $(BUILD)/run/nginx.conf
	exec $(NGINX) -p $(CURDIR)/$(BUILD)/run -c nginx.conf \
	    -e /dev/stderr -g 'daemon off; master_process on;'

test: test-deps all
	ACCOUNT_BUILD=$(abspath $(BUILD)) TEST_NGINX_BINARY=$(NGINX) \
	    prove -r $(PROVE_FLAGS) t/

# the benchmark (docs/BENCHMARKS.md); its smoke version runs in make test
bench: all
	@scripts/deps.sh bench
	BUILD=$(abspath $(BUILD)) NGINX=$(NGINX) scripts/bench.sh

bench-publish: all
	@scripts/deps.sh bench
	BUILD=$(abspath $(BUILD)) NGINX=$(NGINX) scripts/bench.sh --publish

# quick parts of it: instructions per request (seconds), the seeder (a
# minute), the module at 100 and at 10,000,000 accounts (five minutes)
bench-instructions: all
	@scripts/deps.sh bench
	BUILD=$(abspath $(BUILD)) NGINX=$(NGINX) scripts/bench.sh --instructions

bench-seeding: all
	@scripts/deps.sh bench
	BUILD=$(abspath $(BUILD)) NGINX=$(NGINX) scripts/bench.sh --seeding

bench-scale: all
	@scripts/deps.sh bench
	BUILD=$(abspath $(BUILD)) NGINX=$(NGINX) scripts/bench.sh --scale

image:
	scripts/build-image.sh

deploy:
	scripts/deploy.sh

test-docker:
	prove -v t/docker/

clean:
	rm -rf $(BUILD)

# --- reliability: sanitizers, valgrind, HUP, fuzzing ---
#
#   make asan          module and account-seed with ASan+UBSan in $(BUILD)/asan/
#   make test-asan     the specs and the fault tests against that build; nginx
#                      (not instrumented) runs with gcc's libasan/libubsan
#                      preloaded (scripts/faults/nginx-sanitized)
#   make test-valgrind the Test::Nginx specs with nginx under memcheck
#   make test-hup      the Test::Nginx specs, reloading with HUP between blocks
#   make test-faults   the fault tests under wrk load (t/3x-*.t)
#   make test-threads  account-seed's parsing threads under helgrind and drd
#   make fuzz          each libFuzzer harness for FUZZ_TIME seconds (60)
#   make fuzz-replay   every corpus and regression input once (CI)
#
# SPECS are what the valgrind, HUP and sanitizer modes run: the Test::Nginx
# specs and the seeder's tests (t/0*, t/1*, t/2*); the fault tests (t/3*)
# start their own nginx under load and run in "make test".

SPECS        ?= $(sort $(wildcard t/0*.t t/1*.t t/2*.t))
FAULTS       ?= $(sort $(wildcard t/3*.t))
REL_TMP      ?= /tmp/accountservice-rel
ASAN_BUILD   ?= $(BUILD)/asan
SAN_FLAGS    := -fsanitize=address,undefined -fno-omit-frame-pointer \
                -fno-sanitize-recover=undefined
FUZZ_CC      ?= clang
FUZZ_BUILD   ?= $(BUILD)/fuzz
FUZZ_TIME    ?= 60
FUZZ_FLAGS   := -g -O1 -pthread -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=undefined -Istore
FUZZERS      := account_id account_line account_import

.PHONY: asan test-asan test-valgrind test-hup test-faults test-threads \
        fuzz-build fuzz \
        fuzz-replay fuzz-merge

asan:
	$(MAKE) BUILD=$(ASAN_BUILD) CFLAGS="-g -O1 $(SAN_FLAGS)" \
	    LDFLAGS="$(SAN_FLAGS)" MOD_EXTRA_CFLAGS="$(SAN_FLAGS)" \
	    MOD_EXTRA_LDFLAGS="$(SAN_FLAGS)" all

# a sanitizer report goes to a file under $(REL_TMP)/asan (Test::Nginx adds
# the test's name to ASAN_OPTIONS' log_path, which must come last) and fails
# the run; leaks are checked in account-seed only (nginx frees its pools by
# exiting)
test-asan: test-deps asan
	rm -rf $(REL_TMP)/asan && mkdir -p $(REL_TMP)/asan
	ACCOUNT_BUILD=$(abspath $(ASAN_BUILD)) ACCOUNT_NGINX=$(NGINX) \
	TEST_NGINX_BINARY=$(CURDIR)/scripts/faults/nginx-sanitized \
	ASAN_OPTIONS=detect_leaks=0,abort_on_error=1,log_path=$(REL_TMP)/asan/asan \
	UBSAN_OPTIONS=print_stacktrace=1,log_path=$(REL_TMP)/asan/ubsan \
	    prove $(PROVE_FLAGS) $(SPECS) $(FAULTS)
	ACCOUNT_BUILD=$(abspath $(ASAN_BUILD)) \
	ASAN_OPTIONS=detect_leaks=1,log_path=$(REL_TMP)/asan/seed \
	UBSAN_OPTIONS=print_stacktrace=1,log_path=$(REL_TMP)/asan/seed-ubsan \
	    prove $(PROVE_FLAGS) t/00-store.t $(wildcard t/2*-seed-*.t)
	@if ls $(REL_TMP)/asan | grep -q .; then \
	    cat $(REL_TMP)/asan/*; echo "sanitizer reports above" >&2; exit 1; fi

# memcheck writes errors and definite leaks to one file per process; nginx
# under valgrind takes a while to read its configuration: a block's --- init
# must not run before it has (TEST_NGINX_SLEEP)
test-valgrind: test-deps all
	rm -rf $(REL_TMP)/valgrind && mkdir -p $(REL_TMP)/valgrind
	ACCOUNT_BUILD=$(abspath $(BUILD)) TEST_NGINX_BINARY=$(NGINX) \
	TEST_NGINX_SLEEP=1 \
	TEST_NGINX_USE_VALGRIND="--tool=memcheck --leak-check=full \
	    --show-leak-kinds=definite --errors-for-leak-kinds=definite \
	    --num-callers=50 --suppressions=$(CURDIR)/fuzz/valgrind.supp \
	    --log-file=$(REL_TMP)/valgrind/vg.%p" \
	    prove $(PROVE_FLAGS) $(SPECS)
	@if find $(REL_TMP)/valgrind -type f -size +0 | grep -q .; then \
	    cat $(REL_TMP)/valgrind/*; \
	    echo "memcheck reports above" >&2; exit 1; fi

test-hup: test-deps all
	ACCOUNT_BUILD=$(abspath $(BUILD)) TEST_NGINX_BINARY=$(NGINX) \
	TEST_NGINX_USE_HUP=1 prove $(PROVE_FLAGS) $(SPECS)

test-faults: test-deps all
	ACCOUNT_BUILD=$(abspath $(BUILD)) TEST_NGINX_BINARY=$(NGINX) \
	    prove -v $(PROVE_FLAGS) $(FAULTS)

# account-seed's parsing threads under helgrind and drd: an import of several
# blocks, and one that stops at a bad line in its third block
THREADS_LINES ?= 100000
test-threads: test-deps all
	rm -rf $(REL_TMP)/threads && mkdir -p $(REL_TMP)/threads
	awk -v n=$(THREADS_LINES) 'BEGIN { for (i = 0; i < n; i++) \
	    printf "{\"id\":\"%d\",\"name\":\"Person_%d\"}\n", 10000 + i, i }' \
	    > $(REL_TMP)/threads/good.jsonl
	awk 'NR == 60000 { print "{\"id\":1}"; next } { print }' \
	    $(REL_TMP)/threads/good.jsonl > $(REL_TMP)/threads/bad.jsonl
	for tool in helgrind drd; do \
	    valgrind -q --tool=$$tool --error-exitcode=99 $(SEED) --quiet \
	        --db $(REL_TMP)/threads/$$tool.mdb \
	        --from $(REL_TMP)/threads/good.jsonl || exit 1; \
	    valgrind -q --tool=$$tool --error-exitcode=99 $(SEED) --quiet \
	        --db $(REL_TMP)/threads/$$tool.mdb \
	        --from $(REL_TMP)/threads/bad.jsonl; \
	    [ $$? = 65 ] || exit 1; \
	done
	@echo "helgrind and drd: no report"

$(FUZZ_BUILD)/fuzz_account_id: fuzz/fuzz_account_id.c $(STORE_SRCS)
	@mkdir -p $(FUZZ_BUILD)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ fuzz/fuzz_account_id.c \
	    store/account_store.c -llmdb

$(FUZZ_BUILD)/fuzz_account_line: fuzz/fuzz_account_line.c \
        store/account_line.c store/account_line.h $(STORE_SRCS)
	@mkdir -p $(FUZZ_BUILD)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ fuzz/fuzz_account_line.c \
	    store/account_line.c store/account_store.c -llmdb -ljansson

# the whole import loop of account-seed, its main renamed
$(FUZZ_BUILD)/fuzz_account_import: fuzz/fuzz_account_import.c \
        store/account_seed.c store/account_line.c store/account_line.h \
        $(STORE_SRCS)
	@mkdir -p $(FUZZ_BUILD)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ fuzz/fuzz_account_import.c \
	    store/account_line.c store/account_store.c -llmdb -ljansson

fuzz-build: $(FUZZERS:%=$(FUZZ_BUILD)/fuzz_%)

# new inputs go to $(FUZZ_BUILD)/corpus-NAME, crashes to $(FUZZ_BUILD)/;
# keep a crash as fuzz/regress/NAME/<name>; "make fuzz-merge" adds what is
# new to fuzz/corpus/NAME
fuzz: fuzz-build
	@for f in $(FUZZERS); do \
	    mkdir -p $(FUZZ_BUILD)/corpus-$$f; \
	    echo "fuzz_$$f for $(FUZZ_TIME)s"; \
	    $(FUZZ_BUILD)/fuzz_$$f -max_total_time=$(FUZZ_TIME) \
	        -print_final_stats=1 -dict=fuzz/$$f.dict \
	        -artifact_prefix=$(FUZZ_BUILD)/$$f- $(FUZZ_BUILD)/corpus-$$f \
	        fuzz/corpus/$$f $$(ls -d fuzz/regress/$$f 2>/dev/null) \
	        || exit 1; \
	done

fuzz-replay: fuzz-build
	@for f in $(FUZZERS); do \
	    $(FUZZ_BUILD)/fuzz_$$f -runs=0 fuzz/corpus/$$f \
	        $$(ls -d fuzz/regress/$$f 2>/dev/null) \
	        || exit 1; \
	done

# what "make fuzz" found that the checked-in corpus lacks, minimized into it
fuzz-merge: fuzz-build
	@for f in $(FUZZERS); do \
	    $(FUZZ_BUILD)/fuzz_$$f -merge=1 fuzz/corpus/$$f \
	        $(FUZZ_BUILD)/corpus-$$f || exit 1; \
	done
