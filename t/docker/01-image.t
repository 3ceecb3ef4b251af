#!/usr/bin/perl
# The image: built as `make image` builds it, it serves the account contract
# on 6767, seeds the default accounts unless its volume holds a database,
# runs its workers unprivileged, stops cleanly on `docker stop`, works with a
# read-only root, builds against Debian 12's nginx too, and runs under
# docker-compose.
#
# Skipped when no Docker engine answers, or with TEST_DOCKER=0.
# TEST_DOCKER_BOOKWORM=0 leaves out the Debian 12 build.

use strict;
use warnings;

use FindBin;
use lib $FindBin::Bin;

use DockerTest;
use Test::More;
use Time::HiRes qw(time);

docker_or_skip();

my $image = 'accountservice:latest';
my $tag = "astest01-$$";
my (@containers, @volumes, $compose_up);

END {
    sh(qw(docker rm -f -v), @containers) if @containers;
    sh(qw(docker volume rm -f), @volumes) if @volumes;
    # the compose file names its volume VOLUME (default accounts, whatever
    # the project): never the default here, so that `down -v` drops the
    # test's volume and not an `accounts` volume of this engine's user
    sh({ IMAGE => $image, VOLUME => "$tag-accounts" }, 'docker-compose',
       '-p', $tag, '-f', "$REPO/docker-compose.yml", 'down', '-v')
        if $compose_up;
}

# start a container of $image, or of the image given last: its name and
# the host port of its 6767
sub start {
    my ($name, @args) = @_;
    push @args, $image unless @args && $args[-1] =~ /^accountservice:/;
    $name = "$tag-$name";
    push @containers, $name;
    sh_ok(qw(docker run -d --name), $name, '-p', '127.0.0.1::6767', @args,
          "start container $name")
        or return;
    my (undef, $port) = sh(qw(docker port), $name, '6767/tcp');
    ($port) = $port =~ /:(\d+)\s*$/m;
    return ($name, $port);
}

sub stdout_of { (sh('sh', '-c', "docker logs $_[0] 2>/dev/null"))[1] }
sub stderr_of { (sh('sh', '-c', "docker logs $_[0] 2>&1 >/dev/null"))[1] }

sub up {
    my ($port) = @_;
    return wait_until(20, sub {
        http(GET => "http://127.0.0.1:$port/health")->{status} == 200 });
}

# --- the build ---

my $t0 = time;
sh_ok({ IMAGE => $image }, "$REPO/scripts/build-image.sh",
      'scripts/build-image.sh builds accountservice:latest on Debian 13')
    or BAIL_OUT('no image to test');
note(sprintf 'build: %.0f s', time - $t0);

my $cfg = (sh(qw(docker image inspect -f),
              '{{json .Config.ExposedPorts}} {{.Config.StopSignal}} '
              . '{{json .Config.Healthcheck.Test}}', $image))[1];
like($cfg, qr/"6767\/tcp"/, 'the image exposes 6767');
like($cfg, qr/ SIGQUIT /, 'docker stop sends SIGQUIT: a graceful nginx stop');
like($cfg, qr{/health}, 'the health check asks /health');

# --- the contract, on a fresh container ---

my ($c, $port) = start('plain');
ok(up($port), 'the container answers /health');
like(stdout_of($c), qr/^Seeded 100 fake accounts\.\.\.$/m,
     'a start without a database seeds the default accounts, and says so');

my $r = http(GET => "http://127.0.0.1:$port/accounts/10000");
is($r->{status}, 200, 'GET /accounts/10000 is a 200');
is($r->{content}, '{"id":"10000","name":"Person_0"}',
   'it is Person_0, byte for byte as the Go service said it');
like($r->{headers}{'content-type'}, qr{^application/json\b},
     'as application/json');
{
    my $host = (sh(qw(docker inspect -f {{.Config.Hostname}}), $c))[1];
    chomp $host;
    is($r->{headers}{'x-served-by'}, $host,
       'X-Served-By names the container (its hostname)');
    is(http(GET => "http://127.0.0.1:$port/accounts/99999")
           ->{headers}{'x-served-by'}, $host, 'on errors too');
}

