"""Signed provenance: JCS + Ed25519, key trust rules, rotation."""

from __future__ import annotations

import copy

import pytest

from accord.model.tlp import TLP
from accord.share.signing import (
    KEY_ID,
    ROTATION,
    SIGNATURE,
    KeyRing,
    Signer,
    canonical,
    ensure_own_keys,
    rotate_key,
    same_content,
)
from accord.share.verify import verify_target
from accord.store.home import NodeHome
from accord.store.store import Store
from tests.share.helpers import indicator


def test_canonical_form_ignores_key_order_and_signature(node_a: NodeHome) -> None:
    obj = indicator(1, TLP.GREEN, creator=node_a.identity_id)
    reordered = dict(reversed(list(obj.items())))
    assert canonical(obj) == canonical(reordered)
    signed = Signer.from_home(node_a).sign_own(obj)
    assert canonical({k: v for k, v in signed.items() if k != SIGNATURE}) == canonical(signed)


def test_signature_verifies_and_tampering_is_caught(node_a: NodeHome, store_a: Store) -> None:
    signer = Signer.from_home(node_a)
    ring = ensure_own_keys(signer, store_a)
    signed = signer.sign_own(indicator(1, TLP.GREEN, creator=node_a.identity_id))
    assert signed[KEY_ID] == signer.current_kid
    assert ring.verify(signed).status == "valid"
    # Deterministic: the same version always carries the same signature.
    assert signer.sign_own(signed)[SIGNATURE] == signed[SIGNATURE]

    tampered = copy.deepcopy(signed)
    tampered["pattern"] = "[ipv4-addr:value = '192.0.2.1']"
    verdict = ring.verify(tampered)
    assert verdict.status == "invalid"
    assert "does not match" in verdict.reason

    impostor = copy.deepcopy(signed)
    impostor["created_by_ref"] = "identity--11111111-1111-4111-8111-111111111111"
    assert ring.verify(impostor).status == "invalid"

    assert ring.verify(indicator(2, TLP.GREEN)).status == "unsigned"
    assert KeyRing().verify(signed).status == "unknown-key"


def test_tofu_then_substitution_refused_then_rotation_accepted(
    tmp_path, node_a: NodeHome, store_a: Store
) -> None:
    # A receiver that has never seen node A.
    receiver = NodeHome.init(tmp_path / "receiver", "Receiver")
    signer = Signer.from_home(node_a)
    identity_v1 = signer.sign_own(store_a.get(node_a.identity_id) or {})
    with receiver.open_store() as rstore, rstore.engine.begin() as conn:
        ring = KeyRing.load(conn)
        assert ring.learn_identity(conn, identity_v1, "test") == ""
        assert ring.keys[signer.current_kid].identity_id == node_a.identity_id

        # Someone else publishes a new key for A's identity, without A's old key vouching.
        impostor_home = NodeHome.init(tmp_path / "impostor", "Impostor")
        forged = dict(impostor_home.identity)
        forged["id"] = forged["created_by_ref"] = node_a.identity_id
        forged = Signer.from_home(impostor_home).sign_own(forged)
        forged["x_accord_key_id"] = forged[KEY_ID]
        assert "rotation" in ring.learn_identity(conn, forged, "test")

    old_kid = signer.current_kid
    old_object = signer.sign_own(indicator(1, TLP.GREEN, creator=node_a.identity_id))
    identity_v2 = rotate_key(node_a, store_a)
    node_a = NodeHome(node_a.path)
    new_signer = Signer.from_home(node_a)
    assert new_signer.current_kid != old_kid and old_kid in new_signer.keys
    assert identity_v2[ROTATION]["key_id"] == old_kid
    signed_v2 = new_signer.sign_own(identity_v2)
    assert signed_v2[KEY_ID] == new_signer.current_kid
    # The old identity version is still signed by the key it publishes.
    assert new_signer.sign_own(identity_v1)[SIGNATURE] == identity_v1[SIGNATURE]

    with receiver.open_store() as rstore:
        with rstore.engine.begin() as conn:
            ring = KeyRing.load(conn)
            assert ring.learn_identity(conn, signed_v2, "test") == ""
        ring = KeyRing.from_store(rstore)
        # Objects signed before the rotation stay verifiable, new ones verify too.
        assert ring.verify(old_object).status == "valid"
        fresh = new_signer.sign_own(indicator(2, TLP.GREEN, creator=node_a.identity_id))
        assert ring.verify(fresh).status == "valid"


def test_same_content_ignores_only_signature_properties(node_a: NodeHome) -> None:
    obj = indicator(1, TLP.GREEN, creator=node_a.identity_id)
    signed = Signer.from_home(node_a).sign_own(obj)
    assert same_content(obj, signed)
    changed = dict(signed, name="other")
    assert not same_content(obj, changed)


def test_verify_target_reports_file_and_stored_versions(
    tmp_path, node_a: NodeHome, store_a: Store
) -> None:
    signer = Signer.from_home(node_a)
    ensure_own_keys(signer, store_a)
    good = signer.sign_own(indicator(1, TLP.GREEN, creator=node_a.identity_id))
    bad = dict(good, name="changed after signing")
    path = tmp_path / "bundle.json"
    import json

    path.write_text(json.dumps({"type": "bundle", "id": "bundle--1", "objects": [good, bad]}))
    results = verify_target(store_a, str(path))
    assert [r["status"] for r in results] == ["valid", "invalid"]
    assert results[0]["signer_name"] == "Node A"
    store_a.put_objects([good], "file", "x")
    assert verify_target(store_a, good["id"])[0]["status"] == "valid"
    with pytest.raises(Exception, match="neither a file"):
        verify_target(store_a, "indicator--00000000-0000-4000-8000-000000000000")
