# account-seed against hostile JSON Lines: every bad input is refused with
# exit status 65, a "file:line" message and nothing committed; the odd but
# valid ones (no final newline, a BOM, CRLF, duplicate ids) are imported.

use strict;
use warnings;

use lib 't/lib';
use AccountTest qw(run_seed dump_db);
use File::Temp qw(tempdir);
use Test::More;

my $seed = AccountTest::seed_tool();
my $tmp = tempdir(CLEANUP => 1);


my $n = 0;

sub write_file {
    my ($text) = @_;
    my $name = "$tmp/in" . $n++ . ".jsonl";
    open my $fh, '>:raw', $name or die $!;
    print $fh $text;
    close $fh;
    return $name;
}

my $db = "$tmp/accounts.mdb";
AccountTest::seed($db, '--count', 10);
my $base = dump_db($db);

# refused($title, $input, $line, $reason): exit 65, "file:line[:col]:
# reason", "nothing was written", and the database as it was; returns what
# account-seed printed on stderr
sub refused {
    my ($title, $text, $line, $reason) = @_;
    my $file = write_file($text);
    my ($st, $out, $err) = run_seed('--db', $db, '--from', $file);
    is($st, 65, "$title: exit status 65");
    like($err, qr/^account-seed: \Q$file\E:$line:(\d+:)? .*$reason/m,
         "$title: the message names $file:$line and says why")
        or diag($err);
    like($err, qr/nothing was written to \Q$db\E/,
         "$title: the message says nothing was written");
    is_deeply(dump_db($db), $base, "$title: nothing was committed");
    return $err;
}

# imported($title, $input, { id => document }): exit 0, those documents
sub imported {
    my ($title, $text, $want) = @_;
    my $file = write_file($text);
    my ($st, $out, $err) = run_seed('--db', $db, '--from', $file, '--quiet');
    is($st, 0, "$title: exit status 0") or diag($err);
    my $kv = dump_db($db);
    is_deeply({ map { $_ => $kv->{$_} } keys %$want }, $want,
              "$title: the accounts are stored");
    $base = $kv;
}

my $ok = qq({"id":"ok-1","name":"One"}\n);

# empty and blank inputs

{
    my $file = write_file('');
    my ($st, $out, $err) = run_seed('--db', $db, '--from', $file);
    is($st, 0, 'an empty file: exit status 0 (nothing to do)');
    like($err, qr/\Q$file\E: no accounts in the input/,
         'an empty file: a warning names the file');
    is_deeply(dump_db($db), $base, 'an empty file: nothing was committed');
    ($st, $out, $err) = run_seed('--db', $db, '--from', $file, '--quiet');
    is("$st $out$err", '0 ', 'an empty file, --quiet: exit 0, no warning');

    $file = write_file("\n \n\t\r\n\r\n");
    ($st, $out, $err) = run_seed('--db', $db, '--from', $file);
    is($st, 0, 'only blank lines: exit status 0');
    like($err, qr/no accounts in the input/, 'only blank lines: a warning');
    is_deeply(dump_db($db), $base, 'only blank lines: nothing was committed');

    # an empty database would be served, as 404s; none is 503s
    my $fresh = "$tmp/fresh.mdb";
    ($st, $out, $err) = run_seed('--db', $fresh, '--from', '/dev/null');
    is($st, 0, '/dev/null into a new database: exit status 0');
    my $says = "$fresh was not created: no accounts to write";
    like($err, qr/^account-seed: \Q$says\E$/m,
         '/dev/null into a new database: says it was not created');
    is($out, '', '/dev/null into a new database: and no "Imported 0"');
    ($st, $out, $err) = run_seed('--db', $fresh, '--count', 0);
    is("$st $out", '0 ', '--count 0 into a new database: exit 0, no '
       . '"Seeded 0"');
    like($err, qr/^account-seed: \Q$says\E$/m,
         '--count 0 into a new database: says it was not created');
    ok(!-e $fresh && !-e "$fresh-lock",
       '/dev/null into a new database: neither it nor its lock file is made');
    ($st, $out, $err) = run_seed('--db', $fresh, '--from', '/dev/null',
                                 '--quiet');
    is("$st $out$err", '0 ', '/dev/null into a new database, --quiet: '
       . 'exit 0, nothing said');
    ok(!-e $fresh && !-e "$fresh-lock",
       '/dev/null into a new database, --quiet: nothing made');
}

