# account-seed: its defaults, its options, and all-or-nothing imports.

use strict;
use warnings;

use lib 't/lib';
use AccountTest qw(run_seed dump_db write_file);
use Cwd qw(getcwd);
use File::Temp qw(tempdir);
use Test::More;

my $seed = AccountTest::seed_tool();
my $tmp = tempdir(CLEANUP => 1);

my $db = "$tmp/default.mdb";
my ($st, $out, $err) = run_seed('--db', $db);
is($st, 0, 'the default seed succeeds');
is($out, "Seeded 100 fake accounts...\n", 'and says so as the Go service did');
is($err, '', 'quietly on stderr when not on a terminal');

my $kv = dump_db($db);
is(scalar keys %$kv, 100, 'the default seed writes 100 accounts');
is($kv->{10000}, '{"id":"10000","name":"Person_0"}', 'the first is 10000');
is($kv->{10099}, '{"id":"10099","name":"Person_99"}', 'the last is 10099');
ok(-e "$db-lock", 'the lock file sits next to the database');

($st) = run_seed('--db', $db);
is($st, 0, 'seeding again succeeds');
is_deeply(dump_db($db), $kv, 'and is idempotent');

($st, $out) = run_seed('--db', $db, '--count', 3, '--start', 7);
is($out, "Seeded 3 fake accounts...\n", '--count and --start');
$kv = dump_db($db);
is($kv->{9}, '{"id":"9","name":"Person_2"}', 'names count from Person_0');
is(scalar keys %$kv, 103, 'other accounts are kept');

($st, $out) = run_seed('--db', $db, '--count', 0);
is($st, 0, '--count 0 is allowed');

($st, $out) = run_seed('--db', $db, '--count', 5, '--quiet');
is($out, '', '--quiet prints nothing');

# generated documents are the bytes jansson renders of the same accounts on
# an import: from 0 (one digit, then two) and up to the largest --start
for my $range ([0, 25], [4611686018427387894, 10]) {
    my ($start, $count) = @$range;
    my $gen = "$tmp/gen-$start.mdb";
    my $imp = "$tmp/imp-$start.mdb";
    my @ids = map { $start + $_ } 0 .. $count - 1;
    my $lines = join '', map {
        qq({ "id" : "$ids[$_]", "name": "Person_$_" }\n)
    } reverse 0 .. $count - 1;

    ($st) = run_seed('--db', $gen, '--count', $count, '--start', $start);
    is($st, 0, "generating $count accounts from $start succeeds");
    ($st) = run_seed('--db', $imp,
                     '--from', write_file("$tmp/imp-$start.jsonl", $lines));
    is($st, 0, 'and importing the same accounts does');

    my $g = dump_db($gen);
    is(scalar keys %$g, $count, "$count accounts are generated");
    is_deeply($g, dump_db($imp), 'each one the bytes of the import');
}

# the largest --count: more than any map can hold, refused at once
$kv = dump_db($db);
($st, $out, $err) = run_seed('--db', $db, '--count', 4611686018427387903);
is($st, 1, 'a --count no map can hold: exit status 1');
like($err, qr/cannot map the \d+ bytes the accounts need/,
     'it says the map is too large');
is_deeply(dump_db($db), $kv, 'and nothing is written');

# a map larger than the address space: where the file system lets LMDB make
# the file that long first (tmpfs does), it is cut back
SKIP: {
    my $shm = '/dev/shm';
    skip "$shm is not a tmpfs", 4
        unless -d $shm && -w _ && `stat -f -c %T $shm 2>/dev/null` =~ /^tmpfs/;
    my $dir = tempdir(DIR => $shm, CLEANUP => 1);
    my $big = "$dir/big.mdb";
    run_seed('--db', $big, '--count', 3);
    my ($size, $kept) = (-s $big, dump_db($big));
    ($st, $out, $err) = run_seed('--db', $big, '--count', 10_000_000_000_000);
    is($st, 1, 'a map beyond the address space: exit status 1');
    like($err, qr/cannot map the \d+ bytes the accounts need/, 'it says so');
    is(-s $big, $size, 'the file is as long as before');
    is_deeply(dump_db($big), $kept, 'and holds what it held');
}

my $good = write_file("$tmp/good.jsonl", <<'_EOF_');
{"id":"a-1","name":"Ada","tags":["x","y"],"age":36}
{"name":"Grace \"Amazing\" Hopper","id":"g.2"}

{"id":"u_3","name":"caf\u00e9 \u2603"}
_EOF_

($st, $out, $err) = run_seed('--db', $db, '--from', $good);
is($st, 0, 'a JSON Lines import succeeds');
is($out, "Imported 3 accounts from $good: 3 new, 0 replaced\n",
   'and counts the accounts');
