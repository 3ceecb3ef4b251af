# account_health, and what a worker does when it cannot read the database.

use lib 't/lib';
use AccountTest qw(new_db seed);
use File::Copy qw(move);
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_DB} = new_db();
$ENV{TEST_NGINX_DB_GONE} = new_db();
$ENV{TEST_NGINX_DB_SWAP} = new_db();

# a lock file that cannot be opened: the worker's open fails at start
$ENV{TEST_NGINX_DB_LOCKED} = new_db();
unlink "$ENV{TEST_NGINX_DB_LOCKED}-lock";
mkdir "$ENV{TEST_NGINX_DB_LOCKED}-lock" or die "mkdir: $!";

$ENV{TEST_NGINX_DB_LATE} = new_db();
unlink "$ENV{TEST_NGINX_DB_LATE}-lock";
mkdir "$ENV{TEST_NGINX_DB_LATE}-lock" or die "mkdir: $!";

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', 'account_db $TEST_NGINX_DB;')
        unless defined $block->http_config;

    $block->set_value('config', <<'_EOC_') unless defined $block->config;
location /accounts/ { account_lookup; }
location = /health { account_health; }
_EOC_

    $block->set_value('no_error_log', "[error]\n[alert]\n[crit]")
        unless defined $block->no_error_log || defined $block->error_log;
});

no_shuffle();
check_accum_error_log();
run_tests();

__DATA__

=== TEST 1: health is UP while the database is readable, as the Go service said
--- request
GET /health
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body chomp
{"status":"UP"}



=== TEST 2: HEAD /health answers without a body
--- request
HEAD /health
--- error_code: 200
--- response_body



=== TEST 3: health takes GET and HEAD only
--- request
DELETE /health
--- error_code: 405
--- response_headers
Allow: GET, HEAD
--- response_body chomp
{"error":"method not allowed","allow":"GET, HEAD"}



=== TEST 4: a removed database file: health 503 naming the problem, lookups 503
--- http_config
account_db $TEST_NGINX_DB_GONE;
--- init
AccountTest::served();
unlink $ENV{TEST_NGINX_DB_GONE} or die "unlink: $!";
--- pipelined_requests eval
["GET /health", "GET /accounts/10000"]
--- error_code eval
[503, 503]
--- response_body eval
['{"error":"account database unavailable","reason":"No such file or directory"}',
 '{"error":"account database unavailable"}']
--- error_log
is gone
--- no_error_log
[alert]
[crit]



=== TEST 5: a database replaced by a new file is followed without a reload
--- http_config
account_db $TEST_NGINX_DB_SWAP;
--- init
AccountTest::served();
my $new = "$ENV{TEST_NGINX_DB_SWAP}.new";
AccountTest::seed($new, '--count', 1, '--start', 555);
rename $new, $ENV{TEST_NGINX_DB_SWAP} or die "rename: $!";
rename "$new-lock", "$ENV{TEST_NGINX_DB_SWAP}-lock" or die "rename: $!";
--- pipelined_requests eval
["GET /health", "GET /accounts/555", "GET /accounts/10000"]
--- error_code eval
[200, 200, 404]
--- response_body eval
['{"status":"UP"}', '{"id":"555","name":"Person_0"}',
 '{"error":"account not found","id":"10000"}']
--- error_log
was replaced, reopening



=== TEST 6: a worker that cannot open the database stays up, logs why, answers 503
--- http_config
account_db $TEST_NGINX_DB_LOCKED;
--- pipelined_requests eval
["GET /accounts/10000", "GET /health"]
--- error_code eval
[503, 503]
--- response_body eval
['{"error":"account database unavailable"}',
 '{"error":"account database unavailable","reason":"Is a directory"}']
--- error_log eval
qr/\[error\] .*account_db "[^"]+" cannot be opened by worker user "root": Is a directory/
--- no_error_log
[alert]
[crit]



=== TEST 7: the worker retries the open, and serves once the problem is fixed
--- http_config
account_db $TEST_NGINX_DB_LATE;
--- init
AccountTest::served();
rmdir "$ENV{TEST_NGINX_DB_LATE}-lock" or die "rmdir: $!";
--- pipelined_requests eval
["GET /health", "GET /accounts/10000"]
--- error_code eval
[200, 200]
--- response_body eval
['{"status":"UP"}', '{"id":"10000","name":"Person_0"}']
--- error_log
cannot be opened by worker user
--- no_error_log
[alert]
[crit]
