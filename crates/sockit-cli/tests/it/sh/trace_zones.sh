#!/usr/bin/env bash
# The zones of `lookup --trace`'s tests, made in the folder given: a private root (RSASHA256,
# NSEC), `test.` under it (ECDSAP256SHA256, NSEC3) and leaf zones under that, each signed by
# ldns-signzone, some of them broken the ways a chain of trust breaks. Writes the root's DS
# (root.ds), root hints (hints) and, for delv, the same anchor in BIND's syntax (delv.conf).
set -euo pipefail
cd "$1"
now=$(date +%s)
soa() { printf '$ORIGIN %s\n$TTL 3600\n@ SOA %s hostmaster.test. 1 3600 900 604800 300\n@ NS %s\n' "$1" "$2" "$2"; }
key() { ldns-keygen -a "$1" ${3:-} "$2"; }

# Leaves, served from 198.18.0.3: signed well, with an Ed25519 key, or broken.
for z in good ed badksk baddigest nokeysig expired future; do
  { soa "$z.test." ns.leaves.test.; printf 'host A 198.18.0.10\nwww CNAME host\nns A 198.18.0.3\n'; } >"$z.zone"
  alg=ECDSAP256SHA256
  [ "$z" = ed ] && alg=ED25519
  k=$(key "$alg" "$z.test" -k)
  s=$(key "$alg" "$z.test")
  when=()
  [ "$z" = expired ] && when=(-i $((now - 40 * 86400)) -e $((now - 2 * 86400)))
  [ "$z" = future ] && when=(-i $((now + 2 * 86400)) -e $((now + 40 * 86400)))
  ldns-signzone "${when[@]}" "$z.zone" "$s" "$k"
  ldns-key2ds -n -2 "$k.key" >"$z.ds"
done
# badksk: its parent holds the DS of a key the zone does not have.
k=$(key ECDSAP256SHA256 badksk.test -k)
ldns-key2ds -n -2 "$k.key" >badksk.ds
# baddigest: the DS digest's last hex digit changed.
awk '{d=$NF; c=substr(d,length(d)); $NF=substr(d,1,length(d)-1) (c=="0"?"1":"0"); print}' baddigest.ds >x
mv x baddigest.ds
# nokeysig: no signature over the key set.
grep -v -P '\tRRSIG\tDNSKEY ' nokeysig.zone.signed >x
mv x nokeysig.zone.signed
# Unsigned zones: one under test. (NSEC3 proves it has no DS), one whose name server has no
# glue (ns.good.test, inside another zone), lost.test whose NSEC3 is taken out of test., and
# noproof. under the root, whose NSEC is taken out.
for z in unsigned.test. elsewhere.test. lost.test. noproof.; do
  { soa "$z" ns.leaves.test.; printf 'host A 198.18.0.10\n'; } >"${z%%.*}.zone.signed"
done
sed -i 's/ns\.leaves\.test\./ns.good.test./' elsewhere.zone.signed

# test., from 198.18.0.2.
{
  soa test. ns.test.
  printf 'ns A 198.18.0.2\nns.leaves A 198.18.0.3\na.root A 198.18.0.1\n'
  for z in good ed badksk baddigest nokeysig expired future unsigned lost; do printf '%s NS ns.leaves.test.\n' "$z"; done
  printf 'elsewhere NS ns.good.test.\n'
  cat good.ds ed.ds badksk.ds baddigest.ds nokeysig.ds expired.ds future.ds
} >test.zone
k=$(key ECDSAP256SHA256 test -k)
s=$(key ECDSAP256SHA256 test)
ldns-signzone -n -s abcd -t 1 test.zone "$s" "$k"
ldns-key2ds -n -2 "$k.key" >test.ds
# lost.test's NSEC3 (its hash the owner's first label) and its signature taken out.
lost=$(ldns-nsec3-hash -t 1 -s abcd lost.test. | cut -d. -f1)
grep -v -i "^$lost\.test\." test.zone.signed >x
mv x test.zone.signed

# The root, from 198.18.0.1.
{
  soa . a.root.test.
  printf 'test. NS ns.test.\nns.test. A 198.18.0.2\na.root.test. A 198.18.0.1\nnoproof. NS ns.leaves.test.\n'
  cat test.ds
} >root.zone
k=$(key RSASHA256 . -k)
s=$(key RSASHA256 .)
ldns-signzone -o . root.zone "$s" "$k"
grep -v -P '^noproof\.\t.*\tNSEC\t|^noproof\.\t.*\tRRSIG\tNSEC ' root.zone.signed >x
mv x root.zone.signed
ldns-key2ds -n -2 "$k.key" >root.ds
printf '.  3600000  NS  a.root.test.\na.root.test.  3600000  A  198.18.0.1\n' >hints
read -r _ _ _ _ tag alg dt digest <root.ds
printf 'trust-anchors {\n  "." static-ds %s %s %s "%s";\n};\n' "$tag" "$alg" "$dt" "$digest" >delv.conf