$kv = dump_db($db);
is($kv->{'a-1'}, '{"id":"a-1","name":"Ada","tags":["x","y"],"age":36}',
   'other members are kept, rendered compactly');
is($kv->{'g.2'}, '{"name":"Grace \\"Amazing\\" Hopper","id":"g.2"}',
   'escapes are rendered by jansson');
is($kv->{'u_3'}, qq({"id":"u_3","name":"caf\xc3\xa9 \xe2\x98\x83"}),
   'unicode escapes are stored as UTF-8');

# an id the database has, or an earlier line of the file, is replaced
my $again = write_file("$tmp/again.jsonl", <<'_EOF_');
{"id":"dup-1","name":"first"}
{"id":"a-1","name":"Ada again"}
{"id":"dup-2","name":"D"}
{"id":"dup-1","name":"second"}
_EOF_

($st, $out, $err) = run_seed('--db', $db, '--from', $again);
is($st, 0, 'an import of ids seen before succeeds');
is($out, "Imported 4 accounts from $again: 2 new, 2 replaced\n",
   'and counts the new accounts and the replaced ones apart');
$kv = dump_db($db);
is($kv->{'dup-1'}, '{"id":"dup-1","name":"second"}',
   'the later of two lines with one id wins');
is($kv->{'a-1'}, '{"id":"a-1","name":"Ada again"}',
   'an account the database had is replaced');

my $numbers = write_file("$tmp/numbers.jsonl", <<'_EOF_');
{"id":"num-1","name":"N", "a" : 0.1, "b":1E2, "c":1.50, "d":-0, "e":"\u00e9\/"}
_EOF_

($st, $out, $err) = run_seed('--db', "$tmp/numbers.mdb", '--from', $numbers);
is($st, 0, 'an import of numbers succeeds');
is(dump_db("$tmp/numbers.mdb")->{'num-1'},
   qq({"id":"num-1","name":"N","a":0.10000000000000001,"b":100.0,"c":1.5,)
   . qq("d":0,"e":"\xc3\xa9/"}),
   'numbers and strings are stored as jansson renders them, not as given');

for my $n ('9223372036854775808', '-9223372036854775809',
           '18446744073709551616')
{
    my $big = write_file("$tmp/big.jsonl", qq({"id":"big","name":"B","n":$n}\n));
    ($st, $out, $err) = run_seed('--db', "$tmp/numbers.mdb", '--from', $big);
    is($st, 65, "an integer beyond 64 bits ($n) is a bad line");
    like($err, qr/\Q$big\E:1:\d+: too big (negative )?integer/,
         "$n: and says so");
}

my $unsorted = write_file("$tmp/unsorted.jsonl", join '', map { qq({"id":"$_->[0]","name":"$_->[1]"}\n) }
    ['zz', 'last'], ['100000', 'six'], ['99999', 'five'], ['aa', 'first'],
    ['100000', 'six again']);
($st) = run_seed('--db', "$tmp/unsorted.mdb", '--from', $unsorted);
is($st, 0, 'an import in no particular order succeeds');
is_deeply(dump_db("$tmp/unsorted.mdb"), {
    zz => '{"id":"zz","name":"last"}',
    100000 => '{"id":"100000","name":"six again"}',
    99999 => '{"id":"99999","name":"five"}',
    aa => '{"id":"aa","name":"first"}',
}, 'every account is stored, and of two equal ids the later line wins');

my %before = %{ dump_db($db) };
my $bad = write_file("$tmp/bad.jsonl", <<'_EOF_');
{"id":"new-1","name":"One"}
{"id":"new-2","name":"Two"}
{"id":"new-3","name":"Three",}
{"id":"new-4","name":"Four"}
_EOF_

($st, $out, $err) = run_seed('--db', $db, '--from', $bad);
is($st, 65, 'a bad line fails the import with status 65');
like($err, qr/^account-seed: \Q$bad\E:3:30: /m,
     'the error names the file, the line and the column');
like($err, qr/nothing was written to \Q$db\E/, 'and says nothing was written');
is_deeply(dump_db($db), \%before, 'and nothing was written');

my $noid = write_file("$tmp/noid.jsonl", qq({"id":"ok","name":"x"}\n{"name":"x"}\n));
($st, $out, $err) = run_seed('--db', $db, '--from', $noid);
is($st, 65, 'a line without an id fails');
like($err, qr/\Q$noid\E:2: "id" must be a string/, 'with a clear reason');

my $badid = write_file("$tmp/badid.jsonl", qq({"id":"a/b","name":"x"}\n));
($st, $out, $err) = run_seed('--db', $db, '--from', $badid);
is($st, 65, 'an id the service could not serve fails');
like($err, qr/:1: invalid "id": the id contains a slash/, 'with the id rule');

