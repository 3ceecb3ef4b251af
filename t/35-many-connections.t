# 10,000 concurrent keep-alive connections are held and served: the shipped
# worker_connections (16384 a worker) with 2 workers, worker_rlimit_nofile
# up to the hard limit of open files.
#
# wrk opens its connections and holds them idle for the first seconds, then
# loads them: a busy worker accepts one connection per turn of its event loop
# (multi_accept off), so connections that arrive once the load has begun
# trickle in at the pace of a saturated worker, and on a slow machine (or
# with a sanitized build) some can still be waiting when the run ends.

use strict;
use warnings;

use lib 'scripts/faults';
use FaultNginx;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use Test::More;
use Time::HiRes qw(sleep time);

my $want = 10000;
my ($hard) = `sh -c 'ulimit -Hn'` =~ /(\d+)/;

plan skip_all => "the hard limit of open files ($hard) is below "
                 . ($want + 100)
    if $hard && $hard < $want + 100;

# (wrk_start raises wrk's soft limit of open files to the hard one)

my $tmp = tempdir(CLEANUP => 1);
my $db = "$tmp/accounts.mdb";
my $port = 19035;
my $status_port = 19036;

seed($db, '--count', 100000);

my $n = start_nginx(port => $port, db => $db, extra_http => <<"_EOC_");
    server {
        listen 127.0.0.1:$status_port;
        location = /status { stub_status; }
    }
_EOC_

my ($hold, $load) = (4, 10);

# the connections nginx held, sampled while wrk ran: "seconds count" lines
my $samples_file = "$tmp/samples";
my $watcher = fork() // die $!;
if ($watcher == 0) {
    my $http = HTTP::Tiny->new(timeout => 2);
    open my $fh, '>', $samples_file or die $!;
    my $t0 = time;
    while (time - $t0 < $hold + $load + 2) {
        my $r = $http->get("http://127.0.0.1:$status_port/status");
        if ($r->{content} && $r->{content} =~ /Active connections: (\d+)/) {
            printf $fh "%.1f %d\n", time - $t0, $1;
        }
        sleep 0.2;
    }
    close $fh;
    exit 0;
}

my $r = wrk_run($n, duration => $hold + $load, hold => $hold,
                connections => $want, threads => 2,
                timeout => 10, ids => [10000, 109999]);
waitpid $watcher, 0;

ok($r->{ok}, 'wrk ran') or diag($r->{raw});
note($r->{raw});
like($r->{raw}, qr/2 threads and $want connections/,
     "wrk opened $want connections");
# a floor, not a speed: three requests a connection on average, which a
# sanitized build on a busy machine makes too (docs/RELIABILITY.md has the
# figure of a plain build)
cmp_ok($r->{requests}, '>', 3 * $want,
       "wrk sent $r->{requests} requests");
is($r->{non2xx}, 0, 'no request failed (non-2xx responses)');
is($r->{socket_errors}, 0, 'no socket errors');

open my $fh, '<', $samples_file or die "no samples from the watcher\n";
my @samples = <$fh>;
my ($peak) = sort { $b <=> $a } map { (split)[1] } @samples;
cmp_ok($peak // 0, '>=', $want, 'nginx held ' . ($peak // 0)
       . ' connections at once')
    or diag("seconds, active connections:\n", @samples, $r->{raw});

is(probe($n, '/health')->{status}, 200, '/health is UP after the load');
is_deeply([crash_lines($n)], [], 'no crash, alert or critical line logged')
    or diag(join "\n", error_lines($n));

stop_nginx($n);
done_testing();
