# account_keepalive_drain: at a reload, an exiting worker keeps its idle
# keep-alive connections for the drain time instead of closing them at once.
# A request sent on one of them after the reload is answered, with
# "Connection: close"; one that stays quiet is closed after the drain time,
# and the old worker is gone long before keepalive_timeout (65s).
#
# The same steps with "account_keepalive_drain 0" show what the directive
# is for: nginx closes the idle connection at once, and the request sent on
# it gets no answer.
#
# The first nginx logs at the debug level (Debian's nginx is built with
# --with-debug): nginx's debug lines read the module's events too.

use strict;
use warnings;

use lib 'scripts/faults';
use FaultNginx;
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(sleep time);

my $tmp = tempdir(CLEANUP => 1);
my $db = "$tmp/accounts.mdb";
my $port = 19039;

seed($db, '--count', 100);

sub workers {
    my ($ppid) = @_;
    return sort split ' ', `ps -o pid= --ppid $ppid`;
}

sub title {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/cmdline" or return '';
    local $/;
    (my $t = <$fh> // '') =~ tr/\0/ /;
    return $t;
}

sub connect_kept {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => 3)
        or die "connect: $!";
    $s->autoflush(1);
    return $s;
}

# one request on $s; returns the response (head and body) or '' when the
# connection was closed or reset before an answer came
sub ask {
    my ($s, $id) = @_;
    $s->send("GET /accounts/$id HTTP/1.1\r\nHost: t\r\n\r\n") or return '';
    my ($buf, $sel) = ('', IO::Select->new($s));
    while ($sel->can_read(3)) {
        my $n = sysread($s, $buf, 4096, length $buf);
        last unless $n;
        last if $buf =~ /\r\n\r\n.*\}\z/s;
    }
    return $buf;
}

# seconds until the server closes $s (EOF or reset), or 0 within $secs
sub closed_within {
    my ($s, $secs) = @_;
    my ($t0, $sel) = (time, IO::Select->new($s));
    while (time - $t0 < $secs) {
        if ($sel->can_read(0.05)) {
            my $n = sysread($s, my $buf, 4096);
            return (time - $t0) || 0.001 if !$n;
        }
    }
    return 0;
}

# HUP, then wait until two new workers run and the old ones are gone or
# say they are shutting down
sub reload {
    my ($n, $master, @old) = @_;
    my %old = map { $_ => 1 } @old;
    nginx_signal($n, 'HUP');
    return wait_for(5, sub {
        (grep { !$old{$_} && title($_) !~ /shutting down/ } workers($master))
            == 2
        && !grep { kill(0, $_) && title($_) !~ /shutting down/ } @old;
    });
}

# with the shipped drain (1s)

my $n = start_nginx(port => $port, db => $db, log_level => 'debug');
my $master = nginx_pid($n);
my @old = workers($master);

my ($asks, $quiet) = (connect_kept(), connect_kept());
like(ask($asks, 10000), qr/^HTTP\/1.1 200.*Connection: keep-alive/s,
     'a keep-alive connection that will ask again after the reload');
like(ask($quiet, 10001), qr/^HTTP\/1.1 200.*Connection: keep-alive/s,
     'a keep-alive connection that will stay quiet');

# their shutdown begins after the HUP and before reload() sees it: the
# drain time is bounded below from the one and above from the other
my $hup = time;
ok(reload($n, $master, @old), 'HUP: the old workers are shutting down');
my $t0 = time;
sleep 0.2;

my $r = ask($asks, 10002);
like($r, qr/^HTTP\/1.1 200 /, 'a request on a kept connection after the '
     . 'reload is answered') or diag("got: '$r'");
like($r, qr/\r\nConnection: close\r\n/, '... with "Connection: close"');
like($r, qr/\{"id":"10002","name":"Person_2"\}\z/, '... and the account');
ok(closed_within($asks, 3), '... and then closed by the old worker');

my $now = time;
my $quiet_for = closed_within($quiet, 6);
ok($quiet_for, 'the quiet connection is closed by the old worker');
cmp_ok($now - $hup + $quiet_for, '>=', 0.9,
       'but not before the drain time (1s) after the shutdown began');
cmp_ok($now - $t0 + $quiet_for, '<', 3,
       'and within two drain times (2s, and 1s for slow builds)');
ok(wait_for(5, sub { !grep { kill 0, $_ } @old }),
   'the old workers exit (long before keepalive_timeout, 65s)');
is(probe($n, '/accounts/10003')->{status}, 200, 'the new workers serve');
is_deeply([crash_lines($n)], [], 'no crash, alert or critical line logged');
like(error_log($n), qr/account_keepalive_drain: closed 1 quiet keep-alive/,
     'the old worker logged the quiet connection it closed');
stop_nginx($n);

# without it: what nginx does by itself

$n = start_nginx(port => $port, db => $db, keepalive_drain => 0);
$master = nginx_pid($n);
@old = workers($master);

$asks = connect_kept();
like(ask($asks, 10000), qr/^HTTP\/1.1 200/, 'drain 0: a keep-alive connection');
ok(reload($n, $master, @old), 'drain 0: HUP');
sleep 0.2;
is(ask($asks, 10002), '',
   'drain 0: the old worker closed it at once, the request got no answer');
is_deeply([crash_lines($n)], [], 'drain 0: no crash line logged');
stop_nginx($n);

done_testing();
