# account-seed against another account-seed, and against a file system that
# fills up: one writer at a time, and a writer that runs out of room says so
# and leaves the database as it was.

use strict;
use warnings;

use lib 't/lib';
use AccountTest qw(run_seed dump_db write_file);
use Fcntl qw(:flock O_RDWR O_CREAT);
use File::Temp qw(tempdir);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use Test::More;

my $seed = AccountTest::seed_tool();
my $tmp = tempdir(CLEANUP => 1);

# is the writers' lock of the database held by another process?
sub locked {
    my ($db) = @_;
    sysopen my $fh, "$db-lock", O_RDWR | O_CREAT or return 0;
    my $free = flock($fh, LOCK_EX | LOCK_NB);
    close $fh;
    return !$free;
}

{
    # a second writer opening the database would cut the file to its own
    # map, under the pages the first one is writing through its map
    my $what = 'a second seeder while one is writing';
    my $db = "$tmp/two.mdb";
    my $one = write_file("$tmp/one.jsonl", qq({"id":"second","name":"B"}\n));

    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        exec $seed, '--quiet', '--db', $db, '--count', 3000000;
        die "exec: $!";
    }

    my $waited = 0;
    until (locked($db) || $waited > 60 || waitpid($pid, WNOHANG)) {
        sleep 0.05;
        $waited += 0.05;
    }
    ok(locked($db), "$what: the first holds the writers' lock on $db-lock");

    my ($st, $out, $err) = run_seed('--db', $db, '--from', $one);
    is($st, 0, "$what: the second exits 0") or diag($err);
    like($err, qr/^account-seed: waiting for another account-seed writing \Q$db\E$/m,
         "$what: the second says it waits for the first");

    waitpid($pid, 0);
    is($? >> 8 | $? & 127, 0, "$what: the first exits 0");

    my ($entries) = `mdb_stat -n $db` =~ /Entries: (\d+)/;
    is($entries, 3000001, "$what: the database holds the accounts of both");
    my ($second) = `mdb_dump -p -n $db | grep -A1 '^ second\$'` =~ /^ (\{.*)$/m;
    is($second, '{"id":"second","name":"B"}',
       "$what: the second's account is stored");

    ($st, $out, $err) = run_seed('--db', $db, '--from', $one, '--quiet');
    is($err, '', "$what: a seeder alone does not wait");
}

{
    my $what = 'a seeder waiting with --quiet';
    my $db = "$tmp/quiet.mdb";
    AccountTest::seed($db, '--count', 1);

    sysopen my $fh, "$db-lock", O_RDWR or die $!;
    flock($fh, LOCK_EX) or die $!;

    my $pid = open my $child, '-|';
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        exec $seed, '--quiet', '--db', $db, '--count', 2, '--start', 5;
        die "exec: $!";
    }

    # it has opened the lock file (to take the lock), and has written
    # nothing a while later
    my $opened = 0;
    for (1 .. 600) {
        last if waitpid($pid, WNOHANG);
        $opened = grep { (readlink($_) // '') eq "$db-lock" }
                  glob "/proc/$pid/fd/*";
        last if $opened;
        sleep 0.05;
    }
    ok($opened, "$what: it opens the lock file");
    sleep 0.3;
    ok(!waitpid($pid, WNOHANG), "$what: waits while the lock is held");
    is(scalar keys %{ dump_db($db) }, 1, "$what: and has written nothing");
    flock($fh, LOCK_UN);
    my $out = do { local $/; <$child> };
    close $child;
    is($?, 0, "$what: then writes");
    is($out, '', "$what: and prints nothing");
    is(scalar keys %{ dump_db($db) }, 3, "$what: its accounts are stored");
}

# within($seconds, CODE): polls CODE until it is true, for that long at most
sub within {
    my ($secs, $code) = @_;
    my $end = time + $secs;
    until ($code->()) {
        return 0 if time > $end;
        sleep 0.02;
    }
    return 1;
}

# the flock() locks of /proc/locks, as [pid, inode, waiting for it]
sub flocks {
    open my $fh, '<', '/proc/locks' or return ();
    my @locks;
    while (<$fh>) {
        push @locks, [$2, $3, $1 ? 1 : 0]
            if /^\d+:\s+(->\s+)?FLOCK\s+\S+\s+WRITE\s+(\d+)\s+
                [0-9a-f]+:[0-9a-f]+:(\d+)\s/x;
    }
    return @locks;
}

# does process $pid hold (waits unset) or wait for the flock() of inode $ino?
sub flocked {
    my ($pid, $ino, $waits) = @_;
    return grep { $_->[0] == $pid && $_->[1] == $ino && $_->[2] == $waits }
           flocks();
}

# spawn({ ENV }, $stderr_file, COMMAND...): its pid; stdout goes nowhere
sub spawn {
    my ($env, $err, @cmd) = @_;
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', $err;
        @ENV{keys %$env} = values %$env;
        exec @cmd;
        die "exec: $!";
    }
    return $pid;
}

