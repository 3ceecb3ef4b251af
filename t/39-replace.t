# A database replaced by a new file under the same path.  LMDB takes the
# newest transaction from the lock file, not from the data file, whenever
# another process has the lock file open: a data file renamed over the old
# one while the workers still hold the old lock file would be read at a
# wrong snapshot (an empty one, or an old one), and a seeder would write
# over it.  The workers and the seeder must see that the two files do not
# belong together and refuse, and everything must come back once the new
# lock file is renamed over the old one too.
#
# A small program that opens the database and waits stands for any other
# process holding the old lock file: old workers still draining after a
# reload, a seeder, mdb_stat, a backup.  (nginx's own workers, even idle
# ones, look at the files once a second and let go.)  Once no process holds
# it any more, the first worker to open the lock file takes it over and sets it
# from the new data file (that is LMDB's own rule), so the 503s end by
# themselves.
#
#   1. the lock file ahead of the new data file: 503s, a seeder refuses, and
#      renaming the new lock file over the old one ends it
#   2. the lock file one transaction behind the new data file, for good:
#      503s too (not the snapshot before the newest), until the other
#      process lets go of the old lock file
#   3. both files renamed, data first: the new data is served
#   4. one file under two paths in one nginx: one environment

use strict;
use warnings;

use lib 't/lib';
use lib 'scripts/faults';
use AccountTest qw(seed run_seed dump_db);
use Cwd qw(abs_path);
use FaultNginx;
use File::Temp qw(tempdir);
use Test::More;

plan skip_all => 'no C compiler for the holder' unless `sh -c 'command -v cc'`;

my $tmp = abs_path(tempdir(CLEANUP => 1));
chmod 0755, $tmp;
my $db = "$tmp/accounts.mdb";
my $port = 19040;

# a new database under the path; with $with_lock, its lock file too
sub replace {
    my ($with_lock, @seeds) = @_;
    unlink "$tmp/new.mdb", "$tmp/new.mdb-lock";
    seed("$tmp/new.mdb", @$_) for @seeds;
    rename "$tmp/new.mdb", $db or die "rename: $!";
    if ($with_lock) {
        rename "$tmp/new.mdb-lock", "$db-lock" or die "rename: $!";
    }
}

# the holder: an LMDB environment open on the database (a shared lock on
# its lock file), until it is killed
my $holder_bin = "$tmp/holder";
open my $src, '>', "$holder_bin.c" or die $!;
print $src <<'_C_';
#include <lmdb.h>
#include <stdio.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
    MDB_env  *env;

    if (argc != 2 || mdb_env_create(&env) != 0
        || mdb_env_open(env, argv[1], MDB_NOSUBDIR | MDB_RDONLY, 0644) != 0)
    {
        return 1;
    }

    printf("open\n");
    fflush(stdout);

    for ( ;; ) {
        pause();
    }
}
_C_
close $src;
system('cc', '-o', $holder_bin, "$holder_bin.c", '-llmdb') == 0
    or die "cc holder failed\n";

sub start_holder {
    my $pid = open(my $out, '-|', $holder_bin, $db) or die "holder: $!";
    my $line = <$out> // '';
    die "the holder did not open $db\n" unless $line eq "open\n";
    return { pid => $pid, out => $out };
}

sub stop_holder {
    my ($h) = @_;
    kill 'TERM', $h->{pid};
    close $h->{out};
}

sub status {
    my ($n, $path) = @_;
    return probe($n, $path)->{status};
}

sub refused {
    my ($n, $what, $id) = @_;
    ok(wait_for(3, sub { status($n, "/accounts/$id") == 503 }),
       "$what: a lookup of an account in the new file gets a 503");
    my $r = probe($n, '/health');
    is($r->{status}, 503, "$what: /health says 503");
    like($r->{body}, qr/"reason":"the lock file belongs to another database/,
         "$what: ... and why");
    like(error_log($n),
         qr/account_db "\Q$db\E" does not match its lock file "\Q$db\E-lock"/,
         "$what: the error log names both files");
}

