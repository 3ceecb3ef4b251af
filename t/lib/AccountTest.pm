package AccountTest;

# What every spec shares: the module and nginx binary to test, and databases
# made by the real seeding tool in a temporary folder.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);

use Exporter 'import';
our @EXPORT_OK = qw(seed new_db seed_tool);

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

# a fresh database seeded with the given account-seed arguments
sub new_db {
    my $db = "$tmp/db" . $n++ . ".mdb";
    seed($db, @_);
    return $db;
}

1;
