package FaultNginx;

# What the fault tests (t/3x-*.t) share: a real nginx (master, 2 workers,
# daemonized, its own -p prefix in a temporary folder) running the shipped
# nginx.conf with only the paths, port and user changed; a bounded wrk load
# whose failures are counted; and probes of single requests.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

use Exporter 'import';
our @EXPORT = qw(start_nginx stop_nginx nginx_signal nginx_pid wrk_start
                 wrk_wait wrk_run probe wait_for crash_lines error_lines error_log
                 seed_tool seed run_bg run_as test_config);

use lib dirname(abs_path(__FILE__)) . '/../../t/lib';
use AccountTest qw(seed seed_tool);

our $Root = $AccountTest::Root;
our $Build = $AccountTest::Build;
our $Nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';

my @started;                    # what to stop when the test exits
my @loads;                      # wrk runs to stop when the test exits

# run_bg(@cmd): fork and exec, returns the pid
sub run_bg {
    my @cmd = @_;
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        exec @cmd or POSIX::_exit(127);
    }
    return $pid;
}

# run_as($user, @cmd): system() as that user (when root), returns $?
sub run_as {
    my ($user, @cmd) = @_;
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        if ($> == 0 && $user ne 'root') {
            my (undef, undef, $uid, $gid) = getpwnam($user)
                or die "no user $user\n";
            POSIX::setgid($gid) or die "setgid: $!";
            $) = "$gid $gid";
            POSIX::setuid($uid) or die "setuid: $!";
        }
        exec @cmd or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    return $?;
}

