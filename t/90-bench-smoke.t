# scripts/bench.sh --smoke: every benchmark variant answers right.
#
# The full benchmark (scripts/bench.sh, docs/BENCHMARKS.md) is too long for
# make test; its smoke mode starts the four variants it compares (ceiling,
# static files, Lua shared dict, this module) on 100 accounts and checks
# that each answers 200 with the right document for a sample of ids, then
# drives each with wrk for a second; then the store's lookup alone
# (account-lookup-bench) runs for a second.  No timing is asserted.

use strict;
use warnings;

use lib 't/lib';
use AccountTest ();
use Test::More;

my $lua = '/usr/lib/nginx/modules/ngx_http_lua_module.so';

plan skip_all => "the Lua shared dict variant needs $lua: "
                 . "scripts/deps.sh bench installs libnginx-mod-http-lua"
    unless -e $lua;

for my $tool (qw(wrk curl taskset)) {
    plan skip_all => "the benchmark needs $tool: scripts/deps.sh bench"
        unless grep { -x "$_/$tool" } split /:/, $ENV{PATH};
}

plan skip_all => 'the benchmark pins the server and wrk to two CPUs; '
                 . 'this machine has one'
    unless `nproc` > 1;

$ENV{BUILD} = $AccountTest::Build;
$ENV{NGINX} = $ENV{TEST_NGINX_BINARY};

my @out = `$AccountTest::Root/scripts/bench.sh --smoke 2>&1`;
my $rc = $? >> 8;

diag(join '', @out) if $rc != 0;

is($rc, 0, 'scripts/bench.sh --smoke exits 0');

for my $variant (qw(ceiling static lua module)) {
    ok((grep { /^ok $variant: 200 and the right document/ } @out),
       "$variant answers 200 with the seeded document for every sampled id");
    ok((grep { /^ok $variant: wrk .* no errors/ } @out),
       "$variant answers wrk without errors");
}

ok((grep { /^ok lookup alone: [1-9]\d* lookups, every id found/ } @out),
   "account-lookup-bench finds every seeded id outside nginx");

done_testing();
