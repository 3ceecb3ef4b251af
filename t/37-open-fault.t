# The database is cut to nothing while a worker is opening it: after LMDB
# read its header, before it looked at the pages through the map.  The
# worker's first look faults (SIGBUS); it must catch it as it does for a
# read, give back what the half-made environment held (its reader slot, its
# locks), answer 503, and open the database again once a good one is back.
#
#   1. at start-up, in init_process
#   2. when the once-a-second check follows a file that replaced the old one
#
# The cut is made by an LD_PRELOAD shim (scripts/faults/truncate_on_open.c)
# in the worker itself, at the moment in question.  One worker, so that what
# it holds is all there is to look at: a second one would keep the file it
# had until a request made it look again.

use strict;
use warnings;

use lib 'scripts/faults';
use Cwd qw(abs_path);
use FaultNginx;
use File::Temp qw(tempdir);
use Test::More;

my $tmp = abs_path(tempdir(CLEANUP => 1));
chmod 0755, $tmp;
my $db = "$tmp/accounts.mdb";
my $port = 19038;

my $cc = $ENV{CC} || 'cc';
system($cc, '-Wall', '-Wextra', '-Werror', '-shared', '-fPIC', '-o',
       "$tmp/shim.so", 'scripts/faults/truncate_on_open.c', '-ldl') == 0
    or BAIL_OUT('cannot build the shim');

sub arm {
    open my $fh, '>', "$db.arm" or die "$db.arm: $!";
    close $fh;
}

# a good database of 1000 accounts from $start, renamed over the path
sub replace_good {
    my ($start) = @_;
    unlink "$tmp/new.mdb", "$tmp/new.mdb-lock";
    seed("$tmp/new.mdb", '--count', 1000, '--start', $start);
    rename "$tmp/new.mdb", $db or die "rename: $!";
}

sub answers_503 {
    my ($n, $what) = @_;
    my $r = probe($n, '/accounts/10000');
    is($r->{status}, 503, "$what: a lookup gets a 503");
    like($r->{body}, qr/^\{"error":".+"\}\n?$/, "$what: ... with a JSON body");
    is(probe($n, '/health')->{status}, 503, "$what: /health says 503");
}

# no reader slot holds a snapshot once nothing is being read: the worker
# resets its transaction after each request, so a number here is a slot
# that a faulted open left behind
sub no_pinned_slot {
    my ($what) = @_;
    my $readers = `mdb_stat -nr $db 2>&1`;
    like($readers, qr/Reader Table Status/, "$what: mdb_stat reads the table")
        or diag($readers);
    unlike($readers, qr/^\s*\d+\s+[0-9a-f]+\s+\d+\s*$/m,
           "$what: no reader slot pins a snapshot")
        or diag($readers);
}

sub faults {
    my ($n) = @_;
    my @faults = error_log($n) =~ /faulted while being (?:opened|read)/g;
    return scalar @faults;
}

# what the workers still hold of the database file: descriptors and
# mappings (a faulted open must not leave its half-made environment behind)
sub held {
    my ($n) = @_;
    my $master = nginx_pid($n) or die 'no master pid';
    open my $fh, '<', "/proc/$master/task/$master/children" or die $!;
    my @workers = split ' ', scalar(<$fh>) // '';
    close $fh;
    my @held;
    for my $pid (@workers) {
        for my $fd (glob "/proc/$pid/fd/*") {
            my $to = readlink $fd // next;
            push @held, "$pid fd $to\n" if $to =~ /^\Q$db\E( \(deleted\))?$/;
        }
        open my $maps, '<', "/proc/$pid/maps" or next;
        push @held, map { "$pid map $_" } grep { m{ \Q$db\E( \(deleted\))?$} }
                                          <$maps>;
    }
    return @held;
}

seed($db, '--count', 1000);
arm();

my $n;
{
    local $ENV{FAULT_TRUNCATE} = $db;
    local $ENV{LD_PRELOAD} = join ' ', grep { defined && length }
                                       $ENV{LD_PRELOAD}, "$tmp/shim.so";
    $n = start_nginx(port => $port, db => $db, workers => 1);
}

# 1. at start-up

ok(!-e "$db.arm", 'start-up: the shim cut the database in a worker');
is(-s $db || 0, 0, 'start-up: the database is empty');
ok(wait_for(3, sub { error_log($n) =~ /faulted while being opened/ }),
   'start-up: the worker caught the fault of its open')
    or diag(join "\n", error_lines($n));
answers_503($n, 'start-up');
is(join('', held($n)), '', 'start-up: no worker holds the cut file');

replace_good(10000);
ok(wait_for(3, sub { probe($n, '/accounts/10000')->{status} == 200 }),
   'start-up: serving resumes once a good database is back');
ok(wait_for(3, sub { probe($n, '/health')->{status} == 200 }),
   'start-up: /health says 200');

# 2. following a replaced file: the worker holds the old one open (and its
# share of the lock file) when the new one faults under it

my $before = faults($n);
arm();
replace_good(10000);
ok(wait_for(5, sub { probe($n, '/health'); !-e "$db.arm" }),
   'replaced: the shim cut the new database as a worker opened it');
is(-s $db || 0, 0, 'replaced: the database is empty');
ok(wait_for(3, sub { faults($n) > $before }),
   'replaced: the worker caught the fault')
    or diag(join "\n", error_lines($n));
ok(wait_for(3, sub { probe($n, '/accounts/10000')->{status} == 503 }),
   'replaced: lookups get 503s');
answers_503($n, 'replaced');
is(join('', held($n)), '', 'replaced: no worker holds the cut file');

replace_good(50000);
ok(wait_for(3, sub { probe($n, '/accounts/50000')->{status} == 200 }),
   'replaced: serving resumes once a good database is back');
no_pinned_slot('resumed');

# a seeder can still take the writer's share of the lock file
is(system('timeout', '10', seed_tool(), '--quiet', '--db', $db,
          '--count', 1000, '--start', 90000), 0,
   'a seeder writes the database');
ok(wait_for(3, sub { probe($n, '/accounts/90000')->{status} == 200 }),
   '... and its accounts are served');

is(join("\n", crash_lines($n)), '', 'no worker crashed');

stop_nginx($n);

done_testing();
