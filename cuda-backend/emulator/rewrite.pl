#!/usr/bin/perl -p
# The two source rewrites build.sh makes to each .cu file, each within its line so that line numbers stay
# those of the .cu (compiler messages and coverage.sh point at the real source):
#
#   extern __shared__ __align__(16) unsigned char smem[];
#     becomes a pointer to the block's dynamic shared memory:
#   unsigned char* smem = (unsigned char*)LADON_EMULATED_DYNAMIC_SHARED();
#
#   __shared__ float a[32], b;
#     gets, on the same line, one LADON_EMULATED_SHARED(name) per variable, which refills the variable with
#     NaN bytes in each new block (cuda_emulator.h):
#   __shared__ float a[32], b; LADON_EMULATED_SHARED(a); LADON_EMULATED_SHARED(b);
use strict;
use warnings;

if (/extern __shared__/) {
    s/extern __shared__ (__align__\(\d+\) )?([\w ]*\w) +(\w+)\[\];/$2* $3 = ($2*)LADON_EMULATED_DYNAMIC_SHARED();/
        or die "rewrite.pl: line $.: an extern __shared__ declaration of another form: $_";
} elsif (/^\s*__shared__\s+(?:__align__\(\d+\)\s+)?([^;]*);/) {
    # "TYPE first[...], second, third[...]": the first declarator is the last word before its brackets
    # (so types of several words and templates pass), the others are the first word after each comma.
    my @declarators = split /,/, $1;
    my @names;
    push @names, $1 if shift(@declarators) =~ /(\w+)\s*(?:\[[^\]]*\]\s*)*$/;
    for (@declarators) { push @names, $1 if /^\s*(\w+)/; }
    die "rewrite.pl: line $.: no variable found in: $_" unless @names;
    my $refills = join " ", map { "LADON_EMULATED_SHARED($_);" } @names;
    s/;/; $refills/;
} elsif (/__shared__/ && !/^\s*\/\//) {
    die "rewrite.pl: line $.: a __shared__ declaration not on a line of its own: $_";
}
