# A live seed while nginx serves under load: a rewrite of served accounts,
# a million more (the map and the file grow well past their first size) and a
# JSON Lines import.  No request fails, each batch is visible within a second
# of the seeder's exit, and no reader ever sees part of a batch.

use strict;
use warnings;

use lib 'scripts/faults';
use FaultNginx;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use Test::More;
use Time::HiRes qw(sleep time);

my $tmp = tempdir(CLEANUP => 1);
my $db = "$tmp/accounts.mdb";
my $port = 19031;

seed($db, '--count', 100000);                   # 10000 .. 109999
my $size0 = -s $db;

my $n = start_nginx(port => $port, db => $db);

# the batches, each with its first and last id as written

sub write_jsonl {
    my ($file, $ids, $name) = @_;
    open my $fh, '>', $file or die $!;
    print $fh qq({"id":"$_","name":"${name}_$_"}\n) for @$ids;
    close $fh;
}

write_jsonl("$tmp/rewrite.jsonl", [10000 .. 19999], 'Rewritten');
write_jsonl("$tmp/import.jsonl", [map { "j-$_" } 0 .. 49999], 'Imported');

my @pairs = (
    # [ last id, first id, test that the batch is in a document ]
    [ 19999, 10000, qr/Rewritten_/ ],
    [ 2999999, 2000000, qr/Person_/ ],
    [ 'j-49999', 'j-0', qr/Imported_/ ],
);

# the checker: reads the last id of each batch, then the first; seeing the
# last without the first is a partial batch

my $stop = "$tmp/stop";
my $report = "$tmp/checker";
my $checker = fork() // die $!;

if ($checker == 0) {
    my $http = HTTP::Tiny->new(timeout => 3, keep_alive => 1);
    my ($checks, $partial, $errors) = (0, 0, 0);
    my $base = "http://127.0.0.1:$port/accounts";
    # 1: the id holds the batch's document, 0: it does not, undef: unknown
    my $in = sub {
        my ($id, $re) = @_;
        my $r = $http->get("$base/$id");
        return 0 if $r->{status} == 404;
        return $r->{content} =~ $re ? 1 : 0 if $r->{status} == 200;
        $errors++;
        return undef;
    };
    until (-e $stop) {
        for my $p (@pairs) {
            my $last = $in->($p->[0], $p->[2]);
            my $first = $in->($p->[1], $p->[2]);
            next unless defined $last && defined $first;
            $checks++;
            $partial++ if $last && !$first;
        }
    }
    open my $fh, '>', $report or die $!;
    print $fh "$checks $partial $errors\n";
    close $fh;
    exit 0;
}

my $load = wrk_start($n, duration => 20, connections => 64,
                     ids => [10000, 109999]);
sleep 2;

# 1. rewrite 10,000 served accounts

my $t0 = time;
seed($db, '--from', "$tmp/rewrite.jsonl");
my $took = time - $t0;
my $seen = wait_for(1, sub {
    probe($n, '/accounts/10000')->{body} =~ /Rewritten_10000/
    && probe($n, '/accounts/19999')->{body} =~ /Rewritten_19999/
});
ok($seen, sprintf('a rewrite of 10,000 served accounts (%.2fs) is visible '
                  . 'within 1s (%.3fs)', $took, $seen));

# 2. a million more accounts: the map and the file grow

my $map0 = map_size($db);
$t0 = time;
seed($db, '--count', 1000000, '--start', 2000000);
$took = time - $t0;
$seen = wait_for(1, sub { probe($n, '/accounts/2999999')->{status} == 200 });
ok($seen, sprintf('1,000,000 new accounts (%.2fs) are visible within 1s '
                  . '(%.3fs)', $took, $seen));
my $map1 = map_size($db);
cmp_ok($map1, '>=', 4 * $map0,
       "the map grew well past its first size ($map0 -> $map1 bytes)");
cmp_ok(-s $db, '>=', 4 * $size0,
       "and so did the file ($size0 -> " . (-s $db) . " bytes)");
is(probe($n, '/accounts/2000000')->{body},
   '{"id":"2000000","name":"Person_0"}', 'the first new account is served');

# 3. a JSON Lines import of 50,000 new accounts

$t0 = time;
seed($db, '--from', "$tmp/import.jsonl");
$took = time - $t0;
$seen = wait_for(1, sub { probe($n, '/accounts/j-49999')->{status} == 200 });
ok($seen, sprintf('an import of 50,000 accounts (%.2fs) is visible within '
                  . '1s (%.3fs)', $took, $seen));

my $r = wrk_wait($load);
ok($r->{ok}, 'wrk ran') or diag($r->{raw});
note($r->{raw});
cmp_ok($r->{requests}, '>', 10000, "wrk sent $r->{requests} requests");
is($r->{non2xx}, 0, 'no request failed (non-2xx responses)')
    or diag(join "\n", error_lines($n));
is($r->{socket_errors}, 0, 'no socket errors');

open my $fh, '>', $stop or die $!;
close $fh;
waitpid $checker, 0;
open $fh, '<', $report or die "the checker did not report\n";
my ($checks, $partial, $errors) = split ' ', <$fh>;
cmp_ok($checks, '>', 100, "the checker compared $checks batch ends");
is($partial, 0, 'no reader saw the end of a batch without its start');
is($errors, 0, 'the checker saw only 200s and 404s');

is(probe($n, '/health')->{status}, 200, '/health is UP');
is_deeply([crash_lines($n)], [], 'no crash, alert or critical line logged');

stop_nginx($n);
done_testing();

sub map_size {
    my $out = `mdb_stat -e -n $_[0]`;
    $out =~ /Map size: (\d+)/ or die "mdb_stat -e $_[0]: $out";
    return $1;
}
