# The directives, and what "nginx -t" and a start say about bad ones.

use lib 't/lib';
use AccountTest qw(new_db);
use File::Temp qw(tempdir);
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_DB} = new_db();

my $tmp = tempdir(CLEANUP => 1);
$ENV{TEST_NGINX_NOT_LMDB} = "$tmp/not-lmdb.mdb";
open my $fh, '>', $ENV{TEST_NGINX_NOT_LMDB} or die $!;
print $fh "id,name\n10000,Person_0\n" x 512;
close $fh;
$ENV{TEST_NGINX_TMP} = $tmp;

# an LMDB database whose keys are in another order (mdb_load takes the flag
# from the dump's header): refused, not searched in the wrong order
$ENV{TEST_NGINX_REVERSED} = "$tmp/reversed.mdb";
open $fh, '|-', "mdb_load -n $ENV{TEST_NGINX_REVERSED}" or die $!;
print $fh "VERSION=3\nformat=bytevalue\ntype=btree\nreversekey=1\n"
          . "HEADER=END\n 3130303030\n 7b7d\nDATA=END\n";
close $fh or die "mdb_load failed\n";

# the baked-in case: nobody writes, no lock file is needed or made
$ENV{TEST_NGINX_DB_NOLOCK} = new_db('--count', 3);
unlink "$ENV{TEST_NGINX_DB_NOLOCK}-lock";

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('no_error_log', "[error]\n[alert]\n[crit]")
        unless defined $block->no_error_log || defined $block->error_log;
});

no_shuffle();
run_tests();

# "nginx -t" itself, as an operator runs it, on a configuration whose http
# block is given (it starts on line 5); its status and output
my $conf = "$tmp/t.conf";

sub nginx_t {
    my ($http) = @_;
    open my $fh, '>', $conf or die $!;
    print $fh <<"_EOC_";
load_module $ENV{TEST_NGINX_LOAD_MODULES};
error_log stderr;
pid $tmp/nginx.pid;
events {}
http $http
_EOC_
    close $fh;
    my $out = `$ENV{TEST_NGINX_BINARY} -t -p $tmp -c $conf 2>&1`;
    return ($? >> 8, $out);
}

my ($st, $out) = nginx_t("{ account_db $tmp/missing.mdb; }");
isnt($st, 0, 'nginx -t fails when account_db points at nothing');
like($out, qr/\[emerg\] \d+#\d+: account_db "\Q$tmp\E\/missing.mdb" is not a usable LMDB database: No such file or directory/,
     'nginx -t names the path and the reason');
ok(!-e "$tmp/missing.mdb" && !-e "$tmp/missing.mdb-lock",
   'nginx -t creates no database or lock file');

# account_lookup without an account_db: the error names the directive's own
# line (9), not the end of the http block, where the check runs
($st, $out) = nginx_t(<<'_EOC_');
{
    server {
        listen 127.0.0.1:1;
        location /accounts/ {
            account_lookup;
        }
    }
}
_EOC_
isnt($st, 0, 'nginx -t fails when account_lookup has no account_db');
like($out, qr/\[emerg\] \d+#\d+: "account_lookup" in \Q$conf\E:9 needs an "account_db" in the same or an enclosing block$/m,
     'nginx -t names the line of account_lookup') or diag($out);

__DATA__

=== TEST 1: account_db at a missing path stops the start with [emerg]
--- http_config
account_db /nonexistent/accounts.mdb;
--- config
location /accounts/ { account_lookup; }
--- request
GET /accounts/10000
--- must_die
--- error_log
account_db "/nonexistent/accounts.mdb" is not a usable LMDB database: No such file or directory (create it with account-seed --db /nonexistent/accounts.mdb)



=== TEST 2: account_db at a file that is not LMDB stops the start with [emerg]
--- http_config
account_db $TEST_NGINX_NOT_LMDB;
--- config
location /accounts/ { account_lookup; }
--- request
GET /accounts/10000
--- must_die
--- error_log eval
qr/\[emerg\] .*account_db "[^"]*not-lmdb.mdb" is not a usable LMDB database: MDB_INVALID: [^\n]* \(not a database that account-seed wrote\)/



=== TEST 3: account_db at a directory stops the start with [emerg]
--- http_config
account_db $TEST_NGINX_TMP;
--- config
location /accounts/ { account_lookup; }
--- request
GET /accounts/10000
--- must_die
--- error_log eval
qr/\[emerg\] .*account_db "[^"]*" is not a usable LMDB database: Invalid argument \(a directory: name the database file in it\)/



=== TEST 4: account_lookup without any account_db is refused, naming its line
--- config
location /accounts/ { account_lookup; }
--- request
GET /accounts/10000
--- must_die
--- error_log eval
qr/\[emerg\] .*"account_lookup" in \S+nginx\.conf:\d+ needs an "account_db" in the same or an enclosing block$/m



=== TEST 5: account_health without any account_db is refused, naming its line
--- config
location = /health { account_health; }
--- request
GET /health
--- must_die
--- error_log eval
qr/\[emerg\] .*"account_health" in \S+nginx\.conf:\d+ needs an "account_db"/



=== TEST 6: a second account_db in one block is a duplicate
--- http_config
account_db $TEST_NGINX_DB;
account_db $TEST_NGINX_DB;
--- config
location /accounts/ { account_lookup; }
--- request
GET /accounts/10000
--- must_die
--- error_log
"account_db" directive is duplicate



