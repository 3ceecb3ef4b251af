# Hostile requests against the shipped server block: every one is answered
# with its status and a JSON body, and no worker logs an error or crashes.
# (t/01-lookup.t holds the lookup contract; this file extends it.)

use lib 't/lib';
use AccountTest qw(new_db);
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_DB} = new_db();

# nginx.conf's http settings and its server block, less what Test::Nginx
# writes itself (listen, and default_type and client_max_body_size 30M at
# the http or server level: the shipped default_type and body buffer are set
# in the server block, and the 1k body limit in each location, instead)

our $HttpConfig = <<'_EOC_';
    account_db $TEST_NGINX_DB;
    server_tokens off;
    keepalive_requests 100000;
    client_header_buffer_size 1k;
    large_client_header_buffers 4 8k;
_EOC_

our $ServerConfig = do {
    open my $fh, '<', "$AccountTest::Root/nginx.conf" or die $!;
    my $conf = do { local $/; <$fh> };
    my ($server) = $conf =~ /^    server \{\n(.*?)^    \}\n/ms
        or die "no server block in nginx.conf\n";
    $server =~ s/^\s*listen .*\n//m or die "no listen in nginx.conf\n";
    $server =~ s/^(\s*)(location\ [^\n]*\{\n)
                /$1$2$1    client_max_body_size 1k;\n/mgx;
    "    default_type application/json;\n"
    . "    client_body_buffer_size 1k;\n$server";
};

no_root_location();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;

    $block->set_value('config', $ServerConfig)
        unless defined $block->config;

    $block->set_value('no_error_log', "[error]\n[alert]\n[crit]\nexited on signal")
        unless defined $block->no_error_log || defined $block->error_log;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: an escaped dot-dot as the whole id is a 400
--- request
GET /accounts/10000/%2e%2E
--- error_code: 400
--- response_headers
Content-Type: application/json
X-Content-Type-Options: nosniff
--- response_body chomp
{"error":"invalid account id","reason":"the id may not be '.' or '..'"}



=== TEST 2: an escaped single dot as the id is a 400
--- request
GET /accounts/%2E
--- error_code: 400
--- response_body chomp
{"error":"invalid account id","reason":"the id may not be '.' or '..'"}



=== TEST 3: an escaped dot-dot that climbs out of /accounts/ reaches no account
--- request
GET /accounts/%2e%2e
--- error_code: 404
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error":"not found"}



=== TEST 4: dots around a real id are part of the id: unknown, not a path
--- request
GET /accounts/..10000..
--- error_code: 404
--- response_body chomp
{"error":"account not found","id":"..10000.."}



=== TEST 5: an escaped slash, lower case, hiding a dot-dot climbs out: JSON 404
--- request
GET /accounts/..%2f10000
--- error_code: 404
--- response_body chomp
{"error":"not found"}



=== TEST 6: a trailing escaped slash is a 400
--- request
GET /accounts/10000%2F
--- error_code: 400
--- response_body chomp
{"error":"invalid account id","reason":"the id contains a slash"}



=== TEST 7: an escaped backslash is a 400
--- request
GET /accounts/..%5C10000
--- error_code: 400
--- response_body chomp
{"error":"invalid account id","reason":"the id may only contain A-Z a-z 0-9 - . _ ~"}



=== TEST 8: an escaped percent sign is a 400, not a second decoding
--- request
GET /accounts/%2531%2530
--- error_code: 400
--- response_body chomp
{"error":"invalid account id","reason":"the id may only contain A-Z a-z 0-9 - . _ ~"}



=== TEST 9: a truncated escape at the end of the id is refused as bad request
--- request
GET /accounts/10000%4
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error":"bad request"}



=== TEST 10: an overlong UTF-8 slash (%C0%AF) is a 400
--- request
GET /accounts/%C0%AF10000
--- error_code: 400
--- response_body chomp
{"error":"invalid account id","reason":"the id may only contain A-Z a-z 0-9 - . _ ~"}



=== TEST 11: an encoded UTF-16 surrogate is a 400
--- request
GET /accounts/%ED%A0%80
--- error_code: 400
--- response_body chomp
{"error":"invalid account id","reason":"the id may only contain A-Z a-z 0-9 - . _ ~"}



=== TEST 12: raw invalid UTF-8 bytes in the request line are a 400
--- raw_request eval
"GET /accounts/\xC3\x28\xFF HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
--- error_code: 400
--- response_body chomp
{"error":"invalid account id","reason":"the id may only contain A-Z a-z 0-9 - . _ ~"}



=== TEST 13: a raw NUL byte in the request line is refused: 400 JSON
--- raw_request eval
"GET /accounts/100\x0000 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
--- error_code: 400
--- response_body chomp
{"error":"bad request"}



=== TEST 14: a percent-encoded NUL in the query string does not touch the id
--- request
GET /accounts/10000?q=%00&r=%zz
--- error_code: 200
--- response_body chomp
{"id":"10000","name":"Person_0"}



=== TEST 15: an empty query string is no part of the id
--- request
GET /accounts/10001?
--- error_code: 200
--- response_body chomp
{"id":"10001","name":"Person_1"}



=== TEST 16: a 128-byte id written with escapes is valid (and unknown)
--- request eval
"GET /accounts/" . ("%61" x 128)
--- error_code: 404
--- response_body eval
'{"error":"account not found","id":"' . ("a" x 128) . '"}'



=== TEST 17: a 129-byte id written with escapes is a 400
--- request eval
"GET /accounts/" . ("%61" x 129)
--- error_code: 400
--- response_body chomp
{"error":"invalid account id","reason":"the id is longer than 128 bytes"}



=== TEST 18: a 7000-byte id still fits the header buffers and is a 400
--- request eval
"GET /accounts/" . ("7" x 7000)
--- error_code: 400
--- response_body chomp
{"error":"invalid account id","reason":"the id is longer than 128 bytes"}



=== TEST 19: a URI longer than the 8k header buffer is a 414 in JSON
--- request eval
"GET /accounts/" . ("9" x 9000)
--- error_code: 414
--- response_headers
Content-Type: application/json
X-Content-Type-Options: nosniff
--- response_body chomp
{"error":"URI too long"}



=== TEST 20: a 7000-byte query string is served
--- request eval
"GET /accounts/10002?q=" . ("x" x 7000)
--- error_code: 200
--- response_body chomp
{"id":"10002","name":"Person_2"}



=== TEST 21: a header longer than the 8k buffer is a 400 in JSON
--- request
GET /accounts/10000
--- more_headers eval
"X-Big: " . ("b" x 9000)
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error":"bad request"}



=== TEST 22: headers beyond the four 8k buffers are a 400 in JSON
--- request
GET /accounts/10000
--- more_headers eval
CORE::join "\n", map { "X-H$_: " . ("h" x 7000) } 1 .. 6
--- error_code: 400
--- response_body chomp
{"error":"bad request"}



=== TEST 23: a hundred small headers are served
--- request
GET /accounts/10003
--- more_headers eval
CORE::join "\n", map { "X-H$_: v$_" } 1 .. 100
--- error_code: 200
--- response_body chomp
{"id":"10003","name":"Person_3"}



=== TEST 24: a GET announcing a 2k body is a 413 in JSON
--- request eval
"GET /accounts/10000\n" . ("x" x 2048)
--- error_code: 413
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error":"request body too large"}
--- error_log
client intended to send too large body
--- no_error_log
[alert]
[crit]
exited on signal



=== TEST 25: a small body on a GET is discarded and the connection stays usable
--- pipelined_requests eval
["GET /accounts/10004\nhello", "GET /accounts/10005"]
--- error_code eval
[200, 200]
--- response_body eval
['{"id":"10004","name":"Person_4"}', '{"id":"10005","name":"Person_5"}']



=== TEST 26: a chunked body on a GET is discarded
--- raw_request eval
"GET /accounts/10006 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
. "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
--- error_code: 200
--- response_body chomp
{"id":"10006","name":"Person_6"}



=== TEST 27: both Content-Length and chunked is a 400 in JSON
--- raw_request eval
"GET /accounts/10006 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
. "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
--- error_code: 400
--- response_body chomp
{"error":"bad request"}



=== TEST 28: forty pipelined requests, good and bad, are answered in order
--- pipelined_requests eval
[map { ("GET /accounts/" . (10000 + $_), "GET /accounts/bad%2F$_",
        "GET /accounts/nobody$_", "DELETE /accounts/$_") } 1 .. 10]
--- error_code eval
[(200, 400, 404, 405) x 10]
--- response_body eval
[map { ('{"id":"' . (10000 + $_) . '","name":"Person_' . $_ . '"}',
        '{"error":"invalid account id","reason":"the id contains a slash"}',
        '{"error":"account not found","id":"nobody' . $_ . '"}',
        '{"error":"method not allowed","allow":"GET, HEAD"}') } 1 .. 10]



=== TEST 29: pipelined requests, the last one unparsable, are all answered
--- pipelined_requests eval
["GET /accounts/10001", "GET /accounts/10002", "GET /accounts/%zz"]
--- error_code eval
[200, 200, 400]
--- response_body eval
['{"id":"10001","name":"Person_1"}', '{"id":"10002","name":"Person_2"}',
 '{"error":"bad request"}']



=== TEST 30: HTTP/1.0 without Host for an unknown id is a JSON 404
--- raw_request eval
"GET /accounts/ghost HTTP/1.0\r\n\r\n"
--- error_code: 404
--- response_body chomp
{"error":"account not found","id":"ghost"}



=== TEST 31: HTTP/1.0 without Host for a bad id is a JSON 400
--- raw_request eval
"GET /accounts/a%2Fb HTTP/1.0\r\n\r\n"
--- error_code: 400
--- response_body chomp
{"error":"invalid account id","reason":"the id contains a slash"}



=== TEST 32: HTTP/1.1 without Host is a 400 in JSON
--- raw_request eval
"GET /accounts/10000 HTTP/1.1\r\nConnection: close\r\n\r\n"
--- error_code: 400
--- response_body chomp
{"error":"bad request"}



=== TEST 33: two Host headers are a 400 in JSON
--- raw_request eval
"GET /accounts/10000 HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n"
--- error_code: 400
--- response_body chomp
{"error":"bad request"}



=== TEST 34: a Host with a path in it is a 400 in JSON
--- raw_request eval
"GET /accounts/10000 HTTP/1.1\r\nHost: ../etc\r\nConnection: close\r\n\r\n"
--- error_code: 400
--- response_body chomp
{"error":"bad request"}



=== TEST 35: an absolute-form request target is served by path
--- raw_request eval
"GET http://localhost/accounts/10007 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
--- error_code: 200
--- response_body chomp
{"id":"10007","name":"Person_7"}



=== TEST 36: a lower-case method is a 400 in JSON
--- raw_request eval
"get /accounts/10000 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
--- error_code: 400
--- response_body chomp
{"error":"bad request"}



=== TEST 37: WebDAV and unknown methods are a 405 with Allow
--- pipelined_requests eval
["PROPFIND /accounts/10000", "MKCOL /accounts/10000", "COPY /accounts/10000",
 "MOVE /accounts/10000", "LOCK /accounts/10000", "UNLOCK /accounts/10000",
 "PURGE /accounts/10000", "FOO /accounts/10000"]
--- error_code eval
[(405) x 8]
--- response_headers eval
[("Allow: GET, HEAD") x 8]
--- response_body eval
[('{"error":"method not allowed","allow":"GET, HEAD"}') x 8]



=== TEST 38: TRACE, which nginx refuses itself, is a 405 in JSON with Allow
--- request
TRACE /accounts/10000
--- error_code: 405
--- response_headers
Content-Type: application/json
Allow: GET, HEAD
X-Content-Type-Options: nosniff
--- response_body chomp
{"error":"method not allowed","allow":"GET, HEAD"}



=== TEST 39: CONNECT is refused as a bad request in JSON
--- raw_request eval
"CONNECT localhost:443 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body_like chomp
^\{"error":"[a-z ]+"\}$



=== TEST 40: the HTTP/2 preface is refused with a JSON error (http2 is off)
--- raw_request eval
"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
--- error_code_like: ^(400|505)$
--- response_headers
Content-Type: application/json
--- response_body_like chomp
^\{"error":"[a-z ]+"\}$



=== TEST 41: POST and DELETE on /health are a 405 with Allow
--- pipelined_requests eval
["POST /health\nx", "DELETE /health"]
--- error_code eval
[405, 405]
--- response_body eval
[('{"error":"method not allowed","allow":"GET, HEAD"}') x 2]



=== TEST 42: /health with a query string is served; /health/ is not /health
--- pipelined_requests eval
["GET /health?verbose=1", "GET /health/"]
--- error_code eval
[200, 404]
--- response_body eval
['{"status":"UP"}', '{"error":"not found"}']



=== TEST 43: trailing double slashes leave an empty id: 400
--- request
GET /accounts/10000//
--- error_code: 400
--- response_body chomp
{"error":"invalid account id","reason":"the id is empty"}



=== TEST 44: a leading double slash is merged and served
--- request
GET //accounts///10008
--- error_code: 200
--- response_body chomp
{"id":"10008","name":"Person_8"}



=== TEST 45: dot segments before the id are resolved by nginx and served
--- request
GET /accounts/./x/../10009
--- error_code: 200
--- response_body chomp
{"id":"10009","name":"Person_9"}



=== TEST 46: a trailing single-dot segment is a 400
--- request
GET /accounts/10000/.
--- error_code: 400
--- response_body chomp
{"error":"invalid account id","reason":"the id may not be '.' or '..'"}



=== TEST 47: a "#" sent in the request target (clients never send one) is a 400
--- request
GET /accounts/10010#frag
--- error_code: 400
--- response_body chomp
{"error":"invalid account id","reason":"the id may only contain A-Z a-z 0-9 - . _ ~"}



=== TEST 48: HEAD of a bad id is a 400 without a body
--- request
HEAD /accounts/a%2Fb
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body



=== TEST 49: the Server header does not name the version
--- request
GET /accounts/10000
--- response_headers
Server: nginx
X-Content-Type-Options: nosniff
--- error_code: 200



=== TEST 50: Expect: 100-continue on a GET is answered (after the interim 100)
--- raw_request eval
"GET /accounts/10011 HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
. "Content-Length: 2\r\nConnection: close\r\n\r\nhi"
--- error_code: 100
--- response_body_like chomp
HTTP/1.1 200 OK\r\n.*\r\n\r\n\{"id":"10011","name":"Person_11"\}$
