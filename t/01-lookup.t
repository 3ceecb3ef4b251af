# The HTTP contract of account_lookup.

use lib 't/lib';
use AccountTest qw(new_db);
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_DB} = new_db();

# a database that another tool added an empty document to, under "empty"
$ENV{TEST_NGINX_DB_EMPTY} = new_db('--count', 1);
open my $load, '|-', "mdb_load -n -T $ENV{TEST_NGINX_DB_EMPTY}" or die $!;
print $load "empty\n\n";
close $load or die "mdb_load failed\n";

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', 'account_db $TEST_NGINX_DB;')
        unless defined $block->http_config;

    $block->set_value('config', 'location /accounts/ { account_lookup; }')
        unless defined $block->config;

    $block->set_value('no_error_log', "[error]\n[alert]\n[crit]")
        unless defined $block->no_error_log || defined $block->error_log;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a seeded account is served with the stored JSON, as the Go service did
--- request
GET /accounts/10000
--- error_code: 200
--- response_headers
Content-Type: application/json
Content-Length: 32
--- response_body chomp
{"id":"10000","name":"Person_0"}



=== TEST 2: the last default account is there
--- request
GET /accounts/10099
--- response_body chomp
{"id":"10099","name":"Person_99"}



=== TEST 3: unknown id is a 404 with a JSON body naming the id
--- request
GET /accounts/10100
--- error_code: 404
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error":"account not found","id":"10100"}



=== TEST 4: the query string is not part of the id
--- request
GET /accounts/10001?fields=name&id=10002
--- error_code: 200
--- response_body chomp
{"id":"10001","name":"Person_1"}



=== TEST 5: HEAD sends the headers and no body
--- request
HEAD /accounts/10000
--- error_code: 200
--- response_headers
Content-Type: application/json
Content-Length: 32
--- response_body



=== TEST 6: HEAD of an unknown id is a 404 without a body
--- request
HEAD /accounts/nobody
--- error_code: 404
--- response_body



=== TEST 7: POST is a 405 with Allow: GET, HEAD and a JSON body
--- request
POST /accounts/10000
{"name":"x"}
--- error_code: 405
--- response_headers
Allow: GET, HEAD
Content-Type: application/json
--- response_body chomp
{"error":"method not allowed","allow":"GET, HEAD"}



=== TEST 8: every other method is a 405 too
--- pipelined_requests eval
["PUT /accounts/10000", "DELETE /accounts/10000", "PATCH /accounts/10000",
 "OPTIONS /accounts/10000"]
--- error_code eval
[405, 405, 405, 405]
--- response_body eval
[('{"error":"method not allowed","allow":"GET, HEAD"}') x 4]



=== TEST 9: an empty id is a 400
--- request
GET /accounts/
--- error_code: 400
--- response_body chomp
{"error":"invalid account id","reason":"the id is empty"}



=== TEST 10: a trailing slash leaves an empty id: 400
--- request
GET /accounts/10000/
--- error_code: 400
--- response_body chomp
{"error":"invalid account id","reason":"the id is empty"}



=== TEST 11: an escaped slash in the id is a 400, not another path
--- request
GET /accounts/100%2F00
--- error_code: 400
--- response_body chomp
{"error":"invalid account id","reason":"the id contains a slash"}



=== TEST 12: a 128-byte id is valid (and unknown here)
--- request eval
"GET /accounts/" . ("a" x 128)
--- error_code: 404
--- response_body eval
'{"error":"account not found","id":"' . ("a" x 128) . '"}'



=== TEST 13: a 129-byte id is a 400
--- request eval
"GET /accounts/" . ("a" x 129)
--- error_code: 400
--- response_body chomp
{"error":"invalid account id","reason":"the id is longer than 128 bytes"}



=== TEST 14: bytes outside A-Z a-z 0-9 - . _ ~ are a 400
--- request
GET /accounts/10000;drop
--- error_code: 400
--- response_body chomp
{"error":"invalid account id","reason":"the id may only contain A-Z a-z 0-9 - . _ ~"}



=== TEST 15: a percent-encoded NUL is refused by nginx: 400, JSON as shipped
--- config
location /accounts/ { account_lookup; }
error_page 400 494 /.errors/400;
location = /.errors/400 {
    internal;
    default_type application/json;
    return 400 '{"error":"bad request"}';
}
--- request
GET /accounts/10000%00
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error":"bad request"}



=== TEST 16: invalid UTF-8 in the id is a 400
--- request
GET /accounts/%C3%28
--- error_code: 400
--- response_body chomp
{"error":"invalid account id","reason":"the id may only contain A-Z a-z 0-9 - . _ ~"}



=== TEST 17: a malformed escape is refused by nginx: 400, JSON as shipped
--- config
location /accounts/ { account_lookup; }
error_page 400 494 /.errors/400;
location = /.errors/400 {
    internal;
    default_type application/json;
    return 400 '{"error":"bad request"}';
}
--- request
GET /accounts/100%zz
--- error_code: 400
--- response_body chomp
{"error":"bad request"}



=== TEST 18: escaped unreserved bytes are the same id
--- request
GET /accounts/%31%30%30%30%30
--- error_code: 200
--- response_body chomp
{"id":"10000","name":"Person_0"}



=== TEST 19: a dot-dot last segment is a 400
--- request
GET /accounts/10000/..
--- error_code: 400
--- response_body chomp
{"error":"invalid account id","reason":"the id may not be '.' or '..'"}



=== TEST 20: double slashes are merged by nginx before the lookup
--- request
GET /accounts//10000
--- error_code: 200
--- response_body chomp
{"id":"10000","name":"Person_0"}



=== TEST 21: the id is the last segment of the URI, wherever the location is
--- config
location /v1/ { account_lookup; }
--- request
GET /v1/accounts/10042
--- error_code: 200
--- response_body chomp
{"id":"10042","name":"Person_42"}



=== TEST 22: after a rewrite the id comes from the rewritten URI
--- config
location /accounts/ { account_lookup; }
location /legacy/ { rewrite ^/legacy/user-(.*)$ /accounts/$1 last; }
--- request
GET /legacy/user-10007
--- error_code: 200
--- response_body chomp
{"id":"10007","name":"Person_7"}



=== TEST 23: keep-alive: several lookups on one connection
--- pipelined_requests eval
["GET /accounts/10003", "GET /accounts/missing", "GET /accounts/10004"]
--- error_code eval
[200, 404, 200]
--- response_body eval
['{"id":"10003","name":"Person_3"}',
 '{"error":"account not found","id":"missing"}',
 '{"id":"10004","name":"Person_4"}']



=== TEST 24: HTTP/1.0 without a Host header is answered
--- raw_request eval
"GET /accounts/10005 HTTP/1.0\r\n\r\n"
--- error_code: 200
--- response_body chomp
{"id":"10005","name":"Person_5"}



=== TEST 25: account_db set in the location overrides the http level
--- http_config eval
"account_db $ENV{TEST_NGINX_DB};"
--- config eval
"location /other/ { account_db " . AccountTest::new_db('--count', 1,
    '--start', 7) . "; account_lookup; }"
--- request
GET /other/7
--- error_code: 200
--- response_body chomp
{"id":"7","name":"Person_0"}



=== TEST 26: an empty document, written by another tool, is an empty 200
--- http_config
account_db $TEST_NGINX_DB_EMPTY;
--- request
GET /accounts/empty
--- error_code: 200
--- response_headers
Content-Type: application/json
Content-Length: 0
--- response_body eval
""