# start_nginx(port => P, db => PATH, [db_params => 'lock=off',
#             worker_connections => N, extra_http => TEXT,
#             worker_user => NAME, workers => N (2),
#             keepalive_drain => TIME, log_level => LEVEL (notice)]):
#             returns a handle
sub start_nginx {
    my (%o) = @_;
    my $dir = tempdir('fault-nginx-XXXXXX', TMPDIR => 1,
                      CLEANUP => !$ENV{FAULT_KEEP});
    mkdir "$dir/logs" or die $!;

    open my $in, '<', "$Root/nginx.conf" or die "$Root/nginx.conf: $!";
    my $conf = do { local $/; <$in> };
    close $in;

    my ($hard) = `sh -c 'ulimit -Hn'` =~ /(\d+)/;
    $hard = 65536 if !$hard || $hard > 65536;
    my $user = $o{worker_user} // ($> == 0 ? 'root' : undef);
    my $db = $o{db} . ($o{db_params} ? " $o{db_params}" : '');

    my $wc = $o{worker_connections};
    my @subst = (
        [qr/^load_module .*$/m,
         sub { "load_module $Build/ngx_http_account_module.so;" }],
        [qr/^user .*$/m, sub { $user ? "user $user;" : '' }],
        [qr/^worker_processes .*$/m,
         sub { 'worker_processes ' . ($o{workers} || 2) . ';' }],
        [qr/^worker_rlimit_nofile .*$/m,
         sub { "worker_rlimit_nofile $hard;" }],
        # a binary upgrade execs nginx with only the environment that "env"
        # keeps: the sanitizer runs (make test-asan) need their preload
        [qr/^pid .*$/m, sub { "pid logs/nginx.pid;\n"
                              . "env LD_PRELOAD;\nenv ASAN_OPTIONS;\n"
                              . "env UBSAN_OPTIONS;" }],
        [qr/^error_log .*$/m, sub { 'error_log logs/error.log '
                                    . ($o{log_level} // 'notice') . ';' }],
        [qr/^(\s*)account_db \S+;$/m, sub { "$_[0]account_db $db;" }],
        [qr/^(\s*)listen \d+;$/m,
         sub { "$_[0]listen 127.0.0.1:$o{port} backlog=8192;" }],
        [qr/^(\s*)worker_connections (\d+);$/m,
         sub { "$_[0]worker_connections " . ($wc || $_[1]) . ";" }],
        [qr/^(\s*)account_keepalive_drain (\S+);$/m,
         sub { "$_[0]account_keepalive_drain "
               . ($o{keepalive_drain} // $_[1]) . ";" }],
    );

    for my $s (@subst) {
        my ($re, $to) = @$s;
        $conf =~ s/$re/$to->($1, $2)/e
            or die "nginx.conf has no line like $re any more\n";
    }

    if ($o{extra_http}) {
        $conf =~ s/^http \{$/http {\n$o{extra_http}/m or die;
    }

    open my $out, '>', "$dir/nginx.conf" or die $!;
    print $out $conf;
    close $out;

    my $n = { dir => $dir, port => $o{port}, conf => "$dir/nginx.conf",
              owner => $$ };

    system($Nginx, '-p', "$dir/", '-c', 'nginx.conf', '-q') == 0
        or die "nginx did not start: " . error_log($n) . "\n";

    push @started, $n;
    wait_for(5, sub { probe($n, '/health')->{status} }) or die "no answer";

    return $n;
}

# what "nginx -t" prints about a started nginx's configuration
sub test_config {
    my ($n) = @_;
    return scalar `$Nginx -p $n->{dir}/ -c nginx.conf -t 2>&1`;
}

sub nginx_pid {
    my ($n, $file) = @_;
    $file //= 'nginx.pid';
    open my $fh, '<', "$n->{dir}/logs/$file" or return undef;
    my $pid = <$fh>;
    return undef unless defined $pid;
    chomp $pid;
    return $pid;
}

sub nginx_signal {
    my ($n, $sig, $file) = @_;
    my $pid = nginx_pid($n, $file) or die "no nginx pid";
    kill $sig, $pid or die "kill $sig $pid: $!";
    return $pid;
}

# QUIT the master (and an old one a binary upgrade left) and wait (up to
# 10s) until it is gone; whatever a test started is stopped when it exits
sub stop_nginx {
    my ($n) = @_;
    for my $file ('nginx.pid', 'nginx.pid.oldbin') {
        my $pid = nginx_pid($n, $file) or next;
        kill 'QUIT', $pid or next;
        next if wait_for(10, sub { !kill 0, $pid });
        kill 'TERM', $pid;
        wait_for(5, sub { !kill 0, $pid });
    }
}

END {
    my $status = $?;
    for my $w (grep { $_->{owner} == $$ && !$_->{reaped} } @loads) {
        kill 'INT', $w->{pid} if waitpid($w->{pid}, WNOHANG) == 0;
    }
    stop_nginx($_) for grep { $_->{owner} == $$ } @started;
    $? = $status;
}

sub error_log {
    my ($n) = @_;
    open my $fh, '<', "$n->{dir}/logs/error.log" or return '';
    local $/;
    return <$fh>;
}

# lines that mean a process crashed or nginx itself is in trouble
sub crash_lines {
    my ($n) = @_;
    return grep { /exited on signal|\[alert\]|\[emerg\]|\[crit\]/ }
           split /\n/, error_log($n);
}

# the first [error] lines and what follows them, distinct, for a diagnosis
sub error_lines {
    my ($n) = @_;
    my (%seen, @out);
    for (split /\n/, error_log($n)) {
        next unless /\[(error|alert|crit|emerg)\]/ || /exited on signal/;
        (my $k = $_) =~ s/^\S+ \S+ //;
        $k =~ s/\d+#\d+: (\*\d+ )?//;
        $k =~ s/, client: .*//;
        push @out, $_ unless $seen{$k}++;
        last if @out >= 10;
    }
    return @out;
}

# probe($n, '/accounts/1'): one request on a fresh connection
sub probe {
    my ($n, $path) = @_;
    my $r = HTTP::Tiny->new(timeout => 3, keep_alive => 0)
        ->get("http://127.0.0.1:$n->{port}$path");
    return { status => $r->{status} == 599 ? 0 : $r->{status},
             body => $r->{content} // '',
             type => $r->{headers}{'content-type'} // '' };
}

# wait_for($seconds, sub { ... }): polls every 20ms until true or timeout;
# returns the elapsed seconds (at least 0.001) or 0
sub wait_for {
    my ($secs, $cond) = @_;
    my $t0 = time;
    while (time - $t0 < $secs) {
        return (time - $t0) || 0.001 if $cond->();
        sleep 0.02;
    }
    return 0;
}

# the wrk script: ids drawn from [ID_MIN, ID_MAX], and counts of the
# statuses and bodies seen, summed over the threads when wrk is done; with
# WRK_HOLD=S, no request is sent before S seconds have passed, so that every
# connection is open before the load begins (wrk calls delay() before each
# request only if the script defines it)
my $wrk_lua = <<'_LUA_';
local threads = {}

local hold = tonumber(os.getenv("WRK_HOLD") or "")
if hold then
    local load_at = os.time() + hold
    function delay()
        local left = load_at - os.time()
        return left > 0 and left * 1000 or 0
    end
end

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    lo = tonumber(os.getenv("ID_MIN"))
    hi = tonumber(os.getenv("ID_MAX"))
    path = os.getenv("WRK_PATH")
    counts = {}
end

function request()
    if path then
        return wrk.format(nil, path)
    end
    return wrk.format(nil, "/accounts/" .. math.random(lo, hi))
end

function response(status, headers, body)
    local k = "status " .. status
    if status == 503 and
       not string.find(body, '^{"error":"account database unavailable"')
    then
        k = "status 503 without the JSON error"
    end
    counts[k] = (counts[k] or 0) + 1
end

function done(summary, latency, requests)
    local total = {}
    for _, t in ipairs(threads) do
        for k, v in pairs(t:get("counts")) do
            total[k] = (total[k] or 0) + v
        end
    end
    for k, v in pairs(total) do
        io.write(string.format("%s: %d\n", k, v))
    end
end
_LUA_

# wrk_start($n, duration => S, connections => C, threads => T,
#           ids => [lo, hi] | path => '/health', timeout => S,
#           close => 1 (a new connection for each request),
#           hold => S (no request in the first S seconds, to the second, of
#           the duration: the connections open idle, then the load begins))
sub wrk_start {
    my ($n, %o) = @_;
    my $lua = "$n->{dir}/load.lua";
    open my $fh, '>', $lua or die $!;
    print $fh $wrk_lua;
    close $fh;

    my $out = "$n->{dir}/wrk." . ++$n->{wrk} . ".out";
    my ($lo, $hi) = @{ $o{ids} || [0, 0] };
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        $ENV{ID_MIN} = $lo;
        $ENV{ID_MAX} = $hi;
        $ENV{WRK_PATH} = $o{path} if $o{path};
        $ENV{WRK_HOLD} = $o{hold} if $o{hold};
        open STDOUT, '>', $out or die $!;
        open STDERR, '>&', \*STDOUT or die $!;
        my @opt = $o{timeout} ? ('--timeout', "$o{timeout}s") : ();
        push @opt, '-H', 'Connection: close' if $o{close};
        # wrk holds a descriptor for each connection: its soft limit of
        # open files goes up to the hard one
        exec 'sh', '-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"',
             'sh', 'wrk', '-t', $o{threads} // 2, '-c', $o{connections} // 64,
             '-d', "$o{duration}s", @opt, '-s', $lua,
             "http://127.0.0.1:$n->{port}/"
            or POSIX::_exit(127);
    }
    my $w = { pid => $pid, out => $out, owner => $$ };
    push @loads, $w;
    return $w;
}

# waits for wrk, returns { requests, non2xx, socket_errors (and connect_,
# read_, write_errors, timeouts), statuses, raw }
sub wrk_wait {
    my ($w) = @_;
    waitpid $w->{pid}, 0;
    $w->{reaped} = 1;
    open my $fh, '<', $w->{out} or die $!;
    my $raw = do { local $/; <$fh> };
    my %r = (raw => $raw, requests => 0, non2xx => 0, socket_errors => 0,
             connect_errors => 0, read_errors => 0, write_errors => 0,
             timeouts => 0, statuses => {});
    $r{requests} = $1 if $raw =~ /(\d+) requests in /;
    $r{non2xx} = $1 if $raw =~ /Non-2xx or 3xx responses: (\d+)/;
    if ($raw =~ /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/) {
        $r{socket_errors} = $1 + $2 + $3 + $4;
        @r{qw(connect_errors read_errors write_errors timeouts)} =
            ($1, $2, $3, $4);
    }
    $r{statuses}{$1} = $2 while $raw =~ /^(status [^:]+): (\d+)$/mg;
    $r{ok} = $raw =~ /requests in / ? 1 : 0;
    return \%r;
}

sub wrk_run {
    my ($n, %o) = @_;
    return wrk_wait(wrk_start($n, %o));
}

1;
