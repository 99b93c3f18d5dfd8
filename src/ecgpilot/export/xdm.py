"""IHE XDM package (``IHE_XDM.ZIP``) of a CDA document, for MSSanté attachments.

Layout (IHE ITI TF-1 §16 / TF-3 §4.2.5.1.2)::

    INDEX.HTM                      human-readable index
    README.TXT                     who produced the package
    IHE_XDM/SUBSET01/METADATA.XML  ebRIM SubmitObjectsRequest: submission set + document entry + HasMember
    IHE_XDM/SUBSET01/DOC0001.XML   the CDA document

The document entry metadata is read from the CDA header itself (id, type code, confidentiality,
language, times, patient id, author, CCAM event code, facility and practice setting), so the two
cannot disagree; size and SHA-1 hash are those of DOC0001.XML.
"""

from __future__ import annotations

import hashlib
import io
import uuid
import zipfile
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from ecgpilot.errors import CorruptFileError, RecordError

__all__ = ["build_xdm", "read_xdm", "cda_metadata", "DOC_PATH", "METADATA_PATH"]

DOC_PATH = "IHE_XDM/SUBSET01/DOC0001.XML"
METADATA_PATH = "IHE_XDM/SUBSET01/METADATA.XML"
_H = {"h": "urn:hl7-org:v3"}
LCM = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
RIM = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"

# XDS identification and classification schemes (IHE ITI TF-3 §4.2.5)
DOC_ENTRY = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
SUBMISSION_SET = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"
S = {
    "de_author": "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d",
    "de_class": "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a",
    "de_confidentiality": "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f",
    "de_event": "urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4",
    "de_format": "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d",
    "de_facility": "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1",
    "de_practice": "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead",
    "de_type": "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983",
    "de_patient_id": "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427",
    "de_unique_id": "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab",
    "ss_author": "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d",
    "ss_content_type": "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500",
    "ss_patient_id": "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446",
    "ss_source_id": "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832",
    "ss_unique_id": "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8",
}
FORMAT_XDS_SD_PDF = ("urn:ihe:iti:xds-sd:pdf:2008", "1.3.6.1.4.1.19376.1.2.3", "Document à corps non structuré en Pdf/A-1")


def _x(doc: etree._Element, xpath: str, default: str | None = None) -> str | None:
    found = doc.xpath(xpath, namespaces=_H)
    return str(found[0]) if found else default


def cda_metadata(cda: bytes) -> dict[str, Any]:
    """The XDS document-entry metadata taken from a CDA header."""
    try:
        doc = etree.fromstring(cda, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise CorruptFileError(f"the CDA document is not well-formed XML ({exc}).") from None
    if etree.QName(doc).localname != "ClinicalDocument":
        raise RecordError(f"expected a CDA ClinicalDocument, got <{etree.QName(doc).localname}>.")
    ids = doc.xpath("h:recordTarget/h:patientRole/h:id", namespaces=_H)
    if not ids:
        raise RecordError("the CDA document has no recordTarget/patientRole/id.")
    ins_ids = [i for i in ids if i.get("root", "").startswith("1.2.250.1.213.1.4.")]
    pid = (ins_ids or ids)[0]
    body = doc.xpath("h:component/h:nonXMLBody/h:text/@mediaType", namespaces=_H)
    return {
        "unique_id": _x(doc, "h:id/@root"),
        "type_code": _x(doc, "h:code/@code"),
        "type_display": _x(doc, "h:code/@displayName", ""),
        "type_system": _x(doc, "h:code/@codeSystem"),
        "title": _x(doc, "h:title/text()", ""),
        "confidentiality": _x(doc, "h:confidentialityCode/@code"),
        "confidentiality_system": _x(doc, "h:confidentialityCode/@codeSystem"),
        "language": _x(doc, "h:languageCode/@code"),
        "creation_time": _x(doc, "h:effectiveTime/@value"),
        "service_start": _x(doc, "h:documentationOf/h:serviceEvent/h:effectiveTime/h:low/@value"),
        "patient_id": f"{pid.get('extension')}^^^&{pid.get('root')}&ISO",
        "patient_has_ins": bool(ins_ids),
        "author_id": _x(doc, "h:author/h:assignedAuthor/h:id/@extension"),
        "author_family": _x(doc, "h:author/h:assignedAuthor/h:assignedPerson/h:name/h:family/text()", ""),
        "author_given": _x(doc, "h:author/h:assignedAuthor/h:assignedPerson/h:name/h:given/text()", ""),
        "author_speciality": _x(doc, "h:author/h:assignedAuthor/h:code/@code"),
        "legal_id": _x(doc, "h:legalAuthenticator/h:assignedEntity/h:id/@extension"),
        "legal_root": _x(doc, "h:legalAuthenticator/h:assignedEntity/h:id/@root"),
        "legal_family": _x(doc, "h:legalAuthenticator/h:assignedEntity/h:assignedPerson/h:name/h:family/text()", ""),
        "legal_given": _x(doc, "h:legalAuthenticator/h:assignedEntity/h:assignedPerson/h:name/h:given/text()", ""),
        "author_org": _x(doc, "h:author/h:assignedAuthor/h:representedOrganization/h:name/text()", ""),
        "event_code": _x(doc, "h:documentationOf/h:serviceEvent/h:code/@code"),
        "event_system": _x(doc, "h:documentationOf/h:serviceEvent/h:code/@codeSystem"),
        "event_display": _x(doc, "h:documentationOf/h:serviceEvent/h:code/@displayName", ""),
        "facility_code": _x(doc, "h:componentOf/h:encompassingEncounter/h:location/h:healthCareFacility/h:code/@code"),
        "facility_system": _x(doc, "h:componentOf/h:encompassingEncounter/h:location/h:healthCareFacility/h:code/@codeSystem"),
        "practice_code": _x(doc, "//h:standardIndustryClassCode/@code"),
        "practice_system": _x(doc, "//h:standardIndustryClassCode/@codeSystem"),
        "pdf_body": body == ["application/pdf"],
    }


def _utc14(cda_ts: str | None) -> str:
    """XDS DTM in UTC from a CDA timestamp ``YYYYMMDDHHMMSS+ZZZZ``."""
    if not cda_ts:
        return ""
    try:
        return datetime.strptime(cda_ts, "%Y%m%d%H%M%S%z").astimezone(UTC).strftime("%Y%m%d%H%M%S")
    except ValueError:
        return cda_ts[:14]


def _rim(parent: etree._Element, tag: str, **attrs: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{RIM}}}{tag}", {k: str(v) for k, v in attrs.items()})


