# Reloads (HUP, five times) and a binary upgrade (USR2, then QUIT of the old
# master) while nginx serves under load: no request fails.
#
# Two loads run side by side: keep-alive connections, and a new connection
# for each request.  The keep-alive load is the one that needs the shipped
# account_keepalive_drain: without it, an exiting worker closes its idle
# keep-alive connections at once, and a request the client had just sent on
# one is lost (one read error per connection per exiting worker generation:
# 192 in a run with the drain off, FAULT_DRAIN=0; t/38 shows the mechanism).
#
# The loads run until the upgrade is over, then are stopped (wrk reports on
# SIGINT), so that both are known to span every reload and the upgrade.

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
my $port = 19033;

seed($db, '--count', 100000);

# FAULT_DRAIN sets account_keepalive_drain (the shipped 1s by default)
my $n = start_nginx(port => $port, db => $db,
                    keepalive_drain => $ENV{FAULT_DRAIN});
my $master = nginx_pid($n);

sub workers {
    my ($ppid) = @_;
    return sort split ' ', `ps -o pid= --ppid $ppid`;
}

my @before = workers($master);
is(scalar @before, 2, 'two workers');

my $conns = 32;
my $load = wrk_start($n, duration => 120, connections => $conns,
                     ids => [10000, 109999]);
my $fresh = wrk_start($n, duration => 120, connections => 16, close => 1,
                      ids => [10000, 109999]);
sleep 1;

for my $i (1 .. 5) {
    nginx_signal($n, 'HUP');
    my $new = wait_for(3, sub {
        my @w = workers($master);
        @w == 2 && !grep { my $o = $_; grep { $_ == $o } @before } @w;
    });
    ok($new, "HUP $i: two new workers took over");
    @before = workers($master);
    sleep 0.5;
}

# binary upgrade: a new master from the same binary, then the old one quits

nginx_signal($n, 'USR2');
ok(wait_for(5, sub {
       my $p = nginx_pid($n);
       -e "$n->{dir}/logs/nginx.pid.oldbin" && $p && $p != $master
       && (my @w = workers($p)) == 2
   }), 'USR2: a new master with two workers runs beside the old one');
my $new_master = nginx_pid($n);
sleep 1;

nginx_signal($n, 'QUIT', 'nginx.pid.oldbin');
ok(wait_for(10, sub { !kill 0, $master }), 'QUIT: the old master is gone');
is(probe($n, '/accounts/10000')->{body}, '{"id":"10000","name":"Person_0"}',
   'the new master serves');
sleep 1;

ok(waitpid($load->{pid}, WNOHANG) == 0 && waitpid($fresh->{pid}, WNOHANG) == 0,
   'both loads ran through every reload and the upgrade');
kill 'INT', $load->{pid}, $fresh->{pid};

my $r = wrk_wait($load);
ok($r->{ok}, 'wrk ran (keep-alive)') or diag($r->{raw});
note($r->{raw});
cmp_ok($r->{requests}, '>', 10000, "keep-alive: wrk sent $r->{requests} requests");
is($r->{non2xx}, 0, 'keep-alive: no request failed (non-2xx responses)')
    or diag(join "\n", error_lines($n));
is($r->{connect_errors} + $r->{write_errors} + $r->{timeouts}, 0,
   'keep-alive: no connect or write errors, no timeouts');
is($r->{socket_errors}, 0, 'keep-alive: no socket errors (read errors '
   . "$r->{read_errors})");

$r = wrk_wait($fresh);
ok($r->{ok}, 'wrk ran (a connection per request)') or diag($r->{raw});
note($r->{raw});
cmp_ok($r->{requests}, '>', 1000,
       "a connection per request: wrk sent $r->{requests} requests");
is($r->{non2xx}, 0, 'a connection per request: no request failed');
is($r->{socket_errors}, 0, 'a connection per request: no socket errors');
is_deeply([crash_lines($n)], [], 'no crash, alert or critical line logged');

stop_nginx($n);
done_testing();
