"""IHE XDM package: layout, metadata consistent with the CDA header, safe reading."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
from lxml import etree
from trust_helpers import make_pdf, report

from ecgpilot.errors import CorruptFileError, RecordError
from ecgpilot.export.cda import build_cda
from ecgpilot.export.xdm import DOC_PATH, METADATA_PATH, build_xdm, read_xdm

RIM = {"rim": "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"}
CDA = build_cda(report(), make_pdf())


def _meta(cda=CDA, **kw):
    files = read_xdm(build_xdm(cda, source_oid="1.2.250.1.999.7", sender="dr.martin@medecin.mssante.fr", **kw))
    return files, etree.fromstring(files[METADATA_PATH])


def _slot(el, name):
    return el.xpath(f"rim:Slot[@name='{name}']/rim:ValueList/rim:Value/text()", namespaces=RIM)


def test_layout():
    files, _ = _meta()
    assert set(files) == {"INDEX.HTM", "README.TXT", METADATA_PATH, DOC_PATH}
    assert files[DOC_PATH] == CDA
    assert b"DOC0001.XML" in files["INDEX.HTM"]


def test_document_entry_matches_cda():
    _, meta = _meta(recipient="dr.cardio@hopital.mssante.fr")
    de = meta.xpath("//rim:ExtrinsicObject", namespaces=RIM)[0]
    assert de.get("objectType") == "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
    assert _slot(de, "hash") == [hashlib.sha1(CDA).hexdigest()]
    assert _slot(de, "size") == [str(len(CDA))]
    assert _slot(de, "URI") == ["DOC0001.XML"]
    assert _slot(de, "languageCode") == ["fr-FR"]
    assert _slot(de, "legalAuthenticator") == ["810001234567^MARTIN^PAUL^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS"]
    # 2026-03-02T09:14+01:00 in UTC
    assert _slot(de, "serviceStartTime") == ["20260302081400"]
    assert _slot(de, "sourcePatientId") == ["279035121518989^^^&1.2.250.1.213.1.4.8&ISO"]
    cda = etree.fromstring(CDA)
    h = {"h": "urn:hl7-org:v3"}
    uid = de.xpath("rim:ExternalIdentifier[@identificationScheme='urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab']/@value", namespaces=RIM)
    assert uid == cda.xpath("h:id/@root", namespaces=h)
    type_code = de.xpath("rim:Classification[@classificationScheme='urn:uuid:f0306f51-975f-434e-a61c-c59651d33983']/@nodeRepresentation", namespaces=RIM)
    assert type_code == ["11488-4"]
    event = de.xpath("rim:Classification[@classificationScheme='urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4']/@nodeRepresentation", namespaces=RIM)
    assert event == ["DEQP003"]
    conf = de.xpath("rim:Classification[@classificationScheme='urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f']/@nodeRepresentation", namespaces=RIM)
    assert conf == ["N"]


def test_submission_set_and_association():
    _, meta = _meta(recipient="dr.cardio@hopital.mssante.fr")
    ss = meta.xpath("//rim:RegistryPackage", namespaces=RIM)[0]
    de = meta.xpath("//rim:ExtrinsicObject", namespaces=RIM)[0]
    assert _slot(ss, "intendedRecipient") == ["|dr.cardio@hopital.mssante.fr^^^^^^^^^^^^"]
    src = ss.xpath("rim:ExternalIdentifier[@identificationScheme='urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832']/@value", namespaces=RIM)
    assert src == ["1.2.250.1.999.7"]
    assoc = meta.xpath("//rim:Association", namespaces=RIM)[0]
    assert assoc.get("sourceObject") == ss.get("id") and assoc.get("targetObject") == de.get("id")
    assert assoc.get("associationType").endswith("HasMember")
    node = meta.xpath("//rim:Classification[@classifiedObject=$i]/@classificationNode", i=ss.get("id"), namespaces=RIM)
    assert node == ["urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"]


def test_unqualified_identity_uses_local_id():
    cda = build_cda(report(patient__identity_status="validee"), make_pdf())
    files, meta = _meta(cda)
    assert b"279035121518989" not in files[METADATA_PATH]
    de = meta.xpath("//rim:ExtrinsicObject", namespaces=RIM)[0]
    assert _slot(de, "sourcePatientId") == ["IPP-0042^^^&1.2.250.1.999.1.1&ISO"]


def test_bad_inputs_refused():
    with pytest.raises(RecordError, match="OID"):
        build_xdm(CDA, source_oid="not-an-oid", sender="x@y")
    with pytest.raises(CorruptFileError):
        build_xdm(b"<oops", source_oid="1.2", sender="x@y")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("../evil.txt", b"x")
    with pytest.raises(CorruptFileError, match="unsafe"):
        read_xdm(buf.getvalue())
    with pytest.raises(CorruptFileError, match="zip"):
        read_xdm(b"PK not really")