# reap($pid): its exit status, waiting 60 s at most (then it is killed)
sub reap {
    my ($pid) = @_;
    my $status;
    within(60, sub {
        waitpid($pid, WNOHANG) == $pid or return 0;
        $status = $?;
        return 1;
    }) and return $status;
    kill 'KILL', $pid;
    waitpid($pid, 0);
    return -1;
}

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or return '';
    local $/;
    return <$fh> // '';
}

sub ids {
    my ($db) = @_;
    return [sort keys %{ dump_db($db) }];
}

{
    # the README's replace renames the new lock file over the old one: a
    # seeder that waited for the old one must not write beside the writer
    # of the new one (two writers of one file: the second's open cuts the
    # file to its map under the first one's transaction)
    my $what = 'a seeder waiting while the database is replaced';
    my $db = "$tmp/replaced.mdb";
    my $new = "$tmp/replacement.mdb";
    my $err = "$tmp/replaced.err";
    AccountTest::seed($db, '--count', 10);
    AccountTest::seed($new, '--count', 5, '--start', 500);

    # a writer of the old files
    sysopen my $old, "$db-lock", O_RDWR or die $!;
    flock($old, LOCK_EX) or die $!;
    my $ino = (stat $old)[1];

    my $pid = spawn({}, $err, $seed, '--db', $db, '--count', 3,
                    '--start', 77);
    ok(within(30, sub { flocked($pid, $ino, 1) }),
       "$what: the seeder waits for the writer of the old files");
    like(slurp($err), qr/waiting for another/, "$what: and says so");

    rename $new, $db or die $!;
    rename "$new-lock", "$db-lock" or die $!;

    # a writer of the new files; the one of the old files is done
    sysopen my $cur, "$db-lock", O_RDWR or die $!;
    flock($cur, LOCK_EX) or die $!;
    $ino = (stat $cur)[1];
    close $old;

    ok(within(10, sub { flocked($pid, $ino, 1) }),
       "$what: then it waits for the writer of the new lock file");
    is_deeply(ids($db), [500 .. 504], "$what: and has written nothing");

    close $cur;
    is(reap($pid), 0, "$what: then it writes") or diag(slurp($err));
    is_deeply(ids($db), [500 .. 504, 77 .. 79],
              "$what: into the new database, beside its accounts");
    like(`mdb_stat -n $db`, qr/Entries: 8\b/, "$what: which is whole");
}

