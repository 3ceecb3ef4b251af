# The store's unit tests (t/unit/test_account_store.c), built by "make".

use strict;
use warnings;

use lib 't/lib';
use AccountTest;

my $bin = "$AccountTest::Build/test_account_store";

-x $bin or die "$bin is missing: run make first\n";
exec $bin or die "cannot run $bin: $!\n";
