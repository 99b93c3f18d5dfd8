"""INS key, OIDs, statuses and the qualified-only transmission rule (values computed by hand)."""

from __future__ import annotations

import pytest

from ecgpilot import ins
from ecgpilot.errors import RecordError


def test_ans_test_ins_validates():
    # ANS test INS from the interop notes: 2790351215189, key 89
    assert ins.ins_key("2790351215189") == 89
    assert ins.normalize_ins("2 79 03 51 215 189 89") == "279035121518989"
    assert ins.is_valid_ins("279035121518989")


def test_key_formula_by_hand():
    # 1234567890123 = 97 * 12727504021 + 86  -> key 97 - 86 = 11
    assert 97 * 12727504021 + 86 == 1234567890123
    assert ins.ins_key("1234567890123") == 11


def test_corsica_departments():
    # 1 85 05 2A 123 456: 2A counts as 19 -> 1850519123456 = 97*19077516736 + 64 -> key 33
    assert 97 * 19077516736 + 64 == 1850519123456
    assert ins.ins_key("185052A123456") == 33
    assert ins.normalize_ins("185052a12345633") == "185052A12345633"
    # 2B counts as 18 -> 1850518123456 = 97*19077506427 + 37 -> key 60
    assert 97 * 19077506427 + 37 == 1850518123456
    assert ins.ins_key("185052B123456") == 60
    assert not ins.is_valid_ins("185052B12345633")


@pytest.mark.parametrize("bad", ["279035121518988", "27903512151898", "579035121518989", "2790351215189AB", "27903X121518989"])
def test_invalid_numbers_refused(bad):
    assert not ins.is_valid_ins(bad)
    with pytest.raises(RecordError, match="INS"):
        ins.normalize_ins(bad)


def test_statuses_and_transmission_rule():
    assert ins.normalize_status("Qualifiée") == "qualifiee"
    assert ins.normalize_status("RECUP") == "recuperee"
    assert ins.status_code("validée") == "VALI"
    with pytest.raises(RecordError, match="status"):
        ins.normalize_status("verified")
    for status in ("provisoire", "récupérée", "validée", None):
        assert ins.transmissible_ins("279035121518989", status) is None
    assert ins.transmissible_ins("279035121518989", "qualifiée") == "279035121518989"
    with pytest.raises(RecordError):
        ins.transmissible_ins("279035121518988", "qualifiee")


def test_oids_and_test_guard():
    assert ins.ins_oid() == "1.2.250.1.213.1.4.8"
    assert ins.ins_oid("NIA") == "1.2.250.1.213.1.4.9"
    with pytest.raises(RecordError, match="test/demo"):
        ins.ins_oid("NIR-TEST")
    assert ins.ins_oid("NIR-TEST", allow_test=True) == "1.2.250.1.213.1.4.10"


def test_trait_normalisation():
    assert ins.normalize_trait("  Lefèvre - d'Aubigné ") == "LEFEVRE-D'AUBIGNE"
    assert ins.normalize_trait("Marie  Hélène") == "MARIE HELENE"


def test_identity_documents_and_insi_sources_are_catalogue_views():
    """The RNIV documents and INSi sources a doctor ticks: codes in the form's order, labels from the
    catalogue (``ins.id_document.<code>``, ``ins.insi_source.<code>``) in both languages."""
    from ecgpilot import messages

    assert list(ins.ID_DOCUMENTS) == ["cni", "passeport", "titre_sejour", "livret_famille", "acte_naissance"]
    assert ins.ID_DOCUMENTS["titre_sejour"]["fr"] == "Titre de séjour"
    assert ins.ID_DOCUMENTS["titre_sejour"]["en"] == "Residence permit"
    assert ins.INSI_SOURCES["teleservice"]["en"] == messages.text("ins.insi_source.teleservice", "en") == \
        "INSi teleservice called from ecgpilot"
    assert "carte_vitale" not in ins.ID_DOCUMENTS   # not a high-trust identity document
    with pytest.raises(RecordError, match=r"identity document 'carte_vitale' unknown; accepted: cni, passeport"):
        ins.status_from_checks("carte_vitale", None)