# a first import that fails leaves no database (nor lock file) behind

{
    my $bad = write_file($ok . qq({"id":"x",\n));
    my $fresh = "$tmp/first.mdb";
    my ($st, $out, $err) = run_seed('--db', $fresh, '--from', $bad);
    is($st, 65, 'a bad line into a new database: exit status 65');
    like($err, qr/nothing was written to \Q$fresh\E/,
         'a bad line into a new database: nothing was written');
    ok(!-e $fresh && !-e "$fresh-lock",
       'a bad line into a new database: neither it nor its lock file is left');

    my $out2 = `cat $bad | $seed --db $fresh --from - 2>&1`;
    is($? >> 8, 65, 'a bad line through a pipe into a new database: 65')
        or diag($out2);
    ok(!-e $fresh && !-e "$fresh-lock",
       'a bad line through a pipe into a new database: nothing is left');

    # a lock file made beforehand (for its owner and mode) is kept
    open my $fh, '>', "$fresh-lock" or die "$fresh-lock: $!";
    close $fh;
    chmod 0660, "$fresh-lock";
    ($st) = run_seed('--db', $fresh, '--from', $bad);
    is($st, 65, 'a bad line into a new database with a lock file: 65');
    ok(!-e $fresh, 'a bad line into a new database with a lock file: '
                   . 'the database is not left');
    is(-e "$fresh-lock" && (stat _)[2] & 07777, 0660,
       'a bad line into a new database with a lock file: the lock file '
       . 'made beforehand stays, as it was');
    unlink "$fresh-lock";

    # a database that exists keeps its lock file, whoever made it
    unlink "$db-lock";
    ($st) = run_seed('--db', $db, '--from', $bad);
    is($st, 65, 'a bad line into a database without its lock file: 65');
    ok(-e "$db-lock", 'a bad line into a database without its lock file: '
                      . 'the lock file made stays beside the database');
    is_deeply(dump_db($db), $base, 'a bad line into a database without its '
              . 'lock file: nothing was committed');

    my $dir = "$tmp/a-dir";
    mkdir $dir or die $!;
    for my $path ($dir, "$dir/") {
        ($st, $out, $err) = run_seed('--db', $path, '--count', 1);
        is($st, 1, "--db naming a directory ($path): exit status 1");
        like($err, qr/^account-seed: \Q$path\E: Is a directory$/m,
             "--db naming a directory ($path): says so");
        ok(!-e "$path-lock",
           "--db naming a directory ($path): no $path-lock is left");
    }
}

# line endings and byte order marks

imported('no newline after the last line',
         qq({"id":"nl-1","name":"A"}\n{"id":"nl-2","name":"B"}),
         { 'nl-1' => '{"id":"nl-1","name":"A"}',
           'nl-2' => '{"id":"nl-2","name":"B"}' });

refused('a truncated last line without a newline',
        qq({"id":"tr-1","name":"A"}\n{"id":"tr-2","name":"B"),
        2, q(\}' expected near end of file));

imported('CRLF line endings',
         qq({"id":"crlf-1","name":"A"}\r\n{"id":"crlf-2","name":"B"}\r\n),
         { 'crlf-1' => '{"id":"crlf-1","name":"A"}',
           'crlf-2' => '{"id":"crlf-2","name":"B"}' });

imported('a UTF-8 BOM opening the file',
         qq(\xef\xbb\xbf{"id":"bom-1","name":"A"}\n),
         { 'bom-1' => '{"id":"bom-1","name":"A"}' });

imported('a UTF-8 BOM opening a file whose first line is blank',
         qq(\xef\xbb\xbf\n{"id":"bom-2","name":"A"}\n),
         { 'bom-2' => '{"id":"bom-2","name":"A"}' });

refused('a UTF-8 BOM on the second line',
        $ok . qq(\xef\xbb\xbf{"id":"bom-3","name":"A"}\n), 2,
        q(\[' or '\{' expected));

refused('two UTF-8 BOMs', qq(\xef\xbb\xbf\xef\xbb\xbf$ok), 1,
        q(\[' or '\{' expected));

refused('a UTF-16LE BOM and text', qq(\xff\xfe{\0"\0i\0d\0"\0), 1,
        'unable to decode byte 0xff');

refused('a lone CR as the line separator',
        qq({"id":"cr-1","name":"A"}\r{"id":"cr-2","name":"B"}\r), 1,
        q(end of file expected near '\{'));

# duplicate ids and members

imported('a duplicate id: the last line wins',
         qq({"id":"dup","name":"first"}\n{"id":"x-1","name":"X"}\n)
         . qq({"id":"dup","name":"last"}\n),
         { 'dup' => '{"id":"dup","name":"last"}',
           'x-1' => '{"id":"x-1","name":"X"}' });

refused('a duplicate "id" member in one object',
        qq({"id":"d-1","id":"d-2","name":"A"}\n), 1, 'duplicate');

# ids that are not strings, or not ids

for my $case (['a number', '1'], ['null', 'null'], ['true', 'true'],
              ['an array', '["a"]'], ['an object', '{"v":"a"}'],
              ['a float', '1.5e3'])
{
    refused("an id that is $case->[0]",
            $ok . qq({"id":$case->[1],"name":"A"}\n), 2,
            '"id" must be a string');
}

refused('a missing id', $ok . qq({"name":"A"}\n), 2, '"id" must be a string');
refused('a name that is a number', qq({"id":"n","name":7}\n), 1,
        '"name" must be a string');
refused('an empty id', qq({"id":"","name":"A"}\n), 1, 'the id is empty');
refused('an id of 129 bytes', qq({"id":"${\ ('x' x 129)}","name":"A"}\n), 1,
        'longer than 128 bytes');
imported('an id of 128 bytes', qq({"id":"${\ ('y' x 128)}","name":"A"}\n),
         { 'y' x 128 => qq({"id":"${\ ('y' x 128)}","name":"A"}) });
refused('an escaped NUL in the id', qq({"id":"a\\u0000b","name":"A"}\n), 1,
        q(\\\\u0000 is not allowed));
refused('a slash in the id', qq({"id":"a\\/b","name":"A"}\n), 1,
        'contains a slash');
refused('a dot-dot id', qq({"id":"..","name":"A"}\n), 1, "'\\.' or '\\.\\.'");
refused('a non-ASCII id', qq({"id":"caf\\u00e9","name":"A"}\n), 1,
        'may only contain');

# not one JSON object

refused('an array line', qq([{"id":"a","name":"A"}]\n), 1,
        'expected a JSON object');
refused('a string line', qq("just text"\n), 1, 'expected');
refused('two objects on one line',
        qq({"id":"a","name":"A"}{"id":"b","name":"B"}\n), 1,
        'end of file expected');
refused('a trailing comma', qq({"id":"a","name":"A",}\n), 1,
        q(string or '\}' expected));
refused('JSON nested 100000 deep',
        qq({"id":"deep","name":"A","x":) . ('[' x 100000) . (']' x 100000)
        . qq(}\n), 1, 'maximum parsing depth reached');
refused('binary garbage', join('', map { chr(($_ * 37 + 11) % 256) } 1 .. 4096),
        1, q(\[' or '\{' expected));

# bytes that are not UTF-8

refused('a 0xFF byte in a name', qq({"id":"u-1","name":"A\xffB"}\n), 1,
        'unable to decode byte 0xff');
refused('an overlong UTF-8 slash in a name',
        qq({"id":"u-2","name":"\xc0\xaf"}\n), 1, 'unable to decode byte 0xc0');
refused('a UTF-8 encoded surrogate in a name',
        qq({"id":"u-3","name":"\xed\xa0\x80"}\n), 1,
        'unable to decode byte 0xed');
refused('a lone escaped surrogate in a name',
        qq({"id":"u-4","name":"\\ud800"}\n), 1, q(invalid Unicode '\\\\uD800'));
refused('a raw NUL byte in a name', qq({"id":"u-5","name":"A\0B"}\n), 1,
        'control character 0x0');
refused('a raw control byte in a name', qq({"id":"u-6","name":"A\x01B"}\n),
        1, 'control character 0x1');
refused('a Latin-1 byte in an id', qq({"id":"caf\xe9","name":"A"}\n), 1,
        'unable to decode byte 0xe9');

# huge lines

{
    my $pad = 1024 * 1024 - length(qq({"id":"big-1","name":""}));
    imported('a line of exactly 1 MiB',
             qq({"id":"big-1","name":"${\ ('n' x $pad)}"}\n),
             { 'big-1' => qq({"id":"big-1","name":"${\ ('n' x $pad)}"}) });

    refused('a line of 1 MiB and one byte',
            $ok . qq({"id":"big-2","name":"${\ ('n' x ($pad + 1))}"}\n), 2,
            'longer than 1048576 bytes');

    refused('a 64 MiB line without a newline',
            $ok . ('z' x (64 * 1024 * 1024)), 2, 'longer than 1048576 bytes');

    refused('a 5 MiB line without a newline',
            $ok x 3 . ('z' x (5 * 1024 * 1024)), 4,
            'the line is longer than 1048576 bytes');
}

# inputs that never end, or might as well not: an import stops reading a
# line once it is longer than a line may be (blanks at its end aside)

for my $case (['/dev/zero as the input', "$seed --db $db --from /dev/zero",
               '/dev/zero:1'],
              ['50 MB of zeros through a pipe',
               "head -c 50000000 /dev/zero | $seed --db $db --from -",
               '\(stdin\):1'],
              ['a pipe that never ends',
               "cat /dev/zero | $seed --db $db --from -", '\(stdin\):1'],
              ['a good line, then a pipe that never ends',
               "cat ${\ write_file($ok)} /dev/zero | $seed --db $db --from -",
               '\(stdin\):2'])
{
    my ($what, $cmd, $where) = @$case;
    my $err = `timeout -s KILL 120 sh -c '$cmd' 2>&1`;
    is($? >> 8, 65, "$what: exit status 65") or diag($err);
    like($err,
         qr/^account-seed: $where: the line is longer than 1048576 bytes$/m,
         "$what: the message names the line and says it is too long");
    like($err, qr/nothing was written to \Q$db\E/,
         "$what: the message says nothing was written");
    is_deeply(dump_db($db), $base, "$what: nothing was committed");
}

{
    # blanks at the end of a line do not count: 5 MiB of them, then more
    my $what = 'a line ending in 5 MiB of blanks, through a pipe';
    my $file = write_file(qq({"id":"blank-1","name":"B"})
                          . (' ' x (5 * 1024 * 1024)) . "\r\n" . $ok);
    my $out = `cat $file | $seed --quiet --db $db --from - 2>&1`;
    is($?, 0, "$what: exit status 0") or diag($out);
    my $kv = dump_db($db);
    is($kv->{'blank-1'}, '{"id":"blank-1","name":"B"}', "$what: is stored");
    $base = $kv;

    refused('a line of 5 MiB of blanks and then a byte',
            qq({"id":"blank-2","name":"B"}) . (' ' x (5 * 1024 * 1024)) . "x\n",
            1, 'the line is longer than 1048576 bytes');
}

# input that is not a file is checked as it is copied: its first bad line
# ends the copy, however much of the input is left (or never ends)

my $endless = write_file(<<'PERL');
print qq({"id":"a","name":"b"}\n{"id":\n);
print qq({"id":"c","name":"d"}\n) while 1;
PERL

for my $case (['a pipe of "y" lines that never ends', "yes", 1,
               q('\\[' or '\\{' expected near 'y')],
              ['a good line, a bad one, then good ones that never end',
               "perl $endless", 2, 'unexpected token'])
{
    my ($what, $gen, $line, $why) = @$case;
    my $err = `timeout -s KILL 120 sh -c '$gen | $seed --db $db --from -' 2>&1`;
    is($? >> 8, 65, "$what: exit status 65") or diag($err);
    like($err, qr/^account-seed: \(stdin\):$line:\d+: $why/m,
         "$what: the message names the line") or diag($err);
    like($err, qr/nothing was written to \Q$db\E/,
         "$what: the message says nothing was written");
    is_deeply(dump_db($db), $base, "$what: nothing was committed");
}

# inputs that are not files of lines

{
    my ($st, $out, $err) = run_seed('--db', $db, '--from', $tmp);
    is($st, 66, 'a directory as input fails with status 66, as one that cannot be opened');
    like($err, qr/\Q$tmp\E: read error: Is a directory/, 'naming it and saying why');
    is_deeply(dump_db($db), $base, 'a directory as input: nothing committed');
}

# after all of that the database opens and takes a good import

imported('a good import after the refused ones', $ok,
         { 'ok-1' => '{"id":"ok-1","name":"One"}' });

# inputs of several blocks: account-seed reads whole lines 1 MiB at a time
# (SEED_BLOCK_SIZE), parses the blocks on every CPU and stores them in the
# order of the file; each input below is 2 to 4 blocks long, and goes to a
# database of ten accounts of its own

my $dbs = 0;

sub fresh_db {
    $db = "$tmp/blocks" . $dbs++ . ".mdb";
    AccountTest::seed($db, '--count', 10);
    $base = dump_db($db);
}

# line($prefix, $i): a good line of about 40 bytes, id "$prefix-$i"
sub line {
    my ($prefix, $i) = @_;
    return qq({"id":"$prefix-$i","name":"Person_$i"});
}

# lines($prefix, $from, $to): those lines, "$prefix-$from" to "$prefix-$to"
sub lines {
    my ($prefix, $from, $to) = @_;
    return join '', map { line($prefix, $_) . "\n" } $from .. $to;
}

# lines in about 1 MiB
my $mib = 27000;

fresh_db();
imported('a duplicate id in two blocks: the later line wins',
         qq({"id":"dup-b","name":"first"}\n) . lines('db', 1, 2 * $mib)
         . qq({"id":"dup-b","name":"last"}\n)
         . lines('db', 2 * $mib + 1, 3 * $mib),
         { 'dup-b' => '{"id":"dup-b","name":"last"}',
           map { ("db-$_" => line('db', $_)) } 1, $mib, 3 * $mib });
is(scalar keys %$base, 10 + 3 * $mib + 1,
   'a duplicate id in two blocks: every other line is stored once');

fresh_db();
refused('a bad line in the third block, the first two good',
        lines('bad3', 1, 2 * $mib + 500) . qq({"id":"bad3-x","name":}\n)
        . lines('bad3', 2 * $mib + 502, 3 * $mib),
        2 * $mib + 501, 'unexpected token');

{
    fresh_db();
    my $err = refused('bad lines in the second and the fourth block: the '
                      . 'first is reported',
                      lines('two', 1, $mib + 100)
                      . qq({"id":"two/1","name":"A"}\n)
                      . lines('two', $mib + 102, 3 * $mib)
                      . qq({"name":"no id"}\n)
                      . lines('two', 3 * $mib + 2, 3 * $mib + 10),
                      $mib + 101, 'contains a slash');
    my @bad = $err =~ /^account-seed: .*:\d+(?::\d+)?: /mg;
    is(scalar @bad, 1, 'bad lines in two blocks: only the first is reported')
        or diag($err);
}

fresh_db();
refused('a bad last line of the last block, without a newline',
        lines('badnl', 1, 2 * $mib) . qq({"id":"badnl-x"),
        2 * $mib + 1, q(\}' expected near end of file));

{
    fresh_db();
    my $pad = 1024 * 1024 - length(qq({"id":"long-1","name":""}));
    my $long = qq({"id":"long-1","name":"${\ ('n' x $pad)}"});

    imported('lines longer than a block, between short ones',
             lines('long', 2, 1000) . "$long\n" . lines('long', 1001, 2000)
             . qq({"id":"long-0","name":"blanks"}) . (' ' x (2 * 1024 * 1024))
             . "\n" . lines('long', 2001, 3000),
             { 'long-1' => $long,
               'long-0' => '{"id":"long-0","name":"blanks"}',
               map { ("long-$_" => line('long', $_)) } 1000, 1001, 3000 });
}

fresh_db();
imported('several blocks, no newline after the last line',
         lines('nonl', 1, 2 * $mib) . qq({"id":"nonl-end","name":"End"}),
         { 'nonl-end' => '{"id":"nonl-end","name":"End"}',
           'nonl-1' => line('nonl', 1) });

fresh_db();
imported('several blocks of CRLF lines and blank lines',
         join('', map { line('crlf', $_) . "\r\n\r\n" } 1 .. 2 * $mib),
         { map { ("crlf-$_" => line('crlf', $_)) } 1, $mib, 2 * $mib });

{
    # the first line is a block of its own: the second opens the next block
    fresh_db();
    my $pad = 1024 * 1024 - 1 - length(qq({"id":"bom-b1","name":""}));
    refused('a UTF-8 BOM opening the second block, not the file',
            qq({"id":"bom-b1","name":"${\ ('n' x $pad)}"}\n)
            . qq(\xef\xbb\xbf{"id":"bom-b2","name":"A"}\n)
            . lines('bom', 1, 10),
            2, q(\[' or '\{' expected));
}

{
    fresh_db();
    my $file = write_file(lines('pipe', 1, 3 * $mib));
    my $out = `cat $file | $seed --db $db --from - 2>&1`;
    is($?, 0, 'several blocks through a pipe: exit status 0') or diag($out);
    is($out, 'Imported ' . 3 * $mib . ' accounts from (stdin): '
             . 3 * $mib . " new, 0 replaced\n",
       'several blocks through a pipe: all are imported');
    is(dump_db($db)->{'pipe-' . 3 * $mib}, line('pipe', 3 * $mib),
       'several blocks through a pipe: the last line is stored');
}

# floats that jansson renders in 23 bytes each, given in 6: a map estimated
# from the input's size is too small for them
my $floats = do {
    my $x = join ',', ('1e300') x 200;
    join '', map { qq({"id":"float-$_","name":"F","x":[$x]}\n) } 1 .. 5000;
};

{
    # the import starts again with a map twice as large, reading the file
    # from the start
    my $text = $floats;
    my $fresh = "$tmp/float.mdb";
    my $file = write_file($text);
    my ($st, $out, $err) = run_seed('--db', $fresh, '--from', $file);
    is($st, 0, 'an import that outgrows its first map: exit status 0')
        or diag($err);
    my $kv = dump_db($fresh);
    is(scalar keys %$kv, 5000,
       'an import that outgrows its first map: every account is stored');
    like($kv->{'float-5000'},
         qr/^\{"id":"float-5000","name":"F","x":\[1\.0+1e300,/,
         'an import that outgrows its first map: the last one whole');
    my ($map) = `mdb_stat -n -e $fresh` =~ /Map size: (\d+)/;
    cmp_ok($map, '>=', 2 * (2 * length($text) + 16 * 1024 * 1024),
           'an import that outgrows its first map: the map was doubled');
}

for my $from ('-', '/dev/stdin') {
    # a pipe cannot be read twice: it is first copied into an unnamed file
    # beside the database, and that copy is read again
    my $what = "an import through a pipe ($from) that outgrows its first map";
    my $fresh = "$tmp/float-pipe.mdb";
    unlink $fresh, "$fresh-lock";
    my $file = write_file($floats);
    my $out = `cat $file | $seed --db $fresh --from $from 2>&1`;
    is($?, 0, "$what: exit status 0") or diag($out);
    my $name = $from eq '-' ? '(stdin)' : $from;
    is($out, "Imported 5000 accounts from $name: 5000 new, 0 replaced\n",
       "$what: all are imported, each once");
    my $kv = dump_db($fresh);
    is(scalar keys %$kv, 5000, "$what: every account is stored");
    my ($map) = `mdb_stat -n -e $fresh` =~ /Map size: (\d+)/;
    cmp_ok($map, '>=', 2 * (2 * length($floats) + 16 * 1024 * 1024),
           "$what: the map was doubled");
    opendir my $dh, $tmp or die $!;
    is_deeply([grep { /^\.account-seed-/ } readdir $dh], [],
              "$what: no copy is left beside the database");
}

{
    # the shell has read the first line: the import, and its start again
    # with a larger map, begin where standard input stood
    my $what = 'standard input at an offset, outgrowing its first map';
    my $fresh = "$tmp/float-offset.mdb";
    unlink $fresh, "$fresh-lock";
    my $file = write_file(qq({"id":"before","name":"B"}\n) . $floats);
    my $out = `{ read -r line; $seed --db $fresh --from -; } < $file 2>&1`;
    is($?, 0, "$what: exit status 0") or diag($out);
    my $kv = dump_db($fresh);
    is(scalar keys %$kv, 5000, "$what: every account after it is stored");
    ok(!exists $kv->{before}, "$what: the line the shell read is not");
    my ($map) = `mdb_stat -n -e $fresh` =~ /Map size: (\d+)/;
    cmp_ok($map, '>=', 2 * (2 * length($floats) + 16 * 1024 * 1024),
           "$what: the map was doubled (the import started again)");
}

{
    my $what = 'an input file that fails to read';
    my $before = dump_db($db);
    my ($st, $out, $err) = run_seed('--db', $db, '--from', '/proc/self/mem');
    is($st, 66, "$what: exit status 66");
    like($err, qr{^account-seed: /proc/self/mem: read error: }m,
         "$what: says so");
    is_deeply(dump_db($db), $before, "$what: nothing was committed");
}

{
    my $what = 'a pipe with nowhere to copy it';
    my $out = `echo '{"id":"a","name":"b"}' | $seed --db $tmp/none/x.mdb --from - 2>&1`;
    is($? >> 8, 1, "$what: exit status 1");
    is($out, "account-seed: cannot copy (stdin) into $tmp/none, to be able "
             . "to read it again: No such file or directory\n"
             . "account-seed: nothing was written to $tmp/none/x.mdb\n",
       "$what: says so");
}

{
    # a chunk is 1,048,576 accounts, sorted and stored together; the next
    # chunk begins inside a block, with a duplicate id on either side of it
    my $n = 1024 * 1024;
    my $big = "$tmp/chunks.jsonl";
    open my $fh, '>', $big or die $!;
    for my $i (1 .. $n + 5000) {
        my $id = ($i == 10 || $i == $n + 100) ? 'split-dup' : "c-$i";
        print $fh qq({"id":"$id","name":"N$i"}\n);
    }
    close $fh;

    my $fresh = "$tmp/chunks.mdb";
    my ($st, $out, $err) = run_seed('--db', $fresh, '--from', $big,
                                    '--quiet');
    is($st, 0, 'an import of two chunks: exit status 0') or diag($err);
    my ($entries) = `mdb_stat -n $fresh` =~ /Entries: (\d+)/;
    is($entries, $n + 5000 - 1, 'an import of two chunks: every id once');

    my %want = (map { ("c-$_" => qq({"id":"c-$_","name":"N$_"})) }
                    1, $n - 1, $n, $n + 1, $n + 5000);
    $want{'split-dup'} = qq({"id":"split-dup","name":"N${\ ($n + 100)}"});
    my %got;
    open my $dump, '-|', 'mdb_dump', '-p', '-n', $fresh or die $!;
    while (my $k = <$dump>) {
        next unless $k =~ /^ /;
        my $v = <$dump>;
        chomp($k, $v);
        $k =~ s/^ //;
        $v =~ s/^ //;
        $got{$k} = $v if exists $want{$k};
    }
    close $dump;
    is_deeply(\%got, \%want,
              'an import of two chunks: the later duplicate wins, the '
              . 'accounts at the boundary are whole');
}

{
    # a bad line after the first chunk of 1,048,576 accounts was stored:
    # the pages the aborted transaction wrote give their disk blocks back
    my $n = 1024 * 1024;
    my $what = 'a bad line after a chunk was stored';
    fresh_db();
    my $blocks = (stat $db)[12];
    my $file = "$tmp/late-bad.jsonl";
    open my $fh, '>', $file or die $!;
    print $fh qq({"id":"late-$_","name":"N$_"}\n) for 1 .. $n + 1000;
    print $fh qq({"id":"late-bad","name":7}\n);
    close $fh;

    my ($st, $out, $err) = run_seed('--db', $db, '--from', $file);
    is($st, 65, "$what: exit status 65");
    like($err, qr/^account-seed: \Q$file\E:${\ ($n + 1001)}:/m,
         "$what: the message names the line") or diag($err);
    is_deeply(dump_db($db), $base, "$what: nothing was committed");
    my $grown = ((stat $db)[12] - $blocks) * 512;
    cmp_ok($grown, '<', 1024 * 1024,
           "$what: the file holds no more disk blocks than before "
           . "($grown bytes more)");
}

# Out of memory: a realloc() that fails from a given size on (preloaded
# from t/lib/failrealloc.c) ends the import with the file and the line,
# exit status 1, and nothing written.  Rendering needs the room of the
# accounts of a block; keeping them for sorting, the room of up to a
# million accounts.

SKIP: {
    skip 'the sanitizers replace the allocator', 18 if $ENV{ASAN_OPTIONS};
    my $so = "$tmp/failrealloc.so";
    system('cc', '-shared', '-fPIC', '-o', $so, 't/lib/failrealloc.c',
           '-ldl') == 0 or skip 'no C compiler', 18;

    # a line longer than a block (1 MiB, and 1.5 MiB of blanks after it)
    # opening the second block: the block grows to 2 MiB for it
    my $first = qq({"id":"read-1","name":"A"}\n);
    my $padded = $first . (q( ) x (1024 * 1024 - length($first) - 1)) . "\n"
                 . qq({"id":"read-3","name":"C"}) . (' ' x 1_500_000) . "\n";

    for my $case (
        [ 'rendering', 'out of memory rendering the account', 600_000,
          join '', map { qq({"id":"big-$_","name":"${\ ('n' x 9000)}"}\n) }
                       1 .. 100 ],
        [ 'sorting', 'out of memory keeping the accounts read up to this '
                     . 'line for sorting', 8_000_000,
          lines('small', 1, 400_000) ],
        [ 'reading a line', 'the line does not fit in memory: Cannot '
                            . 'allocate memory', 2_000_000, $padded ],
    ) {
        my ($what, $says, $at, $text) = @$case;
        fresh_db();
        my $file = write_file($text);
        my $err = `FAIL_REALLOC_AT=$at LD_PRELOAD=$so $seed --db $db --from $file 2>&1 >/dev/null`;
        my $st = $? >> 8;
        my $count = () = $text =~ /\n/g;
        is($st, 1, "out of memory $what: exit status 1") or diag($err);
        like($err, qr/^account-seed: \Q$file\E:(\d+): \Q$says\E$/m,
             "out of memory $what: the message names the file and line");
        my ($line) = $err =~ /\Q$file\E:(\d+):/;
        ok(defined $line && $line > 1 && $line <= $count,
           "out of memory $what: a line of the file, past the first ("
           . ($line // '-') . " of $count)");
        like($err, qr/nothing was written to \Q$db\E/,
             "out of memory $what: the message says nothing was written");
        unlike($err, qr/^account-seed: \Q$db\E: /m,
               "out of memory $what: and no error of the database's")
            or diag($err);
        is_deeply(dump_db($db), $base, "out of memory $what: nothing was committed");
    }
}

done_testing();
