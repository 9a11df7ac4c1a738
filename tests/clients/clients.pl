#!/usr/bin/perl
# tests/clients/clients.pl -- Perl DBD::MariaDB (mariadb_server_prepare=1) through sluice
# (tests/test_clients.py runs it). Two sessions at once, interleaved: server-side prepared
# SELECTs with the same and different texts, a time_zone per session read back each round, a
# rolled back transaction, AUTO_INCREMENT inserts against LAST_INSERT_ID(), CURRENT_USER().
# One JSON line per result on stdout; the test checks them.
# Usage: perl clients.pl HOST PORT USER PASSWORD DB BASE
use strict;
use warnings;
use DBI;
use JSON::PP;

my ($host, $port, $user, $password, $db, $base) = @ARGV;
my $ROUNDS = 32;
my $json = JSON::PP->new->canonical;
$| = 1;
sub out { print $json->encode($_[0]), "\n"; }

my $SA = 'SELECT v, ? FROM clients_t WHERE id = ?';
my $SB = 'SELECT v + 1, ? FROM clients_t WHERE id = ?';
my $TZ = '/* sluice:primary */ SELECT @@time_zone, CONNECTION_ID()';

sub connect_db {
    return DBI->connect("DBI:MariaDB:database=$db;host=$host;port=$port;"
                        . "mariadb_server_prepare=1;mariadb_connect_timeout=20",
                        $user, $password, { RaiseError => 1, PrintError => 0, AutoCommit => 1 });
}

sub tz {
    my ($c, $sess, $round) = @_;
    my ($tz, $cid) = $c->selectrow_array($TZ);
    out({ ev => 'tz', sess => $sess, round => $round, tz => $tz, cid => $cid + 0 });
}

eval {
    my %s = (a => connect_db(), b => connect_db());
    my ($a, $b) = @s{qw(a b)};
    for my $sess (qw(a b)) {
        my ($cu) = $s{$sess}->selectrow_array('SELECT CURRENT_USER()');
        my ($pcu) = $s{$sess}->selectrow_array('SELECT CURRENT_USER(), ?', undef, $sess);
        out({ ev => 'user', sess => $sess, current_user => $cu, prepared => $pcu });
    }
    $a->do("SET time_zone = '+01:00'");
    $b->do("SET time_zone = '+05:30'");
    my %st = (sa => $a->prepare($SA), sb => $b->prepare($SB), sc => $b->prepare($SA));
    my @plan = (['a', 'sa', 'a'], ['b', 'sb', 'b'], ['b', 'sc', 'c']);
    for my $i (1 .. $ROUNDS) {
        for my $p (@plan) {
            my ($sess, $stmt, $tag) = @$p;
            my $id = ($i * 7) % 100 + 1;
            $st{$stmt}->execute($tag, $id);
            my @row = $st{$stmt}->fetchrow_array;
            $st{$stmt}->finish;
            out({ ev => 'prep', sess => $sess, round => $i, stmt => $stmt, id => $id,
                  row => [$row[0] + 0, $row[1]] });
        }
        tz($a, 'a', $i);
        tz($b, 'b', $i);
        if ($i == 16) {
            # a changes its time zone and closes sa (COM_STMT_CLOSE), then prepares it again.
            $a->do("SET time_zone = '-03:00'");
            delete $st{sa};
            $st{sa} = $a->prepare($SA);
        }
    }
    for my $sess (qw(a b)) {
        my $c = $s{$sess};
        my $key = $base + ($sess eq 'a' ? 1 : 2);
        $c->begin_work;
        $c->do('INSERT INTO clients_tx (id, who) VALUES (?, ?)', undef, $key, $sess);
        my $inside = $c->selectcol_arrayref('SELECT who FROM clients_tx WHERE id = ?',
                                            undef, $key);
        $c->rollback;
        my ($after) = $c->selectrow_array('SELECT COUNT(*) FROM clients_tx WHERE id = ?',
                                          undef, $key);
        out({ ev => 'trx', sess => $sess, inside => $inside, after => $after + 0 });
    }
    for my $sess (qw(a b)) {
        my $c = $s{$sess};
        for my $how (qw(text prepared)) {
            my $who = "$sess-$how-$base";
            my $insert_id;
            if ($how eq 'text') {
                # mariadb_server_prepare => 0: this statement goes as COM_QUERY.
                my $sth = $c->prepare("INSERT INTO clients_ai (who) VALUES ('$who')",
                                      { mariadb_server_prepare => 0 });
                $sth->execute;
                $insert_id = $sth->{mariadb_insertid};
            } else {
                my $sth = $c->prepare('INSERT INTO clients_ai (who) VALUES (?)');
                $sth->execute($who);
                $insert_id = $sth->{mariadb_insertid};
            }
            my ($lid) = $c->selectrow_array('SELECT LAST_INSERT_ID()');
            my ($row_who) = $c->selectrow_array('SELECT who FROM clients_ai WHERE id = ?',
                                                undef, $insert_id);
            out({ ev => 'insert', sess => $sess, how => $how, who => $who,
                  insert_id => $insert_id + 0, last_insert_id => $lid + 0,
                  row_who => $row_who });
            # An insert keeps its node connection for a few statements (for
            # LAST_INSERT_ID()); with one connection per node the other session waits for
            # it, so this one goes on first.
            tz($c, $sess, 'settle') for 1 .. 5;
        }
    }
    tz($a, 'a', 'end');
    tz($b, 'b', 'end');
    $a->disconnect;
    $b->disconnect;
    out({ ev => 'done' });
    1;
} or do {
    my $err = $@ || 'unknown error';
    chomp $err;
    out({ ev => 'error', message => $err });
    exit 1;
};