SKIP: {
    # the replace, holding the writers' lock across both renames
    skip 'flock(1) is not installed', 7
        if system('command -v flock >/dev/null') != 0;

    my $what = "a replace under the writers' lock";
    my $db = "$tmp/locked-replace.mdb";
    my $new = "$tmp/locked-new.mdb";
    my $go = "$tmp/locked-go";
    my $err = "$tmp/locked.err";
    AccountTest::seed($db, '--count', 10);
    AccountTest::seed($new, '--count', 5, '--start', 500);

    # a seeder writing the old files
    sysopen my $old, "$db-lock", O_RDWR or die $!;
    flock($old, LOCK_EX) or die $!;
    my $ino = (stat $old)[1];

    my $mv = spawn({}, "$tmp/locked-mv.err", 'flock', "$db-lock", 'sh', '-c',
                   "i=0; until [ -e $go ] || [ \$i -ge 1200 ]; do "
                   . "sleep 0.05; i=\$((i + 1)); done; "
                   . "mv $new $db && mv $new-lock $db-lock");
    ok(within(30, sub { flocked($mv, $ino, 1) }),
       "$what: waits for the seeder writing the old files");
    close $old;
    ok(within(30, sub { flocked($mv, $ino, 0) }),
       "$what: and takes the lock once it is done");

    my $pid = spawn({}, $err, $seed, '--db', $db, '--count', 3,
                    '--start', 77);
    ok(within(30, sub { flocked($pid, $ino, 1) }),
       "$what: a seeder started meanwhile waits");

    open my $fh, '>', $go or die $!;
    close $fh;
    is(reap($mv), 0, "$what: the renames are made")
        or diag(slurp("$tmp/locked-mv.err"));
    is(reap($pid), 0, "$what: the seeder then writes") or diag(slurp($err));
    is_deeply(ids($db), [500 .. 504, 77 .. 79],
              "$what: into the new database");
    like(`mdb_stat -n $db`, qr/Entries: 8\b/, "$what: which is whole");
}

# a flock() that, once it has the lock, holds on until the file named by
# HOLD_LOCK_UNTIL exists (a minute at most): a seeder stopped right there
my $hold = "$tmp/holdlock.so";
write_file("$tmp/holdlock.c", <<'C');
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

int
flock(int fd, int op)
{
    int          rc, n;
    const char  *go;
    static int (*next)(int, int);

    if (next == NULL) {
        next = (int (*)(int, int)) dlsym(RTLD_NEXT, "flock");
    }

    rc = next(fd, op);
    go = getenv("HOLD_LOCK_UNTIL");

    if (rc == 0 && (op & LOCK_EX) && go != NULL) {
        for (n = 0; n < 1200 && access(go, F_OK) != 0; n++) {
            usleep(50000);
        }
    }

    return rc;
}
C