is(http(GET => "http://127.0.0.1:$port/accounts/10099")->{status}, 200,
   'the last default account is there');
is(http(GET => "http://127.0.0.1:$port/accounts/99999")->{status}, 404,
   'an unknown id is a 404');
is(http(POST => "http://127.0.0.1:$port/accounts/10000")->{status}, 405,
   'POST is a 405');
is(http(GET => "http://127.0.0.1:$port/accounts/")->{status}, 400,
   'an empty id is a 400');
$r = http(GET => "http://127.0.0.1:$port/health");
is($r->{status}, 200, '/health is a 200');

ok(wait_until(30, sub {
       (sh(qw(docker inspect -f {{.State.Health.Status}}), $c))[1]
           =~ /^healthy/ }, 1),
   'docker reports the container healthy (HEALTHCHECK)');

# uid of every nginx process: the master is root, the workers are not
sub nginx_uids {
    my ($c) = @_;
    my $ps = (sh(qw(docker exec), $c, 'sh', '-c',
                 'for f in /proc/[0-9]*/status; do grep -E "^(Name|Uid):" '
                 . '$f | tr "\n" " "; echo; done'))[1];
    my %uids;
    for (split /\n/, $ps) {
        my ($name, $uid) = /Name:\s+(\S+).*Uid:\s+(\d+)/ or next;
        $uids{$uid}++ if $name eq 'nginx';
    }
    return ($ps, %uids);
}

