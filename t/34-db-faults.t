# The database file disappears, becomes unreadable, is cut short or filled
# with garbage while nginx serves under load.  No worker crashes, account
# requests get a JSON 503, /health says 503, and serving resumes once a good
# database is back.  Each fault is made twice where it matters: by replacing
# the file (a new inode) and in place (the same inode, under the workers'
# mappings).  Last, the lock file is emptied in place under the load.
#
# The workers run as "nobody" (when run as root), as they would in service,
# so that a file mode can make the database unreadable to them; they own the
# lock file, which LMDB readers write.

use strict;
use warnings;

use lib 'scripts/faults';
use FaultNginx;
use File::Copy qw(copy);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use Test::More;
use Time::HiRes qw(sleep time);

my $user = $> == 0 ? 'nobody nogroup' : undef;
my $tmp = tempdir(CLEANUP => 1);
chmod 0755, $tmp;
my $db = "$tmp/accounts.mdb";
my $port = 19034;

seed($db, '--count', 100000);
system('cp', '--sparse=always', $db, "$tmp/good.mdb") == 0 or die;
if ($user) {
    my (undef, undef, $uid, $gid) = getpwnam((split ' ', $user)[0]);
    chown $uid, $gid, "$db-lock" or die "chown: $!";
}

sub garbage {
    my ($len) = @_;
    srand(42);
    return join '', map { chr int rand 256 } 1 .. $len;
}

sub write_raw {
    my ($file, $data, $offset) = @_;
    open my $fh, defined $offset ? '+<:raw' : '>:raw', $file or die "$file: $!";
    seek $fh, $offset, 0 if defined $offset;
    print $fh $data;
    close $fh;
}

# a good database back under the path, as a new file
sub restore {
    system('cp', '--sparse=always', "$tmp/good.mdb", "$db.new") == 0 or die;
    rename "$db.new", $db or die "rename: $!";
}

# replace($how): a new file under the path, made by $how->($file)
sub replace {
    my ($how) = @_;
    return sub {
        system('cp', '--sparse=always', "$tmp/good.mdb", "$db.new") == 0
            or die;
        $how->("$db.new");
        rename "$db.new", $db or die "rename: $!";
    };
}

my $n = start_nginx(port => $port, db => $db, worker_user => $user);

# Known limit: garbage written over data pages in place can read as valid
# pages (LMDB keeps no page checksums): an existing account was once answered
# 404 among some 380,000 requests.  FAULT_STRICT=1 runs this as a plain test.
our $TODO;
my $wrong = $ENV{FAULT_STRICT} ? undef
    : 'garbage data pages can read as valid: a 404 for an existing account';

my @phases = (
    [ 'the file is removed', sub { unlink $db or die }, \&restore ],
    [ 'the file is moved away and back',
      sub { rename $db, "$db.away" or die },
      sub { rename "$db.away", $db or die } ],
    [ 'a new file unreadable to the workers',
      replace(sub { chmod 0000, $_[0] }), sub { chmod 0644, $db } ],
    [ 'a new file of garbage', replace(sub { write_raw($_[0],
                                                       garbage(65536)) }),
      \&restore ],
    [ 'a new file cut to 8 KiB', replace(sub { truncate $_[0], 8192 }),
      \&restore ],
    [ 'a new empty file', replace(sub { truncate $_[0], 0 }), \&restore ],
    [ 'the file cut to 8 KiB in place', sub { truncate $db, 8192 },
      \&restore ],
    [ 'the file emptied in place', sub { truncate $db, 0 }, \&restore ],
    [ 'its first 64 KiB overwritten with garbage in place',
      sub { write_raw($db, garbage(65536), 0) }, \&restore ],
    [ 'pages past its first 64 KiB overwritten with garbage in place',
      sub { write_raw($db, garbage(1 << 20), 65536) }, \&restore, undef,
      $wrong ],
);

my $crashes = 0;
my ($sent, $failed) = (0, 0);

