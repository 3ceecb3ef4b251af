#!/usr/bin/perl
# On a single-node swarm: scripts/deploy.sh deploys three healthy replicas
# in one command and rolls new images out without removing the service,
# back to the old one when the new one fails; the service scales to 5 and
# back; a forced rolling update replaces every task without ever running
# fewer than the replicas asked for, and fails no request of a bounded wrk
# load on the published port; docker-stack.yml deploys the same service.
#
# The routing mesh needs IPVS in the kernel.  Where port 6767 of the service
# does not answer on this machine, the checks that go through it are skipped
# with that reason, and the service is also deployed with PUBLISH_MODE=host.
#
# Skipped when no Docker engine answers, or with TEST_DOCKER=0.  The engine
# is left as it was: a swarm this test made is left, its networks removed.

use strict;
use warnings;

use FindBin;
use lib $FindBin::Bin;

use DockerTest;
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(sleep time);

docker_or_skip();

my $state = (sh(qw(docker info -f {{.Swarm.LocalNodeState}})))[1];
chomp $state;
if ($state eq 'active') {
    my $nodes = () = (sh(qw(docker node ls -q)))[1] =~ /\S+/g;
    plan skip_all => "this engine is in a swarm of $nodes nodes: the test "
                     . 'needs a single node (the image is local)'
        if $nodes != 1;
} elsif ($state ne 'inactive') {
    plan skip_all => "this engine's swarm is '$state'";
}
my $made_swarm = $state eq 'inactive';
my $had_gwbridge = (sh(qw(docker network inspect docker_gwbridge)))[0] == 0;

my $t = "astest02-$$";
my $svc = $t;
my $net = "$t-net";
my $stack = "astest02s$$";
my $port = free_port();
my %env = (SERVICE => $svc, NETWORK => $net, PORT => $port, REPLICAS => 3,
           WAIT => 120);

sub gone {
    my ($label) = @_;
    wait_until(30, sub {
        (sh(qw(docker ps -aq --filter), "label=$label"))[1] !~ /\S/ });
}

END {
    return unless defined $svc;    # skipped before anything was made
    my $rc = $?;
    sh(qw(docker service rm), $svc);
    sh(qw(docker stack rm), $stack);
    gone("com.docker.swarm.service.name=$svc");
    gone("com.docker.stack.namespace=$stack");
    for my $n ($net, "$stack-net", "$t-other") {
        wait_until(20, sub {
            my ($r, $o) = sh(qw(docker network rm), $n);
            $r == 0 || $o =~ /not found|No such/i;
        });
    }
    my $tags = (sh(qw(docker image ls --format {{.Repository}}:{{.Tag}}
                      astest02)))[1];
    sh(qw(docker rmi), split ' ', $tags) if $tags =~ /\S/;
    if ($made_swarm) {
        sh(qw(docker swarm leave --force));
        wait_until(20, sub {
            (sh(qw(docker network rm docker_gwbridge)))[0] == 0 })
            unless $had_gwbridge;
    }
    $? = $rc;
}

# the running tasks of a service: { task id => container id }
# the ids of a service's running tasks; undef when docker could not say
sub tasks {
    my ($service) = @_;
    my %tasks;
    my ($rc, $out) = sh(qw(docker service ps --no-trunc --filter
                           desired-state=running --format),
                        '{{.ID}} {{.CurrentState}}', $service);
    return undef if $rc != 0;
    for (split /\n/, $out) {
        my ($id, $st) = /^(\S+) (\S+)/ or next;
        $tasks{$id} = 1 if $st eq 'Running';
    }
    return \%tasks;
}

sub containers {
    my ($service) = @_;
    return split ' ', (sh(qw(docker ps -q --filter),
                          "label=com.docker.swarm.service.name=$service"))[1];
}

sub converged {
    my ($service, $n, $seconds) = @_;
    return wait_until($seconds // 60, sub {
        my $up = keys %{ tasks($service) || {} };
        my $st = (sh(qw(docker service inspect -f),
                     '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}',
                     $service))[1];
        $up == $n && $st !~ /updating|rollback_started/;
    }, 1);
}

sub spec {
    my ($service, $fmt) = @_;
    my $out = (sh(qw(docker service inspect -f), $fmt, $service))[1];
    chomp $out;
    return $out;
}

# --- one command ---

my $t0 = time;
my ($rc, $out) = sh({ %env }, "$REPO/scripts/deploy.sh");
ok($rc == 0 || $rc == 3,
   'deploy.sh builds the image and deploys 3 replicas, waiting for health')
    or diag($out);
