# A seeder killed with SIGKILL in the middle of a large import, at several
# points, while nginx serves under load: the previous data is still served,
# the database opens cleanly, and the next seed succeeds.

use strict;
use warnings;

use lib 'scripts/faults';
use FaultNginx;
use File::Temp qw(tempdir);
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(sleep time);

my $tmp = tempdir(CLEANUP => 1);
my $db = "$tmp/accounts.mdb";
my $port = 19032;

seed($db, '--count', 100000);                   # 10000 .. 109999

# the import rewrites every served account, then adds 400,000 new ones

my $jsonl = "$tmp/big.jsonl";
open my $fh, '>', $jsonl or die $!;
print $fh qq({"id":"$_","name":"Imported_$_"}\n) for 10000 .. 109999;
print $fh qq({"id":"k-$_","name":"New_$_"}\n) for 0 .. 399999;
close $fh;

my $n = start_nginx(port => $port, db => $db);
my $load = wrk_start($n, duration => 14, connections => 64,
                     ids => [10000, 109999]);
sleep 1;

# the kills that found the import not yet committed: the first, 0.1s in,
# always should
my $before_commit = 0;

for my $delay (0.1, 0.8, 1.5) {
    my $pid = run_bg(seed_tool(), '--quiet', '--db', $db, '--from', $jsonl);
    sleep $delay;

    SKIP: {
        if (waitpid($pid, WNOHANG) == $pid) {
            skip "the import was over before ${delay}s", 4;
        }

        kill 'KILL', $pid;
        waitpid $pid, 0;
        is($? & 127, 9, "the seeder was killed ${delay}s into the import");

        # the kill can land after the commit, as the seeder closes: then
        # the whole import is there; never a part of it
        my @seen = (probe($n, '/accounts/10000')->{body},
                    probe($n, '/accounts/k-0')->{status},
                    probe($n, '/accounts/k-399999')->{status});
        if ($seen[1] == 200) {
            note("the import had committed before the kill at ${delay}s");
            is_deeply(\@seen, ['{"id":"10000","name":"Imported_10000"}',
                                200, 200],
                      'the import committed before the kill: all of it '
                      . 'is served');
        } else {
            $before_commit++;
            is_deeply(\@seen, ['{"id":"10000","name":"Person_0"}', 404, 404],
                      'the previous documents are still served, nothing '
                      . 'of the killed import is visible');
        }
        is(system("mdb_stat -n $db >/dev/null"), 0,
           'the database opens cleanly (mdb_stat)');
        is(probe($n, '/health')->{status}, 200, '/health is UP');
    }
}

cmp_ok($before_commit, '>=', 1,
       'at least one kill landed before the import committed');

my $t0 = time;
my $rc = system(seed_tool(), '--quiet', '--db', $db, '--from', $jsonl);
is($rc, 0, sprintf('the next import succeeds (%.2fs)', time - $t0));
ok(wait_for(1, sub {
       probe($n, '/accounts/k-399999')->{status} == 200
       && probe($n, '/accounts/10000')->{body} =~ /Imported_10000/
   }), 'and is served within 1s');

my $r = wrk_wait($load);
ok($r->{ok}, 'wrk ran') or diag($r->{raw});
note($r->{raw});
cmp_ok($r->{requests}, '>', 10000, "wrk sent $r->{requests} requests");
is($r->{non2xx}, 0, 'no request failed (non-2xx responses)')
    or diag(join "\n", error_lines($n));
is($r->{socket_errors}, 0, 'no socket errors');
is_deeply([crash_lines($n)], [], 'no crash, alert or critical line logged');

stop_nginx($n);
done_testing();
