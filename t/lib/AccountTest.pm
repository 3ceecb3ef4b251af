package AccountTest;

# What every spec shares: the module and nginx binary to test, and databases
# made by the real seeding tool in a temporary folder.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

use Exporter 'import';
our @EXPORT_OK = qw(seed new_db seed_tool run_seed dump_db write_file served
                    mappings);

our $Root = abs_path(dirname(__FILE__) . '/../..');
our $Build = $ENV{ACCOUNT_BUILD} || "$Root/build";

$ENV{TEST_NGINX_BINARY} ||= '/usr/sbin/nginx';
$ENV{TEST_NGINX_LOAD_MODULES} ||= "$Build/ngx_http_account_module.so";

my $tmp = tempdir('account-test-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $n = 0;

sub seed_tool { "$Build/account-seed" }

# seed('path/to/db', '--count', 5): runs account-seed quietly, dies on failure
sub seed {
    my ($db, @args) = @_;
    system(seed_tool(), '--quiet', '--db', $db, @args) == 0
        or die "account-seed --db $db @args failed: $?\n";
}

# run_seed(ARGS): runs account-seed, returns (exit status, stdout, stderr);
# a signal is 128 + its number, as in a shell
sub run_seed {
    my $cmd = join ' ', map { quotemeta } seed_tool(), @_;
    my $out = `$cmd 2>$tmp/stderr`;
    my $status = $? >> 8;
    $status = 128 + ($? & 127) if $? & 127;
    open my $fh, '<', "$tmp/stderr" or die $!;
    local $/;
    my $err = <$fh>;
    return ($status, $out, $err);
}

# the contents of the database at the path, as { id => document }
sub dump_db {
    my ($db) = @_;
    my %kv;
    my @lines = `mdb_dump -p -n $db`;
    $? == 0 or die "mdb_dump $db failed\n";
    @lines = grep { /^ / } @lines;
    while (my ($k, $v) = splice @lines, 0, 2) {
        for ($k, $v) {
            s/^ //;
            chomp;
            s/\\(\\|[0-9a-f]{2})/$1 eq '\\' ? '\\' : chr(hex $1)/ge;
        }
        $kv{$k} = $v;
    }
    return \%kv;
}

# write_file('path/to/file', TEXT): the text as the file's bytes; the path
sub write_file {
    my ($path, $text) = @_;
    open my $fh, '>:raw', $path or die "$path: $!";
    print $fh $text;
    close $fh;
    return $path;
}

# served(): waits until the nginx of the block being run answers a request.
# Test::Nginx runs a block's --- init a few milliseconds after it started
# nginx, when the worker may not have opened the database yet; a --- init
# that changes the database under a running worker calls this first.
sub served {
    my $port = Test::Nginx::Util::server_port();
    my $deadline = time + 60;

    while (time < $deadline) {
        my $answer = eval {
            local $SIG{ALRM} = sub { die "timeout\n" };
            alarm 10;
            my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                          PeerPort => $port)
                or die "connect: $!\n";
            print $s "GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n";
            my $line = <$s>;
            alarm 0;
            $line;
        };
        alarm 0;
        return if defined $answer && $answer =~ m{^HTTP/1\.\d \d{3} };
        sleep 0.05;
    }

    die "nginx did not answer on port $port within 60s\n";
}

# processes($pid): that nginx process and its children (the workers)
sub processes {
    my ($pid) = @_;
    my @pids = ($pid);
    if (open my $ch, '<', "/proc/$pid/task/$pid/children") {
        push @pids, split ' ', scalar(<$ch>) // '';
    }
    return @pids;
}

# mappings($file[, $pid]): for each process of an nginx (by default the one
# of the Test::Nginx block being run, from its pid file) that maps $file,
# how many times it does, as "pid:count" strings
sub mappings {
    my ($file, $pid) = @_;
    my @counts;

    if (!defined $pid) {
        open my $pf, '<', $Test::Nginx::Util::PidFile
            or die "$Test::Nginx::Util::PidFile: $!\n";
        ($pid) = <$pf> =~ /(\d+)/;
        close $pf;
    }

    for my $p (processes($pid)) {
        open my $mh, '<', "/proc/$p/maps" or next;
        my $n = grep { m{ \Q$file\E$} } <$mh>;
        push @counts, "$p:$n" if $n;
    }

    return @counts;
}

# a fresh database seeded with the given account-seed arguments
sub new_db {
    my $db = "$tmp/db" . $n++ . ".mdb";
    seed($db, @_);
    return $db;
}

1;