($st, $out, $err) = run_seed('--db', $db, '--from', "$tmp/missing.jsonl");
is($st, 66, 'a missing input file is status 66');
like($err, qr/\Q$tmp\E\/missing.jsonl: No such file or directory/,
     'naming the file');

($st, $out, $err) = run_seed('--count', 3);
is($st, 64, '--db is required');
like($err, qr/--db PATH is required/, 'and the error says so');

($st, $out, $err) = run_seed('--db', $db, '--count', 'many');
is($st, 64, 'a bad --count is a usage error');
like($err, qr/--count: "many" is not a number/, 'which says it is not a number');

($st, $out, $err) = run_seed('--db', $db, '--count', '4611686018427387904');
is($st, 64, 'a --count above 2^62 - 1 is a usage error');
like($err, qr/--count: "4611686018427387904" is out of range \(at most 4611686018427387903\)/,
     'which says it is out of range, and what the range is');

($st, $out, $err) = run_seed('--db', $db, '--start', '99999999999999999999');
is($st, 64, 'a --start beyond 64 bits is a usage error');
like($err, qr/--start: "99999999999999999999" is out of range/,
     'which says it is out of range');

%before = %{ dump_db($db) };
for my $args (['--count', 5, '--start', 7], ['--count', 5], ['--start', 7]) {
    ($st, $out, $err) = run_seed('--db', $db, @$args, '--from', '/dev/null');
    is($st, 64, "@$args with --from is a usage error");
    like($err, qr/--count and --start generate accounts, --from imports them: not both/,
         "@$args with --from: the error says why");
    like($err, qr/^Usage: /m, "@$args with --from: and shows the usage");
}
is_deeply(dump_db($db), \%before, 'and nothing was written');

($st, $out, $err) = run_seed('--db', $db, 'extra');
is($st, 64, 'a stray argument is a usage error');

{
    # in a folder of its own: LMDB would name the lock file "-lock"
    my $here = getcwd();
    chdir $tmp or die "$tmp: $!";
    ($st, $out, $err) = run_seed('--db=', '--count', 1);
    ok(!-e '-lock', 'an empty --db makes no lock file named "-lock"');
    chdir $here or die "$here: $!";
    is($st, 64, 'an empty --db is a usage error');
    like($err, qr/^account-seed: --db: the path is empty$/m, 'which says so');
}

# getopt's refusals, under the tool's name like every other message
for my $case ([['--bogus'], 'unknown option --bogus'],
              [['--bogus=1'], 'unknown option --bogus'],
              [['-x'], 'unknown option -x'],
              [['-qx'], 'unknown option -x'],
              [['--db'], 'option -d (--db) needs an argument'],
              [['--db', $db, '-n'], 'option -n (--count) needs an argument'],
              [['--quiet=1'], 'option --quiet takes no argument'])
{
    my ($args, $says) = @$case;
    ($st, $out, $err) = run_seed(@$args);
    is($st, 64, "@$args: a usage error");
    like($err, qr/^account-seed: \Q$says\E\n/, "@$args: says '$says'")
        or diag($err);
    like($err, qr/^Usage: /m, "@$args: and shows the usage");
}
is_deeply(dump_db($db), \%before, 'and nothing was written');

($st, $out) = run_seed('--help');
is($st, 0, '--help succeeds');
like($out, qr/--from FILE/, '--help documents --from');
like($out, qr/Exit status/, '--help documents the exit status');

($st, $out, $err) = run_seed('--db', "$tmp/no/such/dir/a.mdb");
is($st, 1, 'a database in a missing directory is status 1');
like($err, qr/No such file or directory/, 'with the reason');

# standard input
my $in = "$tmp/in.jsonl";
write_file("$tmp/in.jsonl", qq({"id":"stdin-1","name":"S"}\n));
$out = `$seed --db $db --from - < $in`;
is($out, "Imported 1 account from (stdin): 1 new, 0 replaced\n",
   '--from - reads standard input');
is(dump_db($db)->{'stdin-1'}, '{"id":"stdin-1","name":"S"}', 'and stores it');

# progress on a terminal only (script(1) gives the seeder one)
SKIP: {
    skip 'script(1) is not installed', 2 if system('command -v script >/dev/null') != 0;

    my $tty = `script -qec '$seed --db $tmp/tty.mdb --count 300000' /dev/null`;
    like($tty, qr/\r300000 accounts, \d+\/s/,
         'on a terminal, progress shows the count and the rate');

    ($st, $out, $err) = run_seed('--db', "$tmp/notty.mdb", '--count', 300000);
    is($err, '', 'and nothing when stderr is not a terminal');
}

done_testing();
