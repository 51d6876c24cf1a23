#!/usr/bin/perl
# make_mmdb.pl OUT.mmdb - writes the small MaxMind DB the geo tests read, with
# libmaxmind-db-writer-perl: City-shaped records on documentation ranges (RFC 5737,
# RFC 3849), so no downloaded database is ever needed.
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my $out = shift or die "usage: make_mmdb.pl OUT.mmdb\n";
my %types = (
    country      => 'map',
    iso_code     => 'utf8_string',
    names        => 'map',
    en           => 'utf8_string',
    subdivisions => [ 'array', 'map' ],
    city         => 'map',
    location     => 'map',
    latitude     => 'double',
    longitude    => 'double',
);
my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version               => 6,
    record_size              => 28,
    database_type            => 'weir-Test-City',
    languages                => ['en'],
    description              => { en => 'weir unit test database' },
    map_key_type_callback    => sub { $types{ $_[0] } },
    alias_ipv6_to_ipv4       => 1,
    remove_reserved_networks => 0,
);
# A full City record (IPv4); the upper half of the /24 is another city, so a test can
# tell a lookup on the full address from one on the truncated address.
$tree->insert_network('192.0.2.0/25', {
    country      => { iso_code => 'SE', names => { en => 'Sweden' } },
    subdivisions => [ { iso_code => 'AB', names => { en => 'Stockholm County' } } ],
    city         => { names => { en => 'Stockholm' } },
    location     => { latitude => 59.3293, longitude => 18.0686 },
});
$tree->insert_network('192.0.2.128/25', {
    country      => { iso_code => 'SE', names => { en => 'Sweden' } },
    subdivisions => [ { iso_code => 'O', names => { en => "V\x{e4}stra G\x{f6}taland County" } } ],
    city         => { names => { en => "Gothenburg" } },
    location     => { latitude => 57.7089, longitude => 11.9746 },
});
# Country only (what a Country database has).
$tree->insert_network('198.51.100.0/24', {
    country => { iso_code => 'NZ', names => { en => 'New Zealand' } },
});
# IPv6, with a name that needs JSON escaping and non-ASCII UTF-8.
$tree->insert_network('2001:db8:1::/48', {
    country      => { iso_code => 'DE', names => { en => 'Germany' } },
    subdivisions => [ { iso_code => 'BY', names => { en => "Bavaria \"Bayern\"" } } ],
    city         => { names => { en => "M\x{fc}nchen" } },
    location     => { latitude => 48.1374, longitude => 11.5755 },
});
open my $fh, '>:raw', $out or die "$out: $!\n";
$tree->write_tree($fh);
close $fh or die "$out: $!\n";
