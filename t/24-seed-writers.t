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
use Time::HiRes qw(sleep);
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

# a file system of 24 MiB, too small for the import below: the pages that
# do not fit raise SIGBUS when the seeder writes them through its map
my $small;

END {
    system('umount', $small) if $small;
}

SKIP: {
    skip 'mounting a tmpfs needs root', 7 if $> != 0;

    my $dir = tempdir(CLEANUP => 1);
    skip "cannot mount a tmpfs on $dir", 7
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

    system('umount', $dir) == 0 and $small = undef;
}

done_testing();
