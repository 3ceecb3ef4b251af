# Least privilege for the data: what the workers (here "nobody") need for
# each way of shipping the database.
#
#   baked in, nobody writes it     account_db PATH lock=off; read access only
#   on a read-only filesystem      no lock=off needed: LMDB skips the lock
#                                  file when opening it fails with EROFS
#   seeded live                    the workers write PATH-lock (LMDB's reader
#                                  table), never the database itself
#
# Needs root (to run the workers as another user and to mount a tmpfs).

use strict;
use warnings;

use lib 'scripts/faults';
use FaultNginx;
use File::Temp qw(tempdir);
use Test::More;

plan skip_all => 'needs root' if $> != 0;

my ($uid, $gid) = (getpwnam('nobody'))[2, 3];
my $user = 'nobody nogroup';
my $tmp = tempdir(CLEANUP => 1);
chmod 0755, $tmp;
my $port = 19037;

# a database of root's in its own directory, with the given mode, and a
# lock file of the workers'
sub live_db {
    my ($name, $mode) = @_;
    mkdir "$tmp/$name", 0755 or die $!;
    my $db = "$tmp/$name/accounts.mdb";
    seed($db, '--count', 10);
    chown $uid, $gid, "$db-lock" or die $!;
    chmod $mode, $db or die $!;
    return $db;
}

# a group that "nobody" is made a member of, removed at the end
my $group = "accounttest$$";
my $made_group;
END { system("groupdel $group") if $made_group }

sub lookup {
    my ($n, $id) = @_;
    my $r = probe($n, "/accounts/$id");
    return "$r->{status} $r->{body}";
}

# 1. a directory the workers cannot write, no lock file, lock=off

{
    my $dir = "$tmp/baked";
    mkdir $dir, 0755 or die $!;
    seed("$dir/accounts.mdb", '--count', 10);
    unlink "$dir/accounts.mdb-lock" or die $!;

    my $n = start_nginx(port => $port, db => "$dir/accounts.mdb",
                        db_params => 'lock=off', worker_user => $user);
    is(lookup($n, 10000), '200 {"id":"10000","name":"Person_0"}',
       'baked in, lock=off: served with read access only');
    ok(!-e "$dir/accounts.mdb-lock", 'baked in, lock=off: no lock file made');
    stop_nginx($n);

    # the same without lock=off: the workers cannot make the lock file
    $n = start_nginx(port => $port, db => "$dir/accounts.mdb",
                     worker_user => $user);
    my $r = probe($n, '/health');
    is($r->{status}, 503, 'baked in, without lock=off: /health is 503');
    like($r->{body}, qr/Permission denied/, 'and says why');
    like(error_log($n), qr/LMDB readers need write access to the lock file/,
         'the error log tells the operator what to change');
    like(test_config($n), qr/\[warn\] account_db "\Q$dir\E\/accounts.mdb": worker user "nobody" cannot write "\Q$dir\E"; LMDB readers need write access/,
         'baked in, without lock=off: "nginx -t" warns of it');
    stop_nginx($n);
}

# 2. a read-only filesystem: LMDB opens without a lock file

my $mounted;
END { system("umount $mounted") if $mounted }

SKIP: {
    my $mnt = "$tmp/ro";
    mkdir $mnt or die $!;
    system("mount -t tmpfs -o size=64m tmpfs $mnt 2>/dev/null") == 0
        or skip 'cannot mount a tmpfs here', 3;
    $mounted = $mnt;

    seed("$mnt/accounts.mdb", '--count', 10);
    unlink "$mnt/accounts.mdb-lock" or die $!;
    system("mount -o remount,ro $mnt") == 0 or die "remount ro failed\n";

    my $n = start_nginx(port => $port, db => "$mnt/accounts.mdb",
                        worker_user => $user);
    ok(!open(my $w, '>', "$mnt/probe") && $!{EROFS},
       'read-only filesystem: it refuses writes (EROFS)');
    is(lookup($n, 10009), '200 {"id":"10009","name":"Person_9"}',
       'read-only filesystem: served without lock=off');
    is_deeply([grep { /\[error\]/ } split /\n/, error_log($n)], [],
              'read-only filesystem: no error logged');
    stop_nginx($n);

    system("umount $mnt") == 0 or diag("umount $mnt failed");
    undef $mounted;
}