note(sprintf 'deploy: %.0f s', time - $t0);
like($out, qr/3\/3 replicas healthy/, 'it says so');
is((sh(qw(docker info -f {{.Swarm.LocalNodeState}})))[1], "active\n",
   'the engine is in a swarm');
is((sh(qw(docker network inspect -f {{.Driver}}), $net))[1], "overlay\n",
   'on an overlay network of the given name');

is(scalar keys %{ tasks($svc) || {} }, 3, 'three tasks run');
my @c = containers($svc);
is(scalar(grep { (sh(qw(docker inspect -f {{.State.Health.Status}}), $_))[1]
                     eq "healthy\n" } @c),
   3, 'and their containers are healthy');
is(scalar(grep { (sh(qw(docker exec), $_, qw(curl -s
                    http://127.0.0.1:6767/accounts/10000)))[1]
                     eq '{"id":"10000","name":"Person_0"}' } @c),
   3, 'each replica serves the account contract');

is(spec($svc, '{{.Spec.UpdateConfig.Order}} {{.Spec.UpdateConfig.FailureAction}}'
              . ' {{.Spec.RollbackConfig.Order}}'),
   'start-first rollback start-first',
   'updates start the new task first, and roll back on failure');
is(spec($svc, '{{.Spec.TaskTemplate.RestartPolicy.Condition}} '
              . '{{.Spec.TaskTemplate.Resources.Limits.MemoryBytes}} '
              . '{{.Spec.TaskTemplate.ContainerSpec.ReadOnly}}'),
   'any 134217728 true',
   'tasks restart, have a memory limit and a read-only root');
is(spec($svc, '{{range .Endpoint.Ports}}{{.PublishedPort}}:{{.TargetPort}} '
              . '{{.PublishMode}}{{end}}'),
   "$port:6767 ingress", 'the port is published through the routing mesh');

# --- the routing mesh ---

my $mesh = wait_until(10, sub {
    http(GET => "http://127.0.0.1:$port/health")->{status} == 200 });
my $no_mesh;
unless ($mesh) {
    my $why = (sh('curl', '-sS', '-m', '3',
                  "http://127.0.0.1:$port/health"))[1];
    chomp $why;
    $no_mesh = "the routing mesh does not publish port $port here "
               . "(GET /health: $why)";
    $no_mesh .= '; this kernel has no IPVS (no /proc/net/ip_vs), which '
                . 'the mesh needs' unless -e '/proc/net/ip_vs';
    is($rc, 3, 'deploy.sh exits 3: healthy, but the port does not answer');
    like($out, qr/IPVS/, 'and names the likely cause');
}

SKIP: {
    skip $no_mesh, 2 unless $mesh;
    is($rc, 0, 'deploy.sh exits 0: the port answers');
    my %by;
    for (1 .. 30) {
        my $r = http(GET => "http://127.0.0.1:$port/accounts/10000");
        $by{ $r->{headers}{'x-served-by'} // 'none' }++;
    }
    cmp_ok(scalar(grep { $_ ne 'none' } keys %by), '>', 1,
           'port 6767 is answered by more than one replica (X-Served-By)')
        or diag(explain \%by);
}

# --- scale ---

$t0 = time;
sh(qw(docker service scale -d), "$svc=5");
ok(converged($svc, 5), 'scaled to 5, five tasks run');
sh(qw(docker service scale -d), "$svc=3");
ok(converged($svc, 3), 'and back to 3');
note(sprintf 'scale: %.0f s', time - $t0);

# --- deploy.sh again ---

my $id = spec($svc, '{{.ID}}');
my $before = tasks($svc);
($rc, $out) = sh({ %env, SKIP_BUILD => 1 }, "$REPO/scripts/deploy.sh");
ok($rc == 0 || $rc == 3, 'deploy.sh again, the same image') or diag($out);
is_deeply(tasks($svc), $before, 'changes nothing: the same tasks run');
is(spec($svc, '{{.ID}}'), $id, 'in the same service');

# a rerun without REPLICAS and LIMIT_MEMORY keeps the service's
my %rerun = %env;
delete $rerun{REPLICAS};
my $limit = '{{.Spec.TaskTemplate.Resources.Limits.MemoryBytes}}';
sh(qw(docker service update -d --replicas 2 --limit-memory 192M), $svc);
ok(converged($svc, 2), 'scaled to 2, with a limit of 192M, by hand');
($rc, $out) = sh({ %rerun, SKIP_BUILD => 1 }, "$REPO/scripts/deploy.sh");
ok($rc == 0 || $rc == 3, 'deploy.sh again, without REPLICAS') or diag($out);
is(spec($svc, '{{.Spec.Mode.Replicated.Replicas}}'), 2,
   'keeps the 2 replicas');
is(spec($svc, $limit), 192 << 20, 'and the memory limit');
sh(qw(docker service scale -d), "$svc=3");
ok(converged($svc, 3), 'and back to 3');
$before = tasks($svc);

# --- NETWORK, PORT and PUBLISH_MODE are the service's ---

($rc, $out) = sh({ %env, SKIP_BUILD => 1, PORT => free_port() },
                 "$REPO/scripts/deploy.sh");
is($rc, 1, "deploy.sh with another PORT than the service's fails");
like($out, qr/\Q$port:6767\/ingress\E.*set only when the service is created/s,
     'naming the published port, and saying it is set at creation');
unlike($out, qr/IPVS/, 'not blaming the routing mesh');
($rc, $out) = sh({ %env, SKIP_BUILD => 1, NETWORK => "$t-other" },
                 "$REPO/scripts/deploy.sh");
is($rc, 1, "deploy.sh with another NETWORK than the service's fails");
like($out, qr/\Q$net\E.*set only when the service is created/s,
     'naming the network');
isnt((sh(qw(docker network inspect), "$t-other"))[0], 0,
     'and does not create that network');
($rc, $out) = sh({ %env, SKIP_BUILD => 1, PUBLISH_MODE => 'host',
                   REPLICAS => 1 }, "$REPO/scripts/deploy.sh");
is($rc, 1, "deploy.sh with another PUBLISH_MODE than the service's fails");
is_deeply(tasks($svc), $before, 'the service is as it was: the same tasks');
is(spec($svc, '{{range .Endpoint.Ports}}{{.PublishedPort}} {{end}}'),
   "$port ", 'on the same port');

# --- a forced rolling update, under load ---

$before = tasks($svc);
my $wrk_out = "/tmp/$t-wrk.txt";
my $wrk;
END { local $?; kill 'INT', $wrk if $wrk && waitpid($wrk, WNOHANG) == 0 }
if ($mesh) {
    $wrk = fork // die "fork: $!";
    if ($wrk == 0) {
        open STDOUT, '>', $wrk_out or die;
        open STDERR, '>&', \*STDOUT;
        # stopped once the update is over (wrk reports on SIGINT)
        # (no END block of the test may run in this child)
        exec(qw(wrk -t2 -c8 -d300s --timeout 5s),
             "http://127.0.0.1:$port/accounts/10000") or POSIX::_exit(127);
    }
    sleep 2;
}
$t0 = time;
sh(qw(docker service update --force -d -q), $svc);
my $least = 3;
my $done = wait_until(120, sub {
    if (my $now = tasks($svc)) {        # a failed sample counts for nothing
        my $up = keys %$now;
        $least = $up if $up < $least;
    }
    spec($svc, '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}')
        eq 'completed';
}, 0.25);
ok($done, 'docker service update --force completes');
note(sprintf 'forced update: %.0f s', time - $t0);
my $after = tasks($svc) || {};
is(scalar(grep { !$before->{$_} } keys %$after), 3,
   'every task was replaced');
is($least, 3, 'and never fewer than 3 tasks ran (start-first, health-gated)');

SKIP: {
    skip $no_mesh, 4 unless $mesh;
    ok(waitpid($wrk, WNOHANG) == 0, 'the load ran through the whole update');
    kill 'INT', $wrk;
    waitpid $wrk, 0;
    my $w = do { local (@ARGV, $/) = $wrk_out; <> } // '';
    unlink $wrk_out;
    my ($n) = $w =~ /(\d+) requests in/;
    my $non2xx = ($w =~ /Non-2xx or 3xx responses: (\d+)/)[0] // 0;
    my $sock = 0;
    $sock += $_ for ($w =~ /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
    note("wrk during the update:\n$w");
    cmp_ok($n // 0, '>', 0, 'wrk sent requests through the update');
    is($non2xx, 0, 'not one answered other than 2xx');
    is($sock, 0, 'and no connection failed');
}

# --- a new image rolls out; a failing one rolls back ---

my $rev = "astest02:rev-$$";
my $bad = "astest02:bad-$$";
sh_ok('sh', '-c', "printf 'FROM accountservice:latest\\nLABEL rev=$$\\n' "
                  . "| docker build -q -t $rev -", 'a new image');
sh_ok('sh', '-c', "printf 'FROM accountservice:latest\\n"
                  . 'HEALTHCHECK --interval=1s --timeout=1s --retries=1 '
                  . "CMD false\\n' | docker build -q -t $bad -",
      'an image that never gets healthy');

my $rev_id = (sh(qw(docker image inspect -f {{.Id}}), $rev))[1];
$t0 = time;
($rc, $out) = sh({ %env, IMAGE => $rev }, "$REPO/scripts/deploy.sh");
ok($rc == 0 || $rc == 3, 'deploy.sh rolls the new image out') or diag($out);
is((sh(qw(docker image inspect -f {{.Id}}), $rev))[1], $rev_id,
   'as it is: an image given in IMAGE is not built over');
note(sprintf 'deploy of a new image: %.0f s', time - $t0);
my $rev_tag = spec($svc, '{{.Spec.TaskTemplate.ContainerSpec.Image}}');
like($rev_tag, qr/^astest02:[0-9a-f]{12}$/, 'tagged by image ID');
is(spec($svc, '{{.ID}}'), $id, 'in the same service (updated, not replaced)');
my $on_rev = () = (sh(qw(docker service ps --filter desired-state=running
                         --format {{.Image}}), $svc))[1] =~ /^\Q$rev_tag\E$/mg;
is($on_rev, 3, 'all 3 tasks run it');

$t0 = time;
($rc, $out) = sh({ %env, SKIP_BUILD => 1, IMAGE => $bad },
                 "$REPO/scripts/deploy.sh");
is($rc, 1, 'deploy.sh of an image that fails its health check fails');
like($out, qr/rollback_completed/, 'saying that the service rolled back');
note(sprintf 'failed deploy and rollback: %.0f s', time - $t0);
is(spec($svc, '{{.Spec.TaskTemplate.ContainerSpec.Image}}'), $rev_tag,
   'the service runs the previous image again');
ok(converged($svc, 3), 'with 3 tasks');

# --- the stack file ---

$t0 = time;
sh_ok({ PORT => free_port(), NETWORK => "$stack-net", REPLICAS => 2 },
      qw(docker stack deploy --resolve-image never -c),
      "$REPO/docker-stack.yml", $stack,
      'docker stack deploy -c docker-stack.yml');
my $ssvc = "${stack}_accountservice";
ok(converged($ssvc, 2, 90), 'the stack runs 2 healthy replicas');
is(spec($ssvc, '{{.Spec.UpdateConfig.Order}} {{.Spec.UpdateConfig.FailureAction}} '
               . '{{.Spec.RollbackConfig.Order}} '
               . '{{.Spec.TaskTemplate.RestartPolicy.Condition}} '
               . '{{.Spec.TaskTemplate.Resources.Limits.MemoryBytes}} '
               . '{{.Spec.TaskTemplate.ContainerSpec.ReadOnly}}'),
   'start-first rollback start-first any 134217728 true',
   'with the settings of deploy.sh');
sh(qw(docker stack rm), $stack);
note(sprintf 'stack: %.0f s', time - $t0);

# --- publishing on the node itself, where the mesh cannot ---

SKIP: {
    skip 'the routing mesh works here', 4 if $mesh;
    sh(qw(docker service rm), $svc);
    gone("com.docker.swarm.service.name=$svc");
    my $hport = free_port();
    ($rc, $out) = sh({ %env, SKIP_BUILD => 1, PUBLISH_MODE => 'host',
                       REPLICAS => 1, PORT => $hport },
                     "$REPO/scripts/deploy.sh");
    is($rc, 0, 'deploy.sh with PUBLISH_MODE=host: port answers') or diag($out);
    like($out, qr{try: curl http://localhost:$hport/accounts/10000},
         'it prints the curl to try');
    my $r = http(GET => "http://127.0.0.1:$hport/accounts/10000");
    is($r->{content}, '{"id":"10000","name":"Person_0"}',
       'the service answers the account contract on this machine');
    my ($c) = containers($svc);
    my $host = (sh(qw(docker inspect -f {{.Config.Hostname}}), $c // 'none'))[1];
    chomp $host;
    is($r->{headers}{'x-served-by'}, $host, 'from the task (X-Served-By)');
}

done_testing();