# the old database: two transactions
seed($db, '--count', 10);
seed($db, '--count', 10, '--start', 20000);

# one worker: a worker looks at the files again once a second, on a
# request, so with two a probe can reach one that has not looked yet, and
# "the old data is gone" would be a race between them
my $n = start_nginx(port => $port, db => $db, workers => 1);
my $holder = start_holder();

is(status($n, '/accounts/20009'), 200, 'the old database is served');

# 1. the new file has one transaction, the lock file in use says two.  No
# request yet: the workers hold the old lock file, and a seeder must refuse.

replace(0, ['--count', 5, '--start', 777]);

my ($st, $out, $err) = run_seed('--db', $db, '--count', 1, '--start', 888);
is($st, 1, 'a seeder on the mismatched pair: exit status 1');
like($err, qr/\Q$db\E does not match its lock file \Q$db\E-lock \(transaction 2 in the lock file, 1 in the database\)/,
     'a seeder on the mismatched pair: says why') or diag($err);
like($err, qr/nothing was written/, 'a seeder: ... and that nothing was written');
# read from a copy: mdb_dump too would go by the lock file in use
system('cp', '--sparse=always', $db, "$tmp/copy.mdb") == 0 or die;
is_deeply([sort keys %{dump_db("$tmp/copy.mdb")}], [map { 777 + $_ } 0 .. 4],
          'a seeder on the mismatched pair: the new data is untouched');

refused($n, 'lock file ahead', 777);

# back: the new lock file renamed over the old one

rename "$tmp/new.mdb-lock", "$db-lock" or die "rename: $!";
ok(wait_for(5, sub { status($n, '/accounts/777') == 200 }),
   'lock file renamed too: the new data is served');
ok(wait_for(3, sub { status($n, '/health') == 200 }),
   'lock file renamed too: /health says 200');
is(status($n, '/accounts/20009'), 404,
   'lock file renamed too: the old data is gone');
($st, $out, $err) = run_seed('--db', $db, '--count', 1, '--start', 888);
is($st, 0, 'lock file renamed too: a seeder writes') or diag($err);
ok(wait_for(3, sub { status($n, '/accounts/888') == 200 }),
   'lock file renamed too: what it wrote is served');

# 2. the lock file in use says two (777, then 888), the new file three:
# the one before the newest is a snapshot of the new file, but an old one

stop_holder($holder);
$holder = start_holder();

replace(0, ['--count', 1, '--start', 1000], ['--count', 1, '--start', 2000],
        ['--count', 1, '--start', 3000]);
refused($n, 'lock file behind', 3000);
is(status($n, '/accounts/1000'), 503,
   'lock file behind: an account of the older snapshot gets a 503 too');
sleep 2;
is(status($n, '/health'), 503,
   'lock file behind: still 503 while the other process holds it');

# a seeder would write its commit over the newest one of the new file
($st, $out, $err) = run_seed('--db', $db, '--count', 1, '--start', 888);
is($st, 1, 'lock file behind: a seeder refuses, exit status 1');
like($err, qr/\(transaction 2 in the lock file, 3 in the database\)/,
     'lock file behind: a seeder says why') or diag($err);
system('cp', '--sparse=always', $db, "$tmp/copy.mdb") == 0 or die;
unlink "$tmp/copy.mdb-lock";
is_deeply([sort keys %{dump_db("$tmp/copy.mdb")}], [1000, 2000, 3000],
          'lock file behind: the new data is untouched');

stop_holder($holder);
ok(wait_for(5, sub { status($n, '/accounts/3000') == 200 }),
   'lock file behind, the other process gone: the newest data is served');
ok(wait_for(3, sub { status($n, '/health') == 200 }),
   'lock file behind, the other process gone: /health says 200');

# 3. both renamed, one after the other: at most a moment of 503s

