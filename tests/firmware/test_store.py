"""The power-fail-safe store: whatever a power loss does to the slot being written, the last good
record survives."""

import os

from fwtest import raises, remove_temp, temp_store_path
from gullwing import store


def _store():
    return store.Store(temp_store_path("store"))


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def teardown_function():
    remove_temp()


def test_nothing_saved_reads_as_none():
    s = _store()
    assert s.load() is None
    assert s.load_dict() is None


def test_a_record_survives_a_restart():
    s = _store()
    s.save_dict({"left": 1_000_061, "right": 2_000_122, "name": "AZ-1"})
    again = store.Store(s.paths[0][:-2])  # a fresh boot reads the files again
    assert again.load_dict() == {"left": 1_000_061, "right": 2_000_122, "name": "AZ-1"}
    s.save(b"\x00raw bytes\xff")
    assert store.Store(s.paths[0][:-2]).load() == b"\x00raw bytes\xff"


def test_saves_alternate_slots_so_the_previous_record_stays_whole():
    s = _store()
    for n in range(1, 6):
        s.save(b"record " + str(n).encode())
        seqs = sorted(store.parse(_read(path))[0] for path in s.paths if _exists(path))
        assert seqs[-1] == n
        if n > 1:
            assert seqs == [n - 1, n]  # the other slot still holds the one before
        assert store.Store(s.paths[0][:-2]).load() == b"record " + str(n).encode()


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _setup_two_records():
    s = _store()
    s.save_dict({"left": 1, "state": "first"})
    s.save_dict({"left": 2, "state": "second"})
    # the next save goes to the slot holding the older record
    older = [p for p in s.paths if b"first" in store.parse(_read(p))[1]][0]
    return s, older


def test_a_save_cut_short_at_any_byte_never_loses_the_last_good_record():
    s, older = _setup_two_records()
    before = _read(older)
    new = store.frame(3, b'{"left": 3, "state": "third"}')
    base = s.paths[0][:-2]
    for cut in range(len(new) + 1):
        for torn in (new[:cut], new[:cut] + before[cut:]):  # truncated; or old bytes left behind
            _write(older, torn)
            got = store.Store(base).load_dict()
            expected = "third" if torn == new else "second"
            assert got is not None and got["state"] == expected, (cut, got)


def test_a_garbled_byte_anywhere_in_the_new_slot_falls_back_to_the_last_good_record():
    s, older = _setup_two_records()
    new = store.frame(3, b'{"left": 3, "state": "third"}')
    base = s.paths[0][:-2]
    for at in range(len(new)):
        for flip in (0x01, 0x80, 0xFF):
            garbled = bytearray(new)
            garbled[at] ^= flip
            _write(older, bytes(garbled))
            assert store.Store(base).load_dict()["state"] == "second", (at, flip)


def test_after_a_failed_save_the_next_one_lands_and_wins():
    s, older = _setup_two_records()
    _write(older, store.frame(3, b"half")[:7])  # power lost mid-write
    fresh = store.Store(s.paths[0][:-2])
    assert fresh.load_dict()["state"] == "second"
    fresh.save_dict({"left": 4, "state": "fourth"})
    assert store.Store(s.paths[0][:-2]).load_dict() == {"left": 4, "state": "fourth"}
    # and it went into the broken slot, not over the good one
    assert store.parse(_read(older)) is not None


def test_sequence_numbers_keep_their_order_across_a_wrap():
    s = _store()
    _write(s.paths[0], store.frame(0xFFFFFFFF, b"old"))
    _write(s.paths[1], store.frame(0, b"new"))
    assert s.load() == b"new"
    s.save(b"newer")
    assert store.Store(s.paths[0][:-2]).load() == b"newer"


def test_bad_records_are_refused_and_change_nothing():
    s = _store()
    s.save_dict({"left": 1})
    with raises(ValueError, "'speed'"):
        s.save_dict({"speed": 1.5})
    with raises(ValueError, "'on'"):
        s.save_dict({"on": True})
    with raises(ValueError, "is not a string"):
        s.save_dict({3: 1})
    with raises(ValueError, "over 4096"):
        s.save(bytes(5000))
    assert store.Store(s.paths[0][:-2]).load_dict() == {"left": 1}


def test_a_record_that_is_not_a_dict_reads_as_no_dict():
    s = _store()
    s.save(b"[1, 2]")
    assert s.load_dict() is None
    s.save(b"\xff not json")
    assert s.load_dict() is None
    assert s.load() == b"\xff not json"


def test_json_nested_too_deep_is_refused_before_it_is_parsed():
    assert store.too_deep(b"[" * 5000 + b"]" * 5000, 6)
    assert not store.too_deep(b'{"a": {"b": [1, 2]}}', 3) and store.too_deep(b'{"a": {"b": [1, 2]}}', 2)
    assert not store.too_deep(b'{"a": "[[[{{", "b": "\\"[["}', 1)  # brackets in strings, escaped quotes
    with raises(ValueError):
        store.loads(b"[" * 2000 + b"]" * 2000, 1)
    assert store.loads(b'{"count": 2}', 1) == {"count": 2}


def test_a_record_with_a_valid_crc_but_nested_json_reads_as_no_record():
    s = _store()
    _write(s.paths[0], store.frame(3, b"[" * 2000 + b"]" * 2000))
    assert s.load_dict() is None


def test_a_record_set_aside_is_kept_and_the_next_save_starts_afresh():
    s = _store()
    s.save_dict({"count": 1})
    s.save_dict({"count": 2})
    kept = _read(s.paths[1])
    s.set_aside()
    assert _read(s.paths[1] + ".bad") == kept and s.load() is None
    s.save_dict({"count": 9})
    assert store.Store(s.paths[0][:-2]).load_dict() == {"count": 9}
    for path in s.paths:
        os.remove(path + ".bad")