SKIP: {
    # a first seed that fails removes the database and the lock file it
    # made: a seeder that waited for that lock file locks the new one
    skip 'the sanitizers would see the preloaded library first', 10
        if $ENV{ASAN_OPTIONS};
    system('cc', '-shared', '-fPIC', '-o', $hold, "$tmp/holdlock.c",
           '-ldl') == 0 or skip 'no C compiler', 10;

    my $what = 'a seeder waiting for a first seed that fails';
    my $db = "$tmp/first.mdb";
    my $bad = write_file("$tmp/first-bad.jsonl",
                         qq({"id":"a","name":"A"}\n{"id":\n));
    my ($go1, $go2) = ("$tmp/first-go1", "$tmp/first-go2");

    my $first = spawn({ HOLD_LOCK_UNTIL => $go1, LD_PRELOAD => $hold },
                      "$tmp/first-1.err", $seed, '--db', $db, '--from', $bad);
    ok(within(30, sub { -e "$db-lock"
                        && flocked($first, (stat "$db-lock")[1], 0) }),
       "$what: the first holds the lock file it made");
    my $ino = (stat "$db-lock")[1];

    # the second stops once it has the lock, before it looks at the file
    my $pid = spawn({ HOLD_LOCK_UNTIL => $go2, LD_PRELOAD => $hold },
                    "$tmp/first-2.err", $seed, '--db', $db, '--count', 3,
                    '--start', 77);
    ok(within(30, sub { flocked($pid, $ino, 1) }),
       "$what: the second waits for it");

    open my $fh, '>', $go1 or die $!;
    close $fh;
    is(reap($first) >> 8, 65, "$what: the first fails on its bad line")
        or diag(slurp("$tmp/first-1.err"));
    ok(within(30, sub { flocked($pid, $ino, 0) }),
       "$what: the second gets the lock of the removed lock file");
    ok(!-e $db && !-e "$db-lock",
       "$what: the first has removed the database and the lock file");

    # a third writer, of a new lock file
    sysopen my $cur, "$db-lock", O_RDWR | O_CREAT or die $!;
    flock($cur, LOCK_EX) or die $!;
    open $fh, '>', $go2 or die $!;
    close $fh;
    ok(within(30, sub { flocked($pid, (stat $cur)[1], 1) }),
       "$what: the second then waits for the writer of the new lock file");
    ok(!-e $db, "$what: and has written nothing");

    close $cur;
    is(reap($pid), 0, "$what: then it writes")
        or diag(slurp("$tmp/first-2.err"));
    is_deeply(ids($db), [77 .. 79], "$what: a database of its accounts");
    like(`mdb_stat -n $db`, qr/Entries: 3\b/, "$what: which is whole");
}

# a file system of 24 MiB, too small for the import below: the pages that
# do not fit raise SIGBUS when the seeder writes them through its map
my $small;

END {
    system('umount', $small) if $small;
}

SKIP: {
    skip 'mounting a tmpfs needs root', 11 if $> != 0;

    my $dir = tempdir(CLEANUP => 1);
    skip "cannot mount a tmpfs on $dir", 11
        if system("mount -t tmpfs -o size=24m tmpfs $dir 2>/dev/null") != 0;
    $small = $dir;

    my $what = 'an import that does not fit on the disk';
    my $db = "$dir/full.mdb";
    AccountTest::seed($db, '--count', 10);
    my $base = dump_db($db);

    my $big = "$tmp/big.jsonl";
    open my $fh, '>', $big or die $!;
    printf $fh qq({"id":"%d","name":"Person_%d"}\n), 100000 + $_, $_
        for 0 .. 499999;
    close $fh;

    my ($st, $out, $err) = run_seed('--db', $db, '--from', $big);
    is($st, 1, "$what: exit status 1, not a SIGBUS");
    is($err, "account-seed: $db: no room to write the database (SIGBUS): "
             . "the disk is full, or the file was cut short; nothing was "
             . "written\n",
       "$what: the message says why and that nothing was written");
    is_deeply(dump_db($db), $base, "$what: nothing was committed");

    my ($used) = `df -k --output=used $dir` =~ /(\d+)\s*$/;
    cmp_ok($used, '<', 1024,
           "$what: the blocks of the pages it wrote are given back");

    ($st, $out, $err) = run_seed('--db', $db, '--count', 1000, '--start', 1,
                                 '--quiet');
    is($st, 0, "$what: the database takes a smaller seed afterwards")
        or diag($err);
    is(scalar keys %{ dump_db($db) }, 1010,
       "$what: which is stored beside the accounts it had");
    like(`mdb_stat -n $db`, qr/Entries: 1010/,
         "$what: and the database is whole");

    # the same at a new PATH: the handler of SIGBUS takes back the files
    # the run made, as a first import that fails otherwise does
    $what = 'a first import that does not fit on the disk';
    my $new = "$dir/new.mdb";

    ($st, $out, $err) = run_seed('--db', $new, '--from', $big);
    is($st, 1, "$what: exit status 1, not a SIGBUS");
    like($err, qr/^account-seed: \Q$new\E: no room to write the database \(SIGBUS\)/,
         "$what: the message says why");
    ok(!-e $new, "$what: no empty database is left for nginx to serve");
    ok(!-e "$new-lock", "$what: nor the lock file it made");

    system('umount', $dir) == 0 and $small = undef;
}

done_testing();
