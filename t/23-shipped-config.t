# The shipped nginx.conf itself (only its paths, port and user changed), as
# least privilege asks: no version in the Server header, nosniff and a JSON
# type on every answer, small request limits, GET and HEAD only on the
# account locations, no HTTP/2.

use strict;
use warnings;

use lib 'scripts/faults';
use FaultNginx;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use Test::More;

my $tmp = tempdir(CLEANUP => 1);
my $db = "$tmp/accounts.mdb";
seed($db, '--count', 10);

my $n = start_nginx(port => 19023, db => $db);

# raw($request): sends it as is on a new connection, returns
# { status, headers => { lower-case name => value }, body }
sub raw {
    my ($req) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => 19023,
                                  Timeout => 5) or die "connect: $!";
    print $s $req;
    local $/;
    my $resp = <$s> // '';
    close $s;
    my ($head, $body) = split /\r\n\r\n/, $resp, 2;
    my ($line, @h) = split /\r\n/, $head // '';
    my ($status) = ($line // '') =~ m{^HTTP/1\.\d (\d{3})};
    my %h = map { my ($k, $v) = split /:\s*/, $_, 2; (lc $k => $v) } @h;
    return { status => $status // 0, headers => \%h, body => $body // '' };
}

sub get {
    my ($method, $path, $extra, $body) = @_;
    $extra //= '';
    $body //= '';
    my $len = length $body ? "Content-Length: " . length($body) . "\r\n" : '';
    return raw("$method $path HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
               . "$extra$len\r\n$body");
}

my @cases = (
    # title, response, status
    [ 'a served account', get('GET', '/accounts/10000'), 200 ],
    [ 'an unknown account', get('GET', '/accounts/nobody'), 404 ],
    [ 'a bad id', get('GET', '/accounts/a%2Fb'), 400 ],
    [ '/health', get('GET', '/health'), 200 ],
    [ 'a path outside the API', get('GET', '/etc/passwd'), 404 ],
    [ 'a POST', get('POST', '/accounts/10000', '', 'x'), 405 ],
    [ 'a request line nginx cannot parse', get('GET', '/accounts/%zz'), 400 ],
    [ 'a body over 1k', get('POST', '/accounts/10000', '', 'x' x 2048), 413 ],
    [ 'a URI over 8k', get('GET', '/accounts/' . ('9' x 9000)), 414 ],
    [ 'a header over 8k', get('GET', '/accounts/10000',
                              'X-Big: ' . ('b' x 9000) . "\r\n"), 400 ],
    [ 'the HTTP/2 preface (no http2)', raw("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
      400 ],
    [ 'a Transfer-Encoding nginx does not know',
      get('POST', '/accounts/10000', "Transfer-Encoding: gzip\r\n"), 501 ],
    [ 'HTTP/2.0 in the request line',
      raw("GET /accounts/10000 HTTP/2.0\r\nHost: a\r\n\r\n"), 505 ],
);

for my $c (@cases) {
    my ($title, $r, $status) = @$c;
    is($r->{status}, $status, "$title: $status");
    is($r->{headers}{server}, 'nginx', "$title: Server names no version");
    is($r->{headers}{'x-content-type-options'}, 'nosniff',
       "$title: X-Content-Type-Options: nosniff");
    is($r->{headers}{'content-type'}, 'application/json',
       "$title: Content-Type: application/json");
    like($r->{body}, qr/^\{".*\}$/s, "$title: a JSON body");
}

for my $path ('/accounts/10000', '/health') {
    for my $m (qw(PUT DELETE PATCH OPTIONS PROPFIND)) {
        my $r = get($m, $path);
        is($r->{status}, 405, "$m $path: 405");
        is($r->{headers}{allow}, 'GET, HEAD', "$m $path: Allow: GET, HEAD");
    }
    is(get('HEAD', $path)->{status}, 200, "HEAD $path: 200");
}

# nginx refuses TRACE itself, before any handler
my $trace = get('TRACE', '/accounts/10000');
is($trace->{status}, 405, 'TRACE: 405');
is($trace->{headers}{'content-type'}, 'application/json',
   'TRACE: Content-Type: application/json');
is($trace->{headers}{allow}, 'GET, HEAD', 'TRACE: Allow: GET, HEAD');
is($trace->{headers}{'x-content-type-options'}, 'nosniff', 'TRACE: nosniff');
is($trace->{headers}{server}, 'nginx', 'TRACE: Server names no version');

is_deeply([crash_lines($n)], [], 'no crash, alert or critical line logged');

stop_nginx($n);
done_testing();
