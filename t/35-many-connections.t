# 10,000 concurrent keep-alive connections are held and served: the shipped
# worker_connections (16384 a worker) with 2 workers, worker_rlimit_nofile
# up to the hard limit of open files.

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

# wrk holds one descriptor for each of its connections
my ($soft) = `sh -c 'ulimit -n'` =~ /(\d+)/;
plan skip_all => "ulimit -n ($soft) is below " . ($want + 100)
    if $soft && $soft < $want + 100;

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

# the most connections nginx held at once while wrk ran
my $peak_file = "$tmp/peak";
my $watcher = fork() // die $!;
if ($watcher == 0) {
    my $http = HTTP::Tiny->new(timeout => 2);
    my $peak = 0;
    my $t0 = time;
    while (time - $t0 < 12) {
        my $r = $http->get("http://127.0.0.1:$status_port/status");
        if ($r->{content} && $r->{content} =~ /Active connections: (\d+)/) {
            $peak = $1 if $1 > $peak;
        }
        sleep 0.2;
    }
    open my $fh, '>', $peak_file or die $!;
    print $fh "$peak\n";
    close $fh;
    exit 0;
}

my $r = wrk_run($n, duration => 10, connections => $want, threads => 2,
                timeout => 10, ids => [10000, 109999]);
waitpid $watcher, 0;

ok($r->{ok}, 'wrk ran') or diag($r->{raw});
note($r->{raw});
like($r->{raw}, qr/2 threads and $want connections/,
     "wrk opened $want connections");
cmp_ok($r->{requests}, '>', 10 * $want, "wrk sent $r->{requests} requests");
is($r->{non2xx}, 0, 'no request failed (non-2xx responses)');
is($r->{socket_errors}, 0, 'no socket errors');

open my $fh, '<', $peak_file or die "no peak from the watcher\n";
my $peak = <$fh> + 0;
cmp_ok($peak, '>=', $want, "nginx held $peak connections at once");

is(probe($n, '/health')->{status}, 200, '/health is UP after the load');
is_deeply([crash_lines($n)], [], 'no crash, alert or critical line logged')
    or diag(join "\n", error_lines($n));

stop_nginx($n);
done_testing();
