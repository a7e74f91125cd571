import json
import random

import pytest

from provisioning.allocate import Layout
from provisioning.assemble import auto_blueprint
from contracts.site_bundle import (CODE_ALPHABET, BundleError, bundle_to_plan, new_release_code,
                                 normalize_code, open_sitting, read_bundle)
from contracts.keys import keygen, site_keypair
from contracts.exam import EXAM_DEFAULTS
from provisioning.provision import BuildOptions, build_site_bundle
from provisioning.sites import load_sites
from provisioning.synth import demo_bank, make_candidates

FAST_KDF = {"name": "scrypt", "n": 2 ** 4, "r": 8, "p": 1}


@pytest.fixture(scope="module")
def world(tmp_path_factory, sites_csv):
    d = tmp_path_factory.mktemp("bundle")
    priv, pub = keygen(d / "keys")
    sites = load_sites(sites_csv)
    bank = demo_bank(1, per_category=40, images_per_category=0)   # small: the flipped-byte test is exhaustive
    exam = dict(EXAM_DEFAULTS, question_count=10)
    bp = auto_blueprint(bank, 10)
    opts = BuildOptions(seed=1, exam=exam, kdf=FAST_KDF, layout=Layout(rooms=2, capacity=3))

    def build(site, n, out):
        cands = make_candidates(site, n, random.Random(site.site_no), sites,
                                ticket_prefix=f"2023{int(site.site_no):03d}")
        return build_site_bundle(site, cands, bank, bp, priv, d / out, opts)

    small = build(sites[0], 8, "small")
    other = build(sites[1], 4, "other")
    return {"dir": d, "priv": priv, "pub": pub, "small": small, "other": other, "sites": sites}