replace(1, ['--count', 3, '--start', 500], ['--count', 3, '--start', 600]);
ok(wait_for(5, sub { status($n, '/accounts/602') == 200 }),
   'both renamed: the new data is served');
is(status($n, '/accounts/3000'), 404, 'both renamed: the old data is gone');
is(status($n, '/health'), 200, 'both renamed: /health says 200');

# 3b. the database removed and seeded again at its path while the workers
# still hold the lock file (no request in between): a new file that has had
# no commit goes with any lock file

unlink $db or die "unlink: $!";
($st, $out, $err) = run_seed('--db', $db, '--count', 2, '--start', 9000);
is($st, 0, 'removed and seeded again: the seeder writes') or diag($err);
ok(wait_for(5, sub { status($n, '/accounts/9001') == 200 }),
   'removed and seeded again: the new data is served');
is(status($n, '/accounts/602'), 404,
   'removed and seeded again: the old data is gone');
is(status($n, '/health'), 200, 'removed and seeded again: /health says 200');

unlike(error_log($n), qr/\[(?:alert|crit|emerg)\]|faulted/,
       'no alert, crit, emerg or fault in the error log');

stop_nginx($n);

# 4. one file, two spellings of its path: one LMDB environment a worker
# (LMDB must not open a file twice in one process)

my $other = "$tmp/../" . (split m{/}, $tmp)[-1] . "/accounts.mdb";
$n = start_nginx(port => $port, db => $db, workers => 1,
                 extra_http => "server { listen 127.0.0.1:" . ($port + 1)
                     . "; account_db $other; location /accounts/ "
                     . "{ account_lookup; } location = /health "
                     . "{ account_health; } }");
my $m = { %$n, port => $port + 1 };
is(status($m, '/accounts/9001'), 200, 'two spellings: the second one serves');
is(status($n, '/accounts/9001'), 200, 'two spellings: the first one serves');
my $maps = 0;
$maps += (split /:/)[1] for AccountTest::mappings($db, nginx_pid($n));
is($maps, 1, 'two spellings: the worker maps the file once');
replace(1, ['--count', 1, '--start', 4000]);
ok(wait_for(5, sub { status($n, '/accounts/4000') == 200 }),
   'two spellings, replaced: the first one follows');
ok(wait_for(5, sub { status($m, '/accounts/4000') == 200 }),
   'two spellings, replaced: the second one follows');
is(status($m, '/health'), 200, 'two spellings, replaced: /health says 200');
unlike(error_log($n), qr/MDB_BAD_RSLOT|\[(?:alert|crit|emerg)\]/,
       'two spellings: no reader slot error');

stop_nginx($n);

# 5. a cache manager (any proxy_cache_path starts one) serves no request, so
# it would never look at the files again: it must not open the database

$n = start_nginx(port => $port, db => $db, workers => 1,
                 extra_http => "proxy_cache_path $tmp/cache keys_zone=c:1m;");
is(status($n, '/accounts/4000'), 200, 'with a cache manager: served');
# a process just forked has its master's title for a moment: the roles are
# read until the manager has its own
my (%role, @managers);
wait_for(5, sub {
    %role = ();
    for my $p (AccountTest::processes(nginx_pid($n))) {
        open my $fh, '<', "/proc/$p/cmdline" or next;
        my ($title) = (<$fh> // '') =~ /nginx: (\w+(?: \w+)?) process/;
        $role{$p} = $title // '?';
    }
    @managers = grep { $role{$_} =~ /^cache / } keys %role;
});
ok(@managers, 'with a cache manager: one runs')
    or diag(join ', ', map { "$_ $role{$_}" } keys %role);
for my $file ($db, "$db-lock") {
    my @mapped = map { $role{(split /:/)[0]} // '?' }
                 AccountTest::mappings($file, nginx_pid($n));
    is_deeply(\@mapped, ['worker'], "with a cache manager: only the worker "
              . "maps " . ($file =~ /-lock$/ ? 'the lock file' : 'the file'));
}

stop_nginx($n);

done_testing();
