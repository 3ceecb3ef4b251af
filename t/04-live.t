# A seeder writing while nginx serves: no reload, no error, no stale map.

use lib 't/lib';
use AccountTest qw(new_db seed);
use Test::Nginx::Socket 'no_plan';

sub map_size {
    my $out = `mdb_stat -e -n $_[0]`;
    $out =~ /Map size: (\d+)/ or die "mdb_stat -e $_[0]: $out";
    return $1;
}

$ENV{TEST_NGINX_DB_LIVE} = new_db();
$ENV{TEST_NGINX_DB_GROW} = new_db();
$ENV{TEST_NGINX_DB_REWRITE} = new_db();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', <<'_EOC_') unless defined $block->config;
location /accounts/ { account_lookup; }
location = /health { account_health; }
_EOC_

    $block->set_value('no_error_log', "[error]\n[alert]\n[crit]")
        unless defined $block->no_error_log || defined $block->error_log;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: an account seeded while nginx runs is served at the next request
--- http_config
account_db $TEST_NGINX_DB_LIVE;
--- init
AccountTest::served();
AccountTest::seed($ENV{TEST_NGINX_DB_LIVE}, '--count', 1, '--start', 424242);
--- pipelined_requests eval
["GET /accounts/424242", "GET /accounts/10000"]
--- error_code eval
[200, 200]
--- response_body eval
['{"id":"424242","name":"Person_0"}', '{"id":"10000","name":"Person_0"}']



=== TEST 2: an import that rewrites served accounts is seen without a reload
--- http_config
account_db $TEST_NGINX_DB_REWRITE;
--- init
AccountTest::served();
open my $fh, '>', "$ENV{TEST_NGINX_DB_REWRITE}.jsonl" or die $!;
print $fh qq{{"id":"10000","name":"Ada Lovelace","email":"ada\@example.org"}\n};
close $fh;
AccountTest::seed($ENV{TEST_NGINX_DB_REWRITE}, '--from',
                  "$ENV{TEST_NGINX_DB_REWRITE}.jsonl");
--- request
GET /accounts/10000
--- response_body chomp
{"id":"10000","name":"Ada Lovelace","email":"ada@example.org"}



=== TEST 3: a seed that grows the map beyond the workers' map is followed
--- http_config
account_db $TEST_NGINX_DB_GROW;
--- init
AccountTest::served();
my $before = main::map_size($ENV{TEST_NGINX_DB_GROW});
AccountTest::seed($ENV{TEST_NGINX_DB_GROW}, '--count', 400000,
                  '--start', 1000000);
my $after = main::map_size($ENV{TEST_NGINX_DB_GROW});
Test::More::cmp_ok($after, '>', $before,
                   "the seed grew the map ($before -> $after bytes)");
--- pipelined_requests eval
["GET /accounts/1399999", "GET /accounts/10099", "GET /health"]
--- error_code eval
[200, 200, 200]
--- response_body eval
['{"id":"1399999","name":"Person_399999"}',
 '{"id":"10099","name":"Person_99"}', '{"status":"UP"}']
