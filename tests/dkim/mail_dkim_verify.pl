#!/usr/bin/perl
# Verify a message's DKIM signatures with Perl's Mail::DKIM (Debian: libmail-dkim-perl),
# taking public keys from a zone file instead of DNS.
#
# usage: mail_dkim_verify.pl ZONE_FILE < message
# ZONE_FILE: one "NAME VALUE" per line (VALUE: the TXT record as one string).
# Prints one line per signature, topmost first: "algorithm<TAB>selector<TAB>result<TAB>detail",
# then "overall<TAB>result".
use strict;
use warnings;

use Mail::DKIM::Verifier;
use Mail::DKIM::DNS;
use Net::DNS;

my $zone_file = shift @ARGV or die "usage: $0 ZONE_FILE < message\n";
my %zone;
open my $zf, '<', $zone_file or die "$zone_file: $!\n";
while (my $line = <$zf>) {
    chomp $line;
    next unless length $line;
    my ($name, $value) = split / /, $line, 2;
    $name = lc $name;
    $name =~ s/\.$//;
    $zone{$name} = $value;
}
close $zf;

# Mail::DKIM asks Mail::DKIM::DNS::query(name, type) for every key; answer from the
# zone file with the same contract: a list of RRs, or an empty list with $@ saying why.
{
    no warnings 'redefine';
    *Mail::DKIM::DNS::query = sub {
        my ($domain, $type) = @_;
        my $name = lc $domain;
        $name =~ s/\.$//;
        if (uc $type eq 'TXT' && exists $zone{$name}) {
            my $value = $zone{$name};
            my @strings = unpack '(a255)*', $value;
            $@ = 'NOERROR';
            return Net::DNS::RR->new(
                name    => $domain,
                type    => 'TXT',
                ttl     => 60,
                txtdata => \@strings,
            );
        }
        $@ = 'NXDOMAIN';
        return;
    };
}

binmode STDIN;
my $verifier = Mail::DKIM::Verifier->new();
while (my $chunk = <STDIN>) {
    # Mail::DKIM wants CRLF line ends; keep them as given.
    $verifier->PRINT($chunk);
}
$verifier->CLOSE;

foreach my $signature ($verifier->signatures) {
    my $detail = $signature->result_detail // '';
    $detail =~ s/[\r\n\t]+/ /g;
    printf "%s\t%s\t%s\t%s\n", $signature->algorithm // '', $signature->selector // '',
        $signature->result // '', $detail;
}
printf "overall\t%s\n", $verifier->result // '';