# 3. seeded live: the workers own the lock file, root owns the database
# ("nginx -t" has nothing to warn of)

{
    my $db = live_db('live', 0644);

    my $n = start_nginx(port => $port, db => $db, worker_user => $user);
    is(lookup($n, 10000), '200 {"id":"10000","name":"Person_0"}',
       'seeded live: served with write access to the lock file only');
    my $t = test_config($n);
    like($t, qr/test is successful/, 'seeded live: "nginx -t" passes');
    unlike($t, qr/\[warn\]/, 'seeded live: and warns of nothing');

    seed($db, '--count', 1, '--start', 777);
    is(lookup($n, 777), '200 {"id":"777","name":"Person_0"}',
       'seeded live: a seed by another user is served at once');

    # what the workers hold the database open for: O_RDONLY is 0
    my @modes;
    for my $pid (AccountTest::processes(nginx_pid($n))) {
        opendir my $dh, "/proc/$pid/fd" or next;
        for my $fd (grep { /^\d+$/ } readdir $dh) {
            my $target = readlink "/proc/$pid/fd/$fd";
            next unless defined $target && $target eq $db;
            open my $fi, '<', "/proc/$pid/fdinfo/$fd" or next;
            my ($flags) = do { local $/; <$fi> } =~ /^flags:\s+([0-7]+)/m;
            push @modes, oct($flags) & 3;
        }
    }
    ok(@modes && !grep({ $_ } @modes),
       'seeded live: the workers open the database read-only '
       . "(access modes: @modes)");
    is_deeply([grep { /\[error\]/ } split /\n/, error_log($n)], [],
              'seeded live: no error logged');
    stop_nginx($n);
}

# 4. the lock file is the workers', the database file is not readable to
# them: the error names the database file, not the lock file

{
    my $db = live_db('unreadable', 0600);

    my $n = start_nginx(port => $port, db => $db, worker_user => $user);
    my $r = probe($n, '/accounts/10000');
    is($r->{status}, 503, 'unreadable database: 503');
    like(error_log($n), qr/cannot be opened by worker user "nobody": Permission denied \(the database file itself is not readable\)/,
         'unreadable database: the error names the database file');
    unlike(error_log($n), qr/write access to the lock file/,
           'unreadable database: and not the lock file');
    my $t = test_config($n);
    like($t, qr/\[warn\] account_db "\Q$db\E": worker user "nobody" cannot read it/,
         'unreadable database: "nginx -t" warns of it');
    unlike($t, qr/cannot write/, 'unreadable database: and not of the lock file');

    # a group of the worker user's may read it: no warning
    chown 0, $gid, $db or die $!;
    chmod 0640, $db;
    $t = test_config($n);
    like($t, qr/test is successful/, 'readable by the worker\'s group: "nginx -t" passes');
    unlike($t, qr/cannot read/,
           'readable by the worker\'s group: "nginx -t" has no warning');

    # so may a supplementary group of the worker user's, made for the test
    if (system("groupadd --system $group >/dev/null 2>&1") == 0) {
        $made_group = 1;
        system("usermod -a -G $group nobody") == 0 or die "usermod failed";
        chown 0, scalar getgrnam($group), $db or die $!;
        $t = test_config($n);
        like($t, qr/test is successful/,
             'readable by a supplementary group: "nginx -t" passes');
        unlike($t, qr/cannot read/,
               'readable by a supplementary group: "nginx -t" has no warning');
        chown 0, 0, $db or die $!;
        like(test_config($n), qr/worker user "nobody" cannot read it/,
             'readable by a group the worker user is not in: "nginx -t" warns');
    } else {
        diag('groupadd failed: the supplementary group case is left out');
    }

    # the owner's bits win over the others': an owner without read access
    # is refused whatever the others may do
    chown $uid, 0, $db or die $!;
    chmod 0004, $db;
    like(test_config($n), qr/worker user "nobody" cannot read it/,
         'owned by the worker user without read access: "nginx -t" warns');
    stop_nginx($n);
}

done_testing();