=== TEST 7: an unknown account_db parameter is refused
--- http_config
account_db $TEST_NGINX_DB lock=maybe;
--- config
location /accounts/ { account_lookup; }
--- request
GET /accounts/10000
--- must_die
--- error_log
invalid parameter "lock=maybe", expected "lock=on" or "lock=off"



=== TEST 8: account_lookup takes no arguments
--- http_config
account_db $TEST_NGINX_DB;
--- config
location /accounts/ { account_lookup on; }
--- request
GET /accounts/10000
--- must_die
--- error_log
invalid number of arguments in "account_lookup" directive



=== TEST 9: account_lookup is a location directive only
--- http_config
account_db $TEST_NGINX_DB;
account_lookup;
--- config
location /accounts/ { account_lookup; }
--- request
GET /accounts/10000
--- must_die
--- error_log
"account_lookup" directive is not allowed here



=== TEST 10: account_db in server context, inherited by the locations
--- config
account_db $TEST_NGINX_DB;
location /accounts/ { account_lookup; }
location = /health { account_health; }
--- pipelined_requests eval
["GET /accounts/10000", "GET /health"]
--- error_code eval
[200, 200]
--- response_body eval
['{"id":"10000","name":"Person_0"}', '{"status":"UP"}']



=== TEST 11: lock=off serves a database that has no lock file, and makes none
--- http_config
account_db $TEST_NGINX_DB_NOLOCK lock=off;
--- config
location /accounts/ { account_lookup; }
--- request
GET /accounts/10002
--- response_body chomp
{"id":"10002","name":"Person_2"}
--- response_body_filters eval
sub { die "a lock file was made\n" if -e "$ENV{TEST_NGINX_DB_NOLOCK}-lock"; $_[0] }



=== TEST 12: one database used by two locations is opened once per worker
--- http_config
account_db $TEST_NGINX_DB;
--- config
location /accounts/ { account_db $TEST_NGINX_DB; account_lookup; }
location /people/ { account_db $TEST_NGINX_DB; account_lookup; }
--- pipelined_requests eval
["GET /accounts/10000", "GET /people/10001"]
--- response_body eval
['{"id":"10000","name":"Person_0"}', '{"id":"10001","name":"Person_1"}']
--- response_body_filters eval
sub {
    my @maps = AccountTest::mappings($ENV{TEST_NGINX_DB});
    die "no nginx process maps the database\n" unless @maps;
    die "mapped more than once: @maps\n" if grep { !/:1$/ } @maps;
    $_[0]
}



=== TEST 13: the same database with different lock parameters is refused
--- http_config
account_db $TEST_NGINX_DB;
--- config
location /accounts/ { account_db $TEST_NGINX_DB lock=off; account_lookup; }
--- request
GET /accounts/10000
--- must_die
--- error_log
is used with different "lock" parameters



=== TEST 14: account_keepalive_drain takes a time
--- http_config
account_db $TEST_NGINX_DB;
account_keepalive_drain soon;
--- config
location /accounts/ { account_lookup; }
--- request
GET /accounts/10000
--- must_die
--- error_log
"account_keepalive_drain" directive invalid value



=== TEST 15: account_keepalive_drain is an http directive only
--- http_config
account_db $TEST_NGINX_DB;
--- config
account_keepalive_drain 1s;
location /accounts/ { account_lookup; }
--- request
GET /accounts/10000
--- must_die
--- error_log
"account_keepalive_drain" directive is not allowed here



=== TEST 16: with a drain time, keep-alive requests are served as before
--- http_config
account_db $TEST_NGINX_DB;
account_keepalive_drain 1s;
--- config
location /accounts/ { account_lookup; }
--- pipelined_requests eval
["GET /accounts/10000", "GET /accounts/10001", "GET /accounts/nope"]
--- error_code eval
[200, 200, 404]
--- response_body eval
['{"id":"10000","name":"Person_0"}', '{"id":"10001","name":"Person_1"}',
 '{"error":"account not found","id":"nope"}']



=== TEST 17: account_db at an LMDB database with keys in another order stops the start with [emerg]
--- http_config
account_db $TEST_NGINX_REVERSED;
--- config
location /accounts/ { account_lookup; }
--- request
GET /accounts/10000
--- must_die
--- error_log eval
qr/\[emerg\] .*account_db "[^"]*reversed.mdb" is not a usable LMDB database: MDB_INCOMPATIBLE: [^\n]* \(not a database that account-seed wrote\)/



=== TEST 18: account_lookup twice in one location is a duplicate
--- http_config
account_db $TEST_NGINX_DB;
--- config
location /accounts/ { account_lookup; account_lookup; }
--- request
GET /accounts/10000
--- must_die
--- error_log
"account_lookup" directive is duplicate



=== TEST 19: account_lookup and account_health in one location conflict
--- http_config
account_db $TEST_NGINX_DB;
--- config
location /accounts/ { account_lookup; account_health; }
--- request
GET /accounts/10000
--- must_die
--- error_log
"account_health" conflicts with "account_lookup" in this location
--- no_error_log
is duplicate



=== TEST 20: account_health and account_lookup in one location conflict
--- http_config
account_db $TEST_NGINX_DB;
--- config
location = /health { account_health; account_lookup; }
--- request
GET /health
--- must_die
--- error_log
"account_lookup" conflicts with "account_health" in this location
--- no_error_log
is duplicate