def test_round_trip(world):
    r = world["small"]
    manifest, sealed = read_bundle(r["bundle"], world["pub"], activation_code=r["activation_code"], expected_site_no="1")
    assert manifest["site_no"] == "1" and set(sealed) == set(r["release_codes"])
    assert len(sealed) >= 2                    # 8 candidates, 2 rooms x 3 seats
    plan0 = bundle_to_plan(manifest, {})
    assert plan0["papers"] == {} and plan0["keys"] == {} and len(plan0["candidates"]) == 8
    sid = sorted(sealed)[0]
    opened = open_sitting(sealed[sid], r["release_codes"][sid])
    plan = bundle_to_plan(manifest, {sid: opened})
    tickets = {c["ticket"] for c in plan["candidates"] if c["sitting_id"] == sid}
    assert set(plan["papers"]) == tickets == set(plan["keys"])
    assert all(len(plan["keys"][t]) == 10 for t in tickets)
    assert plan["format"] == "hall-site-plan/1" and plan["demo"] is False
    assert {s["username"] for s in plan["staff"]} >= {"chief", "r01"}
    assert plan["site_key"]["public"] == manifest["site_public_key"]
    for name, data in plan["media"].items():
        assert isinstance(data, bytes) and data[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0")   # PNG or JPEG
    # all sittings open -> every candidate has a paper
    allp = bundle_to_plan(manifest, {s: open_sitting(sealed[s], r["release_codes"][s]) for s in sealed})
    assert set(allp["papers"]) == {c["ticket"] for c in allp["candidates"]}
    json.dumps({k: v for k, v in allp.items() if k != "media"}, ensure_ascii=False)


def test_site_keys_file_and_sheets(world):
    r = world["small"]
    from pathlib import Path
    sheet = Path(r["bundle"]).with_name("site_001_放行码.txt").read_text(encoding="utf-8")
    for sid, code in r["release_codes"].items():
        assert sid in sheet and code in sheet
    acc = Path(r["bundle"]).with_name("site_001_账号.txt").read_text(encoding="utf-8")
    assert r["passwords"]["chief"] in acc and r["activation_code"] in acc
    assert r["activation_code"] not in sheet  # the two sheets travel apart


def test_every_flipped_byte_refused(world):
    data = open(world["small"]["bundle"], "rb").read()
    pub = world["pub"]
    code = world["small"]["activation_code"]
    read_bundle(data, pub, activation_code=code)
    assert len(data) < 40000                   # keep this exhaustive test fast
    for i in range(len(data)):                 # every byte, a different bit each time
        bad = bytearray(data)
        bad[i] ^= 1 << (i % 8)
        with pytest.raises(BundleError):
            read_bundle(bytes(bad), pub, activation_code=code)


def test_truncated_or_extended_refused(world):
    data = open(world["small"]["bundle"], "rb").read()
    for n in [0, 5, 12, 16, 100, len(data) // 2, len(data) - 65, len(data) - 1]:
        with pytest.raises(BundleError):
            read_bundle(data[:n], world["pub"])
    with pytest.raises(BundleError, match="多余"):
        read_bundle(data + b"\0", world["pub"])
    with pytest.raises(BundleError, match="截断"):
        read_bundle(data[:-10], world["pub"])


def test_not_a_bundle(tmp_path, world):
    p = tmp_path / "x.hallbundle"
    p.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    with pytest.raises(BundleError, match="不是考点数据包"):
        read_bundle(p, world["pub"])
    with pytest.raises(BundleError, match="无法读取"):
        read_bundle(tmp_path / "missing", world["pub"])


def test_foreign_site_refused(world):
    with pytest.raises(BundleError, match="属于考点2"):
        read_bundle(world["other"]["bundle"], world["pub"], expected_site_no="1")


def test_foreign_authority_refused(world, tmp_path):
    _, other_pub = keygen(tmp_path / "k2")
    with pytest.raises(BundleError, match="签名校验失败"):
        read_bundle(world["small"]["bundle"], other_pub)


def test_roster_unreadable_without_activation_code(world):
    with pytest.raises(BundleError, match="激活码"):
        read_bundle(world["small"]["bundle"], world["pub"])
    with pytest.raises(BundleError, match="激活码不正确"):
        read_bundle(world["small"]["bundle"], world["pub"], activation_code=world["other"]["activation_code"])


def test_wrong_release_code(world):
    r = world["small"]
    _, sealed = read_bundle(r["bundle"], world["pub"], activation_code=r["activation_code"])
    sids = sorted(sealed)
    with pytest.raises(BundleError, match="放行码不正确"):
        open_sitting(sealed[sids[0]], r["release_codes"][sids[1]])
    with pytest.raises(BundleError, match="校验位"):
        c = r["release_codes"][sids[0]]
        ch = CODE_ALPHABET[(CODE_ALPHABET.index(c[0]) + 1) % len(CODE_ALPHABET)]
        open_sitting(sealed[sids[0]], ch + c[1:])
    # a sealed blob moved to another sitting's slot does not open
    moved = dict(sealed[sids[1]], sitting_id=sids[0])
    with pytest.raises(BundleError):
        open_sitting(moved, r["release_codes"][sids[1]])
    # same code, but lower case and without dashes, is fine
    assert open_sitting(sealed[sids[0]], r["release_codes"][sids[0]].lower().replace("-", ""))


def test_release_codes():
    codes = {new_release_code() for _ in range(500)}
    assert len(codes) == 500
    for c in codes:
        assert len(c) == 14 and c[4] == c[9] == "-"
        assert normalize_code(c) == c.replace("-", "")
    with pytest.raises(BundleError, match="12位"):
        normalize_code("ABCD")
    with pytest.raises(BundleError, match="不会出现的字符"):
        normalize_code("ABCD-EFGH-IJK0")


def test_bundle_to_plan_rejects_foreign_papers(world):
    r, o = world["small"], world["other"]
    m1, s1 = read_bundle(r["bundle"], world["pub"], activation_code=r["activation_code"])
    m2, s2 = read_bundle(o["bundle"], world["pub"], activation_code=o["activation_code"])
    sid = sorted(s2)[0]
    opened = open_sitting(s2[sid], o["release_codes"][sid])
    with pytest.raises(BundleError):
        bundle_to_plan(m1, {sid: opened})      # tickets of site 2 are not in site 1


def test_plan_deterministic_for_seed(world, sites_csv):
    from provisioning.provision import prepare_site
    sites = world["sites"]
    bank = demo_bank(1, per_category=40, images_per_category=0)   # small: the flipped-byte test is exhaustive
    bp = auto_blueprint(bank, 10)
    opts = BuildOptions(seed=4, layout=Layout(rooms=2, capacity=3))
    cands = make_candidates(sites[0], 8, random.Random(1), sites, ticket_prefix="2023001")
    a = prepare_site(sites[0], cands, bank, bp, opts)
    b = prepare_site(sites[0], list(reversed(cands)), bank, bp, opts)
    assert a["papers"] == b["papers"] and a["sittings"] == b["sittings"]
    assert sorted(a["candidates"], key=lambda c: c["ticket"]) == sorted(b["candidates"], key=lambda c: c["ticket"])


def test_site_keypair():
    k = site_keypair()
    from contracts.keys import load_private, public_raw
    import base64
    assert base64.b64decode(k["public"]) == public_raw(load_private(k["private"]))
    assert site_keypair(b"x") == site_keypair(b"x") != site_keypair()


def test_sealed_entry_survives_storage(world):
    from contracts.site_bundle import dump_sealed, load_sealed
    r = world["small"]
    _, sealed = read_bundle(r["bundle"], world["pub"], activation_code=r["activation_code"])
    sid = sorted(sealed)[0]
    text = dump_sealed(sealed[sid])
    assert isinstance(text, str)
    assert open_sitting(load_sealed(text), r["release_codes"][sid]) == open_sitting(sealed[sid], r["release_codes"][sid])
    tampered = json.loads(text)
    tampered["sitting_id"] = sorted(sealed)[1]
    with pytest.raises(BundleError):
        open_sitting(load_sealed(json.dumps(tampered)), r["release_codes"][sid])


def test_bundle_to_plan_requires_complete_sitting(world):
    r = world["small"]
    m, sealed = read_bundle(r["bundle"], world["pub"], activation_code=r["activation_code"])
    sid = sorted(sealed)[0]
    opened = open_sitting(sealed[sid], r["release_codes"][sid])
    t = next(iter(opened["papers"]))
    del opened["papers"][t]
    with pytest.raises(BundleError, match="不一致"):
        bundle_to_plan(m, {sid: opened})