# a fault's load: it ran, and every answer was a 200 or the JSON 503 ($todo:
# known not to be, and why); returns the count of 503s
sub tally {
    my ($name, $r, $todo) = @_;
    ok($r->{ok}, "$name: wrk ran") or diag($r->{raw});
    my %st = %{ $r->{statuses} };
    note("$name: " . join ', ', map { "$_: $st{$_}" } sort keys %st);
    my $good = ($st{'status 200'} // 0) + ($st{'status 503'} // 0);
    {
        local $TODO = $todo;
        is($r->{requests} - $good, 0,
           "$name: all $r->{requests} answers were a 200 or a JSON 503")
            or diag(join ', ', map { "$_: $st{$_}" } sort keys %st);
    }
    is($r->{socket_errors}, 0, "$name: no socket errors");
    $sent += $r->{requests};
    $failed += $r->{requests} - $good + $r->{socket_errors};
    return $st{'status 503'} // 0;
}

for my $p (@phases) {
    my ($name, $break, $fix, $todo, $wrong) = @$p;

    # a load of its own for each fault, so that what it sees is its own
    my $load = wrk_start($n, duration => 5, connections => 32,
                         ids => [10000, 109999]);
    sleep 0.5;

    my $t0 = time;
    $break->();

    my ($acct, $health);
    my $down = wait_for(2.5, sub {
        $acct = probe($n, '/accounts/10000');
        $health = probe($n, '/health');
        $acct->{status} == 503 && $health->{status} == 503
    });
    {
        local $TODO = $todo;
        ok($down, "$name: account requests and /health are 503 within 2.5s")
            or diag("got $acct->{status} $acct->{body}, "
                    . "$health->{status} $health->{body}");
        like($health->{body},
             qr/^\{"error":"account database unavailable","reason":"[^"]+"\}$/,
             "$name: /health says why");
    }
    like($acct->{body}, qr/^\{"error":"account database unavailable"\}$/,
         "$name: the account 503 is the JSON error");
    sleep 0.5;

    $fix->();
    my $up = wait_for(2.5, sub {
        probe($n, '/accounts/10000')->{status} == 200
        && probe($n, '/health')->{status} == 200
    });
    ok($up, sprintf("$name: served again %.2fs after a good file is back",
                    $up));

    my @c = grep { /exited on signal/ } crash_lines($n);
    is(scalar @c - $crashes, 0, "$name: no worker crashed")
        or diag(join "\n", @c[$crashes .. $#c]);
    $crashes = @c;

    tally($name, wrk_wait($load), $wrong);
}

# The lock file cut short in place (truncate, or a cp over it, which opens
# it with O_TRUNC).  LMDB maps it whole: the next read faults on the reader
# table, and so does the close that follows.  The worker gives that
# environment up rather than die (what is left of it stays open until the
# worker exits), answers the JSON 503 and opens the database again: once no
# other process holds the short lock file, the first one to open it sets it
# up anew (LMDB's rule), so serving resumes without a hand.
{
    my $name = 'the lock file emptied in place';
    my $size = -s "$db-lock";
    my $from = length error_log($n);

    my $load = wrk_start($n, duration => 5, connections => 32,
                         ids => [10000, 109999]);
    sleep 0.5;

    truncate "$db-lock", 0 or die "truncate $db-lock: $!";

    my $named = wait_for(2.5, sub {
        substr(error_log($n), $from)
            =~ /its lock file "\Q$db\E-lock" was cut short/
    });
    ok($named, "$name: the error log names the lock file");

    my $up = wait_for(5, sub {
        probe($n, '/accounts/10000')->{status} == 200
        && probe($n, '/health')->{status} == 200
    });
    ok($up, sprintf("$name: served again %.2fs later, by itself", $up));
    is(-s "$db-lock", $size, "$name: the lock file is set up anew");

    my $log = substr(error_log($n), $from);
    unlike($log, qr/the file was changed in place/,
           "$name: the database file is not blamed");
    unlike($log, qr/exited on signal/, "$name: no worker crashed")
        or diag(join "\n", grep { /exited on signal/ } split /\n/, $log);

    ok(tally($name, wrk_wait($load)),
       "$name: the requests that met it got the JSON 503");
}

# The same with one worker that gets no request: its open environment
# holds the short lock file too, and no other process can be alone on it
# until that worker lets go.  Its once-a-second check does, with no request:
# the requests of one keep-alive connection, all served by the other
# worker, are answered again within seconds.
{
    my $name = 'the lock file emptied in place, one worker idle';
    my $from = length error_log($n);
    my $ua = HTTP::Tiny->new(timeout => 3, keep_alive => 1);
    my $url = "http://127.0.0.1:$n->{port}/accounts/10000";

    is(($ua->get($url))->{status}, 200, "$name: served before");
    sleep 1.5;    # the idle worker's check has run since its last request

    truncate "$db-lock", 0 or die "truncate $db-lock: $!";
    my (%statuses, $last);
    my $up = wait_for(5, sub {
        my $r = $ua->get($url);
        $statuses{$r->{status}}++;
        $last = $r;
        return $r->{status} == 200;
    });
    ok($up, sprintf("$name: served again %.2fs later, on the same "
                    . "connection", $up))
        or diag("last: $last->{status} $last->{content}; "
                . join ', ', map { "$_: $statuses{$_}" } sort keys %statuses);
    is_deeply([grep { $_ != 200 && $_ != 503 } keys %statuses], [],
              "$name: every answer was a 200 or a 503");
    unlike(substr(error_log($n), $from), qr/exited on signal/,
           "$name: no worker crashed");
}

note("in all: $sent requests, $failed neither a 200 nor a JSON 503");
is_deeply([crash_lines($n)], [], 'no crash, alert or critical line')
    or diag(join "\n", error_lines($n));

stop_nginx($n);
done_testing();
