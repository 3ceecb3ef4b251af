#!/usr/bin/perl
# scripts/bench/requests.pl: a fixed, repeatable sequence of keep-alive
# GET /accounts/<id> requests on one connection, each answer checked.
#
# scripts/bench.sh uses it to drive nginx under callgrind (the same ids in
# the same order for every variant) and for --smoke, to check that every
# variant answers 200 with the document account-seed generates for the id:
# {"id":"<id>","name":"Person_<id - start>"}, or with --body a constant,
# or with --status-only any body with a 200.
#
#   requests.pl --port P [--start S] [--count N] [--requests K] [--seed X]
#               [--body CONSTANT | --status-only]
#
# Exit status: 0 all answers right, 1 a wrong answer (printed), 2 no server.

use strict;
use warnings;

use Getopt::Long qw(GetOptions);
use IO::Socket::INET;

my %o = (start => 10000, count => 100, requests => 100, seed => 1);

GetOptions(\%o, 'port=i', 'start=i', 'count=i', 'requests=i', 'seed=i',
           'body=s', 'status-only')
    && $o{port}
    or die "usage: $0 --port P [--start S] [--count N] [--requests K] "
         . "[--seed X] [--body CONSTANT | --status-only]\n";

my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                 PeerPort => $o{port}, Proto => 'tcp')
    or do { print STDERR "$0: 127.0.0.1:$o{port}: $!\n"; exit 2 };

$sock->autoflush(1);

# a small LCG of our own: the same ids on every machine and Perl
my $state = $o{seed};

sub next_id {
    $state = ($state * 1103515245 + 12345) % 2147483648;
    return $o{start} + ($state * $o{count} >> 31);
}

my $buf = '';

sub read_more {
    my $n = sysread($sock, $buf, 65536, length $buf);
    die "$0: connection closed after " . ($_[0] - 1) . " answers\n"
        unless $n;
}

for my $i (1 .. $o{requests}) {
    # the first and the last ids of the set, then at random
    my $id = $i == 1 ? $o{start}
           : $i == 2 ? $o{start} + $o{count} - 1
           : next_id();

    print $sock "GET /accounts/$id HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

    my $end;
    read_more($i) until ($end = index($buf, "\r\n\r\n")) >= 0;

    my $head = substr($buf, 0, $end + 4, '');
    my ($status) = $head =~ m{^HTTP/1\.1 (\d+)};
    my ($len) = $head =~ m{\r\nContent-Length: *(\d+)}i;
    my ($type) = $head =~ m{\r\nContent-Type: *([^\r]*)}i;

    die "$0: GET /accounts/$id: no Content-Length in\n$head" unless defined $len;

    read_more($i) while length $buf < $len;

    my $body = substr($buf, 0, $len, '');
    my $want = defined $o{body} ? $o{body}
             : sprintf('{"id":"%d","name":"Person_%d"}', $id, $id - $o{start});

    if (($status // '') ne '200'
        || (!$o{'status-only'}
            && (($type // '') ne 'application/json' || $body ne $want)))
    {
        print STDERR "$0: GET /accounts/$id on port $o{port}: status ",
            $status // '?', ", type ", $type // '?', ", body $body, ",
            "want 200 application/json $want\n";
        exit 1;
    }
}

print "$o{requests} answers right\n";