def _slot(parent: etree._Element, name: str, *values: str) -> None:
    vl = _rim(_rim(parent, "Slot", name=name), "ValueList")
    for v in values:
        _rim(vl, "Value").text = v


def _named(parent: etree._Element, tag: str, text: str) -> None:
    _rim(_rim(parent, tag), "LocalizedString", value=text, charset="UTF-8", **{"{http://www.w3.org/XML/1998/namespace}lang": "fr-FR"})


def _classification(parent: etree._Element, scheme: str, obj: str, code: str, system: str, display: str) -> None:
    c = _rim(parent, "Classification", id=f"urn:uuid:{uuid.uuid4()}", classificationScheme=scheme,
             classifiedObject=obj, nodeRepresentation=code, objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification")
    _slot(c, "codingScheme", system)
    _named(c, "Name", display or code)


def _external_id(parent: etree._Element, scheme: str, obj: str, value: str, name: str) -> None:
    e = _rim(parent, "ExternalIdentifier", id=f"urn:uuid:{uuid.uuid4()}", identificationScheme=scheme,
             registryObject=obj, value=value, objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:ExternalIdentifier")
    _named(e, "Name", name)


def _author_classification(parent: etree._Element, scheme: str, obj: str, m: dict[str, Any]) -> None:
    c = _rim(parent, "Classification", id=f"urn:uuid:{uuid.uuid4()}", classificationScheme=scheme,
             classifiedObject=obj, nodeRepresentation="",
             objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification")
    _slot(c, "authorPerson", f"{m['author_id']}^{m['author_family']}^{m['author_given']}^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS")
    if m.get("author_org"):
        _slot(c, "authorInstitution", m["author_org"])
    if m.get("author_speciality"):
        _slot(c, "authorSpecialty", f"{m['author_speciality']}^^1.2.250.1.213.1.1.4.5")


def _metadata_xml(m: dict[str, Any], doc: bytes, *, source_oid: str, recipient: str | None, submitted_at: datetime) -> bytes:
    root = etree.Element(f"{{{LCM}}}SubmitObjectsRequest", nsmap={"lcm": LCM, "rim": RIM})
    reg = _rim(root, "RegistryObjectList")
    de_id, ss_id = "urn:uuid:" + str(uuid.uuid4()), "urn:uuid:" + str(uuid.uuid4())

    de = _rim(reg, "ExtrinsicObject", id=de_id, mimeType="text/xml", objectType=DOC_ENTRY,
              status="urn:oasis:names:tc:ebxml-regrep:StatusType:Approved")
    _slot(de, "creationTime", _utc14(m["creation_time"]))
    _slot(de, "hash", hashlib.sha1(doc).hexdigest())
    _slot(de, "languageCode", m["language"] or "fr-FR")
    if m["legal_id"]:
        _slot(de, "legalAuthenticator", f"{m['legal_id']}^{m['legal_family']}^{m['legal_given']}^^^^^^&{m['legal_root']}&ISO^D^^^IDNPS")
    _slot(de, "serviceStartTime", _utc14(m["service_start"]))
    _slot(de, "size", str(len(doc)))
    _slot(de, "sourcePatientId", m["patient_id"])
    _slot(de, "URI", DOC_PATH.rsplit("/", 1)[1])
    _named(de, "Name", m["title"] or m["type_display"])
    _author_classification(de, S["de_author"], de_id, m)
    _classification(de, S["de_class"], de_id, "10", "1.2.250.1.213.1.1.4.1", "Compte rendu")
    _classification(de, S["de_confidentiality"], de_id, m["confidentiality"], m["confidentiality_system"], "Normal")
    if m["event_code"]:
        _classification(de, S["de_event"], de_id, m["event_code"], m["event_system"], m["event_display"])
    if m["pdf_body"]:
        _classification(de, S["de_format"], de_id, FORMAT_XDS_SD_PDF[0], FORMAT_XDS_SD_PDF[1], FORMAT_XDS_SD_PDF[2])
    if m["facility_code"]:
        _classification(de, S["de_facility"], de_id, m["facility_code"], m["facility_system"], m["facility_code"])
    if m["practice_code"]:
        _classification(de, S["de_practice"], de_id, m["practice_code"], m["practice_system"], m["practice_code"])
    _classification(de, S["de_type"], de_id, m["type_code"], m["type_system"], m["type_display"])
    _external_id(de, S["de_patient_id"], de_id, m["patient_id"], "XDSDocumentEntry.patientId")
    _external_id(de, S["de_unique_id"], de_id, m["unique_id"], "XDSDocumentEntry.uniqueId")

    ss = _rim(reg, "RegistryPackage", id=ss_id, objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:RegistryPackage")
    _slot(ss, "submissionTime", submitted_at.astimezone(UTC).strftime("%Y%m%d%H%M%S"))
    if recipient:
        _slot(ss, "intendedRecipient", f"|{recipient}^^^^^^^^^^^^")  # XTN email form, ITI TF-3 §4.2.3.3.10
    _named(ss, "Name", "Envoi de compte rendu ECG")
    _author_classification(ss, S["ss_author"], ss_id, m)
    _classification(ss, S["ss_content_type"], ss_id, m["type_code"], m["type_system"], m["type_display"])
    _external_id(ss, S["ss_unique_id"], ss_id, "2.25." + str(uuid.uuid4().int), "XDSSubmissionSet.uniqueId")
    _external_id(ss, S["ss_source_id"], ss_id, source_oid, "XDSSubmissionSet.sourceId")
    _external_id(ss, S["ss_patient_id"], ss_id, m["patient_id"], "XDSSubmissionSet.patientId")
    _rim(reg, "Classification", id=f"urn:uuid:{uuid.uuid4()}", classifiedObject=ss_id, classificationNode=SUBMISSION_SET)
    assoc = _rim(reg, "Association", id=f"urn:uuid:{uuid.uuid4()}",
                 associationType="urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember",
                 sourceObject=ss_id, targetObject=de_id)
    _slot(assoc, "SubmissionSetStatus", "Original")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def build_xdm(
    cda: bytes,
    *,
    source_oid: str,
    sender: str,
    recipient: str | None = None,
    submitted_at: datetime | None = None,
) -> bytes:
    """``IHE_XDM.ZIP`` bytes holding ``cda`` with its XDS metadata (see module docstring).

    ``source_oid`` identifies the sending system (XDSSubmissionSet.sourceId); ``sender`` is shown in
    README.TXT; ``recipient`` (an MSSanté address) becomes the intendedRecipient.
    """
    if not source_oid or not all(p.isdigit() for p in source_oid.split(".")):
        raise RecordError(f"XDM source_oid {source_oid!r} is not an OID (digits separated by dots).")
    m = cda_metadata(cda)
    submitted_at = submitted_at or datetime.now(UTC)
    metadata = _metadata_xml(m, cda, source_oid=source_oid, recipient=recipient, submitted_at=submitted_at)
    readme = (
        "Package IHE XDM produit par ecgpilot\r\n"
        f"Emetteur : {sender}\r\n"
        f"Date : {submitted_at.astimezone(UTC).isoformat()}\r\n"
        "Contenu : IHE_XDM/SUBSET01/DOC0001.XML (document CDA R2, compte rendu d'ECG, PDF inclus)\r\n"
    )
    index = (
        "<html><head><meta charset=\"utf-8\"><title>IHE XDM</title></head><body>"
        f"<h1>{m['title']}</h1><ul><li><a href=\"{DOC_PATH}\">Document CDA R2</a></li>"
        f"<li><a href=\"{METADATA_PATH}\">Métadonnées XDS</a></li>"
        "<li><a href=\"README.TXT\">README</a></li></ul></body></html>"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("INDEX.HTM", index.encode("utf-8"))
        z.writestr("README.TXT", readme.encode("utf-8"))
        z.writestr(METADATA_PATH, metadata)
        z.writestr(DOC_PATH, cda)
    return buf.getvalue()


def read_xdm(data: bytes, *, max_bytes: int = 50_000_000) -> dict[str, bytes]:
    """Members of an XDM zip (name -> bytes), refusing unsafe paths and oversized content."""
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise CorruptFileError("the XDM attachment is not a valid zip archive.") from None
    out: dict[str, bytes] = {}
    total = 0
    for info in z.infolist():
        name = info.filename
        if name.startswith("/") or ".." in name.split("/") or "\\" in name:
            raise CorruptFileError(f"XDM member path {name!r} is unsafe (absolute or '..'); archive refused.")
        total += info.file_size
        if total > max_bytes:
            raise CorruptFileError(f"XDM archive expands beyond {max_bytes} bytes; refused (decompression bomb?).")
        if not name.endswith("/"):
            out[name] = z.read(info)
    return out
