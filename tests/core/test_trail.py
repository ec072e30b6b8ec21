"""The audit trail's hash chain, pure: sealing records and finding every kind of break."""

from __future__ import annotations

from dataclasses import replace

from govcloud.core.trail import GENESIS, Anchor, Entry, Head, keyed_from, seal, verify


def _chain(n: int) -> list[Entry]:
    out: list[Entry] = []
    for i in range(n):
        out.append(seal(out[-1] if out else None, f"2026-11-26T10:00:0{i}Z", "admin",
                        "user add", f"user{i}", "finance", None, {"role": "member"}))
    return out


def test_a_sealed_chain_links_each_record_to_the_one_before() -> None:
    chain = _chain(4)
    assert chain[0].prev == GENESIS and [e.seq for e in chain] == [1, 2, 3, 4]
    assert all(b.prev == a.hash for a, b in zip(chain, chain[1:], strict=False))
    assert len({e.hash for e in chain}) == 4
    assert verify(chain) == []
    assert verify(chain, {"the head": Head(4, chain[-1].hash)}) == []


def test_an_edited_field_is_named() -> None:
    chain = _chain(4)
    for field, value in (("actor", "mallory"), ("after", '{"role":"operator"}'),
                         ("reason", "because"), ("at", "2026-01-01T00:00:00Z")):
        bad = [*chain[:2], replace(chain[2], **{field: value}), chain[3]]
        problems = verify(bad)
        assert problems == [f"record 3 (user add user2, {bad[2].at}) was edited: its fields "
                            "do not give its hash"], field


def test_an_edit_that_recomputes_the_hash_breaks_the_next_link() -> None:
    chain = _chain(4)
    forged = replace(chain[1], actor="mallory")
    forged = replace(forged, hash=forged.digest())
    problems = verify([chain[0], forged, *chain[2:]])
    assert len(problems) == 1 and problems[0].startswith("record 3 does not follow")


def test_a_deleted_record_leaves_a_gap_and_a_broken_link() -> None:
    chain = _chain(5)
    problems = verify([*chain[:2], *chain[3:]])
    assert problems[0] == "record 3 missing: deleted"
    assert problems[1].startswith("record 4 does not follow")
    assert verify(chain[:1] + chain[4:])[0] == "records 2 to 4 missing: deleted"


def test_reordered_records_are_found() -> None:
    chain = _chain(4)
    # Moved as they are (numbers kept), or renumbered to hide the move.
    assert verify([chain[0], chain[2], chain[1], chain[3]])
    swapped = [chain[0], replace(chain[2], seq=2), replace(chain[1], seq=3), chain[3]]
    problems = verify(swapped)
    assert any("record 2 (user add user2" in p and "edited" in p for p in problems)
    assert any(p.startswith("record 2 does not follow") for p in problems)


def test_cut_off_newest_records_are_found_against_a_head() -> None:
    chain = _chain(5)
    head = Head(5, chain[-1].hash)
    assert verify(chain[:3], {"the head given": head}) == [
        "the head given is record 5, but the trail ends at record 3: the newest records "
        "were deleted"]
    rewritten = _chain(5)[:4] + [seal(chain[3], "2026-11-27T00:00:00Z", "x", "y", "z")]
    assert "was rewritten" in verify(rewritten, {"the head given": head})[0]
    assert verify([], {"the head given": head})[0].endswith("ends at no record: the newest "
                                                            "records were deleted")


def test_heads_parse_only_their_own_form() -> None:
    h = Head(7, "a" * 64)
    assert Head.parse(str(h)) == h
    for bad in ("", "7", "x:" + "a" * 64, "7:" + "A" * 64, "7:" + "a" * 63, "-1:" + "a" * 64):
        assert Head.parse(bad) is None, bad


# --- keyed records (issue #21 case 6) ---------------------------------------------------------

KEY = bytes(range(32))


def _keyed(n: int, alg: str = "hmac-sha256", start: list[Entry] | None = None) -> list[Entry]:
    out = list(start or [])
    for i in range(n):
        out.append(seal(out[-1] if out else None, f"2026-11-26T11:00:0{i}Z", "admin",
                        "user add", f"k{i}", "finance", None, None, key=KEY, alg=alg))
    return out


def _anchors(chain: list[Entry]) -> list[Anchor]:
    return [Anchor(e.seq, e.hash, e.at) for e in chain if e.alg]


def test_a_keyed_record_cannot_be_sealed_again_without_the_key() -> None:
    chain = _keyed(3)
    assert verify(chain, key=KEY, anchors=_anchors(chain)) == []
    assert chain[0].digest() is None and chain[0].digest(KEY) == chain[0].hash
    other = _keyed(3)  # same fields, another key: another MAC
    assert verify(other, key=bytes(32)) != []
    # without the key, a tamperer can only make unkeyed records, or keep the algorithm and
    # put a hash that is not the MAC: both are named
    forged = replace(chain[1], actor="mallory", alg="")
    forged = replace(forged, hash=forged.digest() or "")
    assert any("is not keyed, though the trail is keyed from record 1" in p
               for p in verify([chain[0], forged], key=KEY))
    kept = replace(chain[1], actor="mallory")
    assert verify([chain[0], kept, chain[2]], key=KEY) == [
        f"{kept} was edited: its fields do not give its keyed MAC (it was changed, or sealed "
        "again without the key)"]


def test_the_keyed_chain_holds_the_unkeyed_records_before_it() -> None:
    old = _chain(2)
    mixed = _keyed(2, "hmac-sm3", start=old)
    assert [e.alg for e in mixed] == ["", "", "hmac-sm3", "hmac-sm3"]
    assert keyed_from(mixed) == 3 and verify(mixed, key=KEY, anchors=_anchors(mixed)) == []
    edited = replace(old[1], reason="x")
    edited = replace(edited, hash=edited.digest() or "")
    assert verify([old[0], edited, *mixed[2:]], key=KEY)[0].startswith(
        "record 3 does not follow")


def test_renumbered_records_are_recognised_by_their_anchors() -> None:
    chain = _keyed(6)
    anchors = _anchors(chain)
    renumbered = [chain[0]] + [replace(e, seq=e.seq - 2) for e in chain[3:]]
    assert verify(renumbered, key=KEY, anchors=anchors) == [
        "records 2 to 3 deleted and the records after renumbered: records 2 to 4 of the trail "
        "are records 4 to 6 as anchored"]
    cut = chain[:4]
    assert verify(cut, key=KEY, anchors=anchors) == [
        f"records 5 to 6 missing after the end of the trail (record 6 was anchored at "
        f"{chain[5].at}): the newest records were cut"]
    assert verify([], key=KEY, anchors=anchors) == [
        f"the trail is empty, but record 6 was anchored at {chain[5].at}: the trail was wiped"]


def test_anchor_lines_parse_only_their_own_form() -> None:
    a = Anchor(3, "b" * 64, "2026-11-26T11:00:00Z")
    assert Anchor.parse(a.line()) == a
    for bad in ("", "3 " + "b" * 64, "x " + "b" * 64 + " t", "3 " + "b" * 63 + " t"):
        assert Anchor.parse(bad) is None, bad
