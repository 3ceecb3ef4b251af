package DockerTest;

# What the image and Swarm tests share: skipping when there is no engine,
# running commands, HTTP against this machine, waiting with a deadline.

use strict;
use warnings;

use Cwd qw(abs_path);
use Exporter qw(import);
use File::Basename qw(dirname);
use HTTP::Tiny;
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(sleep time);

our @EXPORT = qw($REPO docker_or_skip sh sh_ok http free_port wait_until);

our $REPO = abs_path(dirname(__FILE__) . '/../..');

# plan skip_all unless an engine answers and TEST_DOCKER is not 0
sub docker_or_skip {
    if (defined $ENV{TEST_DOCKER} && $ENV{TEST_DOCKER} eq '0') {
        plan skip_all => 'TEST_DOCKER=0';
    }
    unless (grep { -x "$_/docker" } split /:/, $ENV{PATH} // '') {
        plan skip_all => 'no docker command (set TEST_DOCKER=0 to silence)';
    }
    my ($rc, $out) = sh('docker', 'info', '--format', '{{.ServerVersion}}');
    if ($rc != 0) {
        $out =~ s/\s+/ /g;
        plan skip_all => "no Docker engine answers: $out";
    }
}

sub quote {
    my ($s) = @_;
    return $s if $s =~ m{^[\w./:=,@%+-]+$};
    $s =~ s/'/'\\''/g;
    return "'$s'";
}

# (exit status, stdout and stderr) of a command; { VAR => value } first
# sets environment variables for it
sub sh {
    my $env = ref $_[0] eq 'HASH' ? shift : {};
    local @ENV{keys %$env} = values %$env;
    my $out = `@{[ join ' ', map { quote($_) } @_ ]} 2>&1`;
    return ($? >> 8, $out);
}

# ok() on a command's success, its last lines as a diagnostic on failure;
# returns the output
sub sh_ok {
    my $name = pop;
    my ($rc, $out) = sh(@_);
    ok($rc == 0, $name) or do {
        my @lines = split /\n/, $out;
        splice @lines, 0, @lines - 40 if @lines > 40;
        diag("exit $rc:\n" . join("\n", @lines));
    };
    return wantarray ? ($rc, $out) : $out;
}

# one request on a new connection: { status, headers, content }; status 599
# when nothing answered
sub http {
    my ($method, $url) = @_;
    return HTTP::Tiny->new(timeout => 5, keep_alive => 0)
        ->request($method, $url);
}

# a TCP port on 127.0.0.1 that nothing listens on now
sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 1, ReuseAddr => 1)
        or die "no free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

# the first true value of $check within $seconds, else undef
sub wait_until {
    my ($seconds, $check, $step) = @_;
    my $deadline = time + $seconds;
    while (1) {
        my $v = $check->();
        return $v if $v;
        return undef if time >= $deadline;
        sleep($step // 0.5);
    }
}

1;