my ($ps, %uids) = nginx_uids($c);
my @root = grep { $_ == 0 } keys %uids;
my @other = grep { $_ != 0 } keys %uids;
is(($root[0] // 'none') . ':' . ($uids{0} // 0), '0:1',
   'one nginx process runs as root: the master');
ok(@other == 1 && $uids{$other[0]} >= 1,
   'the workers run as one unprivileged user')
    or diag($ps);
is((sh(qw(docker exec), $c, qw(id -u www-data)))[1] + 0, $other[0] // -1,
   'that user is www-data');

# worker_processes: the CPUs the container may use, or its CPU limit
my $nproc = (sh(qw(docker exec), $c, 'nproc'))[1] + 0;
is($uids{$other[0] // -1} // 0, $nproc,
   "as many workers as the container has CPUs ($nproc)");
SKIP: {
    skip 'this Docker engine cannot limit CPU time (no CFS quota)', 3
        unless (sh(qw(docker info -f {{.CPUCfsQuota}})))[1] =~ /^true/;
    my ($l, $lport) = start('cpus', qw(--cpus 1));
    ok(up($lport), 'with --cpus 1: the container answers /health');
    my (undef, %u) = nginx_uids($l);
    is(join(' ', map { "$_:$u{$_}" } sort keys %u), "0:1 $other[0]:1",
       'with --cpus 1: one worker, whatever the host has');
    sh(qw(docker rm -f), $l);
}

like(stderr_of($c), qr/\[notice\].*start worker process/,
     "nginx's log is the container's stderr");

$t0 = time;
sh(qw(docker stop), $c);
my $took = time - $t0;
is((sh(qw(docker inspect -f {{.State.ExitCode}}), $c))[1] + 0, 0,
   'docker stop: nginx exits with 0');
cmp_ok($took, '<', 9, 'before docker would kill it (10 s): a graceful stop');
note(sprintf 'docker stop: %.2f s', $took);

# --- data: a volume keeps the database, a mounted database is served ---

my $vol = "$tag-data";
push @volumes, $vol;
($c, $port) = start('vol1', '-v', "$vol:/data");
ok(up($port), 'a container with a named volume answers');
like(stdout_of($c), qr/^Seeded 100 fake accounts/m, 'and seeds it');
sh(qw(docker rm -f -v), $c);
($c, $port) = start('vol2', '-v', "$vol:/data");
ok(up($port), 'a second container on the same volume answers');
unlike(stdout_of($c), qr/Seeded/, 'without seeding again');
is(http(GET => "http://127.0.0.1:$port/accounts/10000")->{status}, 200,
   'from the database in the volume');
sh(qw(docker rm -f -v), $c);

my $own = "$tag-own";
push @volumes, $own;
sh_ok(qw(docker run --rm -v), "$own:/data", $image,
      qw(account-seed --db /data/accounts.mdb --start 500 --count 3),
      'account-seed fills a volume with a database of its own (as root)');
($c, $port) = start('own', '-v', "$own:/data");
ok(up($port), 'a container with that volume answers');
unlike(stdout_of($c), qr/Seeded/, 'and does not seed');
is(http(GET => "http://127.0.0.1:$port/accounts/500")->{content},
   '{"id":"500","name":"Person_0"}', 'it serves the mounted database');
is(http(GET => "http://127.0.0.1:$port/accounts/10000")->{status}, 404,
   'and only that one');
sh(qw(docker rm -f -v), $c);

# --- a read-only root filesystem ---

($c, $port) = start('ro', qw(--read-only --tmpfs /run --tmpfs /var/lib/nginx
                             --tmpfs /tmp));
ok(up($port), 'with --read-only and tmpfs on /run, /var/lib/nginx, /tmp, '
              . 'the container answers');
is(http(GET => "http://127.0.0.1:$port/accounts/10000")->{status}, 200,
   'and serves the accounts');
sh(qw(docker stop), $c);
is((sh(qw(docker inspect -f {{.State.ExitCode}}), $c))[1] + 0, 0,
   'and stops with 0');

# --- Debian 12 ---

SKIP: {
    skip 'TEST_DOCKER_BOOKWORM=0', 3
        if ($ENV{TEST_DOCKER_BOOKWORM} // '') eq '0';
    $t0 = time;
    sh_ok({ IMAGE => 'accountservice:bookworm', DEBIAN_RELEASE => 'bookworm' },
          "$REPO/scripts/build-image.sh",
          "the module builds against Debian 12's nginx-dev too")
        or skip 'no bookworm image', 2;
    note(sprintf 'bookworm build: %.0f s', time - $t0);
    ($c, $port) = start('bookworm', 'accountservice:bookworm');
    ok(up($port), 'and the Debian 12 image answers');
    is(http(GET => "http://127.0.0.1:$port/accounts/10000")->{content},
       '{"id":"10000","name":"Person_0"}', 'with the same contract');
    sh(qw(docker rm -f -v), $c);
}

# --- docker-compose ---

SKIP: {
    my ($rc) = sh(qw(docker-compose version));
    skip 'no docker-compose', 4 if $rc;
    my $cport = free_port();
    my %env = (IMAGE => $image, PORT => $cport, VOLUME => "$tag-accounts");
    $compose_up = 1;
    sh_ok(\%env, 'docker-compose', '-p', $tag, '-f',
          "$REPO/docker-compose.yml", qw(up -d --no-build),
          'docker-compose up starts the service')
        or skip 'compose did not start', 3;
    ok(up($cport), "it answers on the published port");
    is(http(GET => "http://127.0.0.1:$cport/accounts/10000")->{content},
       '{"id":"10000","name":"Person_0"}', 'with the account contract');
    my ($cid) = (sh(\%env, 'docker-compose', '-p', $tag, '-f',
                    "$REPO/docker-compose.yml", qw(ps -q)))[1] =~ /(\S+)/;
    my $mounts = (sh(qw(docker inspect -f),
                     '{{range .Mounts}}{{.Name}}:{{.Destination}} {{end}}',
                     $cid // 'none'))[1];
    like($mounts, qr{(?:^| )\Q$tag-accounts\E:/data },
         'its database is in the volume VOLUME names, not <project>_accounts');
}

done_testing();
